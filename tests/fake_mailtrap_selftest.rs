//! Self-tests of the loopback fake Mailtrap (`tests/common/fake_mailtrap.rs`), driven by a
//! real `ureq` client over real sockets.

#[path = "common/fake_mailtrap.rs"]
mod fake_mailtrap;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fake_mailtrap::{FakeMailtrap, Fault, TOKEN};
use serde_json::{json, Value};

struct Answer {
    status: u16,
    body: Value,
    raw: String,
    content_type: String,
    retry_after: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

/// POSTs `body` with the given headers; `Err` only for transport errors.
fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Result<Answer, String> {
    let mut req = agent.post(url).set("User-Agent", "kipekee-selftest/1");
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_json(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(t.to_string()),
    };
    let status = resp.status();
    let content_type = resp.header("content-type").unwrap_or_default().to_string();
    let retry_after = resp.header("retry-after").map(str::to_string);
    let raw = resp.into_string().expect("read body");
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        body,
        raw,
        content_type,
        retry_after,
    })
}

fn send(fake: &FakeMailtrap, path: &str, body: &Value) -> Answer {
    let bearer = format!("Bearer {TOKEN}");
    post(
        &agent(),
        &format!("{}{path}", fake.url()),
        &[("Authorization", &bearer)],
        body,
    )
    .expect("transport")
}

fn message() -> Value {
    json!({
        "from": {"email": "forms@example.com", "name": "Kipekee"},
        "to": [{"email": "a@dest.test"}],
        "cc": [{"email": "b@dest.test"}],
        "subject": "Hello",
        "text": "Body"
    })
}

#[test]
fn send_ok_with_bearer_and_api_token() {
    let fake = FakeMailtrap::start();
    let a = send(&fake, "/api/send", &message());
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.content_type, "application/json; charset=utf-8");
    assert_eq!(a.body["success"], true);
    let ids = a.body["message_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "one id per to+cc+bcc recipient");
    assert_ne!(ids[0], ids[1]);

    let url = format!("{}/api/send/42", fake.url());
    let b = post(&agent(), &url, &[("Api-Token", TOKEN)], &message()).unwrap();
    assert_eq!(b.status, 200, "{}", b.raw);

    let reqs = fake.wait_for_requests(2, Duration::from_secs(5));
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/api/send");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer test-token"));
    assert_eq!(FakeMailtrap::header(&reqs[1], "API-TOKEN"), Some(TOKEN));
    assert_eq!(reqs[1].header("user-agent"), Some("kipekee-selftest/1"));
    assert_eq!(reqs[1].path, "/api/send/42");
    assert_eq!(reqs[1].body, message());
    assert_eq!(fake.delivered(), vec![message(), message()]);
}

#[test]
fn auth_failures() {
    let fake = FakeMailtrap::start();
    let url = format!("{}/api/send", fake.url());
    for headers in [
        vec![("Authorization", "Bearer wrong")],
        vec![("Api-Token", "wrong")],
        vec![],
    ] {
        let a = post(&agent(), &url, &headers, &message()).unwrap();
        assert_eq!(
            (a.status, a.body.clone()),
            (401, json!({"errors": ["Unauthorized"]}))
        );
    }
    let both = [("Authorization", "Bearer test-token"), ("Api-Token", TOKEN)];
    assert_eq!(post(&agent(), &url, &both, &message()).unwrap().status, 400);
    assert_eq!(send(&fake, "/api/nope", &message()).status, 404);
    assert!(fake.delivered().is_empty());
    assert_eq!(
        fake.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 401, 401, 400, 404]
    );
}

