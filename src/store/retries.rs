//! The retry queue: deliveries to try again, ordered by when they are due. Kept in the
//! store so that retries survive a restart.

use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::{codec, Result, Store, StoreError};
use crate::model::SubmissionId;

/// One email of one submission to send again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryJob {
    pub submission_id: SubmissionId,
    pub kind: String,
    /// The attempt this retry will be (the first send was attempt 1).
    pub attempt: u32,
}

/// `retries`: `due (unix micros) ++ submission id ++ kind` → job.
fn retry_key(due_micros: u64, job: &RetryJob) -> Vec<u8> {
    let mut k = due_micros.to_be_bytes().to_vec();
    k.extend_from_slice(&job.submission_id.to_key());
    k.extend_from_slice(job.kind.as_bytes());
    k
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

    /// Jobs due at `now_micros`, taken off the queue (the caller reschedules what fails).
    pub async fn take_due_retries(&self, now_micros: u64) -> Result<Vec<RetryJob>> {
        let mut jobs = Vec::new();
        for entry in self
            .retries
            .range(..(now_micros + 1).to_be_bytes().to_vec())
        {
            let (key, value) = entry?;
            if self.retries.remove(&key)?.is_some() {
                jobs.push(codec::decode("retries", &value)?);
            }
        }
        if !jobs.is_empty() {
            self.flusher.flush(&self.db).await?;
        }
        Ok(jobs)
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
                let due = key
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                out.push((due, job));
            }
        }
        Ok(out)
    }

    /// Takes the queued retries of these email kinds of one submission off the queue (an
    /// owner's resend takes their place) and settles its state in the same transaction; how
    /// many there were.
    pub async fn cancel_retries(
        &self,
        submission: SubmissionId,
        kinds: &[String],
    ) -> Result<usize> {
        let mut keys = Vec::new();
        for entry in self.retries.iter() {
            let (key, value) = entry?;
            let job: RetryJob = codec::decode("retries", &value)?;
            if job.submission_id == submission && kinds.contains(&job.kind) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let settling = self.settling(submission)?.without_retries(kinds);
        let cancelled = (
            &self.retries,
            &self.submissions,
            &self.deliveries,
            &self.bounced_deliveryid,
        )
            .transaction(|(retries, subs, deliveries, bounced)| {
                let mut cancelled = 0;
                for key in &keys {
                    cancelled += usize::from(retries.remove(key)?.is_some());
                }
                settling.settle(subs, deliveries, bounced)?;
                Ok::<_, ConflictableTransactionError<StoreError>>(cancelled)
            })?;
        self.settle_again_if_raced(&settling)?;
        self.flusher.flush(&self.db).await?;
        Ok(cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn due_jobs_come_out_in_order_once() {
        let store = Store::temporary().unwrap();
        let job = |kind: &str| RetryJob {
            submission_id: SubmissionId(7),
            kind: kind.into(),
            attempt: 2,
        };
        store.schedule_retry(200, &job("late")).await.unwrap();
        store.schedule_retry(100, &job("early")).await.unwrap();
        assert!(store.take_due_retries(50).await.unwrap().is_empty());
        assert_eq!(store.take_due_retries(150).await.unwrap(), [job("early")]);
        assert_eq!(store.take_due_retries(1000).await.unwrap(), [job("late")]);
        assert!(store.take_due_retries(1000).await.unwrap().is_empty());
        assert_eq!(store.pending_retries(), 0);
    }

    #[rocket::async_test]
    async fn a_cancelled_retry_never_comes_due() {
        let store = Store::temporary().unwrap();
        let job = |id: u64, kind: &str| RetryJob {
            submission_id: SubmissionId(id),
            kind: kind.into(),
            attempt: 2,
        };
        store.schedule_retry(100, &job(7, "admin")).await.unwrap();
        store
            .schedule_retry(100, &job(7, "confirmation"))
            .await
            .unwrap();
        store.schedule_retry(100, &job(8, "admin")).await.unwrap();
        assert_eq!(store.queued_retries(SubmissionId(7)).unwrap().len(), 2);
        let n = store
            .cancel_retries(SubmissionId(7), &["admin".to_string()])
            .await
            .unwrap();
        assert_eq!(n, 1);
        let due = store.take_due_retries(1000).await.unwrap();
        assert_eq!(due, [job(7, "confirmation"), job(8, "admin")]);
    }
}
