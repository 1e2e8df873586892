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

/// What the intake decided about a post: the one spam verdict, from every signal at once
/// (`forms::spam::judge`). Never a drop: spam is stored without files and never mailed, a
/// post under review is stored whole and its emails wait for the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Held for the owner's review, mailed once approved.
    Review(SpamReason),
    /// Stored as spam, without its files, never mailed.
    Spam(SpamReason),
}

impl Verdict {
    /// Stored as spam (`Submission::spam`).
    pub fn is_spam(self) -> bool {
        matches!(self, Verdict::Spam(_))
    }

    /// Why it waits for the owner (`Submission::review`), if it does.
    pub fn review(self) -> Option<SpamReason> {
        match self {
            Verdict::Review(reason) => Some(reason),
            _ => None,
        }
    }
}

impl SpamReason {
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
