//! Suspected spam waits for review instead of vanishing, and idempotency keys never swallow
//! a submission (issue 9 items 6 and 7, issue 12 item 7), in-process against the fake.

mod common;

use std::net::SocketAddr;

use common::multipart::Multipart;
use common::{form_body, query_param, TestApp, PDF};
use kipekee::model::EmailStatus;
use rocket::http::{Accept, ContentType, Header, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

const PASSWORD: &str = "review queue password";

const CONTACT: &[(&str, &str)] = &[
    ("name", "Neema"),
    ("email", "neema@visitor.example"),
    ("message", "Do you have a room for two on Friday?"),
];

/// The trap as shipped (1 s), an admin password, everything else as in the other tests.
fn start() -> TestApp {
    let hash = kipekee::web::admin::hash_password(PASSWORD);
    TestApp::start_with(|f| {
        f.merge(("spam_min_seconds", 1))
            .merge(("admin_password_hash", hash))
    })
}

fn from() -> SocketAddr {
    "10.9.8.7:40000".parse().unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    html[at..].split('"').next().unwrap().to_string()
}

fn now_ms() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}

fn post<'a>(t: &'a TestApp, slug: &str, pairs: &[(&str, &str)]) -> LocalResponse<'a> {
    t.client
        .post(format!("/f/{slug}"))
        .remote(from())
        .header(ContentType::Form)
        .body(form_body(pairs))
        .dispatch()
}

fn stored(t: &TestApp, res: &LocalResponse<'_>) -> kipekee::model::Submission {
    let location = res.headers().get_one("Location").expect("a redirect");
    let reference = query_param(location, "reference").expect("a reference");
    t.app()
        .store
        .submission_by_reference(&reference)
        .unwrap()
        .expect("stored")
}

