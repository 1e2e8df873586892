//! One submission's way through the appliance after validation: stored and flushed first,
//! then its emails rendered and sent in one Mailtrap round trip, then every attempt logged.
//! The admin panel's resend and the newsletter confirmation use the same `deliver`.

use std::net::IpAddr;

use rocket::tokio::task::spawn_blocking;
use time::Duration;
use tracing::{error, info, instrument, warn};

use crate::forms::{FieldKind, FormDef, FormKind, Trigger, Valid};
use crate::mail::{
    self, Attachment, Email, EmailStatus, Failure, FailureKind, MailContext, Outcome,
};
use crate::store::{Delivery, NewSubmission, Signup, StoreError, Submission, Subscriber};
use crate::App;

/// A pending subscriber who signs up again within this window gets no second opt-in email.
const OPTIN_RESEND_AFTER: Duration = Duration::hours(1);

/// A stored submission and what happened to its emails.
#[derive(Debug)]
pub struct Accepted {
    pub submission: Submission,
    pub deliveries: Vec<Delivery>,
}

impl Accepted {
    /// Outcome of the email that went to the visitor, if the form sends one.
    pub fn visitor_status(&self, def: &FormDef) -> Option<EmailStatus> {
        let kind = &def
            .emails_on(Trigger::Submit)
            .find(|e| e.to_visitor())?
            .kind;
        let d = self.deliveries.iter().find(|d| &d.kind == kind);
        Some(d.map_or(EmailStatus::Skipped, |d| d.status))
    }
}

/// Stores a valid post (flushed), then sends its emails unless it is spam. A repeated post
/// (same one-time form token) is answered with the first submission, mailing nothing.
#[instrument(skip_all, fields(form = slug))]
pub async fn accept(
    app: &App,
    slug: &str,
    def: &FormDef,
    valid: Valid,
    spam: bool,
    client_ip: Option<IpAddr>,
) -> Result<Accepted, StoreError> {
    let new = NewSubmission {
        form: slug.to_string(),
        reference_prefix: def.reference_prefix.clone(),
        spam,
        fields: valid.fields,
        uploads: valid.uploads,
        visitor_email: valid.visitor_email,
        subject: valid.subject,
        client_ip: client_ip.map(|ip| ip.to_string()),
        test: false,
        idempotency_key: valid.idempotency_key,
    };
    let submission = match app.store.insert_submission(new).await {
        Err(StoreError::Duplicate(first)) => {
            let submission = app
                .store
                .submission(first)?
                .ok_or(StoreError::Duplicate(first))?;
            info!(submission_id = %first, "repeated post answered with its first submission");
            let deliveries = app.store.deliveries_of(first)?;
            return Ok(Accepted {
                submission,
                deliveries,
            });
        }
        other => other?,
    };
    info!(submission_id = %submission.id, reference = %submission.reference, spam = submission.spam, "stored");
    app.metrics.submission(&submission);
    if submission.spam {
        return Ok(Accepted {
            submission,
            deliveries: Vec::new(),
        });
    }
    let (subscriber, skip) = match (def.kind, &submission.visitor_email) {
        (FormKind::Newsletter, Some(email)) => {
            let name = submission.fields.get("name").map(String::as_str);
            let (sub, signup) = app
                .store
                .subscribe(email, name, submission.id, OPTIN_RESEND_AFTER)
                .await?;
            let skip = match signup {
                Signup::New | Signup::Resend => None,
                Signup::RecentlySent => Some("an opt-in email was sent to this address recently"),
                Signup::AlreadyConfirmed => Some("this address is already subscribed"),
            };
            (Some(sub), skip)
        }
        _ => (None, None),
    };
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    let capped = match (&submission.visitor_email, skip) {
        (Some(email), None) if def.emails_on(Trigger::Submit).any(|e| e.to_visitor()) => app
            .confirmation_caps
            .allow(email.as_str(), client_ip, now)
            .err(),
        _ => None,
    };
    let round = Round {
        skip,
        skip_visitor: capped,
        ..Round::SUBMIT
    };
    let deliveries = deliver(app, def, &submission, subscriber.as_ref(), round).await?;
    crate::retry::after_delivery(app, &deliveries, 1).await?;
    if let Some(sub) = &subscriber {
        if skip.is_none() && deliveries.iter().any(|d| d.status != EmailStatus::Sent) {
            // Let the visitor ask again at once instead of waiting out the resend window.
            app.store.forget_optin(&sub.email).await?;
        }
    }
    Ok(Accepted {
        submission,
        deliveries,
    })
}

