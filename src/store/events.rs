//! Mailtrap webhook events in the store: each applied once per `event_id`, found by the
//! message id Mailtrap returned (or the `delivery_id` the message carried), and kept on the
//! delivery as its inbox state. Event meanings: mailtrap-api.md section 8.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use time::OffsetDateTime;

use super::{codec, Result, Store, StoreError};
use crate::model::{Delivery, DeliveryId, EmailStatus, InboxEvent, InboxState};

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
                let mut d: Delivery = codec::decode("deliveries", &raw)
                    .map_err(ConflictableTransactionError::Abort)?;
                if d.inbox
                    .as_ref()
                    .is_none_or(|i| i.state <= event.inbox.state)
                {
                    d.inbox = Some(event.inbox.clone());
                }
                if event.inbox.state == InboxState::Delivered
                    && d.outcome.status == EmailStatus::Unknown
                {
                    d.outcome.status = EmailStatus::Sent;
                }
                deliveries.insert(&id.to_key(), codec::encode(&d))?;
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
