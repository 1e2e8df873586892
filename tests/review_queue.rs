//! Suspected spam waits for review instead of vanishing, and idempotency keys never swallow
//! a submission (issue 9 items 6 and 7, issue 12 item 7), in-process against the fake.

mod common;

use std::net::SocketAddr;

use common::admin::{self, csrf_of, hidden, log_in, page};
use common::multipart::Multipart;
use common::{form_body, query_param, TestApp, PDF};
use kipekee::model::DeliveryState;
use rocket::http::{Accept, ContentType, Header, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

const CONTACT: &[(&str, &str)] = &[
    ("name", "Neema"),
    ("email", "neema@visitor.example"),
    ("message", "Do you have a room for two on Friday?"),
];

/// The trap as shipped (1 s), an admin password, everything else as in the other tests.
fn start() -> TestApp {
    admin::start_with(|f| f.merge(("spam_min_seconds", 1)))
}

fn from() -> SocketAddr {
    "10.9.8.7:40000".parse().unwrap()
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
    let held = t.stored_behind(&held);
    assert!(held.review.is_some() && !held.spam);
    assert_eq!(held.files.len(), 1, "review keeps the CV for the approval");
    let bot = t.stored_behind(&job("https://bot.example"));
    assert!(bot.spam && bot.review.is_none());
    assert!(bot.files.is_empty(), "spam keeps no files");
    assert!(t.store().file(bot.id, "cv").unwrap().is_none());
    assert!(t.fake.requests().is_empty(), "nothing is mailed while held");

    log_in(&t);
    let dashboard = page(&t, "/admin");
    assert!(
        dashboard.contains("<strong>1</strong> submission wait"),
        "{dashboard}"
    );
    let detail = page(&t, &format!("/admin/submissions/{}", held.id));
    assert!(detail.contains("Not spam — send the emails"));
    assert!(
        detail.contains("10.9.8.7"),
        "the client address as recorded"
    );

    let approve = format!("/admin/submissions/{}/approve", held.id);
    let forged = t.post_form(&approve, &[("csrf_token", "forged")]);
    assert_eq!(forged.status(), Status::Forbidden);
    assert!(t.fake.requests().is_empty());
    let csrf = csrf_of(&detail);
    let res = t.post_form(&approve, &[("csrf_token", &csrf)]);
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
    let after = t.store().submission(held.id).unwrap().unwrap();
    assert!(after.review.is_none() && after.email_status == DeliveryState::Sent);
    assert!(!page(&t, "/admin").contains("wait for review"));
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
    assert_eq!(answer["email_status"], "held", "{answer}");
    assert!(answer["emails"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "held" && e["reason"].as_str().unwrap().contains("held")));
    let last = t.store().latest_submissions(None, 1).unwrap().remove(0);
    assert!(last.review.is_some(), "url-encoded without _t: held");
    assert!(t.fake.requests().is_empty());

    let stale = t.trap().token(now_ms() - 25 * 3600 * 1000);
    let mut pairs = CONTACT.to_vec();
    pairs.push(("_t", &stale));
    let held = t.stored_behind(&post(&t, "contact", &pairs));
    assert_eq!(
        held.review,
        Some(kipekee::model::SpamReason::StaleTimeToken)
    );
    let fresh = t.trap().token(now_ms() - 30_000);
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
    let last = t.store().latest_submissions(None, 1).unwrap().remove(0);
    assert!(last.review.is_none(), "a JSON body cannot carry _t");
    assert_eq!(t.fake.requests().len(), 2);
}

#[test]
fn a_back_button_correction_is_stored_and_mailed_as_an_edit_of_the_first() {
    let t = start();
    let idem = hidden(&page(&t, "/f/contact"), "_idem");
    let shown = t.trap().token(now_ms() - 10_000);
    let with = |message: &'static str| {
        vec![
            ("name", "Neema"),
            ("email", "neema@visitor.example"),
            ("message", message),
            ("_idem", idem.as_str()),
            ("_t", shown.as_str()),
        ]
    };
    let first = t.stored_behind(&post(&t, "contact", &with("Friday, two people")));
    let again = t.stored_behind(&post(&t, "contact", &with("Friday, two people")));
    assert_eq!(
        again.id, first.id,
        "a double submit replays the first answer"
    );
    assert_eq!(t.fake.requests().len(), 1);
    let edit = t.stored_behind(&post(&t, "contact", &with("Saturday, three people")));
    assert_ne!(edit.id, first.id);
    assert_eq!(edit.edit_of, Some(first.id));
    assert_eq!(t.fake.requests().len(), 2, "the correction is mailed");
    assert!(t.fake.delivered().iter().any(|m| m["text"]
        .as_str()
        .unwrap()
        .contains("Saturday, three people")));

    log_in(&t);
    let detail = page(&t, &format!("/admin/submissions/{}", edit.id));
    assert!(
        detail.contains(&format!("edit of {}", first.reference)),
        "{detail}"
    );
    let list = page(&t, "/admin/submissions");
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

    log_in(&t);
    let path = format!("/admin/submissions/{}", real["id"].as_str().unwrap());
    let csrf = csrf_of(&page(&t, &path));
    let deleted = t.post_form(&format!("{path}/delete"), &[("csrf_token", &csrf)]);
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
    assert_eq!(t.store().count_submissions(), 2);
}
