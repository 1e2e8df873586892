//! A fake Mailtrap Email Sending API for integration tests and benchmarks.
//!
//! This is a **real HTTP/1.1 server** on `127.0.0.1:<ephemeral port>` built on `std::net`
//! only (one thread per connection, no async runtime), so the appliance's real `ureq`
//! client talks to it over real sockets. Point the client's base URL at [`FakeMailtrap::url`].
//!
//! It follows Mailtrap's sending API as its docs and SDKs define it:
//! * routes `POST /api/send`, `/api/batch`, `/api/send/{id}`, `/api/batch/{id}`; anything
//!   else is `404 {"errors":["Not Found"]}`;
//! * auth with `Authorization: Bearer test-token` or `Api-Token: test-token`; both headers
//!   give 400, a missing or wrong token gives `401 {"errors":["Unauthorized"]}`;
//! * per-message validation in the doc's order with the doc's error strings (400
//!   `{"success":false,"errors":[…]}`), strict base64 attachments, then a from-domain that is
//!   not exactly [`VERIFIED_DOMAIN`] gives 401 and a message over [`MAX_MESSAGE_BYTES`] of
//!   JSON gives 413;
//! * success is `{"success":true,"message_ids":[one id per to+cc+bcc recipient]}`;
//! * batch (`{"base":{…},"requests":[…]}`, at most 500) always answers 200 with per-item
//!   results; `base` is merged under each request with whole-value replacement;
//! * keep-alive, `Connection: close`, Content-Length and chunked request bodies.
//!
//! Every request is recorded (see [`Recorded`]), including those answered by an injected
//! [`Fault`]. Replies carry `Content-Type: application/json; charset=utf-8` and Content-Length.
//! Not modelled: rate limiting (429) and the 403 "pending domain" case; inject them with
//! [`Fault::Status`].
//!
//! HTTPS mode ([`FakeMailtrap::start_https`]) serves the same over TLS (rustls) with a fresh
//! self-signed certificate for `IP:127.0.0.1`; [`FakeMailtrap::write_cert`] writes it as PEM for
//! the appliance's `SSL_CERT_FILE`. There [`FakeMailtrap::connections`] counts TCP connections,
//! each of which is one TLS handshake.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// The page a gateway (Cloudflare, nginx) in front of Mailtrap answers with.
pub fn gateway_page(code: u16) -> String {
    format!(
        "<html><head><title>{code} {}</title></head><body><center><h1>{code} {}</h1></center>\
         <hr><center>cloudflare</center></body></html>",
        reason(code),
        reason(code)
    )
}

/// The only accepted API token.
pub const TOKEN: &str = "test-token";
/// From-addresses must be on exactly this domain (no subdomains), else 401.
pub const VERIFIED_DOMAIN: &str = "example.com";
/// Largest accepted message, measured as its JSON encoding (attachments still base64).
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted request body (the batch payload limit); bigger bodies get 413 unread,
/// the connection is closed and nothing is recorded.
pub const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;
pub const MAX_BATCH_REQUESTS: usize = 500;
/// Recipient cap, counted over to+cc+bcc together (the safe reading of the doc).
pub const MAX_RECIPIENTS: usize = 1000;
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
const IDLE_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// An injected misbehaviour, applied to every request from [`FakeMailtrap::set_fault`] on.
#[derive(Clone, Debug, Default)]
pub enum Fault {
    #[default]
    None,
    /// every request answers this status with this raw body (Content-Type application/json
    /// unless body isn't JSON, then text/html), optional Retry-After seconds header
    Status {
        code: u16,
        body: String,
        retry_after: Option<u32>,
    },
    /// read the request, then never answer (keep socket open until the fake is dropped,
    /// the client goes away, or 60 s pass)
    Hang,
    /// read the request, then close the socket without answering
    Drop,
    /// batch only: HTTP 200, top-level success:true, but every item {"success":false,...};
    /// `/api/send` behaves normally
    FailAllItems,
    /// a gateway in front of Mailtrap: the message is accepted and delivered as usual, then
    /// the gateway answers this status (502/503/504) with its own HTML page, not Mailtrap's
    /// JSON (a proxy timing out on Mailtrap's answer)
    GatewayAfterAccept(u16),
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// names lower-cased, values trimmed, in arrival order
    pub headers: Vec<(String, String)>,
    /// `Value::Null` if the body isn't JSON
    pub body: Value,
    /// what the fake answered (0 for Hang/Drop)
    pub status: u16,
    /// index of the TCP connection it came on (0-based, in accept order)
    pub connection: usize,
}

