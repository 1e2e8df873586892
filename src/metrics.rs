//! Counters kept in memory since the process started, rendered in Prometheus text format
//! for `/metrics` (`web::metrics` serves them). Labels are form slugs, email kinds and
//! outcomes only: never anything a visitor typed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::{Delivery, DeliveryState, EmailStatus, Submission};

/// Upper bounds (seconds) of the Mailtrap latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

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
            bump(
                &self.deliveries,
                (
                    d.kind.clone(),
                    DeliveryState::from(d.outcome.status).as_str(),
                ),
            );
            if d.outcome.status != EmailStatus::Skipped
                && (d.outcome.http_status.is_some() || d.outcome.duration_ms > 0)
            {
                self.latency.observe(d.outcome.duration_ms);
            }
        }
    }

    /// One Mailtrap webhook event (`event`: an inbox state label, `open`, `click` or
    /// `other`) and what became of it: applied, replay, unmatched or ignored.
    pub fn webhook_event(&self, event: &'static str, outcome: &'static str) {
        bump(&self.webhook_events, (event.to_string(), outcome));
    }

    /// A post to a configured form turned away before it was stored (`too_large`,
    /// `invalid`, `rate_limited`, `forbidden`, `rejected`, `error`).
    pub fn rejected(&self, form: &str, outcome: &'static str) {
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
}
