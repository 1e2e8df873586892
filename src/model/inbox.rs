//! What Mailtrap's webhooks tell about an email after accepting it (Mailtrap's
//! webhook docs).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What Mailtrap last told about an email after accepting it. Which event outranks which is
/// [`InboxState::rank`], not the order written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// `soft bounce`: a temporary refusal; Mailtrap keeps trying.
    SoftBounce,
    /// `delivery`: the receiving server accepted it.
    Delivered,
    /// `unsubscribe`: the reader used the unsubscribe link Mailtrap handles.
    Unsubscribed,
    /// `bounce`: refused for good (a mistyped or closed address).
    Bounced,
    /// `reject`: Mailtrap refused to send it (e.g. the address is on its suppression list).
    Rejected,
    /// `suspension`: Mailtrap suspended sending for the domain or account.
    Suspended,
    /// `spam`: the reader marked it as spam.
    Complained,
}

impl InboxState {
    /// The state of a Mailtrap event type; `None` for `open`, `click` and types not known.
    pub fn of_event(event: &str) -> Option<InboxState> {
        Some(match event {
            "delivery" => InboxState::Delivered,
            "soft bounce" => InboxState::SoftBounce,
            "bounce" => InboxState::Bounced,
            "spam" => InboxState::Complained,
            "unsubscribe" => InboxState::Unsubscribed,
            "reject" => InboxState::Rejected,
            "suspension" => InboxState::Suspended,
            _ => return None,
        })
    }

    /// How much this state outweighs another on the same email, for `Delivery::apply`: an
    /// event replaces the state it finds only if its rank is equal or higher. Mailtrap posts
    /// events in batches and retries them (Mailtrap's webhook docs), so they can arrive out
    /// of order: a late `soft bounce` must not hide a `delivery`; a reader's unsubscribe
    /// presumes the delivery and outranks it; a `bounce` (the receiving server may accept
    /// first and bounce later), a `reject` and a `suspension` outrank both, since they are
    /// what the owner has to act on; a spam complaint is the reader's last word.
    pub fn rank(self) -> u8 {
        match self {
            InboxState::SoftBounce => 0,
            InboxState::Delivered => 1,
            InboxState::Unsubscribed => 2,
            InboxState::Bounced => 3,
            InboxState::Rejected => 4,
            InboxState::Suspended => 5,
            InboxState::Complained => 6,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InboxState::SoftBounce => "soft_bounce",
            InboxState::Delivered => "delivered",
            InboxState::Unsubscribed => "unsubscribed",
            InboxState::Bounced => "bounced",
            InboxState::Rejected => "rejected",
            InboxState::Suspended => "suspended",
            InboxState::Complained => "complained",
        }
    }

    /// Every state, for the deliveries page's filter.
    pub const ALL: [InboxState; 7] = [
        InboxState::Delivered,
        InboxState::SoftBounce,
        InboxState::Bounced,
        InboxState::Complained,
        InboxState::Unsubscribed,
        InboxState::Rejected,
        InboxState::Suspended,
    ];

    pub fn parse(label: &str) -> Option<InboxState> {
        InboxState::ALL.into_iter().find(|s| s.label() == label)
    }
}

/// One event as it is kept on its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEvent {
    pub state: InboxState,
    /// When it happened, by Mailtrap's `timestamp`.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The remote server's answer (`response`, with `response_code`) or Mailtrap's `reason`.
    #[serde(default)]
    pub detail: Option<String>,
    /// Mailtrap's `bounce_category` (`spam`, `greylisting`, `bad_mailbox`…).
    #[serde(default)]
    pub bounce_category: Option<String>,
}
