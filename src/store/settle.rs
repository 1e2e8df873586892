//! The one place a submission's delivery state is written: [`Settling::settle`] reads its
//! whole delivery log, its hold and its queued retries, and stores what the ledger's one
//! rule makes of them ([`Ledger::state`]) on the record, with its standing bounces in
//! `bounced_deliveryid`. It runs inside the transaction of every change the state depends
//! on: a delivery round recorded, a webhook event applied, a retry queued or cancelled, an
//! approval. So a reader never finds a change without the state that follows from it.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::{abort, codec, keys, Result, Store, StoreError};
use crate::model::{Delivery, DeliveryId, DeliveryState, Ledger, Submission, SubmissionId};

/// What settling one submission needs besides the records a transaction reads: the ids of
/// its delivery log and the kinds of its emails with an automatic retry queued, both read
/// before the transaction (neither index is readable inside one). A caller whose transaction
/// adds attempts or changes the queue says so ([`Settling::with_attempts`], …).
#[derive(Debug, Clone)]
pub(super) struct Settling {
    id: SubmissionId,
    log: Vec<DeliveryId>,
    retrying: Vec<String>,
}

type Settled = std::result::Result<Option<DeliveryState>, ConflictableTransactionError<StoreError>>;

impl Settling {
    /// Settling `id`, whose log holds the attempts `log` and whose emails of kinds
    /// `retrying` have a retry queued.
    pub(super) fn new(id: SubmissionId, log: Vec<DeliveryId>, retrying: Vec<String>) -> Settling {
        Settling { id, log, retrying }
    }

    /// Attempts the same transaction records join the log (those already in it, rewritten,
    /// are not counted twice).
    pub(super) fn with_attempts(mut self, ids: impl IntoIterator<Item = DeliveryId>) -> Settling {
        for id in ids {
            if !self.log.contains(&id) {
                self.log.push(id);
            }
        }
        self
    }

    /// The same transaction queues a retry of the email `kind`.
    pub(super) fn with_retry(mut self, kind: &str) -> Settling {
        self.retrying.push(kind.to_string());
        self
    }

    /// The same transaction takes one queued retry of the email `kind` off the queue (a
    /// round claimed it, or it is dropped).
    pub(super) fn without_retry(mut self, kind: &str) -> Settling {
        if let Some(i) = self.retrying.iter().position(|k| k == kind) {
            self.retrying.remove(i);
        }
        self
    }

    /// Inside a transaction over `submissions`, `deliveries` and `bounced_deliveryid`: the
    /// submission's state over its whole log ([`Ledger::state`], held while it waits for
    /// review or is marked spam, `retrying` while a retry is queued) written to its record,
    /// and its standing bounces ([`Ledger::standing_bounces`]) entered in the bounce index,
    /// its other attempts taken out of it. `None` when the submission is gone.
    pub(super) fn settle(
        &self,
        submissions: &TransactionalTree,
        deliveries: &TransactionalTree,
        bounced: &TransactionalTree,
    ) -> Settled {
        let Some(raw) = submissions.get(self.id.to_key())? else {
            return Ok(None);
        };
        let mut s: Submission = codec::decode("submissions", &raw).map_err(abort)?;
        let mut log: Vec<Delivery> = Vec::with_capacity(self.log.len());
        for id in &self.log {
            if let Some(raw) = deliveries.get(id.to_key())? {
                log.push(codec::decode("deliveries", &raw).map_err(abort)?);
            }
        }
        let ledger = Ledger::new(&log)
            .held(s.spam || s.review.is_some())
            .retries_queued(self.retrying.iter().map(|kind| (self.id, kind.as_str())));
        let state = ledger.state();
        let standing = ledger.standing_bounces();
        for d in &log {
            if standing.iter().any(|b| b.id == d.id) {
                bounced.insert(&d.id.to_key(), &[])?;
            } else if d.inbox.is_some() {
                // Only an attempt Mailtrap reported on can have been entered.
                bounced.remove(&d.id.to_key())?;
            }
        }
        if s.email_status != state {
            s.email_status = state;
            submissions.insert(&self.id.to_key(), codec::encode(&s))?;
        }
        Ok(Some(state))
    }
}

