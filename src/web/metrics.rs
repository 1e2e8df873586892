//! `/metrics` for a scraper (loopback or the metrics token), and the fairing that counts
//! posts turned away before they were stored. The counters are `crate::metrics`.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Method, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{get, routes, Request, Response, Route, State};

use crate::App;

pub fn routes() -> Vec<Route> {
    routes![metrics]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
