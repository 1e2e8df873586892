//! Stopping the real binary with SIGTERM (what `systemctl stop` sends) while a Mailtrap call
//! is in flight: the send finishes and is recorded, the store is flushed, the exit status is
//! 0, and nothing secret reaches the log. On the old main a 7 s Mailtrap answer made the
//! process exit 1 with a 30 KB `Shutdown(Orbiting {…` line holding the token, the cookie key
//! and the admin hash.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use common::fake_mailtrap::TOKEN;
use common::process::{self, Server};
use common::FakeMailtrap;
use kipekee::model::{EmailStatus, SubmissionId};
use kipekee::store::Store;
use serde_json::{json, Value};

/// Longer than Rocket's old grace + mercy (5 s), shorter than the 10 s Mailtrap timeout.
const SLOW_ANSWER: Duration = Duration::from_secs(7);

/// The unit's `TimeoutStopSec`: systemd kills the process after it. (Rocket waits out its
/// whole grace, 52 s by default, when a connection is open at the signal.)
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

struct Secrets {
    hash: String,
    cookie_key: String,
}

fn secrets() -> Secrets {
    let key: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    Secrets {
        hash: kipekee::cli::phc_hash("correct horse battery").expect("hash"),
        cookie_key: base64::engine::general_purpose::STANDARD.encode(key),
    }
}

fn start(data: &Path, fake: &FakeMailtrap, secrets: &Secrets, env: &[(&str, &str)]) -> Server {
    Server::start_command(data, |port| {
        let mut cmd = process::command(data, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &secrets.hash)
            .env("ROCKET_SECRET_KEY", &secrets.cookie_key)
            .env("KIPEKEE_MAILTRAP_TIMEOUT_SECS", "10");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    })
}

/// Posts a JSON quote on its own thread; the thread returns the status and the answer.
fn post_in_background(server: &Server) -> JoinHandle<Result<(u16, Value), String>> {
    let url = server.url("/f/quote");
    std::thread::spawn(move || {
        let body = json!({ "full_name": "Baraka Otieno", "email": "baraka@visitor.example",
                           "message": "Sent while the server stops." });
        let answer = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
            .post(&url)
            .set("Accept", "application/json")
            .send_json(body);
        match answer {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
                let status = resp.status();
                Ok((status, resp.into_json().unwrap_or(Value::Null)))
            }
            Err(e) => Err(e.to_string()),
        }
    })
}

/// Sends SIGTERM once the fake holds the request, then waits for the exit.
fn stop_during_the_send(mut server: Server, fake: &FakeMailtrap) -> (ExitStatus, String) {
    let arrived = fake.wait_for_requests(1, Duration::from_secs(20));
    assert_eq!(arrived.len(), 1, "log:\n{}", server.log_text());
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let deadline = Instant::now() + STOP_TIMEOUT;
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {STOP_TIMEOUT:?} after SIGTERM (systemd would SIGKILL it)"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, server.log_text())
}

fn assert_no_secret(log: &str, secrets: &Secrets) {
    common::secrets::assert_no_secrets(
        log,
        &[TOKEN, secrets.hash.as_str(), secrets.cookie_key.as_str()],
    );
    assert!(
        !log.contains("Orbiting"),
        "a Rocket instance is in the log:\n{log}"
    );
    for line in log.lines() {
        assert!(line.len() < 600, "a log line of {} bytes", line.len());
    }
}

fn stored(data: &Path, id: &str) -> (kipekee::model::Submission, Vec<EmailStatus>) {
    let store = Store::open(data).expect("the store opens after the stop");
    let id: SubmissionId = id.parse().expect("submission id");
    let submission = store
        .submission(id)
        .expect("readable")
        .expect("the submission is stored");
    let statuses = store
        .deliveries_of(id)
        .expect("deliveries readable")
        .iter()
        .map(|d| d.outcome.status)
        .collect();
    (submission, statuses)
}

#[test]
fn sigterm_during_a_slow_send_lets_it_finish_records_it_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_latency(SLOW_ANSWER);
    let secrets = secrets();
    let server = start(&data, &fake, &secrets, &[]);
    let post = post_in_background(&server);
    let (status, log) = stop_during_the_send(server, &fake);

    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("store flushed"), "{log}");
    assert_no_secret(&log, &secrets);
    let (code, answer) = post
        .join()
        .expect("post thread")
        .expect("the visitor gets an answer");
    assert_eq!(code, 201, "{answer}");
    let emails = answer["emails"].as_array().expect("emails in the answer");
    assert!(
        !emails.is_empty() && emails.iter().all(|e| e["status"] == "sent"),
        "{answer}"
    );
    let id = answer["id"].as_str().expect("id in the answer");
    let (submission, deliveries) = stored(&data, id);
    assert_eq!(submission.fields["message"], "Sent while the server stops.");
    assert!(!deliveries.is_empty(), "no delivery recorded");
    assert!(
        deliveries.iter().all(|s| *s == EmailStatus::Sent),
        "{deliveries:?}"
    );
    assert_eq!(fake.delivered().len(), deliveries.len());
}

/// An owner who sets a grace shorter than the Mailtrap timeout is warned at start; a stop
/// then cuts the send off, which is still a clean stop: one warning line, the store
/// flushed, exit 0, the submission kept, and its emails `unknown`.
#[test]
fn a_send_cut_off_by_a_short_chosen_grace_is_still_a_clean_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let fake = FakeMailtrap::start();
    fake.set_latency(SLOW_ANSWER);
    let secrets = secrets();
    let short = [("ROCKET_SHUTDOWN", "{grace=1,mercy=1}")];
    let server = start(&data, &fake, &secrets, &short);
    let post = post_in_background(&server);
    let (status, log) = stop_during_the_send(server, &fake);

    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("shutdown grace is 1 s"), "{log}");
    assert!(log.contains("requests still running"), "{log}");
    assert!(log.contains("store flushed"), "{log}");
    assert_no_secret(&log, &secrets);
    let _ = post.join();
    let store = Store::open(&data).expect("the store opens after the stop");
    assert_eq!(store.count_submissions(), 1);
    // Mailtrap had the emails when the stop cut the send off: they may have arrived.
    let submission = store
        .latest_submissions(None, 1)
        .expect("readable")
        .remove(0);
    let log = store
        .deliveries_of(submission.id)
        .expect("deliveries readable");
    assert!(
        !log.is_empty() && log.iter().all(|d| d.outcome.status == EmailStatus::Unknown),
        "{log:?}"
    );
}
