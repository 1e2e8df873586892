//! Security properties of the real binary: secrets kept out of logs, login bursts,
//! what anonymous clients see, backups and redirects.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::admin::hidden;
use common::admin_http::{login, Browser};
use common::process::{self, Server};
use common::secrets::assert_no_secrets;
use common::{FakeMailtrap, Fault};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-77";
const METRICS_TOKEN: &str = "metrics-token-9c41f0a7d2";

fn start(data_dir: &Path, fake: &FakeMailtrap, env: &[(&str, &str)]) -> Server {
    Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    })
}

/// `kill -TERM`, then waits (at most 15 s) for the exit.
fn sigterm(mut server: Server) -> String {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "no exit 15 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.log_text()
}

fn post_quote(server: &Server, message: &str) -> u16 {
    let body =
        json!({ "full_name": "Neema Juma", "email": "neema@visitor.example", "message": message });
    match process::http()
        .post(&server.url("/f/quote"))
        .set("Accept", "application/json")
        .send_json(body)
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(e) => panic!("transport error: {e}"),
    }
}

#[test]
fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    let phc = kipekee::web::admin::hash_password(PASSWORD);
    let server = start(
        &data,
        &fake,
        &[
            // The user's filter asks the HTTP layers for everything by name, too.
            (
                "RUST_LOG",
                "trace,rocket=trace,rocket::server=trace,hyper=trace",
            ),
            ("KIPEKEE_ADMIN_PASSWORD_HASH", &phc),
            ("KIPEKEE_METRICS_TOKEN", METRICS_TOKEN),
            ("KIPEKEE_MAILTRAP_TIMEOUT_SECS", "2"),
        ],
    );
    let mut admin = Browser::default();
    assert_eq!(login(&server, &mut admin, "wrong-password-1").status, 401);
    let csrf_refused = admin.post(
        &server.url("/admin/login"),
        &[("password", PASSWORD), ("csrf_token", "forged-token-123")],
    );
    assert_eq!(csrf_refused.status, 403);
    let done = login(&server, &mut admin, PASSWORD);
    assert_eq!(done.status, 303, "{}", done.body);
    let session_cookie = admin
        .cookie("kipekee_session")
        .expect("session")
        .to_string();
    let dashboard = admin.get(&server.url("/admin"), &[]);
    assert_eq!(dashboard.status, 200);
    let csrf = hidden(&dashboard.body, "csrf_token");
    assert_eq!(admin.get(&server.url("/admin/settings"), &[]).status, 200);

    assert_eq!(post_quote(&server, "delivered"), 201);
    fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"success":false,"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    assert_eq!(post_quote(&server, "refused by Mailtrap"), 201);
    fake.set_fault(Fault::Hang);
    let send_test = admin.post(
        &server.url("/admin/test-email"),
        &[("csrf_token", &csrf), ("to", "owner@shop.example")],
    );
    assert!(send_test.status < 500, "{}", send_test.status);
    fake.set_fault(Fault::None);

    let bearer = format!("Bearer {METRICS_TOKEN}");
    let metrics = admin.get(&server.url("/metrics"), &[("Authorization", &bearer)]);
    assert_eq!(metrics.status, 200);
    let forged = admin.post(&server.url("/admin/logout"), &[("csrf_token", "nope-nope")]);
    assert_eq!(forged.status, 403);
    assert_eq!(admin.get(&server.url("/healthz"), &[]).status, 200);

    let log = sigterm(server);
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not a debug log:\n{log}"
    );
    let store = sled::open(&data).expect("store");
    let meta = store.open_tree("meta").expect("meta");
    let b64 = |v: sled::IVec| base64::engine::general_purpose::STANDARD.encode(v);
    let cookie_key = b64(meta.get("secret/cookie").unwrap().expect("cookie key"));
    let trap_key = b64(meta.get("secret/time-trap").unwrap().expect("trap key"));
    let session_id = store
        .open_tree("sessions")
        .expect("sessions")
        .iter()
        .keys()
        .next()
        .expect("a session")
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .expect("key");
    let phc_hash = phc.rsplit('$').next().unwrap_or_default().to_string();
    assert_no_secrets(
        &log,
        &[
            common::fake_mailtrap::TOKEN,
            METRICS_TOKEN,
            PASSWORD,
            &phc,
            &phc_hash,
            &cookie_key,
            &trap_key,
            &session_cookie,
            &session_id,
            &csrf,
        ],
    );
}

