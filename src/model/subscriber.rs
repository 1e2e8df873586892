//! A newsletter subscriber and where their double opt-in stands.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{EmailAddress, SubmissionId};

/// Where a subscriber's double opt-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberState {
    Pending,
    Confirmed,
    Unsubscribed,
    /// The opt-in bounced for good (Mailtrap's `bounce`): the address does not receive mail.
    /// A new signup starts over as pending.
    Undeliverable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscriber {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub state: SubscriberState,
    pub confirm_token: String,
    pub unsubscribe_token: String,
    /// The signup submission whose delivery log the newsletter emails join.
    pub submission_id: SubmissionId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub unsubscribed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub optin_sent_at: Option<OffsetDateTime>,
}
