//! The Mailtrap Email Sending API client: one pooled, kept-alive `ureq` agent per process,
//! one `/api/batch` round trip per call. Blocking: call it from `spawn_blocking`.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::answer::{parse_batch_answer, parse_send_answer, transport_failure};
use super::body::{address, message, Body, Marks, Message};
use super::tls::tls_config;
use super::Email;
use crate::config::AppConfig;
use crate::model::{EmailStatus, Failure, FailureKind, Mailbox, Outcome, Secret};

pub struct Mailtrap {
    agent: ureq::Agent,
    /// Kept for seed mode, which builds a fresh agent (a fresh connection) per email.
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    base_url: String,
    batch_url: String,
    token: Option<Secret>,
    from: Mailbox,
    seed_mode: bool,
}

/// Mailtrap caps a batch at 500 messages; a submission sends two or three.
const MAX_BATCH: usize = 500;

/// Idle connections kept open to Mailtrap: one per concurrent send we promise (64 clients).
const IDLE_CONNECTIONS: usize = 64;

impl Mailtrap {
    pub fn new(config: &AppConfig) -> Mailtrap {
        let timeout = Duration::from_secs(config.mailtrap_timeout_secs.max(1));
        // Only an https:// API needs the root store: plain-HTTP fakes skip loading it.
        let tls = config
            .mailtrap_api_url
            .starts_with("https://")
            .then(|| Arc::new(tls_config(config.ssl_cert_file.as_deref())));
        let base_url = config.mailtrap_api_url.trim_end_matches('/').to_string();
        if config.mailtrap_seed_mode {
            tracing::warn!("mailtrap_seed_mode is on: one new connection and one request per email (benchmark only)");
        }
        Mailtrap {
            agent: agent(tls.as_ref(), timeout, IDLE_CONNECTIONS),
            tls,
            timeout,
            batch_url: config.mailtrap_batch_url(),
            base_url,
            token: config.mailtrap_api_token.clone(),
            from: config.default_from_email.clone(),
            seed_mode: config.mailtrap_seed_mode,
        }
    }

    pub fn is_configured(&self) -> bool {
        self.token.is_some()
    }

    /// Sends every email that has a recipient in one request; one outcome per email, in order.
    pub fn send_batch(&self, emails: &[Email]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = emails
            .iter()
            .map(|e| self.skip_reason(e).map(Outcome::skipped))
            .collect();
        let pending: Vec<usize> = (0..emails.len())
            .filter(|&i| outcomes[i].is_none())
            .collect();
        for chunk in pending.chunks(MAX_BATCH) {
            let batch: Vec<&Email> = chunk.iter().map(|&i| &emails[i]).collect();
            let sent = if self.seed_mode {
                self.post_one_by_one(&batch)
            } else {
                self.post(&batch)
            };
            for (&i, outcome) in chunk.iter().zip(sent) {
                outcomes[i] = Some(outcome);
            }
        }
        outcomes.into_iter().flatten().collect()
    }

