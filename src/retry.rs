//! Retries without a worker process: a tokio task inside the server takes due jobs from the
//! store's retry queue and hands them to the delivery round. What gets queued, and when, is
//! decided by `outbox` from the failure's kind.

use std::time::Duration;

use tracing::{error, info};

use crate::model::Attempt;
use crate::model::EmailStatus;
use crate::outbox::{self, Resend};
use crate::store::StoreError;
use crate::App;

/// Runs due retries until the server shuts down; started at liftoff. A stop lets the email
/// being sent finish and be recorded (`shutdown` joins this task).
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
    for job in app.store.take_due_retries(outbox::now_micros()).await? {
        if stopping(shutdown).await {
            app.store.schedule_retry(outbox::now_micros(), &job).await?;
            continue;
        }
        let Some(submission) = app.store.submission(job.submission_id)? else {
            continue; // deleted meanwhile
        };
        let attempts = outbox::resend(
            app,
            &submission,
            Resend::Kind(&job.kind),
            Attempt::AutomaticRetry(job.attempt),
        )
        .await?;
        let ok = attempts
            .iter()
            .all(|d| d.outcome.status == EmailStatus::Sent);
        info!(submission_id = %submission.id, kind = %job.kind, attempt = job.attempt, ok, "retried");
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
