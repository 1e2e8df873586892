mod common;

// Black-box tests of the real `kipekee` binary: started as a process on a loopback port with
// its own temp data dir, spoken to over HTTP, with a loopback fake of Mailtrap recording
// what the appliance sent. The store is only opened in-process once the server is gone.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use common::fake_mailtrap::{Recorded, TOKEN};
use common::multipart::Multipart;
use common::process::{self, Server};
use common::{FakeMailtrap, JOBS, NEWS, OWNER, PDF};
use kipekee::model::{DeliveryState, EmailStatus, SubscriberState};
use kipekee::store::Store;

/// The harness's server with the fake as Mailtrap. The time trap is turned off because these
/// tests post as fast as a program can; spam handling has tests of its own.
fn start(data_dir: &Path, fake: &FakeMailtrap) -> Server {
    Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        cmd.env("KIPEKEE_SPAM_MIN_SECONDS", "0");
        cmd
    })
}

/// The answer whatever its status; only a transport error panics.
fn answer(result: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match result {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("HTTP transport error: {e}"),
    }
}

fn get(server: &Server, path: &str) -> ureq::Response {
    answer(process::http().get(&server.url(path)).call())
}

fn origin(server: &Server) -> String {
    server.url("")
}

/// POSTs a body the way a browser on the form page does (same `Origin`).
fn post(server: &Server, slug: &str, content_type: &str, body: &[u8]) -> ureq::Response {
    answer(
        process::http()
            .post(&server.url(&format!("/f/{slug}")))
            .set("Origin", &origin(server))
            .set("Content-Type", content_type)
            .send_bytes(body),
    )
}

const URLENCODED: &str = "application/x-www-form-urlencoded";

/// Asserts the 303 of a valid HTML post and returns its `Location`.
fn see_other(resp: ureq::Response, slug: &str) -> String {
    let status = resp.status();
    let location = resp.header("Location").map(str::to_string);
    let body = resp.into_string().unwrap_or_default();
    assert_eq!(status, 303, "POST /f/{slug}: expected 303, body:\n{body}");
    let location = location.unwrap_or_else(|| panic!("POST /f/{slug}: 303 without Location"));
    assert!(
        location.starts_with(&format!("/f/{slug}/thanks")),
        "POST /f/{slug}: Location {location:?}"
    );
    location
}

/// GETs the form page a visitor would fill in and checks it posts where we post.
fn form_page(server: &Server, slug: &str) -> String {
    let resp = get(server, &format!("/f/{slug}"));
    assert_eq!(resp.status(), 200, "GET /f/{slug}");
    assert!(
        resp.content_type().starts_with("text/html"),
        "GET /f/{slug}"
    );
    let html = resp.into_string().expect("form page body");
    assert!(html.contains(&format!("action=\"/f/{slug}\"")), "{html}");
    assert!(
        html.contains("name=\"website\""),
        "no honeypot on /f/{slug}"
    );
    html
}

/// The thank-you page the 303 points at: it shows the reference.
fn thanks_page(server: &Server, location: &str, reference: &str) -> String {
    let resp = get(server, location);
    assert_eq!(resp.status(), 200, "GET {location}");
    let html = resp.into_string().expect("thanks body");
    assert!(
        html.contains(reference),
        "GET {location} does not show {reference}:\n{html}"
    );
    html
}

/// The requests the fake recorded after the first `before`, waiting briefly for stragglers.
fn requests_since(fake: &FakeMailtrap, before: usize) -> Vec<Recorded> {
    // Emails go out inside the request: they are recorded before the answer arrives. The
    // short wait only makes a second, unexpected request visible.
    std::thread::sleep(Duration::from_millis(100));
    fake.requests().split_off(before)
}

/// Checks the one batch round trip of a post and returns its messages as delivered
/// (`base` merged into each request).
fn one_batch(
    fake: &FakeMailtrap,
    requests_before: usize,
    delivered_before: usize,
    what: &str,
) -> Vec<Value> {
    let requests = requests_since(fake, requests_before);
    assert_eq!(
        requests.len(),
        1,
        "{what}: expected exactly one Mailtrap request, got {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/batch"),
        "{what}"
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{what}"
    );
    assert_eq!(r.status, 200, "{what}: the fake answered {}", r.status);
    let sent = r.body["requests"].as_array().map_or(0, Vec::len);
    let delivered = fake.delivered().split_off(delivered_before);
    assert_eq!(
        delivered.len(),
        sent,
        "{what}: the fake rejected some of the batch: {}",
        r.body
    );
    for m in &delivered {
        assert!(
            m["text"].as_str().is_some_and(|t| !t.trim().is_empty()),
            "{what}: message without text: {m}"
        );
        assert!(
            m["html"].as_str().is_some_and(|t| !t.trim().is_empty()),
            "{what}: message without html: {m}"
        );
        assert_eq!(m["from"]["email"], "hello@example.com", "{what}: {m}");
    }
    delivered
}