impl Recorded {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

#[derive(Default)]
struct State {
    fault: Fault,
    latency: Duration,
    requests: Vec<Recorded>,
    delivered: Vec<Value>,
}

#[derive(Default)]
struct Shared {
    /// Request bytes the fake reads per second; 0 = unthrottled (a slow uplink).
    upload_rate: AtomicU64,
    state: Mutex<State>,
    arrived: Condvar,
    stop: AtomicBool,
    connections: AtomicUsize,
    next_id: AtomicU64,
    /// Every message id answered, with the message it was for (see [`Issued`]).
    issued: Mutex<Vec<Issued>>,
}

/// A message id the fake returned: for which recipient, carrying which `custom_variables`
/// and `category` (what a real Mailtrap puts into that message's webhook events).
#[derive(Clone, Debug)]
pub struct Issued {
    pub message_id: String,
    pub email: String,
    pub category: Option<String>,
    pub custom_variables: Value,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `n` unique uuid-shaped message ids.
    fn ids(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let i = self.next_id.fetch_add(1, SeqCst) + 1;
                format!("fa4e0000-0000-4000-8000-{i:012x}")
            })
            .collect()
    }

    /// One id per recipient of `msg` (to, cc, bcc in order), remembered as [`Issued`].
    fn issue(&self, msg: &Value, n: usize) -> Vec<String> {
        let ids = self.ids(n);
        let recipients = ["to", "cc", "bcc"].iter().flat_map(|k| {
            msg.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        });
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, r) in ids.iter().zip(recipients) {
            issued.push(Issued {
                message_id: id.clone(),
                email: r["email"].as_str().unwrap_or_default().to_string(),
                category: msg["category"].as_str().map(str::to_string),
                custom_variables: msg.get("custom_variables").cloned().unwrap_or(Value::Null),
            });
        }
        ids
    }
}

/// The running fake. Dropping it stops the accept loop and releases hanging connections.
pub struct FakeMailtrap {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    /// HTTPS mode: the self-signed certificate, PEM.
    cert_pem: Option<String>,
}

impl FakeMailtrap {
    /// Binds `127.0.0.1:0` and starts serving plain HTTP.
    ///
    /// # Panics
    /// Only if the socket can't be bound or the accept thread can't be spawned.
    pub fn start() -> Self {
        Self::serve(None)
    }