impl Store {
    /// What settling submission `id` reads before its transaction: its log's ids and the
    /// kinds of its emails with a retry queued.
    pub(super) fn settling(&self, id: SubmissionId) -> Result<Settling> {
        let mut log = Vec::new();
        for key in self.submissionid_deliveryid.scan_prefix(id.to_key()).keys() {
            log.extend(keys::trailing_id(&key?).map(DeliveryId));
        }
        Ok(Settling::new(id, log, self.queued_kinds(id)?))
    }

    /// After a transaction that settled with `used`: when another one meanwhile recorded
    /// attempts or changed the queue of the same submission (read before either committed,
    /// `used` cannot have them), settles again with what is stored now. Each of two racing
    /// changes checks after its own commit, so the later one's state counts both.
    pub(super) fn settle_again_if_raced(&self, used: &Settling) -> Result<()> {
        let now = self.settling(used.id)?;
        let mut kinds = (now.retrying.clone(), used.retrying.clone());
        kinds.0.sort();
        kinds.1.sort();
        if now.log.iter().any(|id| !used.log.contains(id)) || kinds.0 != kinds.1 {
            self.settle_now(&now)?;
        }
        Ok(())
    }

    /// Settles one submission in a transaction of its own, unflushed: for the migration that
    /// gives records written before the rule their state, and after a race
    /// ([`Store::settle_again_if_raced`]). Every change settles inside its own transaction.
    pub(super) fn settle_now(&self, settling: &Settling) -> Result<Option<DeliveryState>> {
        Ok((
            &self.submissions,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(subs, deliveries, bounced)| {
                settling.settle(subs, deliveries, bounced)
            })?)
    }