/// The one message to `to` (panics if none or several).
fn message_to<'a>(messages: &'a [Value], to: &str, what: &str) -> &'a Value {
    let found: Vec<&Value> = messages
        .iter()
        .filter(|m| {
            m["to"]
                .as_array()
                .is_some_and(|list| list.iter().any(|a| a["email"] == to))
        })
        .collect();
    assert_eq!(found.len(), 1, "{what}: messages to {to}: {messages:#?}");
    found[0]
}

fn text(m: &Value) -> &str {
    m["text"].as_str().unwrap_or_default()
}

/// The path part of the first `<base>/<route>/<token>` link in `text`.
fn link_path(text: &str, base: &str, route: &str) -> String {
    let start = text
        .find(&format!("{base}/{route}/"))
        .unwrap_or_else(|| panic!("no {base}/{route}/ link in:\n{text}"));
    let link: String = text[start + base.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !"<>\"'".contains(*c))
        .collect();
    assert!(link.len() > route.len() + 2, "empty token in {link:?}");
    link
}

/// Checks an admin notification and the visitor's confirmation of a standard form.
fn admin_and_confirmation<'a>(
    messages: &'a [Value],
    admin_to: &str,
    visitor: &str,
    reference: &str,
    what: &str,
) -> (&'a Value, &'a Value) {
    assert_eq!(messages.len(), 2, "{what}: {messages:#?}");
    let admin = message_to(messages, admin_to, what);
    let confirmation = message_to(messages, visitor, what);
    assert_eq!(
        admin["reply_to"]["email"], visitor,
        "{what}: the admin notification must Reply-To the visitor: {admin}"
    );
    for m in [admin, confirmation] {
        assert!(
            text(m).contains(reference),
            "{what}: reference {reference} missing from the email:\n{}",
            text(m)
        );
    }
    (admin, confirmation)
}

fn reference_of(location: &str) -> String {
    common::query_param(location, "reference")
        .unwrap_or_else(|| panic!("no reference in Location {location:?}"))
}

fn email_status_of(location: &str) -> String {
    common::query_param(location, "email").unwrap_or_default()
}