#[test]
fn a_burst_of_wrong_passwords_gets_five_guesses_and_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeMailtrap::start();
    let phc = kipekee::web::admin::hash_password(PASSWORD);
    let server = start(
        &dir.path().join("data"),
        &fake,
        &[("KIPEKEE_ADMIN_PASSWORD_HASH", &phc)],
    );
    let mut browser = Browser::default();
    let page = browser.get(&server.url("/admin/login"), &[]);
    let token = hidden(&page.body, "csrf_token");
    let cookie = format!(
        "kipekee_login={}",
        browser.cookie("kipekee_login").expect("login cookie")
    );
    let before = common::process::peak_rss_mib(server.child.id());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(40));
    let url = server.url("/admin/login");
    let guesses: Vec<_> = (0..40)
        .map(|n| {
            let (barrier, url, cookie) = (barrier.clone(), url.clone(), cookie.clone());
            let body = common::form_body(&[
                ("password", &format!("wrong-guess-{n}")),
                ("csrf_token", &token),
            ]);
            std::thread::spawn(move || {
                barrier.wait();
                let sent = process::http()
                    .post(&url)
                    .set("Cookie", &cookie)
                    .set("Content-Type", "application/x-www-form-urlencoded")
                    .send_string(&body);
                match sent {
                    Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
                    Err(e) => panic!("transport error: {e}"),
                }
            })
        })
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let peak = common::process::peak_rss_mib(server.child.id());
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("40 concurrent wrong passwords: {checked} checked (401), {refused} refused (429); peak RSS {before} MiB -> {peak} MiB");
    assert_eq!(checked + refused, 40, "{statuses:?}");
    assert!(checked <= 5, "{checked} of 40 guesses were checked");
    assert!(peak < 150, "peak RSS {peak} MiB");
    let after = login(&server, &mut browser, PASSWORD);
    assert_eq!(after.status, 429, "the address stays locked for the window");
}

// ------------------------------------------------------------ in-process: links and headers

mod in_process {
    use std::net::SocketAddr;

    use rocket::http::{ContentType, Header, Status};
    use rocket::local::blocking::LocalResponse;
    use serde_json::{json, Value};
    use url::Url;

    use super::common::admin::{self, log_in};
    use super::common::{form_body, Fault, TestApp, PUBLIC_URL};

    const PARTNER: &str = "https://partner.example";

    fn start() -> TestApp {
        admin::start_with(|f| {
            f.merge(("allowed_origins", vec![PARTNER]))
                .merge(("metrics_token", "healthz-token-55aa10"))
        })
    }

    fn remote(addr: &str) -> SocketAddr {
        addr.parse().expect("socket address")
    }