/// Which of a form's emails one delivery round sends.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    pub trigger: Trigger,
    /// Only the email of this kind (a resend of one email).
    pub only: Option<&'a str>,
    /// Render and log, but do not send, for this reason.
    pub skip: Option<&'a str>,
    /// Do not send the visitor's emails, for this reason (the owner's still go).
    pub skip_visitor: Option<&'a str>,
}

impl Round<'_> {
    pub const SUBMIT: Round<'static> = Round {
        trigger: Trigger::Submit,
        only: None,
        skip: None,
        skip_visitor: None,
    };

    fn skip_reason(&self, email: &Email) -> Option<&str> {
        self.skip.or(self.skip_visitor.filter(|_| email.to_visitor))
    }
}

/// Renders the form's emails for the round, sends them in one round trip (unless `skip`
/// says why not), and logs every attempt with the submission's new status.
#[instrument(skip_all, fields(submission_id = %submission.id))]
pub async fn deliver(
    app: &App,
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
        files: attachments(app, submission)?,
        public_base: app.public_base.clone(),
    };
    let mut emails = Vec::new();
    let mut broken = Vec::new();
    let wanted = def
        .emails_on(round.trigger)
        .filter(|e| round.only.is_none_or(|kind| kind == e.kind));
    for email_def in wanted {
        match mail::render(&app.templates, &app.config, email_def, &mc) {
            Ok(email) => emails.push(email),
            Err(e) => {
                error!(kind = %email_def.kind, "{e}");
                let mut d = Delivery::planned(&email_def.kind, None, "");
                d.status = EmailStatus::Failed;
                d.failure = Some(FailureKind::Render);
                d.error = Some(format!("could not render the email: {e}"));
                broken.push(d);
            }
        }
    }
    let outcomes = send(app, &emails, |e| round.skip_reason(e)).await;
    let mut attempts: Vec<Delivery> = emails
        .into_iter()
        .zip(outcomes)
        .map(|(email, outcome)| attempt(email, outcome))
        .collect();
    attempts.extend(broken);
    for d in &attempts {
        match d.status {
            EmailStatus::Failed | EmailStatus::Unknown => {
                warn!(kind = %d.kind, status = ?d.status, http_status = ?d.http_status, error = d.error.as_deref().unwrap_or(""), "email not delivered")
            }
            _ => info!(kind = %d.kind, status = ?d.status, duration_ms = d.duration_ms, "email"),
        }
    }
    let status = EmailStatus::summarize(attempts.iter().map(|d| d.status));
    let logged = app
        .store
        .record_deliveries(submission.id, attempts, status)
        .await?;
    app.metrics.deliveries(&logged);
    Ok(logged)
}

/// The one Mailtrap round trip for every email not skipped, on a blocking thread (ureq must
/// never block the executor); one outcome per email, in order.
async fn send<'a>(
    app: &App,
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
        let mailer = app.mailer.clone();
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

fn attachments(app: &App, submission: &Submission) -> Result<Vec<Attachment>, StoreError> {
    let mut out = Vec::new();
    for f in &submission.files {
        if let Some(bytes) = app.store.file(submission.id, &f.field)? {
            out.push(Attachment {
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                bytes: bytes.into(),
            });
        }
    }
    Ok(out)
}

