//! Running it as an appliance: SIGTERM, logs, the forwarded client address, metrics and
//! health, schema upgrades, and the release artefacts (tarball and `.deb`).

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::process::{self, Server};
use common::{FakeMailtrap, Fault, TestApp};
use kipekee::model::SubmissionId;
use kipekee::store::Store;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

fn start(data_dir: &Path, fake: &FakeMailtrap, env: &[(&str, &str)]) -> Server {
    Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        cmd.env("KIPEKEE_SPAM_MIN_SECONDS", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    })
}

/// POSTs a JSON quote request; returns the answer and its `X-Request-Id`.
fn post_quote(server: &Server, headers: &[(&str, &str)], message: &str) -> (Value, String) {
    let body =
        json!({ "full_name": "Neema Juma", "email": "neema@visitor.example", "message": message });
    let mut req = process::http()
        .post(&server.url("/f/quote"))
        .set("Accept", "application/json");
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_json(body) {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("transport error: {e}"),
    };
    assert_eq!(resp.status(), 201, "log:\n{}", server.log_text());
    let id = resp.header("X-Request-Id").unwrap_or_default().to_string();
    (resp.into_json().expect("201 is JSON"), id)
}

/// `kill -TERM`, then the exit status (at most 15 s, systemd's TimeoutStopSec).
fn sigterm(mut server: Server) -> ExitStatus {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit 15 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn submission_id(created: &Value) -> SubmissionId {
    created["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {created}"))
}

#[test]
fn sigterm_exits_cleanly_with_the_submission_flushed_and_restarts_on_the_same_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = start(&data, &fake, &[]);
    let (created, _) = post_quote(&server, &[], "Flushed before exit, please.");
    let log_path = server.log.clone();
    let status = sigterm(server);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("store flushed"), "{log}");
    {
        let store = Store::open(&data).expect("store opens after SIGTERM");
        let s = store.submission(submission_id(&created)).unwrap();
        assert_eq!(
            s.expect("the submission is there").fields["message"],
            "Flushed before exit, please."
        );
    }
    let server = start(&data, &fake, &[]);
    let health: Value = process::http()
        .get(&server.url("/healthz"))
        .call()
        .expect("healthz")
        .into_json()
        .unwrap();
    assert_eq!(health["submissions"], 1, "{health}");
    assert_eq!(health["schema_version"], kipekee::store::SCHEMA_VERSION);
}

#[test]
fn logs_have_a_request_id_and_never_a_secret_or_a_message_body() {
    const MESSAGE: &str = "Zebra-quartz 7731: my very private renovation plans";
    const METRICS_TOKEN: &str = "metrics-secret-5f1c2d9e";
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeMailtrap::start();
    let server = start(
        &dir.path().join("data"),
        &fake,
        &[
            ("KIPEKEE_LOG_FORMAT", "json"),
            ("KIPEKEE_METRICS_TOKEN", METRICS_TOKEN),
            ("RUST_LOG", "info"),
        ],
    );
    let (_, request_id) = post_quote(&server, &[], MESSAGE);
    assert_eq!(request_id.len(), 16, "X-Request-Id {request_id:?}");
    let log_path = server.log.clone();
    assert!(sigterm(server).success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    for secret in [
        common::fake_mailtrap::TOKEN,
        METRICS_TOKEN,
        MESSAGE,
        "Zebra-quartz",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no line with request id {request_id}:\n{log}"));
    assert_eq!(request["method"], "POST", "{request}");
    assert_eq!(request["path"], "/f/quote", "{request}");
    assert_eq!(request["status"], 201, "{request}");
    assert!(request["duration_ms"].is_number(), "{request}");
}

#[test]
fn text_logs_are_the_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeMailtrap::start();
    let server = start(&dir.path().join("data"), &fake, &[]);
    let (_, request_id) = post_quote(&server, &[], "Hello");
    let log = server.log_text();
    let line = log
        .lines()
        .find(|l| l.contains(&request_id))
        .unwrap_or_else(|| panic!("no line with {request_id}:\n{log}"));
    assert!(!line.starts_with('{'), "{line}");
    assert!(
        line.contains("method=POST") && line.contains("status=201"),
        "{line}"
    );
}

/// The client address a submission was stored with, behind a (pretend) proxy header.
fn stored_client_ip(env: &[(&str, &str)], header: (&str, &str)) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = start(&data, &fake, env);
    let (created, _) = post_quote(&server, &[header], "Where am I from?");
    assert!(sigterm(server).success());
    let store = Store::open(&data).unwrap();
    let s = store.submission(submission_id(&created)).unwrap().unwrap();
    s.client_ip
}

