//! Followed to the inbox: traceable messages and Mailtrap's webhook events, in-process with
//! the fake Mailtrap posting events for the message ids it returned.

mod common;

use common::admin::{self, log_in, page};
use common::fake_mailtrap::Issued;
use common::webhooks::{
    self, delivery_of, hook, issued_to, metric, quote, start, submit, Payload, SECRET,
};
use common::{form_body, Fault, TestApp, OWNER};
use kipekee::model::{DeliveryState, EmailBody, EmailStatus, InboxState, SubscriberState};
use rocket::http::{ContentType, Status};
use serde_json::Value;

#[test]
fn every_message_carries_its_reference_submission_and_delivery() {
    let t = start();
    quote(&t, "anna@visitor.example");
    let sub = t.store().latest_submissions(None, 1).unwrap().remove(0);
    let issued = t.fake.issued();
    assert_eq!(
        issued.len(),
        2,
        "the owner's notification and the confirmation"
    );
    for m in &issued {
        let vars = &m.custom_variables;
        assert_eq!(vars["reference"], sub.reference.as_str(), "{vars}");
        assert_eq!(vars["submission_id"], sub.id.to_string().as_str());
        assert!(serde_json::to_vec(vars).unwrap().len() <= 1000);
        let d = delivery_of(&t, m);
        assert_eq!(d.submission_id, sub.id);
        assert_eq!(
            d.outcome.message_ids,
            vec![m.message_id.clone()],
            "recorded under its id"
        );
        assert_eq!(
            m.category.as_deref(),
            Some(format!("quote-{}", d.kind).as_str())
        );
    }
}