    /// Why `email` would not be sent at all (no recipient, an address Mailtrap cannot take,
    /// no token), decided without a request.
    pub fn skip_reason(&self, email: &Email) -> Option<&'static str> {
        match (&self.token, &email.to) {
            (_, None) => Some("recipient is not configured"),
            (_, Some(to)) if to.email.to_ascii().is_none() => Some(
                "the address has non-ASCII characters before the @, which Mailtrap cannot send to",
            ),
            (None, _) => Some("MAILTRAP_API_TOKEN is not set"),
            _ => None,
        }
    }

    fn post(&self, emails: &[&Email]) -> Vec<Outcome> {
        #[derive(Serialize)]
        struct Batch {
            base: Value,
            requests: Vec<Message>,
        }
        let marks = Marks::new();
        let batch = Batch {
            base: json!({ "from": address(&self.from) }),
            requests: emails.iter().map(|e| message(e, &marks)).collect(),
        };
        let n = emails.len();
        self.request(
            &self.agent,
            &self.batch_url,
            Body::new(&batch, marks),
            n,
            |status, text| parse_batch_answer(status, text, n),
        )
    }

    /// The seed's way, kept only so the benchmark can measure the difference side by side
    /// (`mailtrap_seed_mode`): each email through `/api/send` on a brand-new agent, that is a
    /// new TCP connection and TLS handshake, one after the other.
    fn post_one_by_one(&self, emails: &[&Email]) -> Vec<Outcome> {
        let url = format!("{}/api/send", self.base_url);
        emails
            .iter()
            .flat_map(|e| {
                let marks = Marks::new();
                let mut one = message(e, &marks);
                one.fields.insert("from".into(), address(&self.from));
                let fresh = agent(self.tls.as_ref(), self.timeout, 0);
                self.request(&fresh, &url, Body::new(&one, marks), 1, |status, text| {
                    vec![parse_send_answer(status, text)]
                })
            })
            .collect()
    }

    /// One POST carrying `n` emails, and their outcomes as `parse` reads them from the answer.
    /// The body is produced as it is sent (`body::Body`), its length known before.
    fn request(
        &self,
        agent: &ureq::Agent,
        url: &str,
        body: std::io::Result<Body>,
        n: usize,
        parse: impl FnOnce(u16, &str) -> Vec<Result<Vec<String>, Failure>>,
    ) -> Vec<Outcome> {
        let Some(token) = &self.token else {
            return vec![Outcome::skipped("MAILTRAP_API_TOKEN is not set"); n];
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                let failure = Failure::new(
                    FailureKind::Internal,
                    format!("could not prepare the request: {e}"),
                );
                return vec![Outcome::failed(failure); n];
            }
        };
        let len = body.len();
        let written = Arc::new(AtomicUsize::new(0));
        let started_at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        // A fixed Content-Length (no chunked encoding) and a reader that counts what ureq
        // took of the body: a timeout before it took everything cannot have delivered.
        let answer = agent
            .post(url)
            .timeout(budget(self.timeout, len))
            .set("Authorization", &format!("Bearer {}", token.expose()))
            .set("Accept", "application/json")
            .set("Content-Type", "application/json")
            .set("Content-Length", &len.to_string())
            .send(Counted {
                inner: body,
                read: Arc::clone(&written),
            });
        let mut retry_after_secs = None;
        let (http_status, items) = match answer {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
                let status = resp.status();
                // Seconds only: Mailtrap documents no HTTP-date form.
                retry_after_secs = resp
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse().ok());
                let text = resp.into_string().unwrap_or_default();
                (Some(status), parse(status, &text))
            }
            Err(ureq::Error::Transport(t)) => {
                let whole = written.load(Ordering::Relaxed) >= len;
                (None, vec![Err(transport_failure(&t, whole)); n])
            }
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        items
            .into_iter()
            .map(|item| match item {
                Ok(message_ids) => Outcome {
                    status: EmailStatus::Sent,
                    http_status,
                    message_ids,
                    error: None,
                    failure: None,
                    started_at,
                    duration_ms,
                    retry_after_secs,
                },
                Err(failure) => Outcome {
                    http_status,
                    started_at,
                    duration_ms,
                    retry_after_secs,
                    ..Outcome::failed(failure)
                },
            })
            .collect()
    }
}

/// The slowest uplink a host is expected to have, in bytes per second (2 Mbit/s): the
/// request's budget grows by the time this takes to carry its body.
const SLOWEST_UPLINK_BYTES_PER_SEC: u64 = 250_000;

/// Mailtrap's limit on one message, attachments base64-encoded (its sending API docs).
pub const MAX_MESSAGE_BYTES: usize = 10_000_000;

/// The time budget of one request of `len` bytes: `base` (`KIPEKEE_MAILTRAP_TIMEOUT_SECS`,
/// the budget of an ordinary message) plus the body's time at the slowest planned uplink.
/// A 7 MB job application gets 38 s at a 10 s base; the largest request Mailtrap takes
/// (one message of 10 MB) 50 s: see [`longest_send`].
pub fn budget(base: Duration, len: usize) -> Duration {
    base + Duration::from_secs(len as u64 / SLOWEST_UPLINK_BYTES_PER_SEC)
}

/// The longest a send in flight can take with this base budget: what a stop must wait for.
pub fn longest_send(base: Duration) -> Duration {
    budget(base, MAX_MESSAGE_BYTES)
}

/// A request body that counts the bytes the HTTP client has taken from it.
struct Counted {
    inner: Body,
    read: Arc<AtomicUsize>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

/// A pooled, kept-alive agent that trusts `tls`'s roots (ureq's built-in roots without it).
fn agent(tls: Option<&Arc<rustls::ClientConfig>>, timeout: Duration, idle: usize) -> ureq::Agent {
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .max_idle_connections(idle.max(1))
        .max_idle_connections_per_host(idle.max(1))
        .user_agent(concat!("kipekee/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = tls {
        builder = builder.tls_config(Arc::clone(tls));
    }
    builder.build()
}

#[cfg(test)]
mod tests;
