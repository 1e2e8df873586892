//! One delivery round, the one way every email leaves: render → claim the emails and write
//! each attempt as in flight, before anything is sent (one transaction, flushed) → one
//! Mailtrap request on a blocking thread → record every outcome with the retries of its
//! transient failures (one transaction, flushed) → count. The visitor's post, the newsletter
//! confirmation, the retry queue, the owner's resend and approval and "test this form" all
//! call [`Outbox::deliver`]; whether a caller's failures are retried is its [`Round`]'s
//! explicit `retry_failures`, and on what condition it may take an email its `claim`
//! (`store::Claim`): one email is never sent by two rounds at once, and a kill between
//! Mailtrap's acceptance and the record leaves an attempt the next start marks `unknown`.

use std::sync::Arc;

use rocket::tokio::task::spawn_blocking;
use time::OffsetDateTime;
use tracing::{error, info, instrument, warn};

use crate::forms::{FormDef, Trigger};
use crate::mail::{self, Attachment, Email, MailContext};
use crate::model::{
    Attempt, Delivery, EmailBody, EmailStatus, Failure, FailureKind, Outcome, Retry, Submission,
    Subscriber,
};

use crate::config::AppConfig;
use crate::forms::Forms;
use crate::mail::Mailtrap;
use crate::metrics::Metrics;
use crate::store::{Claim, RetryJob, Store, StoreError};
use crate::templates::Templates;

/// Attempts in all of one email, the first send included.
pub const MAX_ATTEMPTS: u32 = 5;

/// Which of a form's emails one delivery round sends, on whose behalf, and whether its
/// transient failures are queued for automatic retries.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    pub trigger: Trigger,
    /// Only the emails of these kinds (a resend of some emails).
    pub only: Option<&'a [String]>,
    /// Render and log, but do not send, for this reason.
    pub skip: Option<&'a str>,
    /// Do not send the visitor's emails, for this reason (the owner's still go).
    pub skip_visitor: Option<&'a str>,
    /// What this attempt is, as the admin panel labels it.
    pub attempt: Attempt,
    /// Queue transient failures for automatic retries.
    pub retry_failures: bool,
    /// On what condition the round may take each email (nobody else sending it).
    pub claim: Claim<'a>,
}

impl Round<'_> {
    /// A visitor's post: the form's emails on submit, transient failures retried.
    pub const SUBMIT: Round<'static> = Round {
        trigger: Trigger::Submit,
        only: None,
        skip: None,
        skip_visitor: None,
        attempt: Attempt::FirstTry,
        retry_failures: true,
        claim: Claim::First,
    };

    fn skip_reason(&self, email: &Email) -> Option<&str> {
        self.skip.or(self.skip_visitor.filter(|_| email.to_visitor))
    }
}

/// The delivery service: what a delivery round needs (store, forms, templates, the Mailtrap
/// client, settings, counters). Cheap to clone (handles and `Arc`s): the retry worker and
/// the intake each hold one.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    forms: Forms,
    mailer: Arc<Mailtrap>,
    templates: Arc<Templates>,
    config: Arc<AppConfig>,
    metrics: Arc<Metrics>,
    /// Absolute base of emailed links, without a trailing slash.
    public_base: Arc<str>,
}

/// What [`Outbox::new`] wires together.
pub struct Parts {
    pub config: Arc<AppConfig>,
    pub store: Store,
    pub forms: Forms,
    pub mailer: Arc<Mailtrap>,
    pub templates: Arc<Templates>,
    pub metrics: Arc<Metrics>,
    pub public_base: String,
}

impl Outbox {
    pub fn new(p: Parts) -> Outbox {
        Outbox {
            store: p.store,
            forms: p.forms,
            mailer: p.mailer,
            templates: p.templates,
            config: p.config,
            metrics: p.metrics,
            public_base: p.public_base.into(),
        }
    }