#[test]
fn each_of_the_four_forms_goes_from_http_to_the_store_to_mailtrap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = start(&data_dir, &fake);
    let base = origin(&server);
    let mut references: BTreeMap<&str, String> = BTreeMap::new();

    // quote, url-encoded
    form_page(&server, "quote");
    let (requests, delivered) = (fake.requests().len(), fake.delivered().len());
    let body = common::form_body(&[
        ("full_name", "Asha Mwangi"),
        ("email", "asha@visitor.example"),
        ("phone", "+255 700 000 001"),
        ("company", "Mwangi & Sons"),
        ("message", "Two hundred branded mugs, please."),
        ("website", ""),
    ]);
    let location = see_other(post(&server, "quote", URLENCODED, body.as_bytes()), "quote");
    assert_eq!(email_status_of(&location), "sent", "quote: {location}");
    let reference = reference_of(&location);
    assert_eq!(reference, "Q-1001");
    let messages = one_batch(&fake, requests, delivered, "quote");
    admin_and_confirmation(
        &messages,
        OWNER,
        "asha@visitor.example",
        &reference,
        "quote",
    );
    thanks_page(&server, &location, &reference);
    references.insert("quote", reference);

    // contact, url-encoded
    form_page(&server, "contact");
    let (requests, delivered) = (fake.requests().len(), fake.delivered().len());
    let body = common::form_body(&[
        ("name", "Baraka Otieno"),
        ("email", "baraka@visitor.example"),
        ("message", "Are you open on Saturdays?"),
        ("website", ""),
    ]);
    let location = see_other(
        post(&server, "contact", URLENCODED, body.as_bytes()),
        "contact",
    );
    assert_eq!(email_status_of(&location), "sent", "contact: {location}");
    let reference = reference_of(&location);
    let messages = one_batch(&fake, requests, delivered, "contact");
    admin_and_confirmation(
        &messages,
        OWNER,
        "baraka@visitor.example",
        &reference,
        "contact",
    );
    thanks_page(&server, &location, &reference);
    references.insert("contact", reference);

    // job, multipart with a PDF CV
    let html = form_page(&server, "job");
    assert!(
        html.contains("enctype=\"multipart/form-data\""),
        "job form cannot upload"
    );
    let (requests, delivered) = (fake.requests().len(), fake.delivered().len());
    let (content_type, body) = Multipart::default()
        .text("full_name", "Chausiku Njeri")
        .text("email", "chausiku@visitor.example")
        .text("phone", "")
        .text("position", "Bookkeeper")
        .text("cover_letter", "Ten years of double-entry bookkeeping.")
        .file("cv", "cv.pdf", "application/pdf", PDF)
        .text("website", "")
        .finish();
    let location = see_other(post(&server, "job", &content_type, &body), "job");
    assert_eq!(email_status_of(&location), "sent", "job: {location}");
    let reference = reference_of(&location);
    let messages = one_batch(&fake, requests, delivered, "job");
    let (admin, _) = admin_and_confirmation(
        &messages,
        JOBS,
        "chausiku@visitor.example",
        &reference,
        "job",
    );
    let attachments = admin["attachments"].as_array().expect("the CV is attached");
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let cv = &attachments[0];
    assert!(
        cv["filename"].as_str().is_some_and(|f| f.ends_with(".pdf")),
        "{cv}"
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cv["content"].as_str().expect("attachment content"))
        .expect("attachment content is base64");
    assert_eq!(bytes, PDF, "the attached CV is not the uploaded file");
    thanks_page(&server, &location, &reference);
    references.insert("job", reference);

    // newsletter, url-encoded: only the opt-in goes out
    form_page(&server, "newsletter");
    let visitor = "dalila@visitor.example";
    let (requests, delivered) = (fake.requests().len(), fake.delivered().len());
    let body = common::form_body(&[("email", visitor), ("name", "Dalila"), ("website", "")]);
    let location = see_other(
        post(&server, "newsletter", URLENCODED, body.as_bytes()),
        "newsletter",
    );
    assert_eq!(email_status_of(&location), "sent", "newsletter: {location}");
    let reference = reference_of(&location);
    let messages = one_batch(&fake, requests, delivered, "newsletter");
    assert_eq!(messages.len(), 1, "only the opt-in goes out: {messages:#?}");
    let optin = message_to(&messages, visitor, "newsletter");
    let confirm = link_path(text(optin), &base, "confirm");
    let html = thanks_page(&server, &location, &reference);
    assert!(
        html.to_lowercase().contains("check your inbox to confirm"),
        "the newsletter thank-you page must say to check the inbox:\n{html}"
    );
    references.insert("newsletter", reference);

    // a mail scanner's GET or HEAD of the opt-in link acts on nothing
    let (requests, delivered) = (fake.requests().len(), fake.delivered().len());
    assert_eq!(get(&server, &confirm).status(), 200, "GET {confirm}");
    let head = answer(process::http().head(&server.url(&confirm)).call());
    assert_eq!(head.status(), 200, "HEAD {confirm}");
    assert_eq!(fake.requests().len(), requests, "GET and HEAD send nothing");

    // the page's button posts: the welcome and the owner's notice, in one round trip
    let resp = answer(process::http().post(&server.url(&confirm)).call());
    assert_eq!(resp.status(), 200, "POST {confirm}");
    let messages = one_batch(&fake, requests, delivered, "confirm");
    assert_eq!(messages.len(), 2, "welcome and notice: {messages:#?}");
    let welcome = message_to(&messages, visitor, "confirm");
    message_to(&messages, NEWS, "confirm");
    let list_unsubscribe = welcome["headers"]["List-Unsubscribe"]
        .as_str()
        .unwrap_or_else(|| panic!("the welcome has no List-Unsubscribe header: {welcome}"));
    let unsubscribe = link_path(list_unsubscribe, &base, "unsubscribe");
    assert_eq!(
        get(&server, &unsubscribe).status(),
        200,
        "GET {unsubscribe}"
    );
    // RFC 8058: the mail client's one-click POST, from no page of ours
    let resp = answer(
        process::http()
            .post(&server.url(&unsubscribe))
            .set("Content-Type", URLENCODED)
            .send_string("List-Unsubscribe=One-Click"),
    );
    assert_eq!(
        resp.status(),
        200,
        "POST {unsubscribe} (List-Unsubscribe-Post)"
    );
    assert_eq!(
        fake.requests().len(),
        requests + 1,
        "unsubscribing sends nothing"
    );

    // what the store kept: every submission, its files, every delivery, the subscriber
    server.kill_9();
    let store = Store::open(&data_dir).expect("the store opens once the server is gone");
    for (form, reference) in &references {
        let s = store
            .submission_by_reference(reference)
            .expect("store readable")
            .unwrap_or_else(|| panic!("{reference} is not in the store"));
        assert_eq!(&s.form, form);
        assert_eq!(s.email_status, DeliveryState::Sent, "{reference}");
        let log = store.deliveries_of(s.id).expect("delivery log readable");
        let expected = if *form == "newsletter" { 3 } else { 2 };
        assert_eq!(log.len(), expected, "{reference}: {log:#?}");
        for d in &log {
            assert_eq!(d.outcome.status, EmailStatus::Sent, "{reference}: {d:#?}");
            assert_eq!(d.outcome.http_status, Some(200), "{reference}: {d:#?}");
            assert!(
                !d.outcome.message_ids.is_empty(),
                "{reference}: no message id: {d:#?}"
            );
        }
        if *form == "job" {
            assert_eq!(s.files.len(), 1, "{:?}", s.files);
            let field = &s.files[0].field;
            assert_eq!(
                store.file(s.id, field).expect("file readable").as_deref(),
                Some(PDF)
            );
        }
    }
    let subscriber = store
        .subscribers()
        .expect("subscribers readable")
        .into_iter()
        .find(|s| s.email.as_str() == visitor)
        .expect("the newsletter visitor is a subscriber");
    assert_eq!(subscriber.state, SubscriberState::Unsubscribed);
}