    /// The newest `limit` bounces and rejections that still stand, newest first, however old:
    /// from the bounce index, so the dashboard shows them past the attempts it reads.
    pub fn standing_bounces(&self, limit: usize) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for key in self.bounced_deliveryid.iter().keys().rev() {
            if out.len() == limit {
                break;
            }
            if let Some(raw) = self.deliveries.get(key?)? {
                out.push(codec::decode("deliveries", &raw)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::model::{EmailBody, EmailStatus, InboxEvent, InboxState, NewSubmission};
    use crate::store::{Applied, IncomingEvent, RetryJob};

    async fn submission(store: &Store) -> Submission {
        store
            .insert_submission(NewSubmission::for_test(
                "quote",
                "Q",
                &[("email", "anna@visitor.example")],
            ))
            .await
            .unwrap()
    }

    /// Records one attempt at `kind` of submission `s` with this outcome; its id.
    async fn attempt(store: &Store, s: &Submission, kind: &str, status: EmailStatus) -> DeliveryId {
        let mut d = Delivery::planned(kind, Some("anna@visitor.example"), "Thanks");
        d.to_visitor = kind == "confirmation";
        d.outcome.status = status;
        store
            .record_deliveries(s.id, vec![(d, EmailBody::default())])
            .await
            .unwrap()[0]
            .id
    }

    async fn report(store: &Store, id: DeliveryId, state: InboxState, event_id: &str) {
        let event = IncomingEvent {
            event_id: event_id.into(),
            message_id: None,
            delivery_id: Some(id),
            inbox: InboxEvent {
                state,
                at: OffsetDateTime::now_utc(),
                detail: Some("550 no such user".into()),
                bounce_category: None,
            },
        };
        let applied = store.apply_inbox_event(&event).await.unwrap();
        assert!(matches!(applied, Applied::Matched(_)), "{applied:?}");
    }

    fn state(store: &Store, s: &Submission) -> DeliveryState {
        store.submission(s.id).unwrap().unwrap().email_status
    }

    fn indexed(store: &Store) -> Vec<DeliveryId> {
        store
            .standing_bounces(100)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    }

    #[rocket::async_test]
    async fn an_event_settles_the_state_and_a_bounce_stands_until_an_attempt_goes_through() {
        let store = Store::temporary().unwrap();
        let s = submission(&store).await;
        attempt(&store, &s, "admin", EmailStatus::Sent).await;
        let first = attempt(&store, &s, "confirmation", EmailStatus::Sent).await;
        assert_eq!(state(&store, &s), DeliveryState::Sent);
        report(&store, first, InboxState::Bounced, "evt-1").await;
        assert_eq!(state(&store, &s), DeliveryState::Bounced);
        assert_eq!(indexed(&store), [first]);

        attempt(&store, &s, "confirmation", EmailStatus::Failed).await;
        assert_eq!(state(&store, &s), DeliveryState::Failed);
        assert_eq!(
            indexed(&store),
            [first],
            "a failed resend leaves it standing"
        );
        let second = attempt(&store, &s, "confirmation", EmailStatus::Sent).await;
        assert_eq!(state(&store, &s), DeliveryState::Sent);
        assert!(indexed(&store).is_empty(), "made good by a later attempt");

        report(&store, second, InboxState::Rejected, "evt-2").await;
        assert_eq!(state(&store, &s), DeliveryState::Rejected);
        assert_eq!(
            indexed(&store),
            [second],
            "a rejection stands like a bounce"
        );
        assert!(store.delete_submission(s.id).await.unwrap());
        assert!(
            indexed(&store).is_empty(),
            "nor after its submission is deleted"
        );
    }

    #[rocket::async_test]
    async fn a_queued_retry_makes_it_retrying_until_dropped() {
        let store = Store::temporary().unwrap();
        let s = submission(&store).await;
        attempt(&store, &s, "admin", EmailStatus::Sent).await;
        attempt(&store, &s, "confirmation", EmailStatus::Failed).await;
        assert_eq!(state(&store, &s), DeliveryState::Failed);
        let job = RetryJob {
            submission_id: s.id,
            kind: "confirmation".into(),
            attempt: 2,
            after: None,
        };
        store.schedule_retry(100, &job).await.unwrap();
        assert_eq!(state(&store, &s), DeliveryState::Retrying);
        assert!(store.drop_retry(100, &job).await.unwrap());
        assert_eq!(state(&store, &s), DeliveryState::Failed);
    }

    #[rocket::async_test]
    async fn a_held_submission_is_held_until_approved() {
        let store = Store::temporary().unwrap();
        let mut new = NewSubmission::for_test("quote", "Q", &[("message", "hi")]);
        new.review = Some(crate::model::SpamReason::TooFast);
        let s = store.insert_submission(new).await.unwrap();
        assert_eq!(s.email_status, DeliveryState::Held);
        let approved = store.approve_submission(s.id).await.unwrap().unwrap();
        assert_eq!(approved.email_status, DeliveryState::Skipped);
        assert_eq!(state(&store, &s), DeliveryState::Skipped, "not sent yet");
        assert_eq!(store.count_review(), 0);
    }

    /// Two changes race: the later to commit settled with a log read before the other's
    /// attempt was recorded. Its check after commit settles again with the whole log.
    #[rocket::async_test]
    async fn a_state_settled_from_a_log_read_before_a_racing_round_is_settled_again() {
        let store = Store::temporary().unwrap();
        let s = submission(&store).await;
        attempt(&store, &s, "admin", EmailStatus::Sent).await;
        let stale = store.settling(s.id).unwrap();
        attempt(&store, &s, "confirmation", EmailStatus::Failed).await;
        assert_eq!(state(&store, &s), DeliveryState::Failed);
        store.settle_now(&stale).unwrap();
        assert_eq!(
            state(&store, &s),
            DeliveryState::Sent,
            "what the late one alone makes of its log"
        );
        store.settle_again_if_raced(&stale).unwrap();
        assert_eq!(state(&store, &s), DeliveryState::Failed);
    }

    /// The dashboard reads the newest 200 attempts: a bounce older than those still shows,
    /// from the index.
    #[rocket::async_test]
    async fn a_bounce_behind_250_later_attempts_is_still_found() {
        let store = Store::temporary().unwrap();
        let s = submission(&store).await;
        let bounced = attempt(&store, &s, "confirmation", EmailStatus::Sent).await;
        report(&store, bounced, InboxState::Bounced, "evt-old").await;
        let other = submission(&store).await;
        for _ in 0..250 {
            attempt(&store, &other, "admin", EmailStatus::Sent).await;
        }
        let newest = store
            .list_deliveries(&Default::default(), None, 200)
            .unwrap()
            .items;
        assert!(newest.iter().all(|d| d.id != bounced));
        let found = store.standing_bounces(8).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].id, found[0].submission_id), (bounced, s.id));
    }
}
