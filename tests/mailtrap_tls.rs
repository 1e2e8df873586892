//! The Mailtrap client over real TLS: the binary as a process against the fake in HTTPS mode,
//! trusting the fake's self-signed certificate only through `SSL_CERT_FILE`.

mod common;

use std::path::Path;

use common::process::{self, Server};
use common::FakeMailtrap;
use serde_json::Value;

fn start(data_dir: &Path, fake: &FakeMailtrap, cert_file: Option<&Path>) -> Server {
    Server::start_command(data_dir, |port| {
        let mut cmd = process::command(data_dir, port, &fake.url());
        cmd.env("KIPEKEE_SPAM_MIN_SECONDS", "0")
            .env("KIPEKEE_MAILTRAP_TIMEOUT_SECS", "5");
        if let Some(cert) = cert_file {
            cmd.env("SSL_CERT_FILE", cert);
        }
        cmd
    })
}

/// Posts a quote as JSON; the answer's `emails` array.
fn post_quote(server: &Server) -> Vec<Value> {
    let res = process::http()
        .post(&server.url("/f/quote"))
        .set("Accept", "application/json")
        .send_form(&[
            ("full_name", "Asha Mwangi"),
            ("email", "asha@example.org"),
            ("message", "Two tents for a week."),
        ])
        .expect("quote accepted");
    assert_eq!(res.status(), 201);
    let body: Value = res.into_json().expect("JSON answer");
    body["emails"].as_array().cloned().expect("emails")
}

#[test]
fn emails_go_out_over_https_when_ssl_cert_file_trusts_the_fake() {
    let fake = FakeMailtrap::start_https();
    assert!(fake.url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("fake-mailtrap.pem");
    fake.write_cert(&cert);
    let server = start(&dir.path().join("data"), &fake, Some(&cert));

    for _ in 0..3 {
        let emails = post_quote(&server);
        assert_eq!(emails.len(), 2, "{emails:?}");
        for e in &emails {
            assert_eq!(e["status"], "sent", "{e}\nlog:\n{}", server.log_text());
        }
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "one batch request per submission");
    assert!(requests.iter().all(|r| r.path == "/api/batch"));
    assert_eq!(fake.delivered().len(), 6);
    // The pooled agent keeps its TLS connection: one handshake for three submissions.
    assert_eq!(fake.connections(), 1);
}

#[test]
fn without_the_bundle_the_self_signed_fake_is_refused_and_the_submission_still_saved() {
    let fake = FakeMailtrap::start_https();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &fake, None);

    let emails = post_quote(&server);
    assert_eq!(emails.len(), 2);
    for e in &emails {
        // No connection, nothing sent: queued for an automatic retry.
        assert_eq!(e["status"], "retrying", "{e}");
    }
    assert!(fake.requests().is_empty(), "no request got through TLS");
}
