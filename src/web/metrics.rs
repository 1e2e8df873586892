//! `/metrics` in Prometheus text format, from counters kept in memory since the process
//! started, and the delivery health `/healthz` reports. Labels are form slugs, email kinds
//! and outcomes only: never anything a visitor typed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Method, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{get, routes, Request, Response, Route, State};

use crate::model::{EmailStatus, FailureKind};
use crate::store::{Delivery, DeliveryFilter, Store, Submission};
use crate::App;

/// Upper bounds (seconds) of the Mailtrap latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Delivery counts as failing (`/healthz` degraded, the dashboard's banner) when this many of
/// the latest attempts that went to Mailtrap (skipped ones do not count) all failed.
pub const FAILING_DELIVERIES: usize = 3;

/// How many of the newest delivery records `/healthz` reads at most.
const HEALTH_WINDOW: usize = 50;

pub fn routes() -> Vec<Route> {
    routes![metrics]
}

/// Counters of one process. Cheap to update: one short lock per submission or round.
#[derive(Default)]
pub struct Metrics {
    /// (form, outcome) → count.
    submissions: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// (kind, outcome) → count.
    deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    latency: Histogram,
    /// (event, outcome) → Mailtrap webhook events received.
    webhook_events: Mutex<BTreeMap<(String, &'static str), u64>>,
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

fn status_label(status: EmailStatus) -> &'static str {
    match status {
        EmailStatus::Pending => "pending",
        EmailStatus::Sent => "sent",
        EmailStatus::Failed => "failed",
        EmailStatus::Skipped => "skipped",
        EmailStatus::Unknown => "unknown",
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key).or_default() += 1;
    }
}

impl Metrics {
    /// A submission was stored: `stored`, `review` (a soft spam signal) or `spam` (honeypot).
    pub fn submission(&self, submission: &Submission) {
        let outcome = match (submission.spam, submission.review) {
            (true, _) => "spam",
            (false, Some(_)) => "review",
            (false, None) => "stored",
        };
        bump(&self.submissions, (submission.form.clone(), outcome));
    }

    /// A round of delivery attempts was logged; those that reached Mailtrap feed the
    /// latency histogram.
    pub fn deliveries(&self, attempts: &[Delivery]) {
        for d in attempts {
            bump(&self.deliveries, (d.kind.clone(), status_label(d.status)));
            if d.status != EmailStatus::Skipped && (d.http_status.is_some() || d.duration_ms > 0) {
                self.latency.observe(d.duration_ms);
            }
        }
    }

    /// One Mailtrap webhook event (`event`: an inbox state label, `open`, `click` or
    /// `other`) and what became of it: applied, replay, unmatched or ignored.
    pub fn webhook_event(&self, event: &'static str, outcome: &'static str) {
        bump(&self.webhook_events, (event.to_string(), outcome));
    }

    fn rejected(&self, form: &str, outcome: &'static str) {
        bump(&self.submissions, (form.to_string(), outcome));
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(concat!(
            "# HELP kipekee_build_info The running version.\n",
            "# TYPE kipekee_build_info gauge\n",
            "kipekee_build_info{version=\"",
            env!("CARGO_PKG_VERSION"),
            "\"} 1\n"
        ));
        counter(
            &mut out,
            "kipekee_submissions_total",
            "Posts to a form by outcome: stored, review, spam, invalid, rate_limited, too_large, forbidden, rejected, error.",
            ("form", "outcome"),
            &self.submissions,
        );
        counter(
            &mut out,
            "kipekee_deliveries_total",
            "Email delivery attempts by kind and outcome: sent, failed, unknown (may have been delivered), skipped.",
            ("kind", "outcome"),
            &self.deliveries,
        );
        counter(
            &mut out,
            "kipekee_webhook_events_total",
            "Mailtrap webhook events by state (delivered, bounced, complained…) and outcome: applied, replay, unmatched, ignored.",
            ("event", "outcome"),
            &self.webhook_events,
        );
        self.latency
            .render(&mut out, "kipekee_mailtrap_request_duration_seconds");
        out
    }
}

