//! Submissions and their delivery attempts, as the store keeps them (JSON in sled: readable
//! with any tool and easy to evolve, new fields get `#[serde(default)]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    DeliveryId, DeliveryState, EmailAddress, EmailStatus, FailureKind, InboxEvent, Outcome,
    SpamReason, SubmissionId, Upload,
};

/// A valid post on its way into the store.
#[derive(Debug)]
pub struct NewSubmission {
    pub form: String,
    pub reference_prefix: String,
    pub fields: BTreeMap<String, String>,
    pub uploads: Vec<Upload>,
    pub visitor_email: Option<EmailAddress>,
    pub spam: bool,
    /// A soft spam signal: stored with its files, emails held until the owner approves.
    pub review: Option<SpamReason>,
    pub subject: Option<String>,
    pub client_ip: Option<String>,
    /// Made from the admin panel's "test this form".
    pub test: bool,
    /// `_idem`, scoped to the form and bound to the content (see `store::idem`).
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: SubmissionId,
    pub form: String,
    /// What the visitor and the owner quote to each other: `Q-1042`.
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<StoredFile>,
    pub visitor_email: Option<EmailAddress>,
    /// Caught by a hard spam check (the honeypot): stored without files, never mailed.
    #[serde(default)]
    pub spam: bool,
    /// Caught by a soft spam check: waits for the owner's review, its emails held back.
    #[serde(default)]
    pub review: Option<SpamReason>,
    /// The submission this one corrects: same `_idem`, different fields (a back-button edit).
    #[serde(default)]
    pub edit_of: Option<SubmissionId>,
    /// Where its emails stand: the one rule ([`Ledger::state`](super::Ledger::state)) over its whole delivery log,
    /// its hold and its queued retries, as the store last settled it. Records written before
    /// the rule carry the words of the outcome they summarised, all of which still read.
    pub email_status: DeliveryState,
    /// Formspree's `_subject` for the owner's notification.
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub client_ip: Option<String>,
    /// Where the owner has got with it, one of its form's `statuses` (`new` at first).
    #[serde(default = "new_status")]
    pub status: String,
    /// The owner's private notes, oldest first.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Made by the admin panel's "test this form": kept out of lists and exports by default.
    #[serde(default)]
    pub test: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub text: String,
}

fn new_status() -> String {
    "new".into()
}

/// What describes an upload; the content is a file of its own (`store::files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFile {
    pub field: String,
    pub filename: String,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content (empty in records older than schema 3, until
    /// their migration).
    #[serde(default)]
    pub sha256: String,
    /// Relative to the data dir: `files/<submission id>/<n>`.
    #[serde(default)]
    pub path: String,
}

impl NewSubmission {
    /// A plain submission of `form`, its references `<reference_prefix>-<n>`, with these
    /// fields: no files, no visitor address, neither spam nor held for review, not a test.
    /// The rest is set field by field (`NewSubmission { test: true, ..NewSubmission::new(…) }`).
    pub fn new<K, V>(
        form: &str,
        reference_prefix: &str,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> NewSubmission
    where
        K: Into<String>,
        V: Into<String>,
    {
        NewSubmission {
            form: form.into(),
            reference_prefix: reference_prefix.into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            uploads: Vec::new(),
            visitor_email: None,
            spam: false,
            review: None,
            subject: None,
            client_ip: None,
            test: false,
            idempotency_key: None,
        }
    }

    /// [`NewSubmission::new`] from pairs: the fixture of the unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(form: &str, prefix: &str, fields: &[(&str, &str)]) -> NewSubmission {
        NewSubmission::new(form, prefix, fields.iter().copied())
    }

    /// The record without its files, and the uploads still to be moved in (`Files::put`).
    /// `email_status` is what the ledger says of a log with no attempt yet.
    pub(crate) fn into_record(
        self,
        id: SubmissionId,
        reference: String,
        email_status: DeliveryState,
    ) -> (Submission, Vec<Upload>) {
        let submission = Submission {
            id,
            form: self.form,
            reference,
            created_at: OffsetDateTime::now_utc(),
            fields: self.fields,
            files: Vec::new(),
            visitor_email: self.visitor_email,
            spam: self.spam,
            review: self.review,
            edit_of: None,
            email_status,
            subject: self.subject,
            client_ip: self.client_ip,
            status: new_status(),
            notes: Vec::new(),
            test: self.test,
        };
        (submission, self.uploads)
    }
}

/// What an attempt was, as the admin panel labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attempt {
    /// Sent when the visitor posted (or confirmed their subscription).
    #[default]
    FirstTry,
    /// The retry queue's attempt number `n` (the first try was 1).
    AutomaticRetry(u32),
    /// The owner's Resend.
    ResentByOwner,
    /// Held for review, then sent by the owner's "Not spam — send the emails".
    ApprovedByOwner,
}

/// One attempt to deliver one email, as the delivery log shows it. The email itself (its
/// rendered text and HTML) is kept apart, as an [`EmailBody`]: the lists, the dashboard and
/// `/healthz` read many attempts and show no body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub submission_id: SubmissionId,
    /// `admin`, `confirmation`, `optin`, …
    pub kind: String,
    /// Went to the visitor rather than the owner.
    #[serde(default)]
    pub to_visitor: bool,
    pub to: Option<String>,
    pub subject: String,
    /// What became of the attempt (its fields sit at the record's top level).
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(default)]
    pub attempt: Attempt,
    #[serde(default)]
    pub attachments: Vec<String>,
    /// What Mailtrap's webhooks last reported after accepting it (`store::events`).
    #[serde(default)]
    pub inbox: Option<InboxEvent>,
}

impl Delivery {
    /// Whether the attempt is still with Mailtrap: written (`pending`) before the request went
    /// out, its outcome not recorded yet.
    pub fn in_flight(&self) -> bool {
        self.outcome.status == EmailStatus::Pending
    }

    /// An attempt whose outcome was never recorded because the server stopped while Mailtrap
    /// had the request: it may have arrived, so it is `unknown` (never resent
    /// automatically), or `sent` if Mailtrap already reported its delivery.
    pub fn interrupted(&mut self) {
        let failure = FailureKind::Interrupted;
        self.outcome.status = failure.status();
        self.outcome.failure = Some(failure);
        self.outcome.error = Some(
            "the server stopped before Mailtrap's answer was recorded: it may have been delivered"
                .into(),
        );
        if let Some(event) = self.inbox.clone() {
            self.apply(&event);
        }
    }

    /// An attempt not yet made; ids are assigned when it is recorded.
    pub fn planned(kind: &str, to: Option<&str>, subject: &str) -> Delivery {
        Delivery {
            id: DeliveryId(0),
            submission_id: SubmissionId(0),
            kind: kind.into(),
            to_visitor: false,
            to: to.map(str::to_string),
            subject: subject.into(),
            outcome: Outcome {
                status: EmailStatus::Pending,
                http_status: None,
                message_ids: Vec::new(),
                error: None,
                failure: None,
                started_at: OffsetDateTime::now_utc(),
                duration_ms: 0,
                retry_after_secs: None,
            },
            attempt: Attempt::FirstTry,
            attachments: Vec::new(),
            inbox: None,
        }
    }
}

/// An attempt's email as it was (or would have been) sent, for the owner's preview: kept by
/// the store under its delivery's id, written with the delivery record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailBody {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub html: String,
}

impl EmailBody {
    /// Neither text nor HTML: nothing was rendered (a template that failed), nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.html.is_empty()
    }
}
