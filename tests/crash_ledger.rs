//! Never twice, never lost, across crashes and the owner's hand, against the real binary
//! and the fake Mailtrap, judged by the fake's own log of what it accepted: a SIGKILL while
//! Mailtrap holds a visitor's batch, a SIGKILL while the retry runner drains its queue, and
//! the owner's "Resend all failed" while the runner drains it. Every wait is bounded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::admin_http::{login, Browser};
use common::process::{self, http, Server};
use common::webhooks::{self, Payload, Signing, SECRET};
use common::{FakeMailtrap, Fault};
use kipekee::model::{Delivery, DeliveryState, EmailStatus, FailureKind, Ledger, SubmissionId};
use kipekee::store::Store;
use serde_json::Value;

const PASSWORD: &str = "crash ledger password";

/// The binary with an admin password, the webhook secret and retries `retry_base` seconds
/// apart (the runner looks at its queue as often).
fn start(data: &Path, fake: &FakeMailtrap, retry_base: &str) -> Server {
    let hash = kipekee::web::admin::hash_password(PASSWORD);
    Server::start_command(data, |port| {
        let mut cmd = process::command(data, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &hash)
            .env("KIPEKEE_MAILTRAP_WEBHOOK_SECRET", SECRET)
            .env("KIPEKEE_RETRY_BASE_SECS", retry_base);
        cmd
    })
}

fn contact(n: usize) -> [(&'static str, String); 3] {
    [
        ("name", format!("Visitor {n}")),
        ("email", format!("visitor{n}@visitor.example")),
        ("message", format!("Crash ledger message {n}")),
    ]
}

/// Posts contact form `n`; the answer's status, or the transport error (the kill).
fn post_contact(server: &Server, n: usize) -> Result<u16, String> {
    let pairs = contact(n);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match http().post(&server.url("/f/contact")).send_form(&pairs) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => Ok(r.status()),
        Err(e) => Err(e.to_string()),
    }
}

fn post_in_background(server: &Server, n: usize) -> JoinHandle<Result<u16, String>> {
    let url = server.url("/f/contact");
    std::thread::spawn(move || {
        let pairs = contact(n);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match http().post(&url).send_form(&pairs) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Ok(r.status()),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// An email as the fake saw it: the submission it belongs to (the `custom_variables` every
/// message carries) and its recipient.
fn email_of(message: &Value) -> (String, String) {
    let submission = message["custom_variables"]["submission_id"]
        .as_str()
        .expect("a submission id in custom_variables")
        .to_string();
    let to = message["to"][0]["email"].as_str().expect("a recipient");
    (submission, to.to_string())
}

/// How many times the fake accepted each email (submission, recipient).
fn accepted(fake: &FakeMailtrap) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for message in fake.delivered() {
        *counts.entry(email_of(&message)).or_default() += 1;
    }
    counts
}

fn assert_each_once(counts: &BTreeMap<(String, String), usize>, emails: usize) {
    assert_eq!(counts.len(), emails, "emails accepted: {counts:?}");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "accepted more than once: {twice:?}");
}

/// Polls `done` every 100 ms until it holds; fails after `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn outage() -> Fault {
    Fault::Status {
        code: 500,
        body: r#"{"errors":["Internal Server Error"]}"#.into(),
        retry_after: None,
    }
}

/// The latest attempt of each email of a submission.
fn latest(store: &Store, id: SubmissionId) -> Vec<Delivery> {
    let log = store.deliveries_of(id).expect("the delivery log");
    Ledger::new(&log).latest().into_iter().cloned().collect()
}

fn logged_in(server: &Server) -> Browser {
    let mut browser = Browser::default();
    assert_eq!(login(server, &mut browser, PASSWORD).status, 303, "login");
    browser
}

