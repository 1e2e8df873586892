//! `POST /hooks/mailtrap`: Mailtrap's webhook events (mailtrap-api.md section 8), on only
//! when `KIPEKEE_MAILTRAP_WEBHOOK_SECRET` is set. The `Mailtrap-Signature` header is the
//! lower-case hex HMAC-SHA256 of the raw body under that secret, checked in constant time
//! before anything is parsed; an authenticated request is answered 200 even when no event
//! matches, since any other answer makes Mailtrap retry it for hours.

use hmac::{Hmac, Mac};
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{post, routes, Route, State};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::forms::FormKind;
use crate::model::{Delivery, EmailStatus, InboxEvent, InboxState};
use crate::store::{Applied, IncomingEvent};
use crate::App;

/// Largest body read: Mailtrap posts events in batches; 10 MiB holds tens of thousands.
pub const MAX_WEBHOOK_BODY: u64 = 10 * 1024 * 1024;

pub fn routes() -> Vec<Route> {
    routes![mailtrap]
}

/// The `Mailtrap-Signature` header, if any.
pub struct Signature(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Signature {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let value = req
            .headers()
            .get_one("Mailtrap-Signature")
            .map(str::to_string);
        Outcome::Success(Signature(value))
    }
}

/// True when `signature` is the lower-case hex HMAC-SHA256 of `body` keyed with `secret`;
/// the comparison is the `hmac` crate's constant-time one.
pub fn signature_valid(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// One event as Mailtrap sends it; unknown fields ignored.
#[derive(Debug, Deserialize)]
struct RawEvent {
    event: String,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    response: Option<String>,
    #[serde(default)]
    response_code: Option<Value>,
    #[serde(default)]
    bounce_category: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    custom_variables: Option<Map<String, Value>>,
}

/// The events of a body: `{"events":[…]}` or JSON Lines; `None` if it is neither. Items
/// that are not events (no `event` field) are skipped.
fn parse_events(body: &[u8]) -> Option<Vec<Value>> {
    if let Ok(Value::Object(mut whole)) = serde_json::from_slice::<Value>(body) {
        return match whole.remove("events") {
            Some(Value::Array(events)) => Some(events),
            _ => Some(vec![Value::Object(whole)]),
        };
    }
    let text = std::str::from_utf8(body).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn incoming(raw: RawEvent) -> Option<IncomingEvent> {
    let state = InboxState::of_event(&raw.event)?;
    let at = raw
        .timestamp
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let code = raw.response_code.map(|c| match c {
        Value::String(s) => s,
        other => other.to_string(),
    });
    let detail = match (raw.response, code, raw.reason) {
        (Some(r), Some(c), _) if r.trim_start().starts_with(c.as_str()) => Some(r),
        (Some(r), Some(c), _) => Some(format!("{c} {r}")),
        (Some(r), None, _) => Some(r),
        (None, _, reason) => reason,
    }
    .map(|d| crate::model::single_line(&d, 500));
    let delivery_id = raw
        .custom_variables
        .as_ref()
        .and_then(|v| v.get("delivery_id"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());
    // Without an event id, the event itself (its type, message and time) is its identity.
    let event_id = raw.event_id.unwrap_or_else(|| {
        format!(
            "{}/{}/{}",
            raw.event,
            raw.message_id.as_deref().unwrap_or(""),
            at.unix_timestamp()
        )
    });
    Some(IncomingEvent {
        event_id,
        message_id: raw.message_id,
        delivery_id,
        inbox: InboxEvent {
            state,
            at,
            detail,
            bounce_category: raw.bounce_category,
        },
    })
}

#[post("/hooks/mailtrap", data = "<body>")]
async fn mailtrap(app: &State<App>, signature: Signature, body: Data<'_>) -> Status {
    let Some(secret) = &app.config.mailtrap_webhook_secret else {
        return Status::NotFound;
    };
    let Ok(body) = body.open(MAX_WEBHOOK_BODY.bytes()).into_bytes().await else {
        return Status::BadRequest;
    };
    if !body.is_complete() {
        return Status::PayloadTooLarge;
    }
    let valid = signature
        .0
        .as_deref()
        .is_some_and(|s| signature_valid(secret.expose(), &body, s));
    if !valid {
        warn!("mailtrap webhook: missing or wrong signature; nothing applied");
        return Status::Unauthorized;
    }
    let Some(events) = parse_events(&body) else {
        return Status::BadRequest;
    };
    for value in events {
        let Ok(raw) = serde_json::from_value::<RawEvent>(value) else {
            app.metrics.webhook_event("invalid", "ignored");
            continue;
        };
        let kind = raw.event.clone();
        let Some(event) = incoming(raw) else {
            app.metrics.webhook_event(known_label(&kind), "ignored");
            continue;
        };
        let label = event.inbox.state.label();
        match app.store.apply_inbox_event(&event).await {
            Ok(Applied::Replay) => app.metrics.webhook_event(label, "replay"),
            Ok(Applied::Unmatched) => app.metrics.webhook_event(label, "unmatched"),
            Ok(Applied::Matched(d)) => {
                app.metrics.webhook_event(label, "applied");
                info!(delivery = %d.id, state = label, "mailtrap event applied");
                if event.inbox.state == InboxState::Delivered {
                    resummarize(app, &d).await;
                }
                follow_reader(app, &d, event.inbox.state).await;
            }
            Err(e) => {
                warn!("mailtrap webhook: could not apply an event: {e}");
                return Status::ServiceUnavailable;
            }
        }
    }
    Status::Ok
}

/// A reconciled attempt (`unknown` reported delivered) changes its submission's summary,
/// which is read from the latest attempt of each of its emails.
async fn resummarize(app: &App, d: &Delivery) {
    let Ok(log) = app.store.deliveries_of(d.submission_id) else {
        return;
    };
    let status = EmailStatus::summarize(
        crate::outbox::latest_attempts(&log)
            .into_iter()
            .map(|d| d.outcome.status),
    );
    let changed = app
        .store
        .update_submission(d.submission_id, |s| s.email_status = status)
        .await;
    if let Err(e) = changed {
        warn!("mailtrap webhook: could not update the submission's status: {e}");
    }
}

/// Bounded label values for the metrics: Mailtrap's types that carry no state.
fn known_label(event: &str) -> &'static str {
    match event {
        "open" => "open",
        "click" => "click",
        _ => "other",
    }
}

/// The newsletter follows the reader: an unsubscribe or a complaint on a newsletter email
/// unsubscribes its subscriber (RFC 8058; complaint hygiene); a hard bounce of the opt-in
/// marks the subscriber undeliverable.
async fn follow_reader(app: &App, d: &Delivery, state: InboxState) {
    let def = app
        .store
        .submission(d.submission_id)
        .ok()
        .flatten()
        .and_then(|s| app.forms.get(&s.form));
    let newsletter = def.map(|def| def.kind) == Some(FormKind::Newsletter);
    let optin = def
        .and_then(|def| def.email(&d.kind))
        .is_some_and(|e| e.template.is_optin());
    let Some(to) =
        d.to.as_deref()
            .and_then(|t| crate::model::EmailAddress::parse(t).ok())
    else {
        return;
    };
    if !newsletter {
        return;
    }
    let result = match state {
        InboxState::Unsubscribed | InboxState::Complained => {
            app.store.unsubscribe_address(&to).await
        }
        InboxState::Bounced if optin => app.store.mark_undeliverable(&to).await,
        _ => return,
    };
    if let Err(e) = result {
        warn!("mailtrap webhook: could not update the subscriber: {e}");
    }
}
