//! `/metrics` for a scraper (loopback or the metrics token), `/healthz` for anyone (with
//! details for a scraper), and the fairing that counts
//! posts turned away before they were stored. The counters are `crate::metrics`.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Method, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{get, routes, Request, Response, Route, State};

use serde_json::json;
use subtle::ConstantTimeEq;

use std::sync::Arc;

use crate::config::AppConfig;
use crate::mail::Mailtrap;
use crate::metrics::Metrics;
use crate::space::DiskFloor;
use crate::store::Store;

pub fn routes() -> Vec<Route> {
    routes![metrics, healthz]
}

/// A client allowed to scrape `/metrics` and read `/healthz`'s details: a direct loopback
/// connection (not relayed by a proxy on the same host: no forwarding header), or one
/// sending `Authorization: Bearer <KIPEKEE_METRICS_TOKEN>`.
pub struct Scraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Scraper {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(config) = req.rocket().state::<AppConfig>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        let token_ok = match (&config.metrics_token, bearer) {
            (Some(token), Some(given)) => token.expose().as_bytes().ct_eq(given.as_bytes()).into(),
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

#[get("/metrics")]
fn metrics(_scraper: Scraper, metrics: &State<Arc<Metrics>>) -> (ContentType, String) {
    let text =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (text, metrics.render())
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
        let rocket = req.rocket();
        if let (Some(config), Some(metrics)) =
            (rocket.state::<AppConfig>(), rocket.state::<Arc<Metrics>>())
        {
            if config.forms.contains_key(slug) {
                metrics.rejected(slug, outcome);
            }
        }
    }
}

/// `/healthz`'s `cause` while free disk space is below `KIPEKEE_MIN_FREE_BYTES`.
pub const DISK_FULL: &str = "disk_full";

/// Anyone gets `status` and, when not ok, a short `cause` category; the counts, the version and
/// the last Mailtrap error only go to whoever may scrape `/metrics` (a direct loopback
/// client or the metrics token). Security review #14.
#[get("/healthz")]
fn healthz(
    store: &State<Store>,
    disk: &State<DiskFloor>,
    mailer: &State<Arc<Mailtrap>>,
    insider: Option<Scraper>,
) -> (Status, (ContentType, String)) {
    let health = crate::health::DeliveryHealth::of(store);
    let schema = match store.check() {
        Ok(schema) => schema,
        Err(e) => {
            tracing::error!("health check: {e}");
            let body = json!({ "status": "error", "cause": "store" });
            return (
                Status::ServiceUnavailable,
                (ContentType::JSON, body.to_string()),
            );
        }
    };
    let (status, cause) = match disk.check() {
        Err(_) => ("degraded", Some(DISK_FULL)),
        Ok(()) => (health.status(), health.cause()),
    };
    let mut body = json!({ "status": status });
    if let Some(cause) = cause {
        body["cause"] = json!(cause);
    }
    if insider.is_some() {
        body["detail"] = json!(health.detail());
        body["version"] = json!(env!("CARGO_PKG_VERSION"));
        body["schema_version"] = json!(schema);
        body["submissions"] = json!(store.count_submissions());
        body["mailtrap"] = json!(if mailer.is_configured() {
            "configured"
        } else {
            "not configured"
        });
    }
    (Status::Ok, (ContentType::JSON, body.to_string()))
}
