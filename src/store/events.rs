//! Mailtrap webhook events in the store: each applied once per `event_id`, found by the
//! message id Mailtrap returned (or the `delivery_id` the message carried), and kept on the
//! delivery as its inbox state. Event meanings: mailtrap-api.md section 8.

use std::sync::atomic::Ordering;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use time::{Duration, OffsetDateTime};

use super::{codec, Result, Store, StoreError};
use crate::model::{Delivery, DeliveryId, InboxEvent};

/// How long an applied `event_id` is remembered. Mailtrap retries a request that was not
/// answered 200 up to 40 times every 5 minutes (mailtrap-api.md section 8): a repeat can come
/// up to 200 minutes after the first try. A day covers that with room for a slow answer.
pub const EVENT_ID_TTL: Duration = Duration::hours(24);

/// Least time between two prunings of the event ids while running.
const PRUNE_EVERY: Duration = Duration::hours(1);

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
    /// delivered becomes `sent`. The submission's state is settled in the same transaction
    /// ([`super::settle`]). Flushed before it returns.
    pub async fn apply_inbox_event(&self, event: &IncomingEvent) -> Result<Applied> {
        self.prune_webhook_events(OffsetDateTime::now_utc(), false)?;
        let by_message = match &event.message_id {
            Some(m) => self
                .messageid_deliveryid
                .get(m.as_bytes())?
                .and_then(|k| DeliveryId::from_key(&k)),
            None => None,
        };
        let id = by_message.or(event.delivery_id);
        // Whose log the event changes: the attempt's submission never changes, so it is read
        // before the transaction, which reads the attempt itself again.
        let settling = match id.map(|id| self.delivery(id)).transpose()?.flatten() {
            Some(d) => Some(self.settling(d.submission_id)?),
            None => None,
        };
        let applied = (
            &self.webhook_events,
            &self.deliveries,
            &self.submissions,
            &self.bounced_deliveryid,
        )
            .transaction(|(seen, deliveries, subs, bounced)| {
                if seen.get(event.event_id.as_bytes())?.is_some() {
                    return Ok(Applied::Replay);
                }
                let now = OffsetDateTime::now_utc().unix_timestamp().to_be_bytes();
                seen.insert(event.event_id.as_bytes(), &now)?;
                let (Some(id), Some(settling)) = (id, &settling) else {
                    return Ok(Applied::Unmatched);
                };
                let Some(raw) = deliveries.get(id.to_key())? else {
                    return Ok(Applied::Unmatched);
                };
                let mut d: Delivery = codec::decode("deliveries", &raw)
                    .map_err(ConflictableTransactionError::Abort)?;
                d.apply(&event.inbox);
                deliveries.insert(&id.to_key(), codec::encode(&d))?;
                settling.settle(subs, deliveries, bounced)?;
                Ok(Applied::Matched(Box::new(d)))
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StoreError::from(e),
            })?;
        if let (Applied::Matched(_), Some(settling)) = (&applied, &settling) {
            self.settle_again_if_raced(settling)?;
        }
        self.flusher.flush(&self.db).await?;
        Ok(applied)
    }

    /// Forgets event ids applied more than [`EVENT_ID_TTL`] before `now` (and unreadable
    /// entries); a repeat of one that old cannot come from Mailtrap's retries. Unless
    /// `always`, at most once per [`PRUNE_EVERY`]. Returns how many were removed.
    pub(super) fn prune_webhook_events(&self, now: OffsetDateTime, always: bool) -> Result<usize> {
        let now_secs = now.unix_timestamp();
        let stamp = u64::try_from(now_secs).unwrap_or(0);
        let last = self.events_pruned_at.load(Ordering::Relaxed);
        if always {
            self.events_pruned_at.store(stamp, Ordering::SeqCst);
        } else if now_secs < i64::try_from(last).unwrap_or(i64::MAX) + PRUNE_EVERY.whole_seconds()
            || self
                .events_pruned_at
                .compare_exchange(last, stamp, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return Ok(0);
        }
        let oldest = now_secs - EVENT_ID_TTL.whole_seconds();
        let mut removed = 0;
        for entry in self.webhook_events.iter() {
            let (k, v) = entry?;
            let applied = <[u8; 8]>::try_from(v.as_ref()).map(i64::from_be_bytes);
            if applied.is_ok_and(|t| t >= oldest) {
                continue;
            }
            self.webhook_events.remove(k)?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InboxState;

    fn event(id: &str) -> IncomingEvent {
        IncomingEvent {
            event_id: id.into(),
            message_id: Some("no-such-message".into()),
            delivery_id: None,
            inbox: InboxEvent {
                state: InboxState::Delivered,
                at: OffsetDateTime::now_utc(),
                detail: None,
                bounce_category: None,
            },
        }
    }

    #[rocket::async_test]
    async fn event_ids_are_kept_through_mailtraps_retries_and_pruned_after_a_day() {
        let store = Store::temporary().unwrap();
        assert_eq!(
            store.apply_inbox_event(&event("evt-1")).await.unwrap(),
            Applied::Unmatched
        );
        let applied = OffsetDateTime::now_utc();
        // Mailtrap's last retry comes 40 × 5 minutes after the first try.
        let last_retry = applied + Duration::minutes(200);
        assert_eq!(store.prune_webhook_events(last_retry, true).unwrap(), 0);
        assert_eq!(
            store.apply_inbox_event(&event("evt-1")).await.unwrap(),
            Applied::Replay,
            "a retry within Mailtrap's window is still a replay"
        );
        store.webhook_events.insert("garbage", &b"x"[..]).unwrap();
        let next_day = applied + EVENT_ID_TTL + Duration::minutes(1);
        assert_eq!(store.prune_webhook_events(next_day, true).unwrap(), 2);
        assert!(store.webhook_events.is_empty());
    }

    #[rocket::async_test]
    async fn old_event_ids_are_pruned_at_start_up_and_at_most_hourly_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let old = OffsetDateTime::now_utc() - EVENT_ID_TTL - Duration::minutes(1);
        {
            let store = Store::open(dir.path()).unwrap();
            let stamp = old.unix_timestamp().to_be_bytes();
            store.webhook_events.insert("evt-old", &stamp).unwrap();
            store.apply_inbox_event(&event("evt-new")).await.unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.webhook_events.get("evt-old").unwrap().is_none());
        assert!(store.webhook_events.get("evt-new").unwrap().is_some());

        let stamp = old.unix_timestamp().to_be_bytes();
        store.webhook_events.insert("evt-old", &stamp).unwrap();
        store.apply_inbox_event(&event("evt-2")).await.unwrap();
        assert!(
            store.webhook_events.get("evt-old").unwrap().is_some(),
            "pruned at start-up less than an hour ago"
        );
        let later = OffsetDateTime::now_utc() + PRUNE_EVERY;
        assert_eq!(store.prune_webhook_events(later, false).unwrap(), 1);
        assert_eq!(store.prune_webhook_events(later, false).unwrap(), 0);
    }
}