fn counter(
    out: &mut String,
    name: &str,
    help: &str,
    labels: (&str, &str),
    values: &Mutex<BTreeMap<(String, &'static str), u64>>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    let Ok(values) = values.lock() else {
        return;
    };
    for ((a, b), n) in values.iter() {
        let (la, lb) = labels;
        let _ = writeln!(out, "{name}{{{la}=\"{}\",{lb}=\"{b}\"}} {n}", escape(a));
    }
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Histogram {
    fn observe(&self, ms: u64) {
        let seconds = ms as f64 / 1000.0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str) {
        let _ = writeln!(
            out,
            "# HELP {name} Time of Mailtrap API requests, per email attempted.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            let n = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// A client allowed to scrape `/metrics` and read `/healthz`'s details: a direct loopback
/// connection (not relayed by a proxy on the same host: no forwarding header), or one
/// sending `Authorization: Bearer <KIPEKEE_METRICS_TOKEN>`.
pub struct Scraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Scraper {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        let token_ok = match (&app.config.metrics_token, bearer) {
            (Some(token), Some(given)) => same(token.expose().as_bytes(), given.as_bytes()),
            _ => false,
        };
        if token_ok || is_direct_loopback(req) {
            Outcome::Success(Scraper)
        } else {
            Outcome::Error((Status::Forbidden, ()))
        }
    }
}

fn is_direct_loopback(req: &Request<'_>) -> bool {
    let relayed = ["Forwarded", "X-Forwarded-For", "X-Real-IP"]
        .iter()
        .any(|h| req.headers().contains(*h));
    let loopback = |ip: std::net::IpAddr| ip.is_loopback();
    !relayed
        && req.remote().is_some_and(|r| loopback(r.ip()))
        && req.client_ip().is_some_and(loopback)
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[get("/metrics")]
fn metrics(_scraper: Scraper, app: &State<App>) -> (ContentType, String) {
    let text =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (text, app.metrics.render())
}

/// Counts posts to a configured form that were turned away before being stored.
pub struct RejectedPosts;

#[rocket::async_trait]
impl Fairing for RejectedPosts {
    fn info(&self) -> Info {
        Info {
            name: "metrics: rejected posts",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if req.method() != Method::Post {
            return;
        }
        let Some(slug) = req.uri().path().as_str().strip_prefix("/f/") else {
            return;
        };
        let outcome = match res.status().code {
            413 => "too_large",
            422 => "invalid",
            429 => "rate_limited",
            403 => "forbidden",
            400..=499 => "rejected",
            500..=599 => "error",
            _ => return,
        };
        // Only configured forms: a slug in a label must not be the visitor's choice.
        if let Some(app) = req.rocket().state::<App>() {
            if app.config.forms.contains_key(slug) {
                app.metrics.rejected(slug, outcome);
            }
        }
    }
}

/// Whether email delivery works, judged from the newest records of the delivery log: the one
/// rule behind `/healthz`'s `degraded` and the dashboard's "Emails are failing" banner.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryHealth {
    Ok,
    /// The latest `streak` attempts that went to Mailtrap all failed.
    Failing {
        streak: Vec<Delivery>,
    },
}

impl DeliveryHealth {
    /// Failing when the newest [`FAILING_DELIVERIES`] attempts that were not skipped all
    /// failed (`failed` or `unknown`); `newest_first` is the delivery log's head.
    pub fn judge(newest_first: &[Delivery]) -> DeliveryHealth {
        let streak: Vec<Delivery> = newest_first
            .iter()
            .filter(|d| d.status != EmailStatus::Skipped)
            .take_while(|d| matches!(d.status, EmailStatus::Failed | EmailStatus::Unknown))
            .cloned()
            .collect();
        if streak.len() < FAILING_DELIVERIES {
            return DeliveryHealth::Ok;
        }
        DeliveryHealth::Failing { streak }
    }

    /// From the store's newest records.
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
            DeliveryHealth::Failing { .. } => "degraded",
        }
    }

    /// The latest failure's kind, when failing.
    pub fn failure(&self) -> Option<FailureKind> {
        match self {
            DeliveryHealth::Ok => None,
            DeliveryHealth::Failing { streak } => {
                Some(streak[0].failure.unwrap_or(FailureKind::Internal))
            }
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
            DeliveryHealth::Failing { streak } => Some(format!(
                "the last {} email attempts failed; latest: {}",
                streak.len(),
                streak[0].error.as_deref().unwrap_or("no error text")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.latency.observe(40);
        m.latency.observe(700);
        m.rejected("qu\"ote", "invalid");
        let text = m.render();
        assert!(text.contains("kipekee_mailtrap_request_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("kipekee_mailtrap_request_duration_seconds_bucket{le=\"1\"} 2"));
        assert!(text.contains("kipekee_mailtrap_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("kipekee_mailtrap_request_duration_seconds_sum 0.74"));
        assert!(text.contains(r#"kipekee_submissions_total{form="qu\"ote",outcome="invalid"} 1"#));
    }

    #[test]
    fn failing_takes_the_same_streak_for_banner_and_health() {
        let attempt = |status, failure| {
            let mut d = Delivery::planned("admin", Some("o@example.com"), "s");
            d.status = status;
            d.failure = failure;
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
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
