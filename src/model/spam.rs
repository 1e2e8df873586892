//! Why a post looks like spam: a hard signal, or a soft one the owner reviews.

use serde::{Deserialize, Serialize};

/// Why a post looks like spam. `Honeypot` is a hard signal (stored as spam, never mailed);
/// the others are soft (held for the owner's review, mailed once approved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpamReason {
    Honeypot,
    /// Posted sooner than `KIPEKEE_SPAM_MIN_SECONDS` after the form was shown.
    TooFast,
    /// The form page's signed time field is missing or not genuine.
    NoTimeToken,
    /// The form page's signed time field is older than `TOKEN_LIFETIME_MS`.
    StaleTimeToken,
}

impl SpamReason {
    /// Soft signals put a submission into review instead of spam.
    pub fn is_soft(self) -> bool {
        self != SpamReason::Honeypot
    }

    /// What the admin panel says about it.
    pub fn describe(self) -> &'static str {
        match self {
            SpamReason::Honeypot => "the hidden honeypot field was filled in",
            SpamReason::TooFast => "posted very quickly after the form was shown",
            SpamReason::NoTimeToken => "posted without the form page's token",
            SpamReason::StaleTimeToken => "posted with a form page token older than a day",
        }
    }
}
