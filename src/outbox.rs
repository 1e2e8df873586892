//! One delivery round, the one way every email leaves: render → one Mailtrap request on a
//! blocking thread → record every attempt → queue transient failures for retry → count.
//! The visitor's post, the newsletter confirmation, the retry queue, the owner's resend and
//! approval and "test this form" all call [`deliver`]; whether a caller's failures are
//! retried is its [`Round`]'s explicit `retry_failures`.

use std::collections::BTreeMap;

use rocket::tokio::task::spawn_blocking;
use time::OffsetDateTime;
use tracing::{error, info, instrument, warn};

use crate::forms::{FormDef, FormKind, Trigger};
use crate::mail::{self, Attachment, Email, MailContext};
use crate::model::{
    Attempt, Delivery, EmailBody, EmailStatus, Failure, FailureKind, Ledger, Outcome, Retry,
    Submission, Subscriber, SubscriberState,
};
use std::sync::Arc;

use crate::config::AppConfig;
use crate::forms::Forms;
use crate::mail::Mailtrap;
use crate::metrics::Metrics;
use crate::store::{RetryJob, Store, StoreError};
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

    /// Renders the form's emails for the round, sends them in one round trip (unless `skip`
    /// says why not), and logs every attempt (the store settles the submission's state).
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
        let mut emails = Vec::new();
        let mut broken = Vec::new();
        let wanted = def
            .emails_on(round.trigger)
            .filter(|e| round.only.is_none_or(|kinds| kinds.contains(&e.kind)));
        for email_def in wanted {
            match mail::render(&self.templates, &self.config, email_def, &mc) {
                Ok(mut email) => {
                    let id = self.store.new_delivery_id();
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
                    emails.push((id, email));
                }
                Err(e) => {
                    error!(kind = %email_def.kind, "{e}");
                    let mut d = Delivery::planned(&email_def.kind, None, "");
                    d.outcome.status = EmailStatus::Failed;
                    d.outcome.failure = Some(FailureKind::Render);
                    d.attempt = round.attempt;
                    d.outcome.error = Some(format!("could not render the email: {e}"));
                    broken.push(d);
                }
            }
        }
        let (ids, emails): (Vec<_>, Vec<_>) = emails.into_iter().unzip();
        let outcomes = self.send(&emails, |e| round.skip_reason(e)).await;
        let mut attempts: Vec<(Delivery, EmailBody)> = emails
            .into_iter()
            .zip(outcomes)
            .zip(ids)
            .map(|((email, outcome), id)| {
                let (d, body) = attempt(email, outcome, round.attempt);
                (Delivery { id, ..d }, body)
            })
            .collect();
        attempts.extend(broken.into_iter().map(|d| (d, EmailBody::default())));
        for (d, _) in &attempts {
            match d.outcome.status {
                EmailStatus::Failed | EmailStatus::Unknown => {
                    warn!(kind = %d.kind, status = ?d.outcome.status, http_status = ?d.outcome.http_status, error = d.outcome.error.as_deref().unwrap_or(""), "email not delivered")
                }
                _ => {
                    info!(kind = %d.kind, status = ?d.outcome.status, duration_ms = d.outcome.duration_ms, "email")
                }
            }
        }
        let logged = self
            .store
            .record_deliveries(submission.id, attempts)
            .await?;
        self.metrics.deliveries(&logged);
        if round.retry_failures {
            let number = match round.attempt {
                Attempt::AutomaticRetry(n) => n,
                _ => 1,
            };
            self.schedule_retries(&logged, number).await?;
        }
        Ok(logged)
    }

    /// The one Mailtrap round trip for every email not skipped, on a blocking thread (ureq must
    /// never block the executor); one outcome per email, in order.
    async fn send<'a>(
        &self,
        emails: &'a [Email],
        skip: impl Fn(&'a Email) -> Option<&'a str>,
    ) -> Vec<Outcome> {
        let batch: Vec<Email> = emails
            .iter()
            .filter(|e| skip(e).is_none())
            .cloned()
            .collect();
        let mut sent = if batch.is_empty() {
            Vec::new()
        } else {
            let mailer = self.mailer.clone();
            let n = batch.len();
            spawn_blocking(move || mailer.send_batch(&batch))
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
                })
        }
        .into_iter();
        emails
            .iter()
            .map(|e| match skip(e) {
                Some(reason) => Outcome::skipped(reason),
                None => sent.next().unwrap_or_else(|| {
                    Outcome::failed(Failure::new(
                        FailureKind::Internal,
                        "no outcome for this email",
                    ))
                }),
            })
            .collect()
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

    /// Queues what can be retried after a round of attempts (`attempt` was that round's number)
    /// and says loudly what cannot.
    async fn schedule_retries(
        &self,
        deliveries: &[Delivery],
        attempt: u32,
    ) -> Result<(), StoreError> {
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
                    };
                    self.store
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

    /// The owner's resend (and approval, and a queued retry): the chosen emails again, as new,
    /// logged attempts labelled `attempt`. A queued retry of the same emails is taken off the
    /// queue first: a resend takes its place, never both. A newsletter signup resends its
    /// opt-in, or its welcome and notice once confirmed.
    pub async fn resend(
        &self,
        submission: &Submission,
        which: Resend<'_>,
        attempt: Attempt,
    ) -> Result<Vec<Delivery>, StoreError> {
        let Some(def) = self.forms.get(&submission.form) else {
            return Ok(Vec::new());
        };
        let subscriber = match &submission.visitor_email {
            Some(email) if def.kind == FormKind::Newsletter => self.store.subscriber(email)?,
            _ => None,
        };
        let confirmed = subscriber
            .as_ref()
            .is_some_and(|s| s.state == SubscriberState::Confirmed);
        let kinds: Vec<String> = match which {
            Resend::Kind(kind) => vec![kind.to_string()],
            Resend::All => {
                let trigger = if confirmed {
                    Trigger::Confirm
                } else {
                    Trigger::Submit
                };
                def.emails_on(trigger).map(|e| e.kind.clone()).collect()
            }
            Resend::Failed => Ledger::new(&self.store.deliveries_of(submission.id)?)
                .latest()
                .into_iter()
                .filter(|d| d.outcome.status == EmailStatus::Failed)
                .map(|d| d.kind.clone())
                .collect(),
        };
        if !matches!(attempt, Attempt::AutomaticRetry(_)) {
            let cancelled = self.store.cancel_retries(submission.id, &kinds).await?;
            if cancelled > 0 {
                info!(submission_id = %submission.id, cancelled, "queued retries replaced by the owner's resend");
            }
        }
        // One round per trigger: an opt-in goes on submit, a welcome on confirmation.
        let mut by_trigger: BTreeMap<Trigger, Vec<String>> = BTreeMap::new();
        for kind in kinds {
            let Some(e) = def.emails.iter().find(|e| e.kind == kind) else {
                continue;
            };
            by_trigger.entry(e.when).or_default().push(kind);
        }
        let mut out = Vec::new();
        for (trigger, kinds) in by_trigger {
            let round = Round {
                trigger,
                only: Some(&kinds),
                attempt,
                ..Round::SUBMIT
            };
            out.extend(
                self.deliver(def, submission, subscriber.as_ref(), round)
                    .await?,
            );
        }
        Ok(out)
    }
}

/// The record of one attempt at `email`, and the email as rendered (kept apart).
fn attempt(email: Email, outcome: Outcome, by: Attempt) -> (Delivery, EmailBody) {
    let to = email.to.as_ref().map(|m| m.email.to_string());
    let d = Delivery {
        outcome,
        attachments: email.attachments.into_iter().map(|a| a.filename).collect(),
        to_visitor: email.to_visitor,
        attempt: by,
        ..Delivery::planned(&email.kind, to.as_deref(), &email.subject)
    };
    let body = EmailBody {
        text: email.text,
        html: email.html,
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

/// Which of a submission's emails the owner's resend sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend<'a> {
    /// Those whose latest attempt failed (the default: never what already arrived).
    Failed,
    /// Every email of the submission again.
    All,
    /// The email of this kind, whatever its latest attempt did.
    Kind(&'a str),
}

#[cfg(test)]
mod tests;
