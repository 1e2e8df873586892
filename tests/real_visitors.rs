//! The real binary, used as a browser and a returning visitor would: a fast human is mailed,
//! a faster post waits for review until the owner approves it, and the daily confirmation
//! caps survive a restart.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::{command, http, Server};
use common::{query_param, FakeMailtrap};
use serde_json::{json, Value};

const PASSWORD: &str = "real visitors password";

/// Every `<input type="hidden" name=… value=…>` of a page, as a browser would submit them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split('"').next()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// `name=value` of every `Set-Cookie` of a response, joined for a `Cookie` header.
fn cookies(res: &ureq::Response, jar: &mut Vec<String>) -> String {
    for c in res.all("set-cookie") {
        let pair = c.split(';').next().unwrap_or("").to_string();
        let name = pair.split('=').next().unwrap_or("").to_string();
        jar.retain(|p| !p.starts_with(&format!("{name}=")));
        jar.push(pair);
    }
    jar.join("; ")
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> ureq::Response {
    match r {
        Ok(res) | Err(ureq::Error::Status(_, res)) => res,
        Err(e) => panic!("request failed: {e}"),
    }
}

/// GET the form like a browser, wait `after`, post its hidden fields with `typed`.
fn fill_in(server: &Server, slug: &str, typed: &[(&str, &str)], after: Duration) -> String {
    let page = http()
        .get(&server.url(&format!("/f/{slug}")))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let mut fields = hidden_fields(&page);
    assert!(fields.iter().any(|(n, _)| n == "_t"), "the page carries _t");
    fields.extend(typed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fields.push(("website".into(), String::new()));
    std::thread::sleep(after);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = answer(
        http()
            .post(&server.url(&format!("/f/{slug}")))
            .set("Origin", &server.url(""))
            .send_form(&pairs),
    );
    assert_eq!(res.status(), 303);
    res.header("Location").unwrap().to_string()
}

fn default_trap(dir: &Path, port: u16, fake: &FakeMailtrap) -> Command {
    let mut cmd = command(dir, port, &fake.url());
    cmd.env_remove("KIPEKEE_SPAM_MIN_SECONDS").env(
        "KIPEKEE_ADMIN_PASSWORD_HASH",
        kipekee::web::admin::hash_password(PASSWORD),
    );
    cmd
}

#[test]
fn a_fast_human_is_mailed_a_faster_post_waits_for_review_and_approve_sends_it() {
    let fake = FakeMailtrap::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let server = Server::start_command(&dir, |port| default_trap(&dir, port, &fake));

    let signup = fill_in(
        &server,
        "newsletter",
        &[("email", "wanjiru@visitor.example")],
        Duration::from_millis(1500),
    );
    assert_eq!(query_param(&signup, "email").as_deref(), Some("sent"));
    let optin = fake.delivered();
    assert_eq!(optin.len(), 1, "the opt-in went out");
    assert_eq!(optin[0]["to"][0]["email"], "wanjiru@visitor.example");

    let typed = [
        ("name", "Juma"),
        ("email", "juma@visitor.example"),
        ("message", "Autofilled and sent at once"),
    ];
    let quick = fill_in(&server, "contact", &typed, Duration::from_millis(200));
    let reference = query_param(&quick, "reference").unwrap();
    assert_eq!(
        fake.delivered().len(),
        1,
        "nothing is sent for a post held for review"
    );

    // The owner logs in, finds it, and approves it.
    let mut jar = Vec::new();
    let res = http().get(&server.url("/admin/login")).call().unwrap();
    let cookie = cookies(&res, &mut jar);
    let login_page = res.into_string().unwrap();
    let csrf = hidden_fields(&login_page)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let res = answer(
        http()
            .post(&server.url("/admin/login"))
            .set("Cookie", &cookie)
            .send_form(&[("password", PASSWORD), ("csrf_token", &csrf)]),
    );
    assert_eq!(res.status(), 303);
    let cookie = cookies(&res, &mut jar);
    let get = |path: &str| {
        http()
            .get(&server.url(path))
            .set("Cookie", &cookie)
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    let dashboard = get("/admin");
    assert!(dashboard.contains("<strong>1</strong> submission wait"));
    let list = get(&format!("/admin/submissions?review=true&q={reference}"));
    let id = list
        .split("/admin/submissions/")
        .nth(1)
        .map(|s| s[..16].to_string())
        .expect("the held submission is listed");
    let page = get(&format!("/admin/submissions/{id}"));
    assert!(
        page.contains("127.0.0.1"),
        "the client address as the appliance saw it"
    );
    let csrf = hidden_fields(&page)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let res = answer(
        http()
            .post(&server.url(&format!("/admin/submissions/{id}/approve")))
            .set("Cookie", &cookie)
            .send_form(&[("csrf_token", &csrf)]),
    );
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.header("Location"),
        Some(format!("/admin/submissions/{id}").as_str())
    );
    let mails = fake.delivered();
    assert_eq!(
        mails.len(),
        3,
        "the owner's notice and the confirmation went out"
    );
    assert!(mails.iter().any(|m| m["to"][0]["email"] == common::OWNER
        && m["text"]
            .as_str()
            .unwrap()
            .contains("Autofilled and sent at once")));
    assert!(mails
        .iter()
        .any(|m| m["to"][0]["email"] == "juma@visitor.example"));
}

#[test]
fn confirmation_caps_are_settings_keyed_by_the_normalised_address_and_survive_a_restart() {
    let fake = FakeMailtrap::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let start = || {
        Server::start_command(&dir, |port| {
            let mut cmd = command(&dir, port, &fake.url());
            cmd.env("KIPEKEE_CONFIRMATIONS_PER_ADDRESS", "2")
                .env("KIPEKEE_CONFIRMATIONS_PER_CLIENT", "4");
            cmd
        })
    };
    let post = |server: &Server, email: &str| -> Value {
        let body = json!({ "name": "Jo", "email": email, "message": "Hello" });
        let res = answer(
            http()
                .post(&server.url("/f/contact"))
                .set("Accept", "application/json")
                .send_json(body),
        );
        assert_eq!(res.status(), 201);
        let v: Value = res.into_json().unwrap();
        v["emails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "confirmation")
            .unwrap()
            .clone()
    };
    let server = start();
    assert_eq!(post(&server, "jo+1@visitor.example")["status"], "sent");
    assert_eq!(post(&server, "Jo+2@visitor.example")["status"], "sent");
    server.kill_9();

    let server = start();
    let capped = post(&server, "jo@visitor.example");
    assert_eq!(capped["status"], "skipped");
    assert_eq!(
        capped["reason"],
        "daily limit of confirmation emails to this address reached"
    );
    assert_eq!(post(&server, "ann@visitor.example")["status"], "sent");
    assert_eq!(post(&server, "bob@visitor.example")["status"], "sent");
    let from_client = post(&server, "cy@visitor.example");
    assert_eq!(
        from_client["reason"],
        "daily limit of confirmation emails from this client reached"
    );
    let owner_notices = fake
        .delivered()
        .iter()
        .filter(|m| m["to"][0]["email"] == common::OWNER)
        .count();
    assert_eq!(owner_notices, 6, "the owner hears of every post");
}