/// "Resend all failed", as the dashboard's button posts it.
fn resend_all_failed(server: &Server, browser: &mut Browser) {
    let page = browser.get(&server.url("/admin/deliveries"), &[]);
    assert_eq!(page.status, 200);
    let csrf = common::admin::hidden(&page.body, "csrf_token");
    let res = browser.post(
        &server.url("/admin/deliveries/resend-failed"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(res.status, 303, "{}", res.body);
}

#[test]
fn a_kill_while_mailtrap_holds_the_batch_leaves_unknown_emails_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    // Mailtrap takes each batch at once and answers it 3 s later.
    fake.set_latency(Duration::from_secs(3));
    let server = start(&data, &fake, "1");
    let posts: Vec<_> = (0..3).map(|n| post_in_background(&server, n)).collect();
    let held = fake.wait_for_requests(3, Duration::from_secs(10));
    assert_eq!(held.len(), 3, "log:\n{}", server.log_text());
    server.kill_9();
    for post in posts {
        assert!(post.join().unwrap().is_err(), "no visitor was answered");
    }
    fake.set_latency(Duration::ZERO);
    let before = accepted(&fake);
    assert_each_once(&before, 6);
    let ids: BTreeSet<String> = before.keys().map(|(s, _)| s.clone()).collect();

    let server = start(&data, &fake, "1");
    let mut browser = logged_in(&server);
    for id in &ids {
        let page = browser.get(&server.url(&format!("/admin/submissions/{id}")), &[]);
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("No emails were attempted"),
            "submission {id} says its emails were not attempted, but Mailtrap has them"
        );
        let csrf = common::admin::hidden(&page.body, "csrf_token");
        let resend = browser.post(
            &server.url(&format!("/admin/submissions/{id}/resend")),
            &[("csrf_token", &csrf)],
        );
        assert_eq!(resend.status, 303, "the default Resend");
    }
    resend_all_failed(&server, &mut browser);
    // Two looks of the retry runner at its queue.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(accepted(&fake), before, "nothing mailed again");

    // Mailtrap reports one of them delivered: found by the delivery id it carried.
    let reported = fake
        .issued()
        .into_iter()
        .find(|m| m.email == common::OWNER)
        .expect("an owner's notification");
    let event = webhooks::event("delivery", &reported, "evt-crash-1");
    let status = webhooks::post(
        &server.url("/hooks/mailtrap"),
        &[event],
        Payload::Json,
        Signing::With(SECRET),
    );
    assert_eq!(status, 200);
    drop(server);

    let store = Store::open(&data).unwrap();
    let reported_id = reported.custom_variables["delivery_id"].as_str().unwrap();
    let submissions = store.latest_submissions(None, 10).unwrap();
    assert_eq!(submissions.len(), 3, "every post was stored");
    for s in submissions {
        assert_eq!(
            s.email_status,
            DeliveryState::Unknown,
            "{}: settled, neither in flight nor sent",
            s.reference
        );
        let emails = latest(&store, s.id);
        assert_eq!(emails.len(), 2, "{}: {emails:?}", s.reference);
        for d in emails {
            if d.id.to_string() == reported_id {
                assert_eq!(d.outcome.status, EmailStatus::Sent, "reconciled");
            } else {
                assert_eq!(d.outcome.status, EmailStatus::Unknown, "{d:?}");
                let cause = d.outcome.failure.map(FailureKind::category);
                assert_eq!(cause, Some("interrupted"), "{d:?}");
            }
        }
    }
}

#[test]
fn a_kill_while_the_runner_drains_the_queue_keeps_every_job_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_fault(outage());
    let server = start(&data, &fake, "1");
    for n in 0..3 {
        assert_eq!(post_contact(&server, n), Ok(303));
    }
    assert_eq!(fake.requests().len(), 3);
    // Mailtrap is back but slow: the first retry is held when the server dies.
    fake.set_fault(Fault::None);
    fake.set_latency(Duration::from_secs(3));
    let reached = fake.wait_for_requests(4, Duration::from_secs(10));
    assert_eq!(reached.len(), 4, "log:\n{}", server.log_text());
    server.kill_9();
    fake.set_latency(Duration::ZERO);
    let in_flight = fake.delivered();
    assert_eq!(in_flight.len(), 1);
    let in_flight = email_of(&in_flight[0]);

    let server = start(&data, &fake, "1");
    wait_for("the retries not started", Duration::from_secs(15), || {
        accepted(&fake).len() == 6
    });
    // Two more looks of the runner: nothing else comes.
    std::thread::sleep(Duration::from_millis(2500));
    assert_each_once(&accepted(&fake), 6);
    drop(server);

    let store = Store::open(&data).unwrap();
    assert_eq!(store.pending_retries(), 0);
    for s in store.latest_submissions(None, 10).unwrap() {
        for d in latest(&store, s.id) {
            let this = (s.id.to_string(), d.to.clone().unwrap_or_default());
            if this == in_flight {
                assert_eq!(d.outcome.status, EmailStatus::Unknown, "{d:?}");
            } else {
                assert_eq!(d.outcome.status, EmailStatus::Sent, "{d:?}");
            }
        }
    }
}

#[test]
fn resend_all_failed_while_the_runner_drains_mails_each_email_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_fault(outage());
    let server = start(&data, &fake, "2");
    let mut browser = logged_in(&server);
    for n in 0..3 {
        assert_eq!(post_contact(&server, n), Ok(303));
    }
    fake.set_fault(Fault::None);
    fake.set_latency(Duration::from_millis(1500));
    let reached = fake.wait_for_requests(4, Duration::from_secs(10));
    assert_eq!(reached.len(), 4, "the first retry reached Mailtrap");
    resend_all_failed(&server, &mut browser);
    wait_for("every email", Duration::from_secs(15), || {
        accepted(&fake).len() == 6
    });
    // The runner goes on through what it had queued (it looks every 2 s).
    std::thread::sleep(Duration::from_secs(3));
    assert_each_once(&accepted(&fake), 6);
    drop(server);
    let store = Store::open(&data).unwrap();
    assert_eq!(store.pending_retries(), 0, "nothing left to send twice");
}