    /// Like [`FakeMailtrap::start`], but HTTPS with a new self-signed certificate whose
    /// subject alternative names are `IP:127.0.0.1` and `DNS:localhost`.
    pub fn start_https() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("fake mailtrap: self-signed certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![cert.cert.der().clone()], key)
            })
            .expect("fake mailtrap: TLS server config");
        let mut fake = Self::serve(Some(Arc::new(config)));
        fake.cert_pem = Some(cert.cert.pem());
        fake
    }

    fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake mailtrap: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake mailtrap: local_addr");
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("fake-mailtrap-accept".into())
            .spawn(move || accept_loop(listener, s, tls))
            .expect("fake mailtrap: spawn accept thread");
        FakeMailtrap {
            addr,
            shared,
            accept: Some(accept),
            cert_pem: None,
        }
    }

    /// `http://127.0.0.1:<port>` (`https://` in HTTPS mode), without a trailing slash.
    pub fn url(&self) -> String {
        let scheme = if self.cert_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// HTTPS mode: the certificate the fake presents, PEM; `None` in plain-HTTP mode.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// HTTPS mode: writes the certificate to `path` (for `SSL_CERT_FILE`).
    ///
    /// # Panics
    /// In plain-HTTP mode, or if the file can't be written.
    pub fn write_cert(&self, path: &std::path::Path) {
        let pem = self.cert_pem().expect("fake mailtrap: not in HTTPS mode");
        std::fs::write(path, pem).expect("fake mailtrap: write certificate");
    }

    pub fn set_fault(&self, f: Fault) {
        self.shared.lock().fault = f;
    }

    /// Reads request bytes at most this fast, as a slow uplink between the appliance and
    /// Mailtrap would deliver them; 0 turns the throttle off.
    pub fn set_upload_rate(&self, bytes_per_sec: u64) {
        self.shared.upload_rate.store(bytes_per_sec, SeqCst);
    }

    /// Delay added before answering each request.
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests were recorded; on timeout returns what it has.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = match self.shared.arrived.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        st.requests.clone()
    }

    /// TCP connections accepted so far.
    /// Every message id answered so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.shared
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(SeqCst)
    }

    /// Every message accepted so far (200 and item success), batch `base` merged in.
    pub fn delivered(&self) -> Vec<Value> {
        self.shared.lock().delivered.clone()
    }

    /// Forgets recorded requests and delivered messages (fault and latency stay).
    pub fn reset(&self) {
        let mut st = self.shared.lock();
        st.requests.clear();
        st.delivered.clear();
    }

    pub fn header<'a>(r: &'a Recorded, name: &str) -> Option<&'a str> {
        r.header(name)
    }
}

impl Drop for FakeMailtrap {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        self.shared.arrived.notify_all();
        // Wake the blocking accept() so the loop sees `stop`.
        if TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok() {
            if let Some(h) = self.accept.take() {
                let _ = h.join();
            }
        }
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<Arc<rustls::ServerConfig>>) {
    for stream in listener.incoming() {
        if shared.stop.load(SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(10)); // e.g. EMFILE: don't spin
            continue;
        };
        let index = shared.connections.fetch_add(1, SeqCst);
        let s = Arc::clone(&shared);
        let tls = tls.clone();
        let _ = thread::Builder::new()
            .name(format!("fake-mailtrap-conn-{index}"))
            .spawn(move || {
                let stream = match tls {
                    None => Stream::Plain(stream),
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(conn) => Stream::Tls(Box::new(rustls::StreamOwned::new(conn, stream))),
                        Err(_) => return,
                    },
                };
                serve_connection(stream, index, s);
            });
    }
}

// ---------------------------------------------------------------- HTTP/1.1 plumbing

/// A connection's bytes: plain TCP, or TLS over it (the handshake happens on first use).
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

enum ReadErr {
    Closed,
    Bad(&'static str),
    TooLarge,
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    retry_after: Option<u32>,
}

impl Reply {
    fn json(status: u16, v: Value) -> Self {
        let body = v.to_string();
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body,
            retry_after: None,
        }
    }
    fn fail<S: Into<String>>(status: u16, errors: Vec<S>) -> Self {
        let errors: Vec<String> = errors.into_iter().map(Into::into).collect();
        Self::json(status, json!({ "success": false, "errors": errors }))
    }
    fn unauthorized() -> Self {
        Self::json(401, json!({ "errors": ["Unauthorized"] }))
    }
}

struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    shared: Arc<Shared>,
}

