//! The words of a delivery state (DESIGN.md, "The owner's day": one state, one word) and
//! their one text form; which word a submission gets is the ledger's rule (`model::ledger`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::EmailStatus;

/// Where one email, or a whole submission, stands: the contract's words (DESIGN.md, "The
/// owner's day"). The text form ([`DeliveryState::as_str`], [`FromStr`], serde) is the same
/// everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum DeliveryState {
    /// Mailtrap reported that the receiving server accepted it. A later spam complaint or
    /// unsubscribe keeps it delivered: the reader had it.
    Delivered,
    /// Mailtrap accepted it; no delivery reported yet (or webhooks are off, or a soft bounce
    /// that Mailtrap keeps retrying).
    Sent,
    /// The latest attempt failed and an automatic retry of it is queued.
    Retrying,
    /// May have arrived: the request reached Mailtrap (or a gateway in front of it) but no
    /// usable answer came back. Never retried automatically.
    Unknown,
    /// The receiving server refused it for good (Mailtrap's `bounce`).
    Bounced,
    /// Mailtrap refused to send it (`reject`, e.g. the address is on its suppression list).
    /// Not a bounce: the address may be fine, Mailtrap's `reason` says why.
    Rejected,
    /// Not sent, and no automatic retry will send it: the owner has to act.
    Failed,
    /// Held back with its submission (caught as spam or waiting for review) until the
    /// owner's "Not spam".
    Held,
    /// Not sent on purpose: no token, no recipient configured, or nothing to send.
    Skipped,
    /// In flight: the attempt was written before its request went to Mailtrap and its
    /// answer is not recorded yet; neither sent nor failed, and not offered for a resend
    /// (the round that holds it records its outcome, or the next start makes it `unknown`).
    /// Also what records written before this rule carry between being stored and their
    /// first delivery round. Transient, so not among the filters' words.
    Pending,
}

impl DeliveryState {
    /// The contract's words, in the order the filters offer them (without the legacy
    /// [`DeliveryState::Pending`]).
    pub const ALL: [DeliveryState; 9] = [
        DeliveryState::Delivered,
        DeliveryState::Sent,
        DeliveryState::Retrying,
        DeliveryState::Unknown,
        DeliveryState::Bounced,
        DeliveryState::Rejected,
        DeliveryState::Failed,
        DeliveryState::Held,
        DeliveryState::Skipped,
    ];

    /// The word: in filters, the CSV and JSON, metrics labels and the stored record.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Sent => "sent",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Unknown => "unknown",
            DeliveryState::Bounced => "bounced",
            DeliveryState::Rejected => "rejected",
            DeliveryState::Failed => "failed",
            DeliveryState::Held => "held",
            DeliveryState::Skipped => "skipped",
            DeliveryState::Pending => "pending",
        }
    }

    /// Whether the owner has to look at it, shown in red: the email did not arrive (failed,
    /// bounced, rejected) or may not have (unknown).
    pub fn needs_owner(self) -> bool {
        matches!(
            self,
            DeliveryState::Failed
                | DeliveryState::Bounced
                | DeliveryState::Rejected
                | DeliveryState::Unknown
        )
    }

    /// The colour class of the word in the admin panel (assets/css/admin.css): `bad` (red)
    /// when it [needs the owner](DeliveryState::needs_owner), `ok` (green) once Mailtrap has
    /// it, `warn` (amber) while it waits on something.
    pub fn tone(self) -> &'static str {
        match self {
            s if s.needs_owner() => "bad",
            DeliveryState::Delivered | DeliveryState::Sent => "ok",
            _ => "warn",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = String;

    /// The word back, legacy `pending` included.
    fn from_str(s: &str) -> Result<DeliveryState, String> {
        DeliveryState::ALL
            .into_iter()
            .chain([DeliveryState::Pending])
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a delivery state"))
    }
}

/// The word of an attempt's own outcome, before anything Mailtrap reported later, any retry
/// queued or any hold: what the attempt came to when it was made.
impl From<EmailStatus> for DeliveryState {
    fn from(status: EmailStatus) -> DeliveryState {
        match status {
            EmailStatus::Sent => DeliveryState::Sent,
            EmailStatus::Unknown => DeliveryState::Unknown,
            EmailStatus::Failed => DeliveryState::Failed,
            EmailStatus::Skipped => DeliveryState::Skipped,
            EmailStatus::Pending => DeliveryState::Pending,
        }
    }
}

impl From<DeliveryState> for &'static str {
    fn from(state: DeliveryState) -> &'static str {
        state.as_str()
    }
}

impl TryFrom<String> for DeliveryState {
    type Error = String;

    fn try_from(s: String) -> Result<DeliveryState, String> {
        s.parse()
    }
}
