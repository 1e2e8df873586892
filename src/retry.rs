//! Retries without a worker process: a tokio task inside the server takes due jobs from the
//! store's retry queue and hands them to the delivery round. What gets queued, and when, is
//! decided by `outbox` from the failure's kind.

use std::time::Duration;

use tracing::{error, info};

use crate::mail::EmailStatus;
use crate::outbox::{self, Resend};
use crate::store::{Attempt, StoreError};
use crate::App;

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
    for job in app.store.take_due_retries(outbox::now_micros()).await? {
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
        let ok = attempts.iter().all(|d| d.status == EmailStatus::Sent);
        info!(submission_id = %submission.id, kind = %job.kind, attempt = job.attempt, ok, "retried");
    }
    Ok(())
}
