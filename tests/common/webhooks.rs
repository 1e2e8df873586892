//! Mailtrap's side of the webhooks, for tests: events shaped as Mailtrap's webhook docs define them
//! describes them, for message ids the fake returned, signed and posted to the appliance as
//! Mailtrap posts them (JSON or JSON Lines).

use hmac::{Hmac, Mac};
use kipekee::model::Delivery;
use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};
use sha2::Sha256;

use super::fake_mailtrap::Issued;
use super::TestApp;

/// The signing secret tests configure (Mailtrap's are 32 hex characters).
pub const SECRET: &str = "5f0c3a9be21d4c7a8e6b1f2d3c4a5b6e";

/// How Mailtrap lays out a batch of events.
#[derive(Clone, Copy, Debug)]
pub enum Payload {
    /// `{"events":[…]}`, `Content-Type: application/json`.
    Json,
    /// One event per line, `Content-Type: application/jsonl`.
    Jsonl,
}

/// An event of type `kind` (`delivery`, `soft bounce`, `bounce`…) for a message the fake
/// sent, with the extra fields Mailtrap adds for that type.
pub fn event(kind: &str, message: &Issued, event_id: &str) -> Value {
    let mut e = json!({
        "event": kind,
        "message_id": message.message_id,
        "email": message.email,
        "event_id": event_id,
        "timestamp": now_unix(),
        "sending_stream": "transactional",
        "sending_domain_name": "example.com",
    });
    if let Some(c) = &message.category {
        e["category"] = json!(c);
    }
    if !message.custom_variables.is_null() {
        e["custom_variables"] = message.custom_variables.clone();
    }
    match kind {
        "bounce" => {
            e["response"] =
                json!("550 5.1.1 The email account that you tried to reach does not exist");
            e["response_code"] = json!(550);
            e["bounce_category"] = json!("bad_mailbox");
        }
        "soft bounce" => {
            e["response"] = json!("4.7.1 Temporary error, please retry");
            e["response_code"] = json!(421);
            e["bounce_category"] = json!("greylisting");
        }
        "reject" | "suspension" => {
            e["reason"] = json!("Recipient in suppression list. Reason: unsubscription");
        }
        "unsubscribe" | "open" | "click" => {
            e["ip"] = json!("198.51.100.7");
            e["user_agent"] = json!("Mozilla/5.0");
        }
        _ => {}
    }
    e
}

/// Now, in Unix seconds: Mailtrap stamps an event when it happens.
fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The body Mailtrap would post for these events.
pub fn body(events: &[Value], payload: Payload) -> (String, &'static str) {
    match payload {
        Payload::Json => (json!({ "events": events }).to_string(), "application/json"),
        Payload::Jsonl => (
            events.iter().map(|e| format!("{e}\n")).collect(),
            "application/jsonl",
        ),
    }
}

/// `Mailtrap-Signature`: lower-case hex HMAC-SHA256 of the raw body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Posts the events to `url` (the appliance's `/hooks/mailtrap`) signed with `secret`, or
/// with `signature` as given; the status it answered.
pub fn post(url: &str, events: &[Value], payload: Payload, signature: Signing<'_>) -> u16 {
    let (body, content_type) = body(events, payload);
    let mut req = ureq::post(url).set("Content-Type", content_type);
    match signature {
        Signing::With(secret) => {
            req = req.set("Mailtrap-Signature", &sign(secret, body.as_bytes()))
        }
        Signing::Header(value) => req = req.set("Mailtrap-Signature", value),
        Signing::None => {}
    }
    match req.send_string(&body) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("posting the webhook: {e}"),
    }
}

/// How a test signs its webhook post.
#[derive(Clone, Copy, Debug)]
pub enum Signing<'a> {
    With(&'a str),
    Header(&'a str),
    None,
}

// ---------------------------------------------------------------- the app in-process

/// The app with the webhook on and the admin password of [`super::admin::start`].
pub fn start() -> TestApp {
    super::admin::start_with(|f| f.merge(("mailtrap_webhook_secret", SECRET)))
}

/// Posts `pairs` to form `slug`, which must store it.
pub fn submit(t: &TestApp, slug: &str, pairs: &[(&str, &str)]) {
    let res = t.post_form(&format!("/f/{slug}"), pairs);
    assert_eq!(res.status(), Status::SeeOther, "{slug} is stored");
}

pub fn quote(t: &TestApp, email: &str) {
    submit(
        t,
        "quote",
        &[
            ("full_name", "Anna Wanjiru"),
            ("email", email),
            ("phone", "+254 711 222 333"),
            ("message", "Two nights at the lodge"),
        ],
    );
}

/// Posts events as Mailtrap does, signed with `signature` (or correctly when `None`).
pub fn hook(t: &TestApp, events: &[Value], payload: Payload, signature: Option<&str>) -> Status {
    let (body, content_type) = self::body(events, payload);
    let sig = signature.map_or_else(|| sign(SECRET, body.as_bytes()), str::to_string);
    let content_type = if content_type == "application/json" {
        ContentType::JSON
    } else {
        ContentType::new("application", "jsonl")
    };
    t.client
        .post("/hooks/mailtrap")
        .header(content_type)
        .header(Header::new("Mailtrap-Signature", sig))
        .body(body)
        .dispatch()
        .status()
}

pub fn issued_to(t: &TestApp, email: &str) -> Issued {
    t.fake
        .issued()
        .into_iter()
        .rev()
        .find(|i| i.email == email)
        .unwrap_or_else(|| panic!("a message to {email}"))
}

pub fn delivery_of(t: &TestApp, message: &Issued) -> Delivery {
    let id = message.custom_variables["delivery_id"]
        .as_str()
        .expect("delivery_id");
    t.store()
        .delivery(id.parse().expect("a delivery id"))
        .unwrap()
        .expect("the delivery exists")
}

pub fn metric(t: &TestApp, line: &str) -> u64 {
    let loopback: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let page = t
        .client
        .get("/metrics")
        .remote(loopback)
        .dispatch()
        .into_string()
        .unwrap();
    page.lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
