//! Mailtrap webhook events in the store: each applied once per `event_id`, found by the
//! message id Mailtrap returned (or the `delivery_id` the message carried), and kept on the
//! delivery as its inbox state. Event meanings: mailtrap-api.md section 8.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use time::OffsetDateTime;

use super::{records, Result, Store, StoreError};
use crate::model::DeliveryId;
use crate::model::EmailStatus;
use crate::store::Delivery;

/// What Mailtrap last told about an email after accepting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// `soft bounce`: a temporary refusal; Mailtrap keeps trying.
    SoftBounce,
    /// `delivery`: the receiving server accepted it.
    Delivered,
    /// `unsubscribe`: the reader used the unsubscribe link Mailtrap handles.
    Unsubscribed,
    /// `bounce`: refused for good (a mistyped or closed address).
    Bounced,
    /// `reject`: Mailtrap refused to send it (e.g. the address is on its suppression list).
    Rejected,
    /// `suspension`: Mailtrap suspended sending for the domain or account.
    Suspended,
    /// `spam`: the reader marked it as spam.
    Complained,
}

impl InboxState {
    /// The state of a Mailtrap event type; `None` for `open`, `click` and types not known.
    pub fn of_event(event: &str) -> Option<InboxState> {
        Some(match event {
            "delivery" => InboxState::Delivered,
            "soft bounce" => InboxState::SoftBounce,
            "bounce" => InboxState::Bounced,
            "spam" => InboxState::Complained,
            "unsubscribe" => InboxState::Unsubscribed,
            "reject" => InboxState::Rejected,
            "suspension" => InboxState::Suspended,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            InboxState::SoftBounce => "soft_bounce",
            InboxState::Delivered => "delivered",
            InboxState::Unsubscribed => "unsubscribed",
            InboxState::Bounced => "bounced",
            InboxState::Rejected => "rejected",
            InboxState::Suspended => "suspended",
            InboxState::Complained => "complained",
        }
    }

    /// Every state, for the deliveries page's filter.
    pub const ALL: [InboxState; 7] = [
        InboxState::Delivered,
        InboxState::SoftBounce,
        InboxState::Bounced,
        InboxState::Complained,
        InboxState::Unsubscribed,
        InboxState::Rejected,
        InboxState::Suspended,
    ];

    pub fn parse(label: &str) -> Option<InboxState> {
        InboxState::ALL.into_iter().find(|s| s.label() == label)
    }
}

/// One event as it is kept on its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEvent {
    pub state: InboxState,
    /// When it happened, by Mailtrap's `timestamp`.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The remote server's answer (`response`, with `response_code`) or Mailtrap's `reason`.
    #[serde(default)]
    pub detail: Option<String>,
    /// Mailtrap's `bounce_category` (`spam`, `greylisting`, `bad_mailbox`…).
    #[serde(default)]
    pub bounce_category: Option<String>,
}

/// An authenticated event, its matching keys and what it says.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub event_id: String,
    pub message_id: Option<String>,
    pub delivery_id: Option<DeliveryId>,
    pub inbox: InboxEvent,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Its `event_id` was seen before: nothing changed.
    Replay,
    /// No delivery has its message id or delivery id: only the event id was kept.
    Unmatched,
    /// The delivery as it is now (its state may be unchanged when a weaker event came late).
    Matched(Box<Delivery>),
}

impl Store {
    /// Applies one webhook event once: the event id is kept whatever matches, and the
    /// delivery's inbox state moves only towards a stronger one (a late soft bounce never
    /// hides a delivery, a complaint outranks a delivery). An `unknown` attempt reported
    /// delivered becomes `sent`. Flushed before it returns.
    pub async fn apply_inbox_event(&self, event: &IncomingEvent) -> Result<Applied> {
        let by_message = match &event.message_id {
            Some(m) => self
                .messageid_deliveryid
                .get(m.as_bytes())?
                .and_then(|k| DeliveryId::from_key(&k)),
            None => None,
        };
        let id = by_message.or(event.delivery_id);
        let applied = (&self.webhook_events, &self.deliveries)
            .transaction(|(seen, deliveries)| {
                if seen.get(event.event_id.as_bytes())?.is_some() {
                    return Ok(Applied::Replay);
                }
                let now = OffsetDateTime::now_utc().unix_timestamp().to_be_bytes();
                seen.insert(event.event_id.as_bytes(), &now)?;
                let Some(id) = id else {
                    return Ok(Applied::Unmatched);
                };
                let Some(raw) = deliveries.get(id.to_key())? else {
                    return Ok(Applied::Unmatched);
                };
                let mut d: Delivery = records::decode("deliveries", &raw)
                    .map_err(ConflictableTransactionError::Abort)?;
                if d.inbox
                    .as_ref()
                    .is_none_or(|i| i.state <= event.inbox.state)
                {
                    d.inbox = Some(event.inbox.clone());
                }
                if event.inbox.state == InboxState::Delivered && d.status == EmailStatus::Unknown {
                    d.status = EmailStatus::Sent;
                }
                deliveries.insert(&id.to_key(), records::encode(&d))?;
                Ok(Applied::Matched(Box::new(d)))
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StoreError::from(e),
            })?;
        self.flusher.flush(&self.db).await?;
        Ok(applied)
    }
}
