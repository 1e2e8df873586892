//! Why an email was not delivered, typed where the failure happens (the Mailtrap client,
//! the renderer), and everything decided from it: whether to retry, the email's status, and
//! the one piece of advice shown to the owner. No decision here reads an error's text.

use serde::{Deserialize, Serialize};

use super::EmailStatus;

/// What went wrong with one attempt. Kept on the delivery record; records written before
/// kinds existed get one from the store's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureKind {
    /// No connection to Mailtrap (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The time budget ran out while the request was still being written: Mailtrap cannot
    /// have accepted a request it did not receive whole.
    TimeoutBeforeSent,
    /// The request was written whole but no answer came within the budget, or the
    /// connection broke after sending: Mailtrap may have accepted it.
    TimeoutAfterSent,
    /// An HTTP error status. `mailtrap` tells whether the body was Mailtrap's JSON: a 502,
    /// 503 or 504 page from a gateway in front of Mailtrap may follow an accepted message.
    Http { status: u16, mailtrap: bool },
    /// Mailtrap answered for the batch but refused this message (`success: false`).
    Rejected,
    /// The email's template could not be rendered: nothing was sent.
    Render,
    /// `MAILTRAP_API_URL` is not a usable URL.
    BadUrl,
    /// An answer that cannot be read (2xx without Mailtrap's JSON, or not covering this
    /// message): the request arrived, so it may have been accepted.
    UnreadableAnswer,
    /// The sending thread died; whether the request left is not known.
    Internal,
    /// The server stopped (a crash, a kill, a power cut) after the attempt was written as in
    /// flight and before its answer was recorded: Mailtrap may have accepted it.
    Interrupted,
}

/// A failure and its detail for the owner (Mailtrap's own error text where it gave one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
        }
    }
}

/// How a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Mailtrap surely did not take it (no connection, 429, its own 5xx): send again.
    Transient,
    /// The request may have reached Mailtrap: never resent automatically (status `unknown`).
    Ambiguous,
    /// Refused for good (validation, auth, domain): sending again cannot help.
    Permanent,
}

impl FailureKind {
    pub fn retry(self) -> Retry {
        match self {
            FailureKind::Connect | FailureKind::TimeoutBeforeSent => Retry::Transient,
            FailureKind::TimeoutAfterSent
            | FailureKind::UnreadableAnswer
            | FailureKind::Internal
            | FailureKind::Interrupted => Retry::Ambiguous,
            FailureKind::Http {
                status: 502..=504,
                mailtrap: false,
            } => Retry::Ambiguous,
            FailureKind::Http {
                status: 429 | 500..=599,
                ..
            } => Retry::Transient,
            FailureKind::Http { .. }
            | FailureKind::Rejected
            | FailureKind::Render
            | FailureKind::BadUrl => Retry::Permanent,
        }
    }

    /// Whether every email fails this way until the owner fixes something: Mailtrap refusing
    /// the token (401) or the sending domain or account (403), or an unusable API URL. One
    /// such failure says delivery is failing; no run of them is needed.
    pub fn stops_all_sending(self) -> bool {
        matches!(
            self,
            FailureKind::Http {
                status: 401 | 403,
                ..
            } | FailureKind::BadUrl
        )
    }

    /// The status an attempt that failed this way gets: `unknown` when it may have been
    /// delivered, `failed` otherwise.
    pub fn status(self) -> EmailStatus {
        match self.retry() {
            Retry::Ambiguous => EmailStatus::Unknown,
            Retry::Transient | Retry::Permanent => EmailStatus::Failed,
        }
    }

