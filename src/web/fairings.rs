//! What every request and response passes through.

use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Method};
use rocket::{Data, Request, Response};

/// One log line per request: method, path (never the query or body), status, duration,
/// client address and a request id, which the response carries as `X-Request-Id`.
pub struct RequestLog;

struct Started(Instant);

/// The id of one request: the proxy's `X-Request-Id` when it is a plain token, otherwise
/// 16 random hex digits.
pub struct RequestId(pub String);

impl RequestId {
    fn of(req: &Request<'_>) -> RequestId {
        let incoming = req.headers().get_one("X-Request-Id").filter(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        RequestId(match incoming {
            Some(id) => id.to_string(),
            None => format!("{:016x}", rand::random::<u64>()),
        })
    }
}

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Started(Instant::now()));
        let id = RequestId::of(req);
        req.local_cache(|| id);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let started = req.local_cache(|| Started(Instant::now()));
        let id = req.local_cache(|| RequestId::of(req));
        res.set_header(Header::new("X-Request-Id", id.0.clone()));
        tracing::info!(
            request_id = %id.0,
            method = %req.method(),
            path = %req.uri().path(),
            status = res.status().code,
            duration_ms = started.0.elapsed().as_secs_f64() * 1000.0,
            client_ip = %super::client::ClientAddr::of(req).0.map(|ip| ip.to_string()).unwrap_or_default(),
            "request"
        );
    }
}

/// CORS for the form endpoints, only for origins in `KIPEKEE_ALLOWED_ORIGINS`.
pub struct Cors {
    pub allowed: crate::config::Origins,
}

#[rocket::async_trait]
impl Fairing for Cors {
    fn info(&self) -> Info {
        Info {
            name: "CORS for allowed origins",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if !req.uri().path().starts_with("/f/") {
            return;
        }
        res.adjoin_header(Header::new("Vary", "Origin"));
        let Some(origin) = req.headers().get_one("Origin") else {
            return;
        };
        if !self.allowed.allows(origin) {
            return;
        }
        res.set_header(Header::new(
            "Access-Control-Allow-Origin",
            origin.to_string(),
        ));
        if req.method() == Method::Options {
            res.set_header(Header::new("Access-Control-Allow-Methods", "POST, OPTIONS"));
            res.set_header(Header::new(
                "Access-Control-Allow-Headers",
                "Content-Type, Accept",
            ));
            res.set_header(Header::new("Access-Control-Max-Age", "86400"));
        }
    }
}

/// Baseline browser protections on every response.
pub struct SecurityHeaders {
    /// The public URL is https: tell browsers to stay on https (HSTS).
    pub https: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _req: &'r Request<'_>, res: &mut Response<'r>) {
        // `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff` come from Rocket's
        // Shield (`web::shield`): it sets them first, so a second value here would be ignored.
        let headers = [
            ("Referrer-Policy", "same-origin"),
            (
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ];
        for (name, value) in headers {
            // A route that set its own policy (the sandboxed email preview) keeps it.
            if !res.headers().contains(name) {
                res.set_header(Header::new(name, value));
            }
        }
        if self.https {
            res.set_header(Header::new("Strict-Transport-Security", "max-age=31536000"));
        }
    }
}