    /// Renders the form's emails for the round, claims them and writes each attempt as in
    /// flight with its email as rendered (flushed; the store settles the submission's
    /// state), sends them in one round trip (unless `skip` says why not), and records every
    /// outcome with the retries it needs (the store settles the state again). An email the
    /// round's claim does not get (another round is sending it, or sent it since) is left
    /// out: neither sent nor recorded.
    #[instrument(skip_all, fields(submission_id = %submission.id))]
    pub async fn deliver(
        &self,
        def: &FormDef,
        submission: &Submission,
        subscriber: Option<&Subscriber>,
        round: Round<'_>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mc = MailContext {
            slug: &submission.form,
            form: def,
            submission,
            subscriber,
            files: self.attachments(submission)?,
            public_base: self.public_base.to_string(),
        };
        // Every email of the round as it is recorded, in the form's order with those that
        // could not be rendered last; beside each, the message if it goes to Mailtrap.
        let mut attempts = Vec::new();
        let mut emails = Vec::new();
        let mut broken = Vec::new();
        let wanted = def
            .emails_on(round.trigger)
            .filter(|e| round.only.is_none_or(|kinds| kinds.contains(&e.kind)));
        for email_def in wanted {
            let id = self.store.new_delivery_id();
            match mail::render(&self.templates, &self.config, email_def, &mc) {
                Ok(mut email) => {
                    let (submission_id, delivery_id) = (submission.id.to_string(), id.to_string());
                    mail::trace(
                        &mut email,
                        &submission.reference,
                        &submission_id,
                        &delivery_id,
                    );
                    if submission.test {
                        "test".clone_into(&mut email.category);
                    }
                    let skip = round
                        .skip_reason(&email)
                        .or_else(|| self.mailer.skip_reason(&email));
                    let outcome = match skip {
                        Some(reason) => Outcome::skipped(reason),
                        None => Outcome::in_flight(),
                    };
                    let (d, body) = attempt(&email, outcome, round.attempt);
                    attempts.push((
                        Delivery {
                            id,
                            submission_id: submission.id,
                            ..d
                        },
                        body,
                    ));
                    emails.push(skip.is_none().then_some(email));
                }
                Err(e) => {
                    error!(kind = %email_def.kind, "{e}");
                    let mut d = Delivery::planned(&email_def.kind, None, "");
                    d.id = id;
                    d.submission_id = submission.id;
                    d.outcome.status = EmailStatus::Failed;
                    d.outcome.failure = Some(FailureKind::Render);
                    d.attempt = round.attempt;
                    d.outcome.error = Some(format!("could not render the email: {e}"));
                    broken.push(d);
                }
            }
        }
        emails.extend(broken.iter().map(|_| None));
        attempts.extend(broken.into_iter().map(|d| (d, EmailBody::default())));
        if !attempts.is_empty() {
            let taken = self
                .store
                .claim_round(submission.id, round.claim, &attempts)
                .await?;
            if taken.len() < attempts.len() {
                let mut kept = attempts.iter().map(|(d, _)| taken.contains(&d.kind));
                emails.retain(|_| kept.next().unwrap_or(false));
                for (d, _) in attempts.iter().filter(|(d, _)| !taken.contains(&d.kind)) {
                    info!(kind = %d.kind, "left alone: another round is sending it or sent it meanwhile");
                }
                attempts.retain(|(d, _)| taken.contains(&d.kind));
                if attempts.is_empty() {
                    return Ok(Vec::new());
                }
            }
        }
        // The bodies were written with the claim; the outcomes replace the records.
        let mut attempts: Vec<Delivery> = attempts.into_iter().map(|(d, _)| d).collect();
        let (at, batch): (Vec<usize>, Vec<Email>) = emails
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e?)))
            .unzip();
        for (i, outcome) in at.into_iter().zip(self.send(batch).await) {
            attempts[i].outcome = outcome;
        }
        for d in &attempts {
            match d.outcome.status {
                EmailStatus::Failed | EmailStatus::Unknown => {
                    warn!(kind = %d.kind, status = ?d.outcome.status, http_status = ?d.outcome.http_status, error = d.outcome.error.as_deref().unwrap_or(""), "email not delivered")
                }
                _ => {
                    info!(kind = %d.kind, status = ?d.outcome.status, duration_ms = d.outcome.duration_ms, "email")
                }
            }
        }
        let retries = if round.retry_failures {
            let number = match round.attempt {
                Attempt::AutomaticRetry(n) => n,
                _ => 1,
            };
            self.plan_retries(&attempts, number)
        } else {
            Vec::new()
        };
        let logged = self
            .store
            .record_round(submission.id, attempts, &retries)
            .await?;
        self.metrics.deliveries(&logged);
        for (due, job) in &retries {
            let wait_secs = due.saturating_sub(now_micros()) / 1_000_000;
            info!(kind = %job.kind, attempt = job.attempt, wait_secs, "retry scheduled");
        }
        Ok(logged)
    }

    /// The one Mailtrap round trip for `emails` (none skipped), on a blocking thread (ureq
    /// must never block the executor); one outcome per email, in order.
    async fn send(&self, emails: Vec<Email>) -> Vec<Outcome> {
        let n = emails.len();
        if n == 0 {
            return Vec::new();
        }
        let mailer = self.mailer.clone();
        let mut sent = spawn_blocking(move || mailer.send_batch(&emails))
            .await
            .unwrap_or_else(|e| {
                error!("mail thread failed: {e}");
                vec![
                    Outcome::failed(Failure::new(
                        FailureKind::Internal,
                        "internal error while sending"
                    ));
                    n
                ]
            });
        sent.resize_with(n, || {
            Outcome::failed(Failure::new(
                FailureKind::Internal,
                "no outcome for this email",
            ))
        });
        sent
    }

    /// The submission's files as attachments: where each is on disk (read while sending).
    fn attachments(&self, submission: &Submission) -> Result<Vec<Attachment>, StoreError> {
        let mut out = Vec::new();
        for f in &submission.files {
            if let Some((meta, path)) = self.store.file_on_disk(submission.id, &f.field)? {
                out.push(Attachment {
                    filename: meta.filename,
                    content_type: meta.content_type,
                    path,
                    size: meta.size,
                });
            }
        }
        Ok(out)
    }

    /// The retries a round of attempts needs (`attempt` was that round's number), each
    /// `(due micros, job)`, recorded with the round; says loudly what cannot be retried.
    fn plan_retries(&self, deliveries: &[Delivery], attempt: u32) -> Vec<(u64, RetryJob)> {
        let mut jobs = Vec::new();
        for d in deliveries {
            if let Some(
                kind @ FailureKind::Http {
                    status: 401 | 403, ..
                },
            ) = d.outcome.failure
            {
                let advice = crate::i18n::english().text(kind.advice_key());
                error!(kind = %d.kind, "emails will keep failing until this is fixed: {advice}");
            }
            match classify(d) {
                Some(Retry::Transient) if attempt < MAX_ATTEMPTS => {
                    let base = self.config.retry_base_secs.max(1);
                    let mut wait = base.saturating_mul(4u64.saturating_pow(attempt - 1));
                    if let Some(asked) = d.outcome.retry_after_secs {
                        wait = wait.max(asked.min(3600));
                    }
                    let job = RetryJob {
                        submission_id: d.submission_id,
                        kind: d.kind.clone(),
                        attempt: attempt + 1,
                        after: Some(d.id),
                    };
                    jobs.push((now_micros() + wait * 1_000_000, job));
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
        jobs
    }
}

/// The record of one attempt at `email`, and the email as rendered (kept apart).
fn attempt(email: &Email, outcome: Outcome, by: Attempt) -> (Delivery, EmailBody) {
    let to = email.to.as_ref().map(|m| m.email.to_string());
    let d = Delivery {
        outcome,
        attachments: email
            .attachments
            .iter()
            .map(|a| a.filename.clone())
            .collect(),
        to_visitor: email.to_visitor,
        attempt: by,
        ..Delivery::planned(&email.kind, to.as_deref(), &email.subject)
    };
    let body = EmailBody {
        text: email.text.clone(),
        html: email.html.clone(),
    };
    (d, body)
}

/// How a delivery may be retried: from its typed failure, never from its text; `None` for
/// one that did not fail.
pub fn classify(d: &Delivery) -> Option<Retry> {
    if !matches!(d.outcome.status, EmailStatus::Failed | EmailStatus::Unknown) {
        return None;
    }
    Some(
        d.outcome
            .failure
            .map_or(Retry::Ambiguous, FailureKind::retry),
    )
}

/// Now, in microseconds since the Unix epoch (the retry queue's clock).
pub fn now_micros() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0)
}

mod resend;

pub use resend::{Resend, Resent};

#[cfg(test)]
mod tests;