#[test]
fn a_spoofed_client_address_header_is_ignored_unless_configured() {
    let spoof = ("X-Real-IP", "203.0.113.9");
    assert_eq!(stored_client_ip(&[], spoof).as_deref(), Some("127.0.0.1"));
    let forwarded = ("X-Forwarded-For", "198.51.100.7");
    assert_eq!(
        stored_client_ip(&[], forwarded).as_deref(),
        Some("127.0.0.1")
    );
    let trusted = [("ROCKET_IP_HEADER", "X-Forwarded-For")];
    assert_eq!(
        stored_client_ip(&trusted, forwarded).as_deref(),
        Some("198.51.100.7")
    );
}

fn quote_json(app: &TestApp, message: &str) -> Status {
    let body =
        json!({ "full_name": "Neema Juma", "email": "neema@visitor.example", "message": message });
    app.client
        .post("/f/quote")
        .header(ContentType::JSON)
        .header(Header::new("Accept", "application/json"))
        .body(body.to_string())
        .dispatch()
        .status()
}

fn scrape(
    app: &TestApp,
    headers: &[(&'static str, &'static str)],
    remote: &str,
) -> (Status, String) {
    let mut req = app.client.get("/metrics").remote(remote.parse().unwrap());
    for (k, v) in headers {
        req = req.header(Header::new(*k, *v));
    }
    let resp = req.dispatch();
    (resp.status(), resp.into_string().unwrap_or_default())
}

#[test]
fn metrics_count_posts_and_deliveries_for_loopback_or_a_bearer_token() {
    let app = TestApp::start_with(|f| {
        f.merge(("spam_min_seconds", 0))
            .merge(("metrics_token", "scrape-me"))
    });
    assert_eq!(quote_json(&app, "First"), Status::Created);
    assert_eq!(quote_json(&app, ""), Status::UnprocessableEntity);

    let (status, text) = scrape(&app, &[], "127.0.0.1:40000");
    assert_eq!(status, Status::Ok);
    for line in [
        r#"kipekee_submissions_total{form="quote",outcome="stored"} 1"#,
        r#"kipekee_submissions_total{form="quote",outcome="invalid"} 1"#,
        r#"kipekee_deliveries_total{kind="admin",outcome="sent"} 1"#,
        r#"kipekee_deliveries_total{kind="confirmation",outcome="sent"} 1"#,
        "kipekee_mailtrap_request_duration_seconds_count 2",
        "# TYPE kipekee_mailtrap_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }

    let relayed = [("X-Forwarded-For", "198.51.100.7")];
    assert_eq!(
        scrape(&app, &relayed, "127.0.0.1:40000").0,
        Status::Forbidden
    );
    assert_eq!(scrape(&app, &[], "198.51.100.7:40000").0, Status::Forbidden);
    let wrong = [("Authorization", "Bearer scrape-you")];
    assert_eq!(
        scrape(&app, &wrong, "198.51.100.7:40000").0,
        Status::Forbidden
    );
    let right = [("Authorization", "Bearer scrape-me")];
    assert_eq!(scrape(&app, &right, "198.51.100.7:40000").0, Status::Ok);
}

/// `/healthz` as a local monitor sees it (a direct loopback client gets the details).
fn health(app: &TestApp) -> Value {
    let loopback: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let resp = app.client.get("/healthz").remote(loopback).dispatch();
    assert_eq!(resp.status(), Status::Ok);
    resp.into_json().expect("healthz is JSON")
}

#[test]
fn healthz_turns_degraded_while_deliveries_keep_failing() {
    let app = TestApp::start_with(|f| f.merge(("spam_min_seconds", 0)).merge(("rate_limit", 0)));
    assert_eq!(health(&app)["status"], "ok");
    app.fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"success":false,"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    for n in 0..3 {
        assert_eq!(quote_json(&app, &format!("try {n}")), Status::Created);
    }
    let h = health(&app);
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["cause"], "mailtrap_unauthorized", "a short category: {h}");
    assert!(
        h["detail"].as_str().is_some_and(|c| c.contains("failed")),
        "{h}"
    );

    app.fake.set_fault(Fault::None);
    assert_eq!(quote_json(&app, "works again"), Status::Created);
    assert_eq!(health(&app)["status"], "ok");
}

