//! Retries without a worker process: a tokio task inside the server takes due jobs from the
//! store's retry queue and sends those emails again. Only failures that surely did not
//! deliver are retried (no connection, 429, 5xx); a timeout after the request was sent may
//! have delivered, so it is left for the owner to resend, never retried blindly.

use std::time::Duration;

use time::OffsetDateTime;
use tracing::{error, info, warn};

use crate::mail::EmailStatus;
use crate::store::{Delivery, RetryJob, StoreError};
use crate::{submit, App};

/// Attempts in all, the first send included.
pub const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Mailtrap did not take it (no connection, rate limit, server error): safe to send again.
    Transient,
    /// The request may have reached Mailtrap (timed out or cut off after sending).
    Ambiguous,
    /// Mailtrap refused it for good (validation, auth, domain): sending again cannot help.
    Permanent,
}

/// How a failed delivery may be retried; `None` for one that did not fail.
pub fn classify(d: &Delivery) -> Option<Retry> {
    if d.status != EmailStatus::Failed {
        return None;
    }
    let error = d.error.as_deref().unwrap_or("");
    Some(match d.http_status {
        Some(429 | 500..=599) => Retry::Transient,
        Some(_) => Retry::Permanent,
        None if error.starts_with("could not connect")
            || error.starts_with("could not resolve") =>
        {
            Retry::Transient
        }
        None if error.starts_with("could not render") => Retry::Permanent,
        None => Retry::Ambiguous,
    })
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
        if d.http_status == Some(401) {
            error!(
                kind = %d.kind,
                "Mailtrap answered 401 Unauthorized: the API token is wrong or expired, or the \
                 sender's domain is not verified; emails will keep failing until it is fixed"
            );
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
pub async fn run(app: App, shutdown: rocket::Shutdown) {
    let poll = Duration::from_secs(app.config.retry_base_secs.clamp(1, 5));
    loop {
        rocket::tokio::select! {
            _ = rocket::tokio::time::sleep(poll) => {}
            _ = shutdown.clone() => return,
        }
        if let Err(e) = run_due(&app, &shutdown).await {
            error!("retry queue: {e}");
        }
    }
}

/// Sends the due jobs one after the other; after a stop signal no new job starts (the one
/// being sent finishes and is recorded, the rest stay queued for the next start).
async fn run_due(app: &App, shutdown: &rocket::Shutdown) -> Result<(), StoreError> {
    for job in app.store.take_due_retries(now_micros()).await? {
        if stopping(shutdown).await {
            app.store.schedule_retry(now_micros(), &job).await?;
            continue;
        }
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

/// Whether a stop was requested, without waiting for one.
async fn stopping(shutdown: &rocket::Shutdown) -> bool {
    rocket::tokio::select! {
        biased;
        _ = shutdown.clone() => true,
        _ = std::future::ready(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(http: Option<u16>, error: &str) -> Delivery {
        let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
        d.status = EmailStatus::Failed;
        d.http_status = http;
        d.error = Some(error.into());
        d
    }

    #[test]
    fn only_failures_that_surely_did_not_deliver_are_retried() {
        assert_eq!(
            classify(&failed(Some(500), "HTTP 500")),
            Some(Retry::Transient)
        );
        assert_eq!(
            classify(&failed(Some(429), "HTTP 429")),
            Some(Retry::Transient)
        );
        assert_eq!(
            classify(&failed(None, "could not connect to Mailtrap: refused")),
            Some(Retry::Transient)
        );
        assert_eq!(
            classify(&failed(
                None,
                "connection to Mailtrap failed or timed out: timed out"
            )),
            Some(Retry::Ambiguous)
        );
        assert_eq!(
            classify(&failed(Some(400), "HTTP 400: bad")),
            Some(Retry::Permanent)
        );
        assert_eq!(
            classify(&failed(Some(401), "HTTP 401")),
            Some(Retry::Permanent)
        );
        assert_eq!(
            classify(&failed(Some(403), "HTTP 403")),
            Some(Retry::Permanent)
        );
        let mut sent = failed(Some(200), "");
        sent.status = EmailStatus::Sent;
        assert_eq!(classify(&sent), None);
    }
}
