//! One submission's way through the appliance after validation: stored, then its emails
//! handed to the delivery round (`outbox`), whose claim of them flushes the submission too,
//! before anything is sent. The newsletter confirmation and the admin's "test this form"
//! start here too.

use std::net::IpAddr;
use std::sync::Arc;

use time::Duration;
use tracing::{info, instrument, warn};

use crate::forms::{FieldKind, FieldRole, FormDef, FormKind, Trigger, Valid};
use crate::model::{
    Attempt, Delivery, DeliveryState, EmailStatus, Ledger, NewSubmission, Submission, Subscriber,
    Verdict,
};

use crate::config::AppConfig;
use crate::forms::Forms;
use crate::metrics::Metrics;
use crate::outbox::{Outbox, Round};
use crate::store::{Signup, Store, StoreError};

/// A pending subscriber who signs up again within this window gets no second opt-in email.
const OPTIN_RESEND_AFTER: Duration = Duration::hours(1);

/// A stored submission and what happened to its emails.
#[derive(Debug)]
pub struct Accepted {
    /// The record as stored after its delivery round: its state settled.
    pub submission: Submission,
    /// The round's attempts.
    pub deliveries: Vec<Delivery>,
    /// The kinds of its emails with an automatic retry queued.
    pub retrying: Vec<String>,
}

impl Accepted {
    /// The round's attempts as the ledger reads them: held with the submission, `retrying`
    /// while a retry is queued.
    pub fn ledger(&self) -> Ledger<'_> {
        let s = &self.submission;
        Ledger::new(&self.deliveries)
            .held(s.spam || s.review.is_some())
            .retries_queued(self.retrying.iter().map(|kind| (s.id, kind.as_str())))
    }

    /// Where the email to the visitor stands, if the form sends one: the state of the
    /// attempt that went to the visitor (the record says which), else (not attempted) what
    /// the ledger says of an empty log, held or skipped.
    pub fn visitor_state(&self, def: &FormDef) -> Option<DeliveryState> {
        let ledger = self.ledger();
        match self.deliveries.iter().find(|d| d.to_visitor) {
            Some(d) => Some(ledger.email_state(d)),
            None => def
                .emails_on(Trigger::Submit)
                .any(|e| e.to_visitor())
                .then(|| {
                    let s = &self.submission;
                    Ledger::new(&[]).held(s.spam || s.review.is_some()).state()
                }),
        }
    }
}

/// The intake service: stores what a visitor (or the owner's test) sends and hands it to
/// the delivery round. Cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct Intake {
    store: Store,
    forms: Forms,
    config: Arc<AppConfig>,
    metrics: Arc<Metrics>,
    outbox: Outbox,
}

impl Intake {
    pub fn new(
        config: Arc<AppConfig>,
        store: Store,
        forms: Forms,
        metrics: Arc<Metrics>,
        outbox: Outbox,
    ) -> Intake {
        Intake {
            store,
            forms,
            config,
            metrics,
            outbox,
        }
    }

