//! What one attempt came to: both an outcome and a failure speak it, so it sits beside them,
//! not in either.

use serde::{Deserialize, Serialize};

/// What one attempt came to when it was made. Where an email or a submission stands, with
/// what Mailtrap reported later, is the ledger's [`DeliveryState`](super::DeliveryState).
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