#[test]
fn a_submission_acknowledged_with_303_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = start(&data_dir, &fake);
    let fields = [
        ("full_name", "Émile Kariuki-Ngugi"),
        ("email", "emile@visitor.example"),
        ("phone", "+254 711 222 333"),
        ("company", "Kariuki <Tiles> & \"Stone\""),
        (
            "message",
            "Quote for 40 m² of terrazzo — before Friday? 100% needed.",
        ),
    ];
    let mut pairs = fields.to_vec();
    pairs.push(("website", ""));
    let body = common::form_body(&pairs);
    let location = see_other(post(&server, "quote", URLENCODED, body.as_bytes()), "quote");
    server.kill_9();
    let reference = reference_of(&location);
    assert_eq!(reference, "Q-1001");

    {
        let store = Store::open(&data_dir).expect("the store opens after kill -9");
        let s = store
            .submission_by_reference(&reference)
            .expect("store readable")
            .unwrap_or_else(|| {
                panic!("{reference} was acknowledged with 303 but is not in the store")
            });
        assert_eq!(s.form, "quote");
        for (name, value) in fields {
            assert_eq!(
                s.fields.get(name).map(String::as_str),
                Some(value),
                "field {name}"
            );
        }
        assert_eq!(
            s.visitor_email.as_ref().map(|e| e.as_str()),
            Some("emile@visitor.example")
        );
    }

    // the same data dir serves again and the reference sequence carries on
    let server = start(&data_dir, &fake);
    let resp = get(&server, "/healthz");
    assert_eq!(resp.status(), 200);
    let health: Value = resp.into_json().expect("/healthz is JSON");
    assert_eq!(health["status"], "ok", "{health}");
    let body = common::form_body(&[
        ("full_name", "Second Visitor"),
        ("email", "second@visitor.example"),
        ("message", "Another quote."),
        ("website", ""),
    ]);
    let location = see_other(post(&server, "quote", URLENCODED, body.as_bytes()), "quote");
    assert_eq!(reference_of(&location), "Q-1002", "{location}");
}

/// Runs `cmd` to completion with its output in files; panics if it outlives `limit`.
fn run_bounded(
    mut cmd: Command,
    out_dir: &Path,
    limit: Duration,
) -> (std::process::ExitStatus, String, String) {
    let out_path = out_dir.join("stdout");
    let err_path = out_dir.join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("kipekee starts");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kipekee") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kipekee did not exit within {limit:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status, read(&out_path), read(&err_path))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn invalid_configuration_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = process::command(&dir.path().join("data"), free_port(), "http://127.0.0.1:9");
    cmd.env("ADMIN_EMAIL", "not-an-address");
    let (status, stdout, stderr) = run_bounded(cmd, dir.path(), Duration::from_secs(20));
    let all = format!("{stdout}{stderr}");
    assert!(
        !status.success(),
        "kipekee started with ADMIN_EMAIL=not-an-address:\n{all}"
    );
    assert!(
        !all.contains("panicked"),
        "a panic instead of an error line:\n{all}"
    );
    assert!(!all.to_lowercase().contains("backtrace"), "{all}");
    let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one `error:` line:\n{all}");
    assert!(
        errors[0].contains("ADMIN_EMAIL"),
        "the error must name the key: {}",
        errors[0]
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "the error must be one line:\n{stderr}"
    );
}