    pub fn http_status(self) -> Option<u16> {
        match self {
            FailureKind::Http { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Short category for `/healthz`'s `cause` and the metrics (no error text).
    pub fn category(self) -> &'static str {
        match self {
            FailureKind::Connect => "mailtrap_unreachable",
            FailureKind::TimeoutBeforeSent | FailureKind::TimeoutAfterSent => "mailtrap_timeout",
            FailureKind::Http { status: 401, .. } => "mailtrap_unauthorized",
            FailureKind::Http { status: 403, .. } => "mailtrap_forbidden",
            FailureKind::Http { status: 429, .. } => "mailtrap_rate_limited",
            FailureKind::Http {
                mailtrap: false, ..
            } => "gateway_error",
            FailureKind::Http { .. } | FailureKind::Rejected => "mailtrap_rejected",
            FailureKind::Render => "template_error",
            FailureKind::BadUrl => "configuration",
            FailureKind::UnreadableAnswer => "mailtrap_unreadable_answer",
            FailureKind::Internal => "internal",
            FailureKind::Interrupted => "interrupted",
        }
    }

    /// The catalogue key of what the owner can do about it, in plain words
    /// (`locales/admin/en.toml`, `admin.failure.*`): the one advice table behind the
    /// dashboard's banner, the settings page, the submission page, `kipekee send-test` and the
    /// log. Status meanings from Mailtrap's Email Sending API documentation.
    pub fn advice_key(self) -> &'static str {
        match self {
            FailureKind::Http { status: 401, .. } => "admin.failure.unauthorized",
            FailureKind::Http { status: 403, .. } => "admin.failure.forbidden",
            FailureKind::Http { status: 429, .. } => "admin.failure.rate_limited",
            FailureKind::Http {
                status: 502..=504,
                mailtrap: false,
            } => "admin.failure.gateway",
            FailureKind::Http {
                status: 500..=599, ..
            } => "admin.failure.outage",
            FailureKind::Http { .. } | FailureKind::Rejected => "admin.failure.rejected",
            FailureKind::Connect => "admin.failure.unreachable",
            FailureKind::TimeoutBeforeSent => "admin.failure.slow",
            FailureKind::TimeoutAfterSent
            | FailureKind::UnreadableAnswer
            | FailureKind::Internal => "admin.failure.no_answer",
            FailureKind::Render => "admin.failure.render",
            FailureKind::BadUrl => "admin.failure.bad_url",
            FailureKind::Interrupted => "admin.failure.interrupted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, mailtrap: bool) -> FailureKind {
        FailureKind::Http { status, mailtrap }
    }

    #[test]
    fn only_failures_that_surely_did_not_deliver_are_retried() {
        assert_eq!(http(500, true).retry(), Retry::Transient);
        assert_eq!(http(503, true).retry(), Retry::Transient);
        assert_eq!(http(429, true).retry(), Retry::Transient);
        assert_eq!(http(429, false).retry(), Retry::Transient);
        assert_eq!(FailureKind::Connect.retry(), Retry::Transient);
        assert_eq!(FailureKind::TimeoutBeforeSent.retry(), Retry::Transient);
        assert_eq!(FailureKind::TimeoutAfterSent.retry(), Retry::Ambiguous);
        for gateway in [502, 503, 504] {
            assert_eq!(http(gateway, false).retry(), Retry::Ambiguous);
            assert_eq!(http(gateway, false).status(), EmailStatus::Unknown);
        }
        for refused in [400, 401, 403, 422] {
            assert_eq!(http(refused, true).retry(), Retry::Permanent);
        }
        assert_eq!(FailureKind::Rejected.retry(), Retry::Permanent);
        assert_eq!(FailureKind::Render.retry(), Retry::Permanent);
    }

    #[test]
    fn unauthorized_and_forbidden_get_different_advice() {
        assert_eq!(http(401, true).advice_key(), "admin.failure.unauthorized");
        assert_eq!(http(403, true).advice_key(), "admin.failure.forbidden");
        assert_eq!(http(504, false).advice_key(), "admin.failure.gateway");
        assert_eq!(http(504, true).advice_key(), "admin.failure.outage");
    }

    #[test]
    fn kinds_round_trip_through_the_store_format() {
        for kind in [
            http(504, false),
            FailureKind::TimeoutAfterSent,
            FailureKind::Rejected,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<FailureKind>(&json).unwrap(), kind);
        }
    }
}
