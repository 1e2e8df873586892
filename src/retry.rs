//! Retries without a worker process: a tokio task inside the server takes due jobs from the
//! store's retry queue and sends those emails again. Only failures that surely did not
//! deliver are retried (no connection, 429, 5xx); a timeout after the request was sent may
//! have delivered, so it is left for the owner to resend, never retried blindly.

use std::time::Duration;

use time::OffsetDateTime;
use tracing::{error, info, warn};

use crate::mail::{EmailStatus, FailureKind, Retry};
use crate::store::{Delivery, RetryJob, StoreError};
use crate::{submit, App};

/// Attempts in all, the first send included.
pub const MAX_ATTEMPTS: u32 = 5;

/// How a delivery may be retried: from its typed failure, never from its text; `None` for
/// one that did not fail.
pub fn classify(d: &Delivery) -> Option<Retry> {
    if !matches!(d.status, EmailStatus::Failed | EmailStatus::Unknown) {
        return None;
    }
    Some(d.failure.map_or(Retry::Ambiguous, FailureKind::retry))
}

fn now_micros() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0)
}

/// Queues what can be retried after a round of attempts (`attempt` was that round's number)
/// and says loudly what cannot.
pub async fn after_delivery(
    app: &App,
    deliveries: &[Delivery],
    attempt: u32,
) -> Result<(), StoreError> {
    for d in deliveries {
        if let Some(
            kind @ FailureKind::Http {
                status: 401 | 403, ..
            },
        ) = d.failure
        {
            error!(kind = %d.kind, "emails will keep failing until this is fixed: {}", kind.advice());
        }
        match classify(d) {
            Some(Retry::Transient) if attempt < MAX_ATTEMPTS => {
                let base = app.config.retry_base_secs.max(1);
                let mut wait = base.saturating_mul(4u64.saturating_pow(attempt - 1));
                if let Some(asked) = d.retry_after_secs {
                    wait = wait.max(asked.min(3600));
                }
                let job = RetryJob {
                    submission_id: d.submission_id,
                    kind: d.kind.clone(),
                    attempt: attempt + 1,
                };
                app.store
                    .schedule_retry(now_micros() + wait * 1_000_000, &job)
                    .await?;
                info!(kind = %d.kind, attempt = attempt + 1, wait_secs = wait, "retry scheduled");
            }
            Some(Retry::Transient) => {
                warn!(kind = %d.kind, "gave up after {MAX_ATTEMPTS} attempts")
            }
            Some(Retry::Ambiguous) => warn!(
                kind = %d.kind,
                "not retried automatically: the request may have reached Mailtrap; resend from the admin panel if needed"
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Runs due retries until the server shuts down; started at liftoff.
pub async fn run(app: App) {
    let poll = Duration::from_secs(app.config.retry_base_secs.clamp(1, 5));
    loop {
        rocket::tokio::time::sleep(poll).await;
        if let Err(e) = run_due(&app).await {
            error!("retry queue: {e}");
        }
    }
}

async fn run_due(app: &App) -> Result<(), StoreError> {
    for job in app.store.take_due_retries(now_micros()).await? {
        let Some(submission) = app.store.submission(job.submission_id)? else {
            continue; // deleted meanwhile
        };
        let attempts = submit::resend(app, &submission, Some(&job.kind)).await?;
        let ok = attempts.iter().all(|d| d.status == EmailStatus::Sent);
        info!(submission_id = %submission.id, kind = %job.kind, attempt = job.attempt, ok, "retried");
        after_delivery(app, &attempts, job.attempt).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(failure: FailureKind, error: &str) -> Delivery {
        let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
        d.status = failure.status();
        d.http_status = failure.http_status();
        d.failure = Some(failure);
        d.error = Some(error.into());
        d
    }

    #[test]
    fn rewording_an_error_changes_no_retry_decision() {
        let kinds = [
            FailureKind::Connect,
            FailureKind::TimeoutBeforeSent,
            FailureKind::TimeoutAfterSent,
            FailureKind::Http {
                status: 500,
                mailtrap: true,
            },
            FailureKind::Http {
                status: 504,
                mailtrap: false,
            },
            FailureKind::Http {
                status: 401,
                mailtrap: true,
            },
            FailureKind::Rejected,
        ];
        let texts = [
            "could not connect to Mailtrap: refused",
            "connection to Mailtrap failed or timed out",
            "HTTP 500: non-JSON answer",
            "something else entirely",
            "",
        ];
        for kind in kinds {
            for text in texts {
                assert_eq!(
                    classify(&failed(kind, text)),
                    Some(kind.retry()),
                    "{kind:?} {text}"
                );
            }
        }
        let mut sent = failed(FailureKind::Connect, "");
        sent.status = EmailStatus::Sent;
        assert_eq!(classify(&sent), None);
    }
}