/// A store as the first releases left it: no schema version, a record without the fields
/// added since, no index entries.
fn write_v0_store(dir: &Path) {
    let db = sled::open(dir).unwrap();
    let record = json!({
        "id": format!("{:016x}", 1_700_000_000_000_000u64),
        "form": "quote",
        "reference": "Q-1041",
        "created_at": "2024-05-01T09:30:00Z",
        "fields": { "full_name": "Asha", "email": "asha@example.com", "message": "Old one" },
        "visitor_email": "asha@example.com",
        "email_status": "sent"
    });
    db.open_tree("submissions")
        .unwrap()
        .insert(
            1_700_000_000_000_000u64.to_be_bytes(),
            record.to_string().as_bytes(),
        )
        .unwrap();
    db.flush().unwrap();
}

fn kipekee(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(process::binary())
        .args(args)
        .env_clear()
        .env("KIPEKEE_DATA_DIR", data)
        .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
        .output()
        .expect("kipekee runs")
}

#[test]
fn the_binary_migrates_an_older_store_and_refuses_a_newer_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    write_v0_store(&data);
    let out = kipekee(&data, &["export", "--form", "quote", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported[0]["reference"], "Q-1041", "{exported}");
    assert_eq!(exported[0]["status"], "new", "{exported}");
    {
        let store = Store::open(&data).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            kipekee::store::SCHEMA_VERSION
        );
        assert!(store.submission_by_reference("Q-1041").unwrap().is_some());
    }

    let newer = kipekee::store::SCHEMA_VERSION + 1;
    {
        let db = sled::open(&data).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &newer.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let out = kipekee(&data, &["export"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("newer than this binary"), "{stderr}");
}

/// Runs a shell command with a time limit; panics with its output if it fails.
fn run(cmd: &mut Command, limit: Duration) -> String {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Builds the release tarball and `.deb` (a release build: minutes), unpacks the `.deb`
/// into a scratch root and installs the tarball into another, and checks that the files
/// are where the unit expects them. A release build takes minutes, so this runs only with
/// `KIPEKEE_PACKAGING_TEST` set: `.ci/run` sets it (and then a missing cargo-deb fails).
#[test]
fn release_tarball_and_deb_put_every_file_where_the_unit_expects_it() {
    if std::env::var_os("KIPEKEE_PACKAGING_TEST").is_none() {
        eprintln!("skipped: set KIPEKEE_PACKAGING_TEST=1 to build and check the release artefacts");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("temp dir");
    run(
        Command::new(root.join("packaging/build-release.sh")).arg(out.path()),
        Duration::from_secs(40 * 60),
    );
    let version = env!("CARGO_PKG_VERSION");
    let files: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let tarball = files
        .iter()
        .find(|f| f.ends_with(".tar.gz"))
        .expect("a tarball");
    let deb = files.iter().find(|f| f.ends_with(".deb")).expect("a .deb");
    assert!(
        tarball.starts_with(&format!("kipekee-{version}-")),
        "{tarball}"
    );
    run(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(out.path()),
        Duration::from_secs(60),
    );

    let deb_root = out.path().join("deb-root");
    run(
        Command::new("dpkg")
            .arg("-x")
            .arg(out.path().join(deb))
            .arg(&deb_root),
        Duration::from_secs(60),
    );
    check_installed(&deb_root, "/usr/bin/kipekee");
    let control = out.path().join("control");
    run(
        Command::new("dpkg-deb")
            .arg("-e")
            .arg(out.path().join(deb))
            .arg(&control),
        Duration::from_secs(60),
    );
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap_or_default();
    assert!(
        conffiles.contains("/etc/kipekee/kipekee.env"),
        "{conffiles}"
    );
    // cargo-deb's systemd-units scripts: reload and restart after an upgrade, stop on
    // remove, clean the enablement on purge (tests/systemd/run.sh runs them for real).
    for (script, action) in [
        ("postinst", "try-restart"),
        ("prerm", "deb-systemd-invoke stop"),
        ("postrm", "deb-systemd-helper purge"),
    ] {
        let text = std::fs::read_to_string(control.join(script)).unwrap_or_default();
        assert!(text.contains(action), "{script} lacks {action}:\n{text}");
    }
    for doc in [
        "usr/share/man/man1/kipekee.1.gz",
        "usr/share/doc/kipekee/changelog.Debian.gz",
    ] {
        assert!(deb_root.join(doc).is_file(), "{doc} missing from the .deb");
    }

    let unpacked = out.path().join("tarball");
    std::fs::create_dir(&unpacked).unwrap();
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(out.path().join(tarball))
            .arg("-C")
            .arg(&unpacked),
        Duration::from_secs(60),
    );
    let top = unpacked.join(tarball.trim_end_matches(".tar.gz"));
    for f in [
        "kipekee",
        "kipekee.service",
        "kipekee.env.example",
        "README.md",
        "LICENSE",
        "install.sh",
        "SHA256SUMS",
    ] {
        assert!(top.join(f).exists(), "{f} missing from the tarball");
    }
    let tar_root = out.path().join("tar-root");
    run(
        Command::new(top.join("install.sh")).env("DESTDIR", &tar_root),
        Duration::from_secs(60),
    );
    check_installed(&tar_root, "/usr/local/bin/kipekee");
}

/// The unit under `root` starts `binary`, which is there and runs; the env file is private.
fn check_installed(root: &Path, binary: &str) {
    use std::os::unix::fs::PermissionsExt;
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/kipekee.service"))
        .or_else(|_| std::fs::read_to_string(root.join("etc/systemd/system/kipekee.service")))
        .expect("the unit is installed");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert_eq!(exec.split_whitespace().next(), Some(binary), "{unit}");
    let installed = root.join(binary.trim_start_matches('/'));
    let mut command = Command::new(&installed);
    command.arg("--version");
    let version = run(&mut command, Duration::from_secs(30));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    assert!(
        unit.contains("EnvironmentFile=-/etc/kipekee/kipekee.env"),
        "{unit}"
    );
    let env = root.join("etc/kipekee/kipekee.env");
    let mode = std::fs::metadata(&env)
        .expect("env file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", env.display());
}

#[test]
fn check_shows_which_client_address_header_is_trusted_and_masks_the_metrics_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let out = kipekee(&data, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("ip_header = none"), "{text}");

    let out = Command::new(process::binary())
        .arg("check")
        .env_clear()
        .env("KIPEKEE_DATA_DIR", &data)
        .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
        .env("ROCKET_IP_HEADER", "X-Forwarded-For")
        .env("KIPEKEE_METRICS_TOKEN", "scrape-secret-91")
        .env("KIPEKEE_LOG_FORMAT", "json")
        .output()
        .expect("kipekee runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("ip_header = X-Forwarded-For"), "{text}");
    assert!(text.contains(r#""log_format": "json""#), "{text}");
    assert!(!text.contains("scrape-secret-91"), "{text}");
}
