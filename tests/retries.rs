//! Retries without a worker process, against the real binary: transient failures are sent
//! again from the store's queue (even across a restart); ambiguous ones never are.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{command, http, Server};
use common::{FakeMailtrap, Fault};

fn start(data: &Path, fake: &FakeMailtrap) -> Server {
    Server::start_command(data, |port| {
        let mut cmd = command(data, port, &fake.url());
        cmd.env("KIPEKEE_RETRY_BASE_SECS", "1");
        cmd
    })
}

fn post_quote(server: &Server) -> String {
    let res = http()
        .post(&server.url("/f/quote"))
        .send_form(&[
            ("full_name", "Jane"),
            ("email", "jane@visitor.example"),
            ("message", "Tents"),
        ])
        .expect("posted");
    assert_eq!(res.status(), 303);
    res.header("Location").unwrap().to_string()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn transient_failures_are_retried_from_the_store_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Status {
        code: 503,
        body: r#"{"errors":["Service unavailable"]}"#.into(),
        retry_after: None,
    });
    let server = start(&data, &fake);
    let location = post_quote(&server);
    assert!(location.contains("email=retrying"), "{location}");
    server.kill_9();

    fake.set_fault(Fault::None);
    let server = start(&data, &fake);
    wait_for("the retried emails", Duration::from_secs(20), || {
        fake.delivered().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fake.delivered().len(), 2, "each email once, no duplicates");
    drop(server);

    let store = kipekee::store::Store::open(&data).unwrap();
    let s = store.latest_submissions(None, 1).unwrap().remove(0);
    let log = store.deliveries_of(s.id).unwrap();
    for kind in ["admin", "confirmation"] {
        let tries: Vec<_> = log.iter().filter(|d| d.kind == kind).collect();
        assert_eq!(tries[0].outcome.http_status, Some(503), "{kind}");
        assert_eq!(
            tries.last().unwrap().outcome.status,
            kipekee::model::EmailStatus::Sent,
            "{kind}"
        );
    }
    assert_eq!(s.email_status, kipekee::model::DeliveryState::Sent);
    assert_eq!(store.pending_retries(), 0);
}

#[test]
fn a_request_that_may_have_reached_mailtrap_is_never_retried_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Drop);
    let server = start(&data, &fake);
    let location = post_quote(&server);
    assert!(location.contains("email=unknown"), "{location}");
    fake.set_fault(Fault::None);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(fake.requests().len(), 1, "no automatic retry");
    drop(server);
    let store = kipekee::store::Store::open(&data).unwrap();
    assert_eq!(store.pending_retries(), 0);
}
