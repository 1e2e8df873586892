//! One submission's way through the appliance after validation: stored and flushed first,
//! then its emails handed to the delivery round (`outbox`). The newsletter confirmation and
//! the admin's "test this form" start here too.

use std::net::IpAddr;

use time::Duration;
use tracing::{info, instrument, warn};

use crate::forms::{FieldKind, FormDef, FormKind, Trigger, Valid};
use crate::mail::EmailStatus;
use crate::outbox::{deliver, Round};
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
                deliver(app, def, submission, Some(&subscriber), round).await?;
            }
            None => warn!("confirmed subscriber's signup form is gone; no welcome email sent"),
        }
    }
    Ok(Some(subscriber))
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
    // A test's failures are shown to the owner at once, not retried behind their back.
    let round = Round {
        retry_failures: false,
        ..Round::SUBMIT
    };
    let deliveries = deliver(app, def, &submission, None, round).await?;
    Ok(Some(Accepted {
        submission,
        deliveries,
    }))
}

/// A one-page PDF, attached to test job applications.
const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
