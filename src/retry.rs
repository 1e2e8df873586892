//! Retries without a worker process: a tokio task inside the server works through the
//! store's retry queue, one due job at a time, and hands each to the delivery round. A job
//! leaves the queue only in the transaction that claims its email and writes the attempt as
//! in flight, so a crash in the loop leaves the jobs not yet started queued (they run after
//! the restart) and the one in flight `unknown` (never sent twice). What gets queued, and
//! when, is decided by `outbox` from the failure's kind.

use std::time::Duration;

use tracing::{error, info};

use crate::model::EmailStatus;
use crate::outbox::{self, Outbox};
use crate::store::{Store, StoreError};

/// The retry worker: the queue in the store, and the outbox that sends what is due.
pub struct Worker {
    pub outbox: Outbox,
    pub store: Store,
    /// How often the queue is looked at.
    pub poll: Duration,
}

impl Worker {
    /// Polls at least every 5 seconds, and as often as the first retry's wait when that is
    /// shorter (`KIPEKEE_RETRY_BASE_SECS`).
    pub fn new(outbox: Outbox, store: Store, retry_base_secs: u64) -> Worker {
        Worker {
            outbox,
            store,
            poll: Duration::from_secs(retry_base_secs.clamp(1, 5)),
        }
    }

    /// Runs due retries until `stop` resolves; started at liftoff. A stop lets the email
    /// being sent finish and be recorded (`shutdown` joins this task).
    pub async fn run(self, stop: rocket::Shutdown) {
        loop {
            rocket::tokio::select! {
                _ = rocket::tokio::time::sleep(self.poll) => {}
                _ = stop.clone() => return,
            }
            if let Err(e) = self.run_due(&stop).await {
                error!("retry queue: {e}");
            }
        }
    }

    /// Sends the due jobs one after the other; after a stop signal no new job starts (the one
    /// being sent finishes and is recorded, the rest stay queued for the next start).
    async fn run_due(&self, stop: &rocket::Shutdown) -> Result<(), StoreError> {
        for (due, job) in self.store.due_retries(outbox::now_micros())? {
            if stopping(stop).await {
                break;
            }
            let Some(submission) = self.store.submission(job.submission_id)? else {
                self.store.drop_retry(due, &job).await?; // deleted meanwhile
                continue;
            };
            let attempts = self.outbox.retry(&submission, due, &job).await?;
            // A round that claimed the job took it off the queue; one that could not start
            // (the form or the email is no longer configured) would leave it due forever.
            self.store.drop_retry(due, &job).await?;
            if attempts.is_empty() {
                info!(submission_id = %submission.id, kind = %job.kind, "retry dropped: the email was sent or resent meanwhile, or is no longer configured");
                continue;
            }
            let ok = attempts
                .iter()
                .all(|d| d.outcome.status == EmailStatus::Sent);
            info!(submission_id = %submission.id, kind = %job.kind, attempt = job.attempt, ok, "retried");
        }
        Ok(())
    }
}

/// Whether a stop was requested, without waiting for one.
async fn stopping(stop: &rocket::Shutdown) -> bool {
    rocket::tokio::select! {
        biased;
        _ = stop.clone() => true,
        _ = std::future::ready(()) => false,
    }
}