    /// Stores a valid post, then sends its emails unless the verdict says otherwise (the
    /// submission is flushed with the claim of its emails, before any is sent): spam is
    /// stored without files and mails nothing; a post under review is stored with its files
    /// and its emails wait for `approve`. A repeated
    /// post (same `_idem`, same fields) is answered with the first submission, mailing nothing.
    #[instrument(skip_all, fields(form = slug))]
    pub async fn accept(
        &self,
        slug: &str,
        def: &FormDef,
        valid: Valid,
        verdict: Verdict,
        client_ip: Option<IpAddr>,
    ) -> Result<Accepted, StoreError> {
        let hard = verdict.is_spam();
        let new = NewSubmission {
            form: slug.to_string(),
            reference_prefix: def.reference_prefix.clone(),
            spam: hard,
            review: verdict.review(),
            fields: valid.fields,
            // Spam keeps no files; a submission held for review keeps them for its approval.
            uploads: if hard { Vec::new() } else { valid.uploads },
            visitor_email: valid.visitor_email,
            subject: valid.subject,
            client_ip: client_ip.map(|ip| ip.to_string()),
            test: false,
            idempotency_key: valid.idempotency_key,
        };
        // Flushed with its emails' claim, before they are sent: one fsync for both. Only
        // what sends nothing flushes on its own.
        let submission = match self.store.insert_submission_unflushed(new).await {
            Err(StoreError::Duplicate(first)) => {
                // `Duplicate` only names a submission the store has just seen; should it vanish in
                // between (a concurrent delete), the answer is an error, not someone else's.
                let submission = self
                    .store
                    .submission(first)?
                    .ok_or(StoreError::Duplicate(first))?;
                info!(submission_id = %first, "repeated post answered with its first submission");
                let deliveries = self.store.deliveries_of(first)?;
                return self.accepted(submission, deliveries);
            }
            other => other?,
        };
        info!(submission_id = %submission.id, reference = %submission.reference, spam = submission.spam,
              review = ?submission.review, edit_of = ?submission.edit_of, "stored");
        self.metrics.submission(&submission);
        if submission.spam || submission.review.is_some() {
            self.store.flush().await?;
            return Ok(Accepted {
                submission,
                deliveries: Vec::new(),
                retrying: Vec::new(),
            });
        }
        let deliveries = self
            .send_submit_emails(def, &submission, client_ip, Attempt::FirstTry)
            .await?;
        self.accepted(submission, deliveries)
    }

    /// What became of a stored submission after its round: the record as stored now (its
    /// state settled by the round) and the kinds of its emails queued for a retry.
    fn accepted(
        &self,
        submission: Submission,
        deliveries: Vec<Delivery>,
    ) -> Result<Accepted, StoreError> {
        let id = submission.id;
        let submission = self.store.submission(id)?.unwrap_or(submission);
        let retrying = self.store.queued_kinds(id)?;
        Ok(Accepted {
            submission,
            deliveries,
            retrying,
        })
    }

    /// The emails a stored submission sends on arrival: the newsletter sign-up, the daily caps
    /// on visitor emails (counted in the store), one delivery round, the retry queue. Used by a
    /// visitor's post and by the owner's approval of a submission held for review.
    pub async fn send_submit_emails(
        &self,
        def: &FormDef,
        submission: &Submission,
        client_ip: Option<IpAddr>,
        attempt: Attempt,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (subscriber, skip) = match (def.kind, &submission.visitor_email) {
            (FormKind::Newsletter, Some(email)) => {
                let name = def.value(FieldRole::Name, &submission.fields);
                let (sub, signup) = self
                    .store
                    .subscribe(email, name, submission.id, OPTIN_RESEND_AFTER)
                    .await?;
                let skip = match signup {
                    Signup::New | Signup::Resend => None,
                    Signup::RecentlySent => {
                        Some("an opt-in email was sent to this address recently")
                    }
                    Signup::AlreadyConfirmed => Some("this address is already subscribed"),
                };
                (Some(sub), skip)
            }
            _ => (None, None),
        };
        let capped = match (&submission.visitor_email, skip) {
            (Some(email), None) if def.emails_on(Trigger::Submit).any(|e| e.to_visitor()) => {
                let limits = self.config.confirmation_caps();
                let now = time::OffsetDateTime::now_utc();
                self.store
                    .count_confirmation(email, client_ip, limits, now)?
                    .err()
            }
            _ => None,
        };
        if let Some(reason) = capped {
            warn!(submission_id = %submission.id, reason, "visitor email capped");
        }
        let round = Round {
            skip,
            skip_visitor: capped,
            attempt,
            ..Round::SUBMIT
        };
        let deliveries = self
            .outbox
            .deliver(def, submission, subscriber.as_ref(), round)
            .await?;
        if let Some(sub) = &subscriber {
            if skip.is_none()
                && deliveries
                    .iter()
                    .any(|d| d.outcome.status != EmailStatus::Sent)
            {
                // Let the visitor ask again at once instead of waiting out the resend window.
                self.store.forget_optin(&sub.email).await?;
            }
        }
        Ok(deliveries)
    }

