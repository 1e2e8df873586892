//! What became of one email: its status, and the outcome of one attempt to send it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::failure::{Failure, FailureKind};

/// Where an email stands; also the summary status of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailStatus {
    /// Stored, emails not yet attempted; on an attempt, written before its request went out
    /// and not yet given its outcome (in flight).
    Pending,
    Sent,
    Failed,
    /// Not sent on purpose: no token, no recipient configured, spam, or nothing to send.
    Skipped,
    /// May have been delivered: the request reached Mailtrap (or a gateway in front of it)
    /// but no usable answer came back. Never retried automatically.
    Unknown,
}

impl EmailStatus {
    /// A submission's status from its emails' outcomes: failed if any failed, else unknown
    /// if any may not have arrived, else skipped if any was skipped.
    pub fn summarize(outcomes: impl IntoIterator<Item = EmailStatus>) -> EmailStatus {
        let mut all = outcomes.into_iter().peekable();
        if all.peek().is_none() {
            return EmailStatus::Skipped;
        }
        all.fold(EmailStatus::Sent, |acc, s| match (acc, s) {
            (EmailStatus::Failed, _) | (_, EmailStatus::Failed) => EmailStatus::Failed,
            (EmailStatus::Unknown, _) | (_, EmailStatus::Unknown) => EmailStatus::Unknown,
            (EmailStatus::Skipped, _) | (_, EmailStatus::Skipped) => EmailStatus::Skipped,
            _ => EmailStatus::Sent,
        })
    }
}

/// The fate of one attempt to send one email. A delivery record holds it as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: EmailStatus,
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The ids Mailtrap gave the accepted message, one per recipient.
    #[serde(default)]
    pub message_ids: Vec<String>,
    /// Mailtrap's (or the client's) error text, for the owner; never read by code.
    #[serde(default)]
    pub error: Option<String>,
    /// Why it failed or may not have arrived, typed; `None` when sent or skipped.
    #[serde(default)]
    pub failure: Option<FailureKind>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long the attempt took, milliseconds.
    pub duration_ms: u64,
    /// Mailtrap's `Retry-After` (seconds), when it rate-limited the request.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

impl Outcome {
    /// An attempt written before its request goes out: `pending` until its outcome replaces
    /// it (see [`super::Delivery::in_flight`]).
    pub fn in_flight() -> Outcome {
        Outcome {
            status: EmailStatus::Pending,
            http_status: None,
            message_ids: Vec::new(),
            error: None,
            failure: None,
            started_at: OffsetDateTime::now_utc(),
            duration_ms: 0,
            retry_after_secs: None,
        }
    }

    pub fn skipped(reason: &str) -> Outcome {
        Outcome {
            status: EmailStatus::Skipped,
            failure: None,
            ..Outcome::failed(Failure::new(FailureKind::Internal, reason))
        }
    }

    /// An attempt that failed before or without an HTTP answer.
    pub fn failed(failure: Failure) -> Outcome {
        Outcome {
            status: failure.kind.status(),
            http_status: failure.kind.http_status(),
            message_ids: Vec::new(),
            error: Some(failure.detail),
            failure: Some(failure.kind),
            started_at: OffsetDateTime::now_utc(),
            duration_ms: 0,
            retry_after_secs: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_failed_if_any_failed_and_sent_only_if_all_sent() {
        use EmailStatus::*;
        assert_eq!(EmailStatus::summarize([Sent, Sent]), Sent);
        assert_eq!(EmailStatus::summarize([Sent, Failed, Skipped]), Failed);
        assert_eq!(EmailStatus::summarize([Sent, Skipped]), Skipped);
        assert_eq!(EmailStatus::summarize([Sent, Unknown, Skipped]), Unknown);
        assert_eq!(EmailStatus::summarize([Unknown, Failed]), Failed);
        assert_eq!(EmailStatus::summarize([]), Skipped);
    }
}
