//! Whether email delivery works, judged from the newest records of the delivery log: the one
//! rule behind `/healthz`'s `degraded` and the dashboard's "Emails are failing" banner.

use time::OffsetDateTime;

use crate::model::{Delivery, EmailStatus, FailureKind, Retry};
use crate::store::{DeliveryFilter, Store};

/// Delivery counts as failing when this many of the latest attempts that went to Mailtrap
/// (skipped ones do not count) all failed; or from the first when its failure stops all
/// sending ([`FailureKind::stops_all_sending`]: a refused token or domain).
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
    /// The failure the owner has to act on: the newest one that retrying cannot cure (a
    /// refused token, an unverified domain: [`Retry::Permanent`]) if the run has one, else
    /// the newest. A 401 followed by an outage is still a 401 to fix.
    pub cause: FailureKind,
    /// That failure's error text: Mailtrap's own words where it gave some.
    pub cause_error: Option<String>,
    /// When the oldest attempt of the run started (UTC).
    pub since: OffsetDateTime,
}

impl DeliveryHealth {
    /// Failing when the newest [`FAILING_DELIVERIES`] attempts that were not skipped all
    /// failed (`failed` or `unknown`), or when the run of failures at the head has one that
    /// stops all sending (a 401 or 403 from Mailtrap): every email will fail the same way, so
    /// the owner is told with the first. `newest_first` is the delivery log's head.
    pub fn judge(newest_first: &[Delivery]) -> DeliveryHealth {
        let mut run = newest_first
            .iter()
            // Skipped ones never went; one in flight has no outcome yet; one interrupted
            // by a stop of this server says nothing about Mailtrap.
            .filter(|d| {
                !matches!(
                    d.outcome.status,
                    EmailStatus::Skipped | EmailStatus::Pending
                )
            })
            .filter(|d| d.outcome.failure != Some(FailureKind::Interrupted))
            .take_while(|d| matches!(d.outcome.status, EmailStatus::Failed | EmailStatus::Unknown));
        let Some(newest) = run.next() else {
            return DeliveryHealth::Ok;
        };
        let mut streak = Streak {
            attempts: 1,
            to_visitors: usize::from(newest.to_visitor),
            cause: newest.outcome.failure.unwrap_or(FailureKind::Internal),
            cause_error: newest.outcome.error.clone(),
            since: newest.outcome.started_at,
        };
        let permanent = |kind: FailureKind| kind.retry() == Retry::Permanent;
        for d in run {
            streak.attempts += 1;
            streak.to_visitors += usize::from(d.to_visitor);
            streak.since = d.outcome.started_at;
            if let Some(kind) = d.outcome.failure {
                if permanent(kind) && !permanent(streak.cause) {
                    streak.cause = kind;
                    streak.cause_error.clone_from(&d.outcome.error);
                }
            }
        }
        if streak.attempts < FAILING_DELIVERIES && !streak.cause.stops_all_sending() {
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

    /// The failure to act on ([`Streak::cause`]), when failing.
    pub fn failure(&self) -> Option<FailureKind> {
        match self {
            DeliveryHealth::Ok => None,
            DeliveryHealth::Failing(streak) => Some(streak.cause),
        }
    }

    /// Why it is degraded, as a short category without error text (`/healthz`'s `cause`).
    pub fn cause(&self) -> Option<&'static str> {
        self.failure().map(FailureKind::category)
    }

    /// How long the streak is and its cause's error text (Mailtrap's own words):
    /// `/healthz`'s `detail`, for loopback or the metrics token only.
    pub fn detail(&self) -> Option<String> {
        match self {
            DeliveryHealth::Ok => None,
            DeliveryHealth::Failing(streak) => Some(format!(
                "the last {} email attempt{} failed; cause: {}",
                streak.attempts,
                if streak.attempts == 1 { "" } else { "s" },
                streak.cause_error.as_deref().unwrap_or("no error text")
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
        // Rate-limited: unlike a refused token, a run of them is needed.
        let limited = Some(FailureKind::Http {
            status: 429,
            mailtrap: true,
        });
        let failed = attempt(EmailStatus::Failed, limited);
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
        assert_eq!(health.cause(), Some("mailtrap_rate_limited"));
        let DeliveryHealth::Failing(streak) = health else {
            unreachable!()
        };
        assert_eq!((streak.attempts, streak.to_visitors), (3, 0));
    }

    /// A refused sending domain (403) or token (401) will refuse every email: the owner
    /// hears of it from the first failure. An outage, which retries cure, needs a run.
    #[test]
    fn a_refusal_of_the_account_is_failing_from_the_first_attempt() {
        let attempt = |status: u16| {
            let mut d = Delivery::planned("optin", Some("r@visitor.example"), "s");
            d.to_visitor = true;
            d.outcome.status = EmailStatus::Failed;
            d.outcome.failure = Some(FailureKind::Http {
                status,
                mailtrap: true,
            });
            d
        };
        let mut sent = attempt(200);
        sent.outcome.status = EmailStatus::Sent;
        sent.outcome.failure = None;
        for status in [401, 403] {
            let DeliveryHealth::Failing(streak) =
                DeliveryHealth::judge(&[attempt(status), sent.clone()])
            else {
                panic!("{status}: failing from the first")
            };
            assert_eq!((streak.attempts, streak.to_visitors), (1, 1));
            assert_eq!(streak.cause.http_status(), Some(status));
            let health = DeliveryHealth::Failing(streak);
            assert_eq!(
                health.detail().unwrap(),
                "the last 1 email attempt failed; cause: no error text"
            );
        }
        for status in [500, 422] {
            assert_eq!(
                DeliveryHealth::judge(&[attempt(status), sent.clone()]),
                DeliveryHealth::Ok,
                "{status}"
            );
        }
        let after_outage = [attempt(403), attempt(503), sent];
        assert_eq!(
            DeliveryHealth::judge(&after_outage)
                .failure()
                .and_then(FailureKind::http_status),
            Some(403)
        );
    }

    /// An attempt still with Mailtrap has no outcome yet, and one a stop of this server cut
    /// off says nothing about Mailtrap: neither starts nor breaks a streak.
    #[test]
    fn attempts_in_flight_or_interrupted_are_not_mailtraps_failures() {
        let attempt = |status, failure| {
            let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
            d.outcome.status = status;
            d.outcome.failure = failure;
            d
        };
        let outage = Some(FailureKind::Http {
            status: 503,
            mailtrap: true,
        });
        let failed = attempt(EmailStatus::Failed, outage);
        let in_flight = attempt(EmailStatus::Pending, None);
        let mut interrupted = attempt(EmailStatus::Pending, None);
        interrupted.interrupted();
        let failing = [in_flight.clone(), failed.clone(), failed.clone(), failed];
        assert_eq!(DeliveryHealth::judge(&failing).status(), "degraded");
        let killed = [
            interrupted.clone(),
            interrupted.clone(),
            interrupted,
            in_flight,
        ];
        assert_eq!(DeliveryHealth::judge(&killed), DeliveryHealth::Ok);
    }

    /// Six refused attempts then an outage: the banner's cause is the refusal the owner must
    /// fix, not the outage that retries will cure.
    #[test]
    fn the_cause_is_the_failure_retrying_cannot_cure() {
        let attempt = |status: u16, error: &str| {
            let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
            d.outcome.status = EmailStatus::Failed;
            d.outcome.failure = Some(FailureKind::Http {
                status,
                mailtrap: true,
            });
            d.outcome.error = Some(error.into());
            d
        };
        let mut newest_first = vec![attempt(500, "HTTP 500: outage")];
        newest_first.extend((0..6).map(|_| attempt(401, "HTTP 401: Unauthorized")));
        let DeliveryHealth::Failing(streak) = DeliveryHealth::judge(&newest_first) else {
            panic!("failing")
        };
        assert_eq!(streak.attempts, 7);
        assert_eq!(
            streak.cause_error.as_deref(),
            Some("HTTP 401: Unauthorized")
        );
        assert_eq!(streak.cause.category(), "mailtrap_unauthorized");

        let outages: Vec<_> = (0..3).map(|_| attempt(503, "HTTP 503")).collect();
        let DeliveryHealth::Failing(streak) = DeliveryHealth::judge(&outages) else {
            panic!("failing")
        };
        assert_eq!(
            streak.cause_error.as_deref(),
            Some("HTTP 503"),
            "else the newest"
        );
    }
}
