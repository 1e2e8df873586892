//! The retry queue: deliveries to try again, ordered by when they are due. Kept in the
//! store so that retries survive a restart. A job leaves the queue only in the transaction
//! that claims its email and writes the attempt as in flight (`claims`), so a crash while
//! the runner works through the queue leaves every job it had not started queued.

use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::{codec, Result, Store, StoreError};
use crate::model::{DeliveryId, SubmissionId};

/// One email of one submission to send again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryJob {
    pub submission_id: SubmissionId,
    pub kind: String,
    /// The attempt this retry will be (the first send was attempt 1; a job of attempt 1 is
    /// the first send of an email that was never attempted).
    pub attempt: u32,
    /// The failed attempt this job follows: the job is dropped if the email had another
    /// attempt since (an owner's resend took its place). `None` for an email never
    /// attempted, and in jobs queued by older releases.
    #[serde(default)]
    pub after: Option<DeliveryId>,
}

/// `retries`: `due (unix micros) ++ submission id ++ kind` → job.
pub(super) fn retry_key(due_micros: u64, job: &RetryJob) -> Vec<u8> {
    let mut k = due_micros.to_be_bytes().to_vec();
    k.extend_from_slice(&job.submission_id.to_key());
    k.extend_from_slice(job.kind.as_bytes());
    k
}

fn due_of(key: &[u8]) -> u64 {
    key.get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

impl Store {
    /// Queues `job` to run at `due_micros`; its submission is `retrying` from the same
    /// transaction on (`settle`). Flushed.
    pub async fn schedule_retry(&self, due_micros: u64, job: &RetryJob) -> Result<()> {
        let settling = self.settling(job.submission_id)?.with_retry(&job.kind);
        (
            &self.retries,
            &self.submissions,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(retries, subs, deliveries, bounced)| {
                retries.insert(retry_key(due_micros, job), codec::encode(job))?;
                settling.settle(subs, deliveries, bounced)?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })?;
        self.settle_again_if_raced(&settling)?;
        self.flusher.flush(&self.db).await?;
        Ok(())
    }

    /// The jobs due at `now_micros`, oldest first, with when each was due; they stay queued
    /// until a round claims them ([`super::Claim::Job`]) or [`Store::drop_retry`].
    pub fn due_retries(&self, now_micros: u64) -> Result<Vec<(u64, RetryJob)>> {
        let mut jobs = Vec::new();
        for entry in self
            .retries
            .range(..now_micros.saturating_add(1).to_be_bytes().to_vec())
        {
            let (key, value) = entry?;
            jobs.push((due_of(&key), codec::decode("retries", &value)?));
        }
        Ok(jobs)
    }

    /// Takes a job off the queue without sending it (its submission, its form or the email
    /// is gone) and settles the submission in the same transaction: no longer `retrying` for
    /// it. Whether it was still queued (a round that claimed it took it off already).
    pub async fn drop_retry(&self, due_micros: u64, job: &RetryJob) -> Result<bool> {
        let key = retry_key(due_micros, job);
        if !self.retries.contains_key(&key)? {
            return Ok(false);
        }
        let settling = self.settling(job.submission_id)?.without_retry(&job.kind);
        let dropped = (
            &self.retries,
            &self.submissions,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(retries, subs, deliveries, bounced)| {
                let dropped = retries.remove(key.as_slice())?.is_some();
                if dropped {
                    settling.settle(subs, deliveries, bounced)?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(dropped)
            })?;
        if dropped {
            self.settle_again_if_raced(&settling)?;
            self.flusher.flush(&self.db).await?;
        }
        Ok(dropped)
    }

    pub fn pending_retries(&self) -> usize {
        self.retries.len()
    }

    /// The kinds of submission `id`'s emails with a retry queued, read from the keys alone
    /// (every delivery round settles its submission with them: no job is decoded).
    pub fn queued_kinds(&self, id: SubmissionId) -> Result<Vec<String>> {
        let mut kinds = Vec::new();
        for key in self.retries.iter().keys() {
            let key = key?;
            if key.get(8..16) == Some(&id.to_key()[..]) {
                kinds.push(String::from_utf8_lossy(&key[16..]).into_owned());
            }
        }
        Ok(kinds)
    }

    /// Every email (submission, kind) with an automatic retry queued, for a ledger of many
    /// submissions ([`crate::model::Ledger::retries_queued`]).
    pub fn retries_queued(&self) -> Result<Vec<(SubmissionId, String)>> {
        let mut out = Vec::new();
        for entry in self.retries.iter() {
            let (_, value) = entry?;
            let job: RetryJob = codec::decode("retries", &value)?;
            out.push((job.submission_id, job.kind));
        }
        Ok(out)
    }

    /// The queued retries of one submission, with when each is due (unix micros). The queue
    /// holds a few entries at most, so it is scanned.
    pub fn queued_retries(&self, submission: SubmissionId) -> Result<Vec<(u64, RetryJob)>> {
        let mut out = Vec::new();
        for entry in self.retries.iter() {
            let (key, value) = entry?;
            let job: RetryJob = codec::decode("retries", &value)?;
            if job.submission_id == submission {
                out.push((due_of(&key), job));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, kind: &str) -> RetryJob {
        RetryJob {
            submission_id: SubmissionId(id),
            kind: kind.into(),
            attempt: 2,
            after: None,
        }
    }

    #[rocket::async_test]
    async fn due_jobs_come_out_in_order_and_stay_queued_until_taken() {
        let store = Store::temporary().unwrap();
        store.schedule_retry(200, &job(7, "late")).await.unwrap();
        store.schedule_retry(100, &job(7, "early")).await.unwrap();
        assert!(store.due_retries(50).unwrap().is_empty());
        assert_eq!(store.due_retries(150).unwrap(), [(100, job(7, "early"))]);
        assert_eq!(
            store.due_retries(1000).unwrap(),
            [(100, job(7, "early")), (200, job(7, "late"))],
            "looking does not take"
        );
        assert!(store.drop_retry(100, &job(7, "early")).await.unwrap());
        assert!(!store.drop_retry(100, &job(7, "early")).await.unwrap());
        assert_eq!(store.due_retries(1000).unwrap(), [(200, job(7, "late"))]);
        assert_eq!(store.pending_retries(), 1);
    }

    #[rocket::async_test]
    async fn a_submissions_queued_retries_are_listed_with_when_they_are_due() {
        let store = Store::temporary().unwrap();
        store.schedule_retry(100, &job(7, "admin")).await.unwrap();
        store
            .schedule_retry(300, &job(7, "confirmation"))
            .await
            .unwrap();
        store.schedule_retry(100, &job(8, "admin")).await.unwrap();
        assert_eq!(
            store.queued_retries(SubmissionId(7)).unwrap(),
            [(100, job(7, "admin")), (300, job(7, "confirmation"))]
        );
    }

    #[test]
    fn jobs_queued_by_older_releases_still_load() {
        let old = br#"{"submission_id":"0000000000000007","kind":"admin","attempt":3}"#;
        let job: RetryJob = codec::decode("retries", old).unwrap();
        assert_eq!(job.after, None);
        assert_eq!(job.attempt, 3);
    }
}