impl Conn {
    /// Reads more bytes into `buf`, polling `stop`; Closed on EOF, error, stop or idleness.
    fn fill(&mut self) -> Result<(), ReadErr> {
        let mut chunk = [0u8; 16 * 1024];
        let since = Instant::now();
        // Throttled: a slice per 50 ms tick, so the sender's writes back up as on a slow link.
        let rate = self.shared.upload_rate.load(SeqCst);
        let take = match rate {
            0 => chunk.len(),
            r => usize::try_from(r / 20).unwrap_or(1).clamp(1, chunk.len()),
        };
        loop {
            if self.shared.stop.load(SeqCst) || since.elapsed() > IDLE_LIMIT {
                return Err(ReadErr::Closed);
            }
            match self.stream.read(&mut chunk[..take]) {
                Ok(0) => return Err(ReadErr::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if rate > 0 {
                        thread::sleep(Duration::from_millis(50));
                    }
                    return Ok(());
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => return Err(ReadErr::Closed),
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadErr> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.take(n))
    }

    /// One line without its CRLF (a bare LF is tolerated).
    fn read_line(&mut self) -> Result<Vec<u8>, ReadErr> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let mut line = self.take(scanned + i + 1);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.buf.len();
            if scanned > MAX_HEAD_BYTES {
                return Err(ReadErr::Bad("header line too long"));
            }
            self.fill()?;
        }
    }