#[test]
fn without_a_secret_there_is_no_hook() {
    let t = TestApp::start();
    let res = t
        .client
        .post("/hooks/mailtrap")
        .header(ContentType::JSON)
        .body(r#"{"events":[]}"#)
        .dispatch();
    assert_eq!(res.status(), Status::NotFound);
}

#[test]
fn each_event_kind_shows_on_its_delivery() {
    let t = start();
    let kinds = [
        ("delivery", InboxState::Delivered),
        ("bounce", InboxState::Bounced),
        ("spam", InboxState::Complained),
        ("reject", InboxState::Rejected),
        ("suspension", InboxState::Suspended),
        ("soft bounce", InboxState::SoftBounce),
        ("unsubscribe", InboxState::Unsubscribed),
    ];
    for (i, (kind, state)) in kinds.iter().enumerate() {
        let address = format!("visitor{i}@visitor.example");
        quote(&t, &address);
        let m = issued_to(&t, &address);
        let payload = if i % 2 == 0 {
            Payload::Json
        } else {
            Payload::Jsonl
        };
        let e = webhooks::event(kind, &m, &format!("evt-{i}"));
        assert_eq!(hook(&t, &[e], payload, None), Status::Ok, "{kind}");
        let inbox = delivery_of(&t, &m)
            .inbox
            .unwrap_or_else(|| panic!("{kind} kept"));
        assert_eq!(inbox.state, *state, "{kind}");
        match *kind {
            "bounce" => {
                let detail = inbox.detail.unwrap();
                assert!(
                    detail.starts_with("550 ") && detail.contains("does not exist"),
                    "{detail}"
                );
                assert_eq!(inbox.bounce_category.as_deref(), Some("bad_mailbox"));
            }
            "reject" => assert!(inbox.detail.unwrap().contains("suppression list")),
            _ => {}
        }
    }
    assert_eq!(
        metric(
            &t,
            "kipekee_webhook_events_total{event=\"bounced\",outcome=\"applied\"}"
        ),
        1
    );
    // Opens and clicks carry no inbox state.
    let m = issued_to(&t, "visitor0@visitor.example");
    let open = webhooks::event("open", &m, "evt-open");
    assert_eq!(hook(&t, &[open], Payload::Json, None), Status::Ok);
    assert_eq!(
        delivery_of(&t, &m).inbox.unwrap().state,
        InboxState::Delivered
    );
}

#[test]
fn a_wrong_or_missing_signature_is_refused_and_changes_nothing() {
    let t = start();
    quote(&t, "anna@visitor.example");
    let m = issued_to(&t, "anna@visitor.example");
    let e = webhooks::event("bounce", &m, "evt-1");
    let (body, _) = webhooks::body(std::slice::from_ref(&e), Payload::Json);
    let other_key = webhooks::sign("another secret entirely", body.as_bytes());
    assert_eq!(
        hook(
            &t,
            std::slice::from_ref(&e),
            Payload::Json,
            Some(&other_key)
        ),
        Status::Unauthorized
    );
    assert_eq!(
        hook(&t, std::slice::from_ref(&e), Payload::Json, Some("not hex")),
        Status::Unauthorized
    );
    let missing = t
        .client
        .post("/hooks/mailtrap")
        .header(ContentType::JSON)
        .body(body)
        .dispatch();
    assert_eq!(missing.status(), Status::Unauthorized);
    assert_eq!(delivery_of(&t, &m).inbox, None, "nothing applied");
    // The same event, signed, is then applied: the refused ones did not use up its id.
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    assert_eq!(
        delivery_of(&t, &m).inbox.unwrap().state,
        InboxState::Bounced
    );
}

#[test]
fn a_replayed_event_is_applied_once_and_unknown_messages_are_answered_200() {
    let t = start();
    quote(&t, "anna@visitor.example");
    let m = issued_to(&t, "anna@visitor.example");
    let e = webhooks::event("delivery", &m, "evt-same");
    assert_eq!(
        hook(&t, &[e.clone(), e.clone()], Payload::Jsonl, None),
        Status::Ok
    );
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    let applied = "kipekee_webhook_events_total{event=\"delivered\",outcome=\"applied\"}";
    let replays = "kipekee_webhook_events_total{event=\"delivered\",outcome=\"replay\"}";
    assert_eq!((metric(&t, applied), metric(&t, replays)), (1, 2));

    let stranger = Issued {
        message_id: "0b5e0000-0000-4000-8000-00000000dead".into(),
        email: "someone@else.example".into(),
        category: None,
        custom_variables: Value::Null,
    };
    let e = webhooks::event("bounce", &stranger, "evt-stranger");
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    let unmatched = "kipekee_webhook_events_total{event=\"bounced\",outcome=\"unmatched\"}";
    assert_eq!(metric(&t, unmatched), 1);
}

#[test]
fn an_unknown_attempt_reported_delivered_becomes_sent() {
    let t = start();
    t.fake.set_fault(Fault::GatewayAfterAccept(504));
    quote(&t, "anna@visitor.example");
    t.fake.set_fault(Fault::None);
    let m = issued_to(&t, "anna@visitor.example");
    let before = delivery_of(&t, &m);
    assert_eq!(before.outcome.status, EmailStatus::Unknown);
    assert!(
        before.outcome.message_ids.is_empty(),
        "no answer, so no message id"
    );
    let e = webhooks::event("delivery", &m, "evt-late");
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    let after = delivery_of(&t, &m);
    assert_eq!(
        after.outcome.status,
        EmailStatus::Sent,
        "matched by its delivery_id"
    );
    assert_eq!(after.inbox.unwrap().state, InboxState::Delivered);
    let summary = |t: &TestApp| {
        let sub = t.store().submission(after.submission_id).unwrap().unwrap();
        sub.email_status
    };
    assert_eq!(
        summary(&t),
        DeliveryState::Unknown,
        "the owner's copy is still unconfirmed"
    );
    let owner = issued_to(&t, common::OWNER);
    let e = webhooks::event("delivery", &owner, "evt-late-owner");
    assert_eq!(hook(&t, &[e], Payload::Jsonl, None), Status::Ok);
    assert_eq!(
        summary(&t),
        DeliveryState::Delivered,
        "both reported delivered: nothing left to resend"
    );
}

#[test]
fn the_newsletter_follows_the_reader() {
    let t = start();
    submit(&t, "newsletter", &[("email", "reader@visitor.example")]);
    submit(&t, "newsletter", &[("email", "typo@visitor.example")]);
    let optin = issued_to(&t, "reader@visitor.example");
    let e = webhooks::event("unsubscribe", &optin, "evt-unsub");
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    let bounced = issued_to(&t, "typo@visitor.example");
    let e = webhooks::event("bounce", &bounced, "evt-bounce");
    assert_eq!(hook(&t, &[e], Payload::Jsonl, None), Status::Ok);
    let state = |a: &str| {
        let email = kipekee::model::EmailAddress::parse(a).unwrap();
        t.store().subscriber(&email).unwrap().unwrap().state
    };
    assert_eq!(
        state("reader@visitor.example"),
        SubscriberState::Unsubscribed
    );
    assert_eq!(
        state("typo@visitor.example"),
        SubscriberState::Undeliverable
    );
}

#[test]
fn a_sandbox_inbox_receives_every_email_and_the_panel_says_so() {
    let t = admin::start_with(|f| f.merge(("mailtrap_inbox_id", "4242")));
    quote(&t, "anna@visitor.example");
    let paths: Vec<String> = t.fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/api/batch/4242".to_string()]);
    let config = t.config();
    assert!(config
        .warnings()
        .iter()
        .any(|w| w.contains("no real person")));
    log_in(&t);
    assert!(
        page(&t, "/admin").contains("test inbox 4242"),
        "the banner is shown"
    );
}

#[test]
fn the_owner_sees_who_a_confirmation_never_reached() {
    let t = start();
    log_in(&t);
    quote(&t, "anna@visitor.example");
    quote(&t, "ben@visitor.example");
    let anna = issued_to(&t, "anna@visitor.example");
    let ben = issued_to(&t, "ben@visitor.example");
    let events = [
        webhooks::event("bounce", &anna, "evt-anna"),
        webhooks::event("delivery", &ben, "evt-ben"),
    ];
    assert_eq!(hook(&t, &events, Payload::Jsonl, None), Status::Ok);

    let dashboard = page(&t, "/admin");
    let told = "The confirmation to anna@visitor.example bounced: the address may be mistyped \
                — call them on +254 711 222 333.";
    assert_eq!(
        bounce_lines(&dashboard),
        vec![told.to_string()],
        "{dashboard}"
    );
    assert!(dashboard.contains(TEL_LINK), "{dashboard}");
    assert!(!dashboard.contains("confirmation to ben@"));
    let id = delivery_of(&t, &anna).submission_id;
    let submission = page(&t, &format!("/admin/submissions/{id}"));
    assert!(
        submission.contains("Bounced (bad_mailbox): 550 "),
        "{submission}"
    );

    let bounced = page(&t, "/admin/deliveries?inbox=bounced");
    assert!(bounced.contains("anna@visitor.example") && !bounced.contains("ben@visitor.example"));
    let delivered = page(&t, "/admin/deliveries?inbox=delivered");
    assert!(delivered.contains("ben@visitor.example"));
    assert!(!delivered.contains("anna@visitor.example"));
}

/// The real binary, as Mailtrap reaches it: JSON Lines signed over the raw body, a wrong
/// signature refused, and the secret never in the log.
#[test]
fn the_real_binary_takes_signed_events_and_refuses_forged_ones() {
    use common::process::{self, Server};
    use common::webhooks::Signing;
    let fake = common::FakeMailtrap::start();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = Server::start_command(&data_dir, |port| {
        let mut cmd = process::command(&data_dir, port, &fake.url());
        cmd.env("KIPEKEE_MAILTRAP_WEBHOOK_SECRET", SECRET);
        cmd
    });
    let body = form_body(&[
        ("full_name", "Anna Wanjiru"),
        ("email", "anna@visitor.example"),
        ("message", "Two nights"),
    ]);
    let res = process::http()
        .post(&server.url("/f/quote"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body)
        .expect("answered");
    assert_eq!(res.status(), 303);
    let anna = fake
        .issued()
        .into_iter()
        .find(|i| i.email == "anna@visitor.example")
        .unwrap();
    let url = server.url("/hooks/mailtrap");
    let forged = [webhooks::event("delivery", &anna, "evt-forged")];
    let wrong = Signing::With("0123456789abcdef0123456789abcdef");
    assert_eq!(webhooks::post(&url, &forged, Payload::Jsonl, wrong), 401);
    assert_eq!(
        webhooks::post(&url, &forged, Payload::Jsonl, Signing::None),
        401
    );
    let real = [webhooks::event("bounce", &anna, "evt-real")];
    let signed = Signing::With(SECRET);
    assert_eq!(webhooks::post(&url, &real, Payload::Jsonl, signed), 200);
    assert_eq!(webhooks::post(&url, &real, Payload::Json, signed), 200);
    common::secrets::assert_no_secrets(&server.log_text(), &[SECRET]);
    server.kill_9();

    let store = kipekee::store::Store::open(&data_dir).unwrap();
    let id = anna.custom_variables["delivery_id"].as_str().unwrap();
    let d = store.delivery(id.parse().unwrap()).unwrap().unwrap();
    let inbox = d.inbox.expect("the signed event was applied");
    assert_eq!(
        inbox.state,
        InboxState::Bounced,
        "the forged delivery was not"
    );
}

/// Moves every attempt of a submission `minutes` into the past, as if it had been made then.
fn backdate(t: &TestApp, submission: kipekee::model::SubmissionId, minutes: i64) {
    let store = t.store();
    let log: Vec<_> = store
        .deliveries_of(submission)
        .unwrap()
        .into_iter()
        .map(|mut d| {
            d.outcome.started_at -= time::Duration::minutes(minutes);
            // No body: the one already kept stays.
            (d, EmailBody::default())
        })
        .collect();
    rocket::execute(store.record_deliveries(submission, log)).unwrap();
}

const UNCONFIRMED: &str = "Mailtrap has not confirmed this email in 30 minutes — it may not \
                           have been delivered; resend?";

/// With webhooks, an `unknown` attempt waits for Mailtrap's word; after 30 minutes without
/// one the owner is asked (dashboard and submission page, with its history), and nothing is
/// ever resent by itself. An event that comes ends the question.
#[test]
fn an_unknown_attempt_no_event_confirms_in_30_minutes_is_offered_for_resending() {
    let t = start();
    log_in(&t);
    t.fake.set_fault(Fault::GatewayAfterAccept(504));
    quote(&t, "anna@visitor.example");
    t.fake.set_fault(Fault::None);
    let anna = issued_to(&t, "anna@visitor.example");
    let id = delivery_of(&t, &anna).submission_id;
    let submission_page = format!("/admin/submissions/{id}");

    let dashboard = page(&t, "/admin");
    assert!(
        dashboard.contains("Nothing failed recently."),
        "not yet: {dashboard}"
    );
    let waiting = page(&t, &submission_page);
    assert!(
        waiting.contains("waiting for Mailtrap to confirm it until"),
        "{waiting}"
    );
    assert!(!waiting.contains(UNCONFIRMED));

    backdate(&t, id, 31);
    let dashboard = page(&t, "/admin");
    assert_eq!(dashboard.matches(UNCONFIRMED).count(), 2, "{dashboard}");
    assert!(
        dashboard.contains("first try, ")
            && dashboard.contains(": unknown — may have arrived (HTTP 504)"),
        "the history is shown: {dashboard}"
    );
    let asked = page(&t, &submission_page);
    assert!(asked.contains(UNCONFIRMED), "{asked}");
    assert!(
        asked.contains(r#"<input type="hidden" name="kind" value="confirmation">"#),
        "a resend of that email is offered: {asked}"
    );
    assert_eq!(t.fake.requests().len(), 1, "nothing was resent by itself");
    assert_eq!(t.store().pending_retries(), 0, "nor queued");

    let e = webhooks::event("delivery", &anna, "evt-late");
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    let dashboard = page(&t, "/admin");
    assert_eq!(
        dashboard.matches(UNCONFIRMED).count(),
        1,
        "only the owner's copy is left unconfirmed"
    );
}

/// Without webhooks nothing can confirm an `unknown` attempt: the advice stays "check before
/// resending", however long ago it was.
#[test]
fn without_webhooks_an_unknown_attempt_keeps_its_advice() {
    let t = admin::start();
    log_in(&t);
    t.fake.set_fault(Fault::GatewayAfterAccept(504));
    quote(&t, "anna@visitor.example");
    let anna = issued_to(&t, "anna@visitor.example");
    let id = delivery_of(&t, &anna).submission_id;
    backdate(&t, id, 120);
    let dashboard = page(&t, "/admin");
    assert!(dashboard.contains("anna@visitor.example"), "{dashboard}");
    assert!(!dashboard.contains(UNCONFIRMED));
    let shown = page(&t, &format!("/admin/submissions/{id}"));
    assert!(
        shown.contains("A gateway in front of Mailtrap failed after the email was sent"),
        "{shown}"
    );
    assert!(!shown.contains(UNCONFIRMED) && !shown.contains("waiting for Mailtrap"));
}

const TEL_LINK: &str = "<a href=\"tel:+254711222333\">+254 711 222 333</a>";

/// The text of each bounce line (`p.bounced`) on a page, tags stripped.
fn bounce_lines(html: &str) -> Vec<String> {
    html.split("<p class=\"flash ")
        .skip(1)
        .filter(|p| p.split('"').next().is_some_and(|c| c.ends_with("bounced")))
        .map(|p| {
            let line = &p[p.find('>').unwrap() + 1..p.find("</p>").unwrap()];
            let mut text = String::new();
            let mut in_tag = false;
            for c in line.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

#[test]
fn a_bounce_leaves_the_dashboard_once_a_resend_goes_through() {
    let t = start();
    log_in(&t);
    quote(&t, "anna@visitor.example");
    let anna = issued_to(&t, "anna@visitor.example");
    let e = webhooks::event("bounce", &anna, "evt-anna");
    assert_eq!(hook(&t, &[e], Payload::Jsonl, None), Status::Ok);
    let id = delivery_of(&t, &anna).submission_id;
    let told = "The confirmation to anna@visitor.example bounced: the address may be mistyped \
                — call them on +254 711 222 333.";
    let submission_page = format!("/admin/submissions/{id}");
    let detail = page(&t, &submission_page);
    assert_eq!(bounce_lines(&detail), vec![told.to_string()], "{detail}");
    assert!(detail.contains(TEL_LINK), "{detail}");

    let resend = |t: &TestApp| {
        let html = page(t, &submission_page);
        let at = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
        let csrf = html[at..].split('"').next().unwrap().to_string();
        let res = t
            .client
            .post(format!("/admin/submissions/{id}/resend"))
            .remote(admin::remote())
            .header(ContentType::Form)
            .body(form_body(&[
                ("csrf_token", &csrf),
                ("kind", "confirmation"),
            ]))
            .dispatch();
        assert_eq!(res.status(), Status::SeeOther);
    };
    t.fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    resend(&t);
    let store = t.store();
    let statuses = |t: &TestApp| -> Vec<EmailStatus> {
        t.store()
            .deliveries_of(id)
            .unwrap()
            .iter()
            .filter(|d| d.kind == "confirmation")
            .map(|d| d.outcome.status)
            .collect()
    };
    assert_eq!(statuses(&t), vec![EmailStatus::Sent, EmailStatus::Failed]);
    assert!(store.queued_retries(id).unwrap().is_empty());
    assert_eq!(
        bounce_lines(&page(&t, "/admin")),
        vec![told.to_string()],
        "a failed resend did not reach her"
    );
    assert_eq!(
        bounce_lines(&page(&t, &submission_page)),
        vec![told.to_string()]
    );

    t.fake.set_fault(Fault::None);
    resend(&t);
    assert_eq!(
        statuses(&t),
        vec![EmailStatus::Sent, EmailStatus::Failed, EmailStatus::Sent]
    );
    let dashboard = page(&t, "/admin");
    assert!(bounce_lines(&dashboard).is_empty(), "{dashboard}");
    let detail = page(&t, &submission_page);
    assert!(bounce_lines(&detail).is_empty(), "{detail}");
    assert!(
        detail.contains("Bounced (bad_mailbox): 550 "),
        "the first attempt's bounce stays in its history"
    );
}

/// A bounce of the owner's own notification is as loud as a visitor's: a mistyped or full
/// `ADMIN_EMAIL` would otherwise stop every notification without the owner being told.
#[test]
fn a_bounced_owner_notification_is_on_the_dashboard() {
    let t = start();
    log_in(&t);
    quote(&t, "anna@visitor.example");
    let owner = issued_to(&t, OWNER);
    assert_eq!(
        hook(
            &t,
            &[webhooks::event("bounce", &owner, "evt-owner")],
            Payload::Jsonl,
            None
        ),
        Status::Ok
    );
    let told = format!(
        "The admin notification to {OWNER} bounced: new submissions are not reaching you. \
         Check the address in Settings (ADMIN_EMAIL, JOBS_EMAIL, NEWSLETTER_EMAIL) and the \
         mailbox."
    );
    let dashboard = page(&t, "/admin");
    assert_eq!(bounce_lines(&dashboard), vec![told.clone()], "{dashboard}");
    let id = delivery_of(&t, &owner).submission_id;
    let detail = page(&t, &format!("/admin/submissions/{id}"));
    assert_eq!(bounce_lines(&detail), vec![told], "{detail}");
    assert!(
        !detail.contains("tel:"),
        "no visitor's phone for the owner's own address"
    );
}