#[test]
fn validation_errors_and_from_domain() {
    let fake = FakeMailtrap::start();
    let a = send(
        &fake,
        "/api/send",
        &json!({"to": [{"email": "a@dest.test"}]}),
    );
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        json!({"success": false, "errors": [
            "'from' is required", "'subject' is required", "must specify either text or html body"
        ]})
    );
    let mut m = message();
    m["template_uuid"] = json!("2f6e0a3c-0000-4000-8000-000000000001");
    let a = send(&fake, "/api/send", &m);
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["errors"][0],
        "'subject' is not allowed with 'template_uuid'"
    );
    let mut m = message();
    m["from"]["email"] = json!("forms@mail.example.com"); // subdomain: not verified
    assert_eq!(send(&fake, "/api/send", &m).status, 401);
    let mut m = message();
    m["text"] = json!("x".repeat(fake_mailtrap::MAX_MESSAGE_BYTES));
    assert_eq!(send(&fake, "/api/send", &m).status, 413);
    // Addresses are ASCII only, as on the real API: an international domain goes as punycode.
    let mut m = message();
    m["reply_to"] = json!({"email": "anna@bücher.example", "name": "Anna"});
    let a = send(&fake, "/api/send", &m);
    assert_eq!(a.status, 400);
    assert_eq!(a.body["errors"][0], "'reply_to' address is invalid");
    let mut m = message();
    m["to"] = json!([{"email": "anna@bücher.example"}]);
    assert_eq!(send(&fake, "/api/send", &m).status, 400);
    assert!(fake.delivered().is_empty());
    m["to"] = json!([{"email": "anna@xn--bcher-kva.example"}]);
    assert_eq!(send(&fake, "/api/send", &m).status, 200);
}

#[test]
fn attachments_need_strict_base64() {
    let fake = FakeMailtrap::start();
    let mut m = message();
    m["attachments"] = json!([{"filename": "a.txt", "content": "aGVsbG8g\nd29ybGQ="}]);
    let a = send(&fake, "/api/send", &m);
    assert_eq!(a.status, 400);
    assert!(a.raw.contains("base64"), "{}", a.raw);
    m["attachments"] = json!([{"content": "aGVsbG8gd29ybGQ="}]);
    assert!(send(&fake, "/api/send", &m)
        .raw
        .contains("'filename' is required"));
    m["attachments"] =
        json!([{"filename": "a.txt", "content": "aGVsbG8gd29ybGQ=", "type": "text/plain"}]);
    assert_eq!(send(&fake, "/api/send", &m).status, 200);
}

#[test]
fn batch_merges_base_and_reports_per_item() {
    let fake = FakeMailtrap::start();
    let batch = json!({
        "base": {"from": {"email": "forms@example.com"}, "subject": "Base", "text": "T",
                 "headers": {"X-A": "1"}},
        "requests": [
            {"to": [{"email": "a@dest.test"}], "headers": {"X-B": "2"}},
            {"to": [{"email": "b@dest.test"}, {"email": "c@dest.test"}], "subject": "Own"},
            {"text": "no recipients"}
        ]
    });
    let a = send(&fake, "/api/batch", &batch);
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["success"], true);
    let r = a.body["responses"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["message_ids"].as_array().unwrap().len(), 1);
    assert_eq!(r[1]["message_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        r[2],
        json!({"success": false, "errors": ["'to', 'cc' or 'bcc' address is required"]})
    );
    let d = fake.delivered();
    assert_eq!(d.len(), 2);
    assert_eq!(
        d[0]["headers"],
        json!({"X-B": "2"}),
        "whole-value replacement, no deep merge"
    );
    assert_eq!(d[0]["subject"], "Base");
    assert_eq!(d[1]["subject"], "Own");
    assert_eq!(d[1]["headers"], json!({"X-A": "1"}));

    let bad_base = json!({"base": {"to": [{"email": "x@dest.test"}]}, "requests": [message()]});
    assert_eq!(send(&fake, "/api/batch", &bad_base).status, 400);
    let too_many = json!({"requests": vec![message(); 501]});
    assert_eq!(send(&fake, "/api/batch", &too_many).status, 400);
    let mut foreign = message();
    foreign["from"]["email"] = json!("x@elsewhere.test");
    let a = send(
        &fake,
        "/api/batch/7",
        &json!({"requests": [message(), foreign]}),
    );
    assert_eq!(a.status, 401);

    fake.set_fault(Fault::FailAllItems);
    let a = send(
        &fake,
        "/api/batch",
        &json!({"requests": [message(), message()]}),
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.body["success"], true);
    assert!(a.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["success"] == false));
    assert_eq!(fake.delivered().len(), 2);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let fake = FakeMailtrap::start();
    let agent = agent();
    let url = format!("{}/api/send", fake.url());
    let auth = [("Api-Token", TOKEN)];
    assert_eq!(post(&agent, &url, &auth, &message()).unwrap().status, 200);
    assert_eq!(post(&agent, &url, &auth, &message()).unwrap().status, 200);
    assert_eq!(fake.connections(), 1);
    let conns: Vec<usize> = fake.requests().iter().map(|r| r.connection).collect();
    assert_eq!(conns, [0, 0]);
}