fn attempt(email: Email, o: Outcome) -> Delivery {
    let to = email.to.as_ref().map(|m| m.email.to_string());
    Delivery {
        started_at: o.started_at,
        duration_ms: o.duration_ms,
        status: o.status,
        http_status: o.http_status,
        message_ids: o.message_ids,
        error: o.error,
        failure: o.failure,
        retry_after_secs: o.retry_after_secs,
        text: email.text,
        html: email.html,
        attachments: email.attachments.into_iter().map(|a| a.filename).collect(),
        to_visitor: email.to_visitor,
        ..Delivery::planned(&email.kind, to.as_deref(), &email.subject)
    }
}

/// Confirms a newsletter subscriber and, the first time, sends the welcome and the notice.
pub async fn confirm_subscription(
    app: &App,
    token: &str,
) -> Result<Option<Subscriber>, StoreError> {
    let Some((subscriber, newly)) = app.store.confirm_subscriber(token).await? else {
        return Ok(None);
    };
    if newly {
        let signup = app.store.submission(subscriber.submission_id)?;
        let form = signup
            .as_ref()
            .and_then(|s| Some((s, app.forms.get(&s.form)?)));
        match form {
            Some((submission, def)) => {
                let round = Round {
                    trigger: Trigger::Confirm,
                    ..Round::SUBMIT
                };
                let deliveries = deliver(app, def, submission, Some(&subscriber), round).await?;
                crate::retry::after_delivery(app, &deliveries, 1).await?;
            }
            None => warn!("confirmed subscriber's signup form is gone; no welcome email sent"),
        }
    }
    Ok(Some(subscriber))
}

/// The admin's resend: the submission's emails (or the one of `kind`) again, as a new,
/// logged attempt. A newsletter signup resends its opt-in, or its welcome once confirmed.
pub async fn resend(
    app: &App,
    submission: &Submission,
    kind: Option<&str>,
) -> Result<Vec<Delivery>, StoreError> {
    let Some(def) = app.forms.get(&submission.form) else {
        return Ok(Vec::new());
    };
    let subscriber = match &submission.visitor_email {
        Some(email) if def.kind == FormKind::Newsletter => app.store.subscriber(email)?,
        _ => None,
    };
    let trigger = match &subscriber {
        Some(s) if s.state == crate::store::SubscriberState::Confirmed && kind.is_none() => {
            Trigger::Confirm
        }
        _ => Trigger::Submit,
    };
    let trigger = kind
        .and_then(|k| def.emails.iter().find(|e| e.kind == k))
        .map_or(trigger, |e| e.when);
    let round = Round {
        trigger,
        only: kind,
        ..Round::SUBMIT
    };
    deliver(app, def, submission, subscriber.as_ref(), round).await
}

/// The admin's "test this form": a submission marked as a test, filled with sample values,
/// whose real emails go out (the visitor's to the owner's own address).
pub async fn test_submission(app: &App, slug: &str) -> Result<Option<Accepted>, StoreError> {
    let Some(def) = app.forms.get(slug) else {
        return Ok(None);
    };
    let visitor = app
        .config
        .admin_email
        .clone()
        .or_else(|| crate::config::EmailAddress::parse("test@example.com").ok());
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
    let uploads = def
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::File)
        .filter_map(|f| {
            let file_type = *f.accept.first()?;
            Some(crate::forms::Upload {
                field: f.name.clone(),
                filename: format!("test.{}", file_type.extension()),
                file_type,
                bytes: SAMPLE_PDF.to_vec(),
            })
        })
        .collect();
    let new = NewSubmission {
        form: slug.to_string(),
        reference_prefix: def.reference_prefix.clone(),
        fields,
        uploads,
        visitor_email: visitor,
        spam: false,
        subject: None,
        client_ip: None,
        test: true,
        idempotency_key: None,
    };
    let submission = app.store.insert_submission(new).await?;
    let deliveries = deliver(app, def, &submission, None, Round::SUBMIT).await?;
    Ok(Some(Accepted {
        submission,
        deliveries,
    }))
}

/// A one-page PDF, attached to test job applications.
const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
