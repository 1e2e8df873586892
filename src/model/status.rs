//! Where an email stands: the status one attempt leaves, and a submission's summary of its
//! emails. Both an outcome and a failure speak it, so it sits beside them, not in either.

use serde::{Deserialize, Serialize};

/// Where an email stands; also the summary status of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailStatus {
    /// Stored, emails not yet attempted.
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
