//! The outcome of one attempt to send one email.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::failure::{Failure, FailureKind};
use super::status::EmailStatus;

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
