//! Mailtrap's webhook events applied to the ledger (event meanings: Mailtrap's webhook
//! docs): each event is matched to its delivery and applied once, the submission's state
//! settled with it by the store, and the newsletter follows its reader (an unsubscribe or complaint unsubscribes,
//! a bounced opt-in marks the address undeliverable). The route in `web::hooks` checks the
//! signature; this service never sees HTTP.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::forms::{FormKind, Forms};
use crate::metrics::Metrics;
use crate::model::{Delivery, InboxEvent, InboxState};
use crate::store::{Applied, IncomingEvent, Store, StoreError};

/// Why a verified body was not applied.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Neither `{"events":[…]}` nor JSON Lines.
    #[error("the body is neither a JSON object nor JSON Lines")]
    Malformed,
    /// The store failed: Mailtrap should try again later.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The webhook service.
pub struct Webhooks {
    store: Store,
    forms: Forms,
    metrics: Arc<Metrics>,
}

impl Webhooks {
    pub fn new(store: Store, forms: Forms, metrics: Arc<Metrics>) -> Webhooks {
        Webhooks {
            store,
            forms,
            metrics,
        }
    }

    /// Applies every event of an authenticated body, in order. Events of unknown types and
    /// items that are not events are counted and skipped; a store failure stops the rest.
    pub async fn apply(&self, body: &[u8]) -> Result<(), WebhookError> {
        let events = parse_events(body).ok_or(WebhookError::Malformed)?;
        for value in events {
            let Ok(raw) = serde_json::from_value::<RawEvent>(value) else {
                self.metrics.webhook_event("invalid", "ignored");
                continue;
            };
            let kind = raw.event.clone();
            let Some(event) = incoming(raw) else {
                self.metrics.webhook_event(known_label(&kind), "ignored");
                continue;
            };
            let label = event.inbox.state.label();
            match self.store.apply_inbox_event(&event).await {
                Ok(Applied::Replay) => self.metrics.webhook_event(label, "replay"),
                Ok(Applied::Unmatched) => self.metrics.webhook_event(label, "unmatched"),
                Ok(Applied::Matched(d)) => {
                    self.metrics.webhook_event(label, "applied");
                    info!(delivery = %d.id, state = label, "mailtrap event applied");
                    self.follow_reader(&d, event.inbox.state).await;
                }
                Err(e) => return Err(WebhookError::Store(e)),
            }
        }
        Ok(())
    }

    /// The newsletter follows the reader: an unsubscribe or a complaint on a newsletter email
    /// unsubscribes its subscriber (RFC 8058; complaint hygiene); a hard bounce of the opt-in
    /// marks the subscriber undeliverable.
    async fn follow_reader(&self, d: &Delivery, state: InboxState) {
        let def = self
            .store
            .submission(d.submission_id)
            .ok()
            .flatten()
            .and_then(|s| self.forms.get(&s.form));
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
                self.store.unsubscribe_address(&to).await
            }
            InboxState::Bounced if optin => self.store.mark_undeliverable(&to).await,
            _ => return,
        };
        if let Err(e) = result {
            warn!("mailtrap webhook: could not update the subscriber: {e}");
        }
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