fn login(t: &TestApp) {
    let page = t
        .client
        .get("/admin/login")
        .dispatch()
        .into_string()
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let res = t
        .client
        .post("/admin/login")
        .header(ContentType::Form)
        .body(form_body(&[("password", PASSWORD), ("csrf_token", &csrf)]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
}

fn admin_page(t: &TestApp, path: &str) -> String {
    let res = t.client.get(path.to_string()).dispatch();
    assert_eq!(res.status(), Status::Ok, "{path}");
    res.into_string().unwrap()
}

#[test]
fn a_held_application_keeps_its_cv_and_approve_sends_what_was_held() {
    let t = start();
    let job = |website: &str| {
        let (ct, body) = Multipart::default()
            .text("full_name", "Baraka Mollel")
            .text("email", "baraka@visitor.example")
            .text("position", "Guide")
            .text("website", website)
            .file("cv", "cv.pdf", "application/pdf", PDF)
            .finish();
        t.client
            .post("/f/job")
            .remote(from())
            .header(ContentType::parse_flexible(&ct).unwrap())
            .body(body)
            .dispatch()
    };
    // No form token at all (a page cached before a restore, a script): a soft signal.
    let held = job("");
    assert_eq!(held.status(), Status::SeeOther);
    let held = stored(&t, &held);
    assert!(held.review.is_some() && !held.spam);
    assert_eq!(held.files.len(), 1, "review keeps the CV for the approval");
    let bot = stored(&t, &job("https://bot.example"));
    assert!(bot.spam && bot.review.is_none());
    assert!(bot.files.is_empty(), "spam keeps no files");
    assert!(t.app().store.file(bot.id, "cv").unwrap().is_none());
    assert!(t.fake.requests().is_empty(), "nothing is mailed while held");

    login(&t);
    let dashboard = admin_page(&t, "/admin");
    assert!(
        dashboard.contains("<strong>1</strong> submission wait"),
        "{dashboard}"
    );
    let page = admin_page(&t, &format!("/admin/submissions/{}", held.id));
    assert!(page.contains("Not spam — send the emails"));
    assert!(page.contains("10.9.8.7"), "the client address as recorded");

    let approve = format!("/admin/submissions/{}/approve", held.id);
    let forged = t
        .client
        .post(approve.clone())
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", "forged")]))
        .dispatch();
    assert_eq!(forged.status(), Status::Forbidden);
    assert!(t.fake.requests().is_empty());
    let csrf = hidden(&page, "csrf_token");
    let res = t
        .client
        .post(approve)
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", &csrf)]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(
        res.headers().get_one("Location"),
        Some(format!("/admin/submissions/{}", held.id).as_str())
    );
    let mails = t.fake.delivered();
    let owner = mails.iter().find(|m| m["to"][0]["email"] == common::JOBS);
    let owner = owner.expect("the owner's notification went out");
    assert_eq!(owner["attachments"][0]["filename"], "cv.pdf");
    assert!(mails
        .iter()
        .any(|m| m["to"][0]["email"] == "baraka@visitor.example"));
    let after = t.app().store.submission(held.id).unwrap().unwrap();
    assert!(after.review.is_none() && after.email_status == EmailStatus::Sent);
    assert!(!admin_page(&t, "/admin").contains("wait for review"));
}

#[test]
fn accept_json_does_not_skip_the_trap_a_json_body_does_and_tokens_go_stale() {
    let t = start();
    let res = t
        .client
        .post("/f/contact")
        .remote(from())
        .header(ContentType::Form)
        .header(Accept::JSON)
        .body(form_body(CONTACT))
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let answer: Value = res.into_json().unwrap();
    assert!(answer["emails"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "skipped" && e["reason"].as_str().unwrap().contains("held")));
    let last = t.app().store.latest_submissions(None, 1).unwrap().remove(0);
    assert!(last.review.is_some(), "url-encoded without _t: held");
    assert!(t.fake.requests().is_empty());

    let stale = t.app().trap.token(now_ms() - 25 * 3600 * 1000);
    let mut pairs = CONTACT.to_vec();
    pairs.push(("_t", &stale));
    let held = stored(&t, &post(&t, "contact", &pairs));
    assert_eq!(
        held.review,
        Some(kipekee::model::SpamReason::StaleTimeToken)
    );
    let fresh = t.app().trap.token(now_ms() - 30_000);
    let mut pairs = CONTACT.to_vec();
    pairs.push(("_t", &fresh));
    let ok = post(&t, "contact", &pairs);
    assert_eq!(
        query_param(ok.headers().get_one("Location").unwrap(), "email").as_deref(),
        Some("sent")
    );

    let res = t
        .client
        .post("/f/contact")
        .remote(from())
        .header(ContentType::JSON)
        .body(r#"{"name":"Api","email":"api@visitor.example","message":"m"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let last = t.app().store.latest_submissions(None, 1).unwrap().remove(0);
    assert!(last.review.is_none(), "a JSON body cannot carry _t");
    assert_eq!(t.fake.requests().len(), 2);
}

#[test]
fn a_back_button_correction_is_stored_and_mailed_as_an_edit_of_the_first() {
    let t = start();
    let page = t.client.get("/f/contact").dispatch().into_string().unwrap();
    let idem = hidden(&page, "_idem");
    let shown = t.app().trap.token(now_ms() - 10_000);
    let with = |message: &'static str| {
        vec![
            ("name", "Neema"),
            ("email", "neema@visitor.example"),
            ("message", message),
            ("_idem", idem.as_str()),
            ("_t", shown.as_str()),
        ]
    };
    let first = stored(&t, &post(&t, "contact", &with("Friday, two people")));
    let again = stored(&t, &post(&t, "contact", &with("Friday, two people")));
    assert_eq!(
        again.id, first.id,
        "a double submit replays the first answer"
    );
    assert_eq!(t.fake.requests().len(), 1);
    let edit = stored(&t, &post(&t, "contact", &with("Saturday, three people")));
    assert_ne!(edit.id, first.id);
    assert_eq!(edit.edit_of, Some(first.id));
    assert_eq!(t.fake.requests().len(), 2, "the correction is mailed");
    assert!(t.fake.delivered().iter().any(|m| m["text"]
        .as_str()
        .unwrap()
        .contains("Saturday, three people")));

    login(&t);
    let page = admin_page(&t, &format!("/admin/submissions/{}", edit.id));
    assert!(
        page.contains(&format!("edit of {}", first.reference)),
        "{page}"
    );
    let list = admin_page(&t, "/admin/submissions");
    assert!(list.contains(&format!("edit of {}", first.reference)));
}

#[test]
fn a_key_used_elsewhere_or_whose_submission_was_deleted_never_swallows_a_post() {
    let t = start();
    let json = |slug: &str, body: &str| {
        let res = t
            .client
            .post(format!("/f/{slug}"))
            .remote(from())
            .header(ContentType::JSON)
            .body(body)
            .dispatch();
        assert_eq!(res.status(), Status::Created);
        res.into_json::<Value>().unwrap()
    };
    let squat = json(
        "contact",
        r#"{"name":"Mallory","email":"m@visitor.example","message":"x","_idem":"order-42"}"#,
    );
    let real = json(
        "quote",
        r#"{"full_name":"Real Customer","email":"rc@visitor.example","message":"Two tents","_idem":"order-42"}"#,
    );
    assert_ne!(real["id"], squat["id"]);
    assert_eq!(real["form"], "quote");
    assert!(t
        .fake
        .delivered()
        .iter()
        .any(|m| m["text"].as_str().unwrap().contains("Real Customer")));

    login(&t);
    let path = format!("/admin/submissions/{}", real["id"].as_str().unwrap());
    let csrf = hidden(&admin_page(&t, &path), "csrf_token");
    let deleted = t
        .client
        .post(format!("{path}/delete"))
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", &csrf)]))
        .dispatch();
    assert_eq!(deleted.status(), Status::SeeOther);
    let res = t
        .client
        .post("/f/quote")
        .remote(from())
        .header(ContentType::JSON)
        .header(Header::new("Accept", "application/json"))
        .body(r#"{"full_name":"Real Customer","email":"rc@visitor.example","message":"Two tents","_idem":"order-42"}"#)
        .dispatch();
    assert_eq!(
        res.status(),
        Status::Created,
        "a deleted submission's key is new"
    );
    let again: Value = res.into_json().unwrap();
    assert_ne!(again["id"], real["id"]);
    assert_eq!(t.app().store.count_submissions(), 2);
}