    fn read_request(&mut self) -> Result<Request, ReadErr> {
        let line = loop {
            let l = self.read_line()?;
            if !l.is_empty() {
                break l; // RFC 9112 2.2: ignore empty lines before a request line
            }
        };
        let line =
            String::from_utf8(line).map_err(|_| ReadErr::Bad("request line is not UTF-8"))?;
        let mut parts = line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReadErr::Bad("malformed request line"));
        };
        if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
            return Err(ReadErr::Bad("malformed request line"));
        }
        let mut headers = Vec::new();
        loop {
            let l = self.read_line()?;
            if l.is_empty() {
                break;
            }
            if headers.len() >= MAX_HEADERS {
                return Err(ReadErr::Bad("too many headers"));
            }
            let l = String::from_utf8_lossy(&l);
            let (n, v) = l
                .split_once(':')
                .ok_or(ReadErr::Bad("malformed header line"))?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let has_token = |name: &str, token: &str| {
            find_header(&headers, name)
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        let close = has_token("connection", "close")
            || (version == "HTTP/1.0" && !has_token("connection", "keep-alive"));
        let expect_continue = has_token("expect", "100-continue");
        let chunked = has_token("transfer-encoding", "chunked");
        let length = match find_header(&headers, "content-length") {
            Some(v) if !chunked => Some(
                v.parse::<usize>()
                    .map_err(|_| ReadErr::Bad("invalid Content-Length"))?,
            ),
            _ => None,
        };
        if length.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ReadErr::TooLarge);
        }
        if expect_continue && (chunked || length.unwrap_or(0) > 0) {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body = match (chunked, length) {
            (true, _) => self.read_chunked()?,
            (false, Some(n)) => self.read_exact(n)?,
            (false, None) => Vec::new(),
        };
        let path = target.split('?').next().unwrap_or(target).to_string();
        Ok(Request {
            method: method.to_string(),
            path,
            headers,
            body,
            close,
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadErr> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size, 16).map_err(|_| ReadErr::Bad("invalid chunk size"))?;
            if size == 0 {
                while !self.read_line()?.is_empty() {} // trailers
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY_BYTES {
                return Err(ReadErr::TooLarge);
            }
            body.extend(self.read_exact(size)?);
            if !self.read_line()?.is_empty() {
                return Err(ReadErr::Bad("chunk data not followed by CRLF"));
            }
        }
    }

    fn write(&mut self, r: &Reply, close: bool) -> std::io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            r.status,
            reason(r.status),
            r.content_type,
            r.body.len()
        );
        if let Some(s) = r.retry_after {
            let _ = write!(out, "Retry-After: {s}\r\n");
        }
        out.push_str(if close {
            "Connection: close\r\n\r\n"
        } else {
            "Connection: keep-alive\r\n\r\n"
        });
        out.push_str(&r.body);
        self.stream.write_all(out.as_bytes())?;
        self.stream.flush()
    }

    /// [`Fault::Hang`]: hold the socket without answering until stop, client EOF, or the limit.
    fn hang(&mut self) {
        let since = Instant::now();
        let mut sink = [0u8; 4096];
        while !self.shared.stop.load(SeqCst) && since.elapsed() < IDLE_LIMIT {
            match self.stream.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => return,
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

enum Outcome {
    Reply(Reply),
    Hang,
    Drop,
}

fn serve_connection(stream: Stream, connection: usize, shared: Arc<Shared>) {
    let _ = stream.tcp().set_read_timeout(Some(POLL));
    let _ = stream.tcp().set_write_timeout(Some(IDLE_LIMIT));
    let _ = stream.tcp().set_nodelay(true);
    let mut c = Conn {
        stream,
        buf: Vec::new(),
        shared,
    };
    loop {
        let req = match c.read_request() {
            Ok(r) => r,
            Err(ReadErr::Closed) => return,
            Err(ReadErr::Bad(msg)) => return drop(c.write(&Reply::fail(400, vec![msg]), true)),
            Err(ReadErr::TooLarge) => {
                let r = Reply::fail(413, vec!["message too large"]);
                return drop(c.write(&r, true));
            }
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let (fault, latency) = {
            let st = c.shared.lock();
            (st.fault.clone(), st.latency)
        };
        let (outcome, delivered) = match fault {
            Fault::None => route(&req, &body, false, &c.shared),
            Fault::FailAllItems => route(&req, &body, true, &c.shared),
            Fault::GatewayAfterAccept(code) => {
                let (_, delivered) = route(&req, &body, false, &c.shared);
                let page = Reply {
                    status: code,
                    content_type: "text/html; charset=utf-8",
                    body: gateway_page(code),
                    retry_after: None,
                };
                (Outcome::Reply(page), delivered)
            }
            Fault::Hang => (Outcome::Hang, vec![]),
            Fault::Drop => (Outcome::Drop, vec![]),
            Fault::Status {
                code,
                body,
                retry_after,
            } => {
                let json = serde_json::from_str::<Value>(&body).is_ok();
                let content_type = if json {
                    "application/json; charset=utf-8"
                } else {
                    "text/html; charset=utf-8"
                };
                (
                    Outcome::Reply(Reply {
                        status: code,
                        content_type,
                        body,
                        retry_after,
                    }),
                    vec![],
                )
            }
        };
        let status = match &outcome {
            Outcome::Reply(r) => r.status,
            _ => 0,
        };
        {
            let mut st = c.shared.lock();
            let Request {
                method,
                path,
                headers,
                ..
            } = req;
            st.requests.push(Recorded {
                method,
                path,
                headers,
                body,
                status,
                connection,
            });
            st.delivered.extend(delivered);
        }
        c.shared.arrived.notify_all();
        if !latency.is_zero() {
            thread::sleep(latency);
        }
        match outcome {
            Outcome::Hang => return c.hang(),
            Outcome::Drop => return drop(c.stream.tcp().shutdown(Shutdown::Both)),
            Outcome::Reply(r) => {
                if c.write(&r, req.close).is_err() || req.close {
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------- the Mailtrap API

/// `Some(is_batch)` for the four sending routes.
fn parse_route(method: &str, path: &str) -> Option<bool> {
    let segs: Vec<&str> = path.split('/').collect();
    let kind = match segs.as_slice() {
        ["", "api", kind] => *kind,
        ["", "api", kind, id] if id.parse::<u64>().is_ok_and(|i| i >= 1) => *kind,
        _ => return None,
    };
    let batch = match kind {
        "send" => false,
        "batch" => true,
        _ => return None,
    };
    (method == "POST").then_some(batch)
}

fn check_auth(headers: &[(String, String)]) -> Result<(), Reply> {
    let token = match (
        find_header(headers, "authorization"),
        find_header(headers, "api-token"),
    ) {
        (Some(_), Some(_)) => {
            return Err(Reply::fail(
                400,
                vec!["send either 'Authorization' or 'Api-Token', not both"],
            ))
        }
        (Some(a), None) => a
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim()),
        (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    if token == Some(TOKEN) {
        Ok(())
    } else {
        Err(Reply::unauthorized())
    }
}

fn route(req: &Request, body: &Value, fail_items: bool, shared: &Shared) -> (Outcome, Vec<Value>) {
    let Some(batch) = parse_route(&req.method, &req.path) else {
        return (
            Outcome::Reply(Reply::json(404, json!({ "errors": ["Not Found"] }))),
            vec![],
        );
    };
    if let Err(r) = check_auth(&req.headers) {
        return (Outcome::Reply(r), vec![]);
    }
    let Value::Object(obj) = body else {
        let r = Reply::fail(400, vec!["request body must be a JSON object"]);
        return (Outcome::Reply(r), vec![]);
    };
    let (reply, delivered) = if batch {
        handle_batch(obj, fail_items, shared)
    } else {
        match check_message(obj) {
            Ok(n) => {
                let r = Reply::json(
                    200,
                    json!({ "success": true, "message_ids": shared.issue(body, n) }),
                );
                (r, vec![body.clone()])
            }
            Err(rej) => (rej.reply(), vec![]),
        }
    };
    (Outcome::Reply(reply), delivered)
}

fn handle_batch(
    obj: &Map<String, Value>,
    fail_items: bool,
    shared: &Shared,
) -> (Reply, Vec<Value>) {
    let top = |msg: String| (Reply::fail(400, vec![msg]), vec![]);
    let base = match obj.get("base") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(b)) => b.clone(),
        Some(_) => return top("'base' must be an object".into()),
    };
    if ["to", "cc", "bcc"].iter().any(|k| base.contains_key(*k)) {
        return top("'base' must not contain 'to', 'cc' or 'bcc'".into());
    }
    let items = match obj.get("requests") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return top("'requests' is required".into()),
    };
    if items.len() > MAX_BATCH_REQUESTS {
        return top(format!(
            "'requests' must contain at most {MAX_BATCH_REQUESTS} messages"
        ));
    }
    let checked: Vec<Result<(Value, usize), Rejection>> = items
        .iter()
        .map(|item| {
            let Value::Object(o) = item else {
                return Err(Rejection::Invalid(vec![
                    "request must be a JSON object".into()
                ]));
            };
            let mut merged = base.clone();
            merged.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            let n = check_message(&merged)?;
            Ok((Value::Object(merged), n))
        })
        .collect();
    // Like the real API's auth check, an unverified from-domain fails the whole call.
    if checked
        .iter()
        .any(|r| matches!(r, Err(Rejection::Unauthorized)))
    {
        return (Reply::unauthorized(), vec![]);
    }
    let mut delivered = Vec::new();
    let responses: Vec<Value> = checked
        .into_iter()
        .map(|r| match r {
            _ if fail_items => {
                json!({ "success": false, "errors": ["fault injected: message rejected"] })
            }
            Ok((msg, n)) => {
                let ids = shared.issue(&msg, n);
                delivered.push(msg);
                json!({ "success": true, "message_ids": ids })
            }
            Err(rej) => json!({ "success": false, "errors": rej.messages() }),
        })
        .collect();
    (
        Reply::json(200, json!({ "success": true, "responses": responses })),
        delivered,
    )
}

enum Rejection {
    Invalid(Vec<String>),
    Unauthorized,
    TooLarge,
}

impl Rejection {
    fn messages(&self) -> Vec<String> {
        match self {
            Rejection::Invalid(e) => e.clone(),
            Rejection::Unauthorized => vec!["Unauthorized".into()],
            Rejection::TooLarge => vec!["message too large".into()],
        }
    }
    fn reply(&self) -> Reply {
        match self {
            Rejection::Invalid(_) => Reply::fail(400, self.messages()),
            Rejection::Unauthorized => Reply::unauthorized(),
            Rejection::TooLarge => Reply::fail(413, self.messages()),
        }
    }
}

/// The address in `{"email": "...", "name"?: "..."}` if it looks like one. Like the real
/// API, addresses are ASCII only: `anna@bücher.example` is refused (`'reply_to' address is
/// invalid`, as Mailtrap answered in the reported fault), its punycode form is accepted.
fn email_of(v: &Value) -> Option<&str> {
    let e = v.get("email")?.as_str()?;
    let (local, domain) = e.split_once('@')?;
    let sane = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && e.is_ascii()
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    let name_ok = !matches!(v.get("name"), Some(n) if !n.is_string() && !n.is_null());
    (sane && name_ok).then_some(e)
}

/// Validates one (merged) message; `Ok(recipient count)`.
fn check_message(m: &Map<String, Value>) -> Result<usize, Rejection> {
    let mut errs: Vec<String> = Vec::new();
    let present = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let filled = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let from = match m.get("from").filter(|v| !v.is_null()) {
        None => {
            errs.push("'from' is required".into());
            None
        }
        Some(v) => email_of(v).or_else(|| {
            errs.push("'from' address is invalid".into());
            None
        }),
    };
    let mut recipients = 0;
    for key in ["to", "cc", "bcc"] {
        match m.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                recipients += list.len();
                if list.iter().any(|a| email_of(a).is_none()) {
                    errs.push(format!("'{key}' address is invalid"));
                }
            }
            Some(_) => errs.push(format!("'{key}' must be an array of addresses")),
        }
    }
    if recipients == 0 {
        errs.push("'to', 'cc' or 'bcc' address is required".into());
    }
    if present("template_uuid") {
        for k in ["subject", "text", "html", "category"] {
            if present(k) {
                errs.push(format!("'{k}' is not allowed with 'template_uuid'"));
            }
        }
    } else {
        if !filled("subject") {
            errs.push("'subject' is required".into());
        }
        if !filled("text") && !filled("html") {
            errs.push("must specify either text or html body".into());
        }
    }
    if recipients > MAX_RECIPIENTS {
        errs.push(format!(
            "too many recipients: at most {MAX_RECIPIENTS} in 'to', 'cc' and 'bcc' together"
        ));
    }
    match m.get("category") {
        Some(Value::String(c)) if c.chars().count() > 255 => {
            errs.push("'category' must be at most 255 characters".into());
        }
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => errs.push("'category' must be a string".into()),
    }
    match m.get("reply_to") {
        None | Some(Value::Null) => {}
        Some(Value::Object(_)) if m.get("reply_to").and_then(email_of).is_none() => {
            errs.push("'reply_to' address is invalid".into());
        }
        Some(Value::Object(_)) => {}
        Some(_) => errs.push("'reply_to' must be a single address object".into()),
    }
    for k in ["headers", "custom_variables"] {
        let ok = match m.get(k) {
            None | Some(Value::Null) => true,
            Some(Value::Object(o)) => o.values().all(Value::is_string),
            Some(_) => false,
        };
        if !ok {
            errs.push(format!("'{k}' must be an object of string values"));
        }
    }
    match m.get("attachments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, a) in list.iter().enumerate() {
                let field = |k: &str| a.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
                if field("filename").is_none() {
                    errs.push(format!("attachments[{i}]: 'filename' is required"));
                }
                match field("content") {
                    None => errs.push(format!("attachments[{i}]: 'content' is required")),
                    Some(c) if base64::engine::general_purpose::STANDARD.decode(c).is_err() => errs.push(
                        format!("attachments[{i}]: 'content' must be strict base64 (standard alphabet, padded, no line breaks)"),
                    ),
                    Some(_) => {}
                }
                if a.get("disposition")
                    .is_some_and(|d| !matches!(d.as_str(), Some("attachment" | "inline")))
                {
                    errs.push(format!(
                        "attachments[{i}]: 'disposition' must be 'attachment' or 'inline'"
                    ));
                }
            }
        }
        Some(_) => errs.push("'attachments' must be an array".into()),
    }
    if !errs.is_empty() {
        return Err(Rejection::Invalid(errs));
    }
    let domain = from.and_then(|e| e.rsplit('@').next()).unwrap_or("");
    if !domain.eq_ignore_ascii_case(VERIFIED_DOMAIN) {
        return Err(Rejection::Unauthorized);
    }
    if serde_json::to_vec(m).map_or(0, |v| v.len()) > MAX_MESSAGE_BYTES {
        return Err(Rejection::TooLarge);
    }
    Ok(recipients)
}