#[test]
fn with_nothing_configured_it_serves_stores_and_skips_emails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let server = Server::start_command(&data_dir, |port| {
        let mut cmd = Command::new(process::binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_CONFIG", "/nonexistent/Rocket.toml")
            .current_dir(dir.path());
        cmd
    });

    let resp = get(&server, "/healthz");
    assert_eq!(resp.status(), 200);
    let health: Value = resp.into_json().expect("/healthz is JSON");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["mailtrap"], "not configured", "{health}");

    let resp = get(&server, "/");
    assert_eq!(resp.status(), 200);
    let index = resp.into_string().expect("index body");
    for slug in ["quote", "job", "newsletter", "contact"] {
        assert!(
            index.contains(&format!("/f/{slug}")),
            "index lacks {slug}:\n{index}"
        );
    }
    form_page(&server, "quote");

    let json = serde_json::json!({
        "full_name": "Neema Juma",
        "email": "neema@visitor.example",
        "message": "A quote for a website, please.",
    });
    let resp = post(
        &server,
        "quote",
        "application/json",
        json.to_string().as_bytes(),
    );
    assert_eq!(resp.status(), 201);
    assert!(
        resp.content_type().contains("json"),
        "{}",
        resp.content_type()
    );
    let created: Value = resp.into_json().expect("201 is JSON");
    assert_eq!(created["form"], "quote", "{created}");
    assert!(
        created["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{created}"
    );
    let emails = created["emails"].as_array().expect("emails array");
    let mut kinds: Vec<&str> = emails.iter().filter_map(|e| e["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["admin", "confirmation"], "{created}");
    for e in emails {
        assert_eq!(e["status"], "skipped", "{created}");
    }

    server.kill_9();
    assert!(
        dir.path().join("data").is_dir(),
        "the store is not in ./data of the working directory"
    );
    let store = Store::open(&dir.path().join("data")).expect("the store in ./data opens");
    let stored = store
        .latest_submissions(Some("quote"), 10)
        .expect("store readable");
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(
        stored[0].id.to_string(),
        created["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        stored[0].fields.get("full_name").map(String::as_str),
        Some("Neema Juma")
    );
    assert_eq!(stored[0].email_status, DeliveryState::Skipped);
    // the would-be emails are kept for the owner to read
    let log = store
        .deliveries_of(stored[0].id)
        .expect("delivery log readable");
    assert_eq!(log.len(), 2, "{log:#?}");
    for d in &log {
        assert_eq!(d.outcome.status, EmailStatus::Skipped, "{d:#?}");
        let body = store.body(d.id).expect("readable").unwrap_or_default();
        assert!(
            !body.text.trim().is_empty() && !body.html.trim().is_empty(),
            "{d:#?}"
        );
    }
}

#[test]
fn the_binary_serves_its_embedded_assets_from_any_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let elsewhere = tempfile::tempdir().expect("another temp dir");
    let data_dir = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let server = Server::start_command(&data_dir, |port| {
        let mut cmd = process::command(&data_dir, port, &fake.url());
        cmd.current_dir(elsewhere.path());
        cmd
    });
    assert!(!elsewhere.path().join("assets").exists());

    let resp = get(&server, "/assets/css/site.css");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_type(), "text/css");
    let etag = resp
        .header("ETag")
        .map(str::to_string)
        .expect("an ETag on the asset");
    let body = resp.into_string().expect("css body");
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/css/site.css"))
            .expect("assets/css/site.css in the source tree");
    assert_eq!(body, source, "the served file is not the embedded asset");

    let resp = answer(
        process::http()
            .get(&server.url("/assets/css/site.css"))
            .set("If-None-Match", &etag)
            .call(),
    );
    assert_eq!(resp.status(), 304, "If-None-Match {etag}");
    assert_eq!(resp.into_string().unwrap_or_default(), "");

    let resp = get(&server, "/assets/css/missing.css");
    assert_eq!(resp.status(), 404);
}