    fn post_json<'a>(t: &'a TestApp, body: Value) -> LocalResponse<'a> {
        t.client
            .post("/f/contact")
            .header(ContentType::JSON)
            .header(Header::new("Accept", "application/json"))
            .body(body.to_string())
            .dispatch()
    }

    #[test]
    fn a_hostile_next_never_sends_the_browser_off_site() {
        let t = start();
        let base = Url::parse(PUBLIC_URL).unwrap();
        let hostile = [
            "/\t/evil.example/phish",
            "/\n/evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/.//evil.example",
            "/%09/evil.example",
            "https://evil.example/",
            "http://shop.test@evil.example/",
            "https://partner.example.evil.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
        ];
        for next in hostile {
            let res = t
                .client
                .post("/f/contact")
                .header(ContentType::Form)
                .body(form_body(&[
                    ("name", "Asha"),
                    ("email", "asha@visitor.example"),
                    ("message", "hello"),
                    ("_next", next),
                ]))
                .dispatch();
            assert_eq!(res.status(), Status::SeeOther, "{next:?}");
            let location = res.headers().get_one("Location").unwrap_or_default();
            // What a browser does with it: the WHATWG parser, against the page's URL.
            let followed = base.join(location).expect("a URL");
            assert_eq!(
                followed.host_str(),
                Some("shop.test"),
                "{next:?} → Location {location:?}"
            );
        }
        for (next, expected) in [
            ("/welcome?x=1", "/welcome?x=1"),
            (
                "https://partner.example/done",
                "https://partner.example/done",
            ),
        ] {
            let res = t
                .client
                .post("/f/contact")
                .header(ContentType::Form)
                .body(form_body(&[
                    ("name", "Asha"),
                    ("email", "asha@visitor.example"),
                    ("message", "hello"),
                    ("_next", next),
                ]))
                .dispatch();
            assert_eq!(res.headers().get_one("Location"), Some(expected));
        }
    }

    #[test]
    fn reply_by_email_cannot_add_recipients_or_a_body() {
        let t = start();
        log_in(&t);
        let address = "?bcc=eve%40evil.example&body=Wire%20it&x=@evil.example";
        let res = post_json(
            &t,
            json!({ "name": "Mallory", "email": address, "message": "hi" }),
        );
        assert_eq!(res.status(), Status::Created);
        let created: Value = res.into_json().unwrap();
        let id = created["id"].as_str().expect("id");
        let page = t
            .client
            .get(format!("/admin/submissions/{id}"))
            .dispatch()
            .into_string()
            .unwrap();
        let at = page.find("href=\"mailto:").expect("a reply link") + 6;
        let href = page[at..].split('"').next().unwrap();
        let href = href.replace("&#x2F;", "/").replace("&amp;", "&");
        let link = Url::parse(&href).expect("a mailto URL");
        let params: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert_eq!(
            params.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["subject"],
            "{href}"
        );
        let to = percent_decode(link.path());
        assert_eq!(to, address, "{href}");
    }

    fn percent_decode(s: &str) -> String {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    fn health(t: &TestApp, from: &str, headers: &[(&'static str, &'static str)]) -> Value {
        let mut req = t.client.get("/healthz").remote(remote(from));
        for (k, v) in headers {
            req = req.header(Header::new(*k, *v));
        }
        let res = req.dispatch();
        assert_eq!(res.status(), Status::Ok);
        res.into_json().expect("JSON")
    }

    #[test]
    fn anonymous_clients_see_only_the_health_status_and_its_category() {
        let t = start();
        t.fake.set_fault(Fault::Status {
            code: 401,
            body: r#"{"success":false,"errors":["Unauthorized token xyz"]}"#.into(),
            retry_after: None,
        });
        for n in 0..3 {
            let body = json!({ "name": "Asha", "email": "asha@visitor.example", "message": n.to_string() });
            assert_eq!(post_json(&t, body).status(), Status::Created);
        }
        let outside = [
            health(&t, "203.0.113.9:4000", &[]),
            health(&t, "127.0.0.1:4000", &[("X-Forwarded-For", "203.0.113.9")]),
            health(&t, "127.0.0.1:4000", &[("X-Real-IP", "203.0.113.9")]),
            health(&t, "127.0.0.1:4000", &[("Forwarded", "for=203.0.113.9")]),
            health(
                &t,
                "203.0.113.9:4000",
                &[("Authorization", "Bearer wrong-token-0")],
            ),
        ];
        for public in outside {
            assert_eq!(
                public,
                json!({ "status": "degraded", "cause": "mailtrap_unauthorized" }),
                "{public}"
            );
        }
        for inside in [
            health(&t, "127.0.0.1:4000", &[]),
            health(
                &t,
                "203.0.113.9:4000",
                &[("Authorization", "Bearer healthz-token-55aa10")],
            ),
        ] {
            assert_eq!(inside["status"], "degraded", "{inside}");
            assert_eq!(inside["submissions"], 3, "{inside}");
            assert!(inside["version"].is_string(), "{inside}");
            let detail = inside["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("401"), "{inside}");
        }
        t.fake.set_fault(Fault::None);
        let body = json!({ "name": "Asha", "email": "asha@visitor.example", "message": "ok" });
        assert_eq!(post_json(&t, body).status(), Status::Created);
        assert_eq!(
            health(&t, "203.0.113.9:4000", &[]),
            json!({ "status": "ok" })
        );
    }

    #[test]
    fn no_page_can_be_framed_and_the_email_preview_says_so_itself() {
        let t = start();
        // The login page as a visitor sees it: once logged in, it sends the owner on.
        let login = t.client.get("/admin/login").dispatch();
        assert_eq!(login.status(), Status::Ok);
        let frames: Vec<&str> = login.headers().get("X-Frame-Options").collect();
        assert_eq!(frames, ["DENY"], "/admin/login");
        let csp = login
            .headers()
            .get_one("Content-Security-Policy")
            .unwrap_or("");
        assert!(
            csp.contains("frame-ancestors 'none'"),
            "/admin/login: {csp}"
        );
        log_in(&t);
        let body = json!({ "name": "Asha", "email": "asha@visitor.example", "message": "hi" });
        let created: Value = post_json(&t, body).into_json().unwrap();
        let id = created["id"].as_str().unwrap().parse().unwrap();
        let delivery = t.store().deliveries_of(id).unwrap()[0].id;
        for path in [
            "/".to_string(),
            "/f/quote".into(),
            "/admin".into(),
            format!("/admin/deliveries/{delivery}/preview"),
        ] {
            let res = t.client.get(path.clone()).dispatch();
            assert_eq!(res.status(), Status::Ok, "{path}");
            let frames: Vec<&str> = res.headers().get("X-Frame-Options").collect();
            assert_eq!(frames, ["DENY"], "{path}");
            let csp = res
                .headers()
                .get_one("Content-Security-Policy")
                .unwrap_or("");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        }
    }
}