    /// The owner's "Not spam — send the emails": clears the flag and sends what was held back,
    /// through the same path as a visitor's post. `None` when the submission is gone.
    pub async fn approve(
        &self,
        id: crate::model::SubmissionId,
    ) -> Result<Option<(Submission, Vec<Delivery>)>, StoreError> {
        let Some(before) = self.store.submission(id)? else {
            return Ok(None);
        };
        if before.review.is_none() && !before.spam {
            return Ok(Some((before, Vec::new())));
        }
        let Some(submission) = self.store.approve_submission(id).await? else {
            return Ok(None);
        };
        info!(submission_id = %id, reference = %submission.reference, "approved by the owner");
        let Some(def) = self.forms.get(&submission.form) else {
            return Ok(Some((submission, Vec::new())));
        };
        let client_ip = submission
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok());
        let deliveries = self
            .send_submit_emails(def, &submission, client_ip, Attempt::ApprovedByOwner)
            .await?;
        Ok(Some((submission, deliveries)))
    }

    /// Confirms a newsletter subscriber and, the first time, sends the welcome and the notice.
    pub async fn confirm_subscription(
        &self,
        token: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let Some((subscriber, newly)) = self.store.confirm_subscriber(token).await? else {
            return Ok(None);
        };
        if newly {
            let signup = self.store.submission(subscriber.submission_id)?;
            let form = signup
                .as_ref()
                .and_then(|s| Some((s, self.forms.get(&s.form)?)));
            match form {
                Some((submission, def)) => {
                    let round = Round {
                        trigger: Trigger::Confirm,
                        ..Round::SUBMIT
                    };
                    self.outbox
                        .deliver(def, submission, Some(&subscriber), round)
                        .await?;
                }
                None => warn!("confirmed subscriber's signup form is gone; no welcome email sent"),
            }
        }
        Ok(Some(subscriber))
    }

    /// The admin's "test this form": a submission marked as a test, filled with sample values,
    /// whose real emails go out (the visitor's to the owner's own address).
    pub async fn test_submission(&self, slug: &str) -> Result<Option<Accepted>, StoreError> {
        let Some(def) = self.forms.get(slug) else {
            return Ok(None);
        };
        let visitor = self
            .config
            .admin_email
            .clone()
            .or_else(|| crate::model::EmailAddress::parse("test@example.com").ok());
        let fields = def
            .fields
            .iter()
            .filter_map(|f| {
                let value = match f.kind {
                    FieldKind::Email => visitor.as_ref()?.to_string(),
                    FieldKind::Select => f.options.first()?.clone(),
                    FieldKind::Checkbox => "yes".into(),
                    FieldKind::File => return None,
                    FieldKind::Tel => "+255 700 000 000".into(),
                    FieldKind::Url => "https://example.com".into(),
                    FieldKind::Textarea => "A test submission from the admin panel.".into(),
                    FieldKind::Text => format!("Test {}", f.label),
                };
                Some((f.name.clone(), value))
            })
            .collect();
        let mut uploads = Vec::new();
        for f in def.fields.iter().filter(|f| f.kind == FieldKind::File) {
            let Some(&file_type) = f.accept.first() else {
                continue;
            };
            let tmp = crate::forms::temp::dir(&self.config.data_dir);
            uploads.push(crate::model::Upload {
                field: f.name.clone(),
                filename: format!("test.{}", file_type.extension()),
                file_type,
                file: crate::forms::temp::from_bytes(&tmp, SAMPLE_PDF).await?,
            });
        }
        let new = NewSubmission {
            form: slug.to_string(),
            reference_prefix: def.reference_prefix.clone(),
            fields,
            uploads,
            visitor_email: visitor,
            spam: false,
            review: None,
            subject: None,
            client_ip: None,
            test: true,
            idempotency_key: None,
        };
        let submission = self.store.insert_submission(new).await?;
        // A test's failures are shown to the owner at once, not retried behind their back.
        let round = Round {
            retry_failures: false,
            ..Round::SUBMIT
        };
        let deliveries = self.outbox.deliver(def, &submission, None, round).await?;
        self.accepted(submission, deliveries).map(Some)
    }
}

/// A one-page PDF, attached to test job applications.
const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
