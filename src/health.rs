//! Whether email delivery works, judged from the newest records of the delivery log: the one
//! rule behind `/healthz`'s `degraded` and the dashboard's "Emails are failing" banner.

use time::OffsetDateTime;

use crate::model::{Delivery, EmailStatus, FailureKind};
use crate::store::{DeliveryFilter, Store};

/// Delivery counts as failing when this many of the latest attempts that went to Mailtrap
/// (skipped ones do not count) all failed.
pub const FAILING_DELIVERIES: usize = 3;

/// How many of the newest delivery records `/healthz` reads at most.
const HEALTH_WINDOW: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryHealth {
    Ok,
    Failing(Streak),
}

/// The unbroken run of failed attempts at the head of the delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Streak {
    /// How many attempts in a row failed (`failed` or `unknown`).
    pub attempts: usize,
    /// How many of them were to a visitor (the rest went to the owner).
    pub to_visitors: usize,
    /// The newest failure's kind.
    pub latest: FailureKind,
    /// The newest failure's error text: Mailtrap's own words where it gave some.
    pub latest_error: Option<String>,
    /// When the oldest attempt of the run started (UTC).
    pub since: OffsetDateTime,
}

impl DeliveryHealth {
    /// Failing when the newest [`FAILING_DELIVERIES`] attempts that were not skipped all
    /// failed (`failed` or `unknown`); `newest_first` is the delivery log's head.
    pub fn judge(newest_first: &[Delivery]) -> DeliveryHealth {
        let mut run = newest_first
            .iter()
            .filter(|d| d.outcome.status != EmailStatus::Skipped)
            .take_while(|d| matches!(d.outcome.status, EmailStatus::Failed | EmailStatus::Unknown));
        let Some(newest) = run.next() else {
            return DeliveryHealth::Ok;
        };
        let mut streak = Streak {
            attempts: 1,
            to_visitors: usize::from(newest.to_visitor),
            latest: newest.outcome.failure.unwrap_or(FailureKind::Internal),
            latest_error: newest.outcome.error.clone(),
            since: newest.outcome.started_at,
        };
        for d in run {
            streak.attempts += 1;
            streak.to_visitors += usize::from(d.to_visitor);
            streak.since = d.outcome.started_at;
        }
        if streak.attempts < FAILING_DELIVERIES {
            return DeliveryHealth::Ok;
        }
        DeliveryHealth::Failing(streak)
    }

    /// From the store's newest records; a store that cannot be read counts as not failing
    /// (the health check reports the store on its own).
    pub fn of(store: &Store) -> DeliveryHealth {
        match store.list_deliveries(&DeliveryFilter::default(), None, HEALTH_WINDOW) {
            Ok(page) => DeliveryHealth::judge(&page.items),
            Err(_) => DeliveryHealth::Ok,
        }
    }

    /// `ok` or `degraded`, for `/healthz`'s `status`.
    pub fn status(&self) -> &'static str {
        match self {
            DeliveryHealth::Ok => "ok",
            DeliveryHealth::Failing(_) => "degraded",
        }
    }

    /// The latest failure's kind, when failing.
    pub fn failure(&self) -> Option<FailureKind> {
        match self {
            DeliveryHealth::Ok => None,
            DeliveryHealth::Failing(streak) => Some(streak.latest),
        }
    }

    /// Why it is degraded, as a short category without error text (`/healthz`'s `cause`).
    pub fn cause(&self) -> Option<&'static str> {
        self.failure().map(FailureKind::category)
    }

    /// How long the streak is and the latest failure's error text (Mailtrap's own words):
    /// `/healthz`'s `detail`, for loopback or the metrics token only.
    pub fn detail(&self) -> Option<String> {
        match self {
            DeliveryHealth::Ok => None,
            DeliveryHealth::Failing(streak) => Some(format!(
                "the last {} email attempts failed; latest: {}",
                streak.attempts,
                streak.latest_error.as_deref().unwrap_or("no error text")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_takes_the_same_streak_for_banner_and_health() {
        let attempt = |status, failure| {
            let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
            d.outcome.status = status;
            d.outcome.failure = failure;
            d
        };
        let refused = Some(FailureKind::Http {
            status: 401,
            mailtrap: true,
        });
        let failed = attempt(EmailStatus::Failed, refused);
        let skipped = attempt(EmailStatus::Skipped, None);
        let sent = attempt(EmailStatus::Sent, None);
        let two = [
            failed.clone(),
            skipped.clone(),
            failed.clone(),
            sent.clone(),
        ];
        assert_eq!(DeliveryHealth::judge(&two), DeliveryHealth::Ok);
        let three = [failed.clone(), skipped, failed.clone(), failed, sent];
        let health = DeliveryHealth::judge(&three);
        assert_eq!(health.status(), "degraded");
        assert_eq!(health.cause(), Some("mailtrap_unauthorized"));
        let DeliveryHealth::Failing(streak) = health else {
            unreachable!()
        };
        assert_eq!((streak.attempts, streak.to_visitors), (3, 0));
    }
}