#[test]
fn chunked_body_and_connection_close() {
    let fake = FakeMailtrap::start();
    let body = message().to_string();
    let (a, b) = body.split_at(10);
    let mut s = TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    write!(
        s,
        "POST /api/send HTTP/1.1\r\nHost: x\r\nApi-Token: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap(); // EOF proves Connection: close was honoured
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\"message_ids\""), "{out}");
    let mut s = TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    s.write_all(b"garbage\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
}

#[test]
fn fault_status_with_retry_after() {
    let fake = FakeMailtrap::start();
    let body = r#"{"errors":["Internal server error"]}"#.to_string();
    fake.set_fault(Fault::Status {
        code: 500,
        body: body.clone(),
        retry_after: Some(7),
    });
    let a = send(&fake, "/api/send", &message());
    assert_eq!((a.status, a.raw.as_str()), (500, body.as_str()));
    assert_eq!(a.retry_after.as_deref(), Some("7"));
    assert_eq!(a.content_type, "application/json; charset=utf-8");
    fake.set_fault(Fault::Status {
        code: 503,
        body: "<html>edge</html>".into(),
        retry_after: None,
    });
    let a = send(&fake, "/api/send", &message());
    assert_eq!((a.status, a.retry_after), (503, None));
    assert!(a.content_type.starts_with("text/html"));
    assert!(fake.delivered().is_empty());
    assert_eq!(
        fake.requests().len(),
        2,
        "faulted requests are still recorded"
    );
}

#[test]
fn fault_drop_is_a_transport_error() {
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Drop);
    let url = format!("{}/api/send", fake.url());
    assert!(post(&agent(), &url, &[("Api-Token", TOKEN)], &message()).is_err());
    let reqs = fake.requests();
    assert_eq!((reqs.len(), reqs[0].status), (1, 0));
}

#[test]
fn fault_hang_times_out_the_client() {
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Hang);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(300))
        .build();
    let started = Instant::now();
    let url = format!("{}/api/send", fake.url());
    assert!(post(&agent, &url, &[("Api-Token", TOKEN)], &message()).is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.requests()[0].status, 0);
}

#[test]
fn latency_delays_the_answer() {
    let fake = FakeMailtrap::start();
    fake.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(send(&fake, "/api/send", &message()).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn dropping_the_fake_releases_a_hanging_client() {
    let fake = FakeMailtrap::start();
    fake.set_fault(Fault::Hang);
    let url = format!("{}/api/send", fake.url());
    let client = std::thread::spawn(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        let started = Instant::now();
        let res = post(&agent, &url, &[("Api-Token", TOKEN)], &message());
        (res.is_err(), started.elapsed())
    });
    assert_eq!(fake.wait_for_requests(1, Duration::from_secs(5)).len(), 1);
    assert_eq!(
        fake.wait_for_requests(2, Duration::from_millis(100)).len(),
        1,
        "times out"
    );
    drop(fake);
    let (failed, waited) = client.join().unwrap();
    assert!(failed);
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}
