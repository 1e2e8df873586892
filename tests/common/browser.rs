//! Headless Chromium driven through chromedriver (fantoccini), for the browser tests:
//! starting the driver, running one journey with a time limit, waiting for the page, and
//! screenshots at a laptop and a phone width under `<target>/test-artifacts/`.
//!
//! Include with `#[path = "common/browser.rs"] mod browser;` (only browser tests pay for it).
#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::common::process::{self, Server};
use crate::common::FakeMailtrap;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const INSTALL: &str = "apt-get install -y --no-install-recommends chromium chromium-driver";
const INSTALL_HINT: &str = "install Debian's Chromium and ChromeDriver: \
     `apt-get install -y --no-install-recommends chromium chromium-driver` (.ci/run does this)";

/// How long one wait for the page (an element, a text, a URL) may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// The admin password of the binary [`serve`] starts.
pub const PASSWORD: &str = "a long and correct admin passphrase";

/// Whether Chromium and chromedriver are here; under `CI=true` their absence fails the test.
pub fn available() -> bool {
    crate::common::tools::require_tool("chromedriver", INSTALL)
        && crate::common::tools::require_tool(CHROMIUM, INSTALL)
}

/// The real binary a journey runs against, with the fake Mailtrap it sends to; its data and
/// the browser's profile live in `tmp`. Fields drop in order: the process before the dir.
pub struct Served {
    pub server: Server,
    pub fake: Arc<FakeMailtrap>,
    pub tmp: TempDir,
}

/// What a journey has besides the browser: the server's address and where screenshots go.
#[derive(Clone)]
pub struct Site {
    pub base: String,
    pub artifacts: PathBuf,
}

impl Site {
    /// The absolute URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Starts the real binary on a free loopback port with a fresh fake Mailtrap, the admin
/// password [`PASSWORD`], and `env` on top of [`process::command`]'s environment; returns once
/// it answers `/healthz`. `None` when Chromium or chromedriver is missing ([`available`]).
pub fn serve(env: &[(&str, &str)]) -> Option<Served> {
    if !available() {
        return None;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    let fake = Arc::new(FakeMailtrap::start());
    let hash = kipekee::web::admin::hash_password(PASSWORD);
    let server = Server::start_command(&data_dir, |port| {
        let mut cmd = process::command(&data_dir, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &hash);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd
    });
    Some(Served { server, fake, tmp })
}

impl Served {
    /// Runs `journey` in a fresh headless Chromium against the server for at most `limit`
    /// (see [`run`]); the server's log is printed if the journey fails.
    pub fn run<F, Fut>(&self, limit: Duration, journey: F)
    where
        F: FnOnce(Client, Site) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let site = Site {
            base: self.server.url(""),
            artifacts: artifacts_dir(),
        };
        run(
            self.tmp.path(),
            limit,
            || self.server.log_text(),
            |client| journey(client, site),
        );
    }
}

/// Runs `journey` in a fresh headless Chromium (profile under `tmp`) for at most `limit`;
/// a panic in the journey is re-raised after `server_log` is printed. Pages get 20 s to load
/// and scripts 60 s to run; elements are never waited for implicitly (see [`find`]).
pub fn run<F, Fut>(tmp: &Path, limit: Duration, server_log: impl Fn() -> String, journey: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let profile = tmp.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let driver = ChromeDriver::start(tmp);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let client = tokio::time::timeout(
            Duration::from_secs(30),
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities(&profile))
                .connect(&driver.url()),
        )
        .await
        .unwrap_or_else(|_| panic!("no WebDriver session in 30 s; log:\n{}", driver.log_text()))
        .unwrap_or_else(|e| {
            panic!(
                "no WebDriver session: {e}; chromedriver log:\n{}",
                driver.log_text()
            )
        });
        let mut timeouts = TimeoutConfiguration::default();
        timeouts.set_page_load(Some(Duration::from_secs(20)));
        timeouts.set_script(Some(Duration::from_secs(60)));
        timeouts.set_implicit(Some(Duration::ZERO));
        client
            .update_timeouts(timeouts)
            .await
            .expect("set timeouts");
        let task = tokio::spawn(journey(client.clone()));
        let abort = task.abort_handle();
        let outcome = tokio::time::timeout(limit, task).await;
        abort.abort();
        // Always end the session, so that Chromium goes away with it.
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        outcome
    });
    drop(runtime);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => {
            eprintln!("kipekee log:\n{}", server_log());
            std::panic::resume_unwind(e.into_panic())
        }
        Ok(Err(e)) => panic!("browser journey did not finish: {e}"),
        Err(_) => panic!(
            "browser journey took longer than {limit:?}; kipekee log:\n{}",
            server_log()
        ),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `<target>/test-artifacts`, created.
pub fn artifacts_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir");
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// chromedriver on a free loopback port, killed (with the browser it started) on drop.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ChromeDriver {
    fn start(dir: &Path) -> ChromeDriver {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: {INSTALL_HINT}"
        );
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let out = File::create(&log).expect("chromedriver log file");
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::from(out.try_clone().expect("log fd")))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}): {INSTALL_HINT}"));
        let mut driver = ChromeDriver { child, port, log };
        driver.wait_ready(Duration::from_secs(20));
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(500))
            .build();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited with {status}; log:\n{}",
                    self.log_text()
                );
            }
            let ready = agent
                .get(&format!("{}/status", self.url()))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "chromedriver did not become ready in {timeout:?}; log:\n{}",
            self.log_text()
        );
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium for a closed network: no background connections, a fresh profile.
fn capabilities(profile: &Path) -> Capabilities {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-dev-shm-usage".to_string(),
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-sync".to_string(),
        "--no-first-run".to_string(),
        "--disable-quic".to_string(),
        "--lang=en-US".to_string(),
        "--window-size=1280,900".to_string(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

pub fn step(what: &str) {
    eprintln!("[browser] {what}");
}

/// The first element matching `css`, waiting for it.
pub async fn find(c: &Client, css: &str) -> Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => panic!("no {css:?} on {} within {WAIT:?}: {e}", page_url(c).await),
    }
}

/// The link whose text is exactly `text`, waiting for it.
pub async fn find_link(c: &Client, text: &str) -> Element {
    match c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText(text))
        .await
    {
        Ok(e) => e,
        Err(e) => panic!(
            "no link {text:?} on {} within {WAIT:?}: {e}",
            page_url(c).await
        ),
    }
}

/// Types `text` into the first element matching `css`, waiting for it.
pub async fn type_into(c: &Client, css: &str, text: &str) {
    find(c, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// The `value` property of the first element matching `css` (what a field holds now).
pub async fn value_of(c: &Client, css: &str) -> Option<String> {
    find(c, css)
        .await
        .prop("value")
        .await
        .unwrap_or_else(|e| panic!("read the value of {css}: {e}"))
}

/// On the login page: types `password` and sends the form.
pub async fn log_in(c: &Client, password: &str) {
    type_into(c, "#password", password).await;
    click(c, "form[action='/admin/login'] button[type=submit]").await;
}

pub async fn click(c: &Client, css: &str) {
    let element = find(c, css).await;
    if let Err(e) = element.click().await {
        panic!("click {css:?} on {}: {e}", page_url(c).await);
    }
}

/// Waits until an element matching `css` shows text containing `needle`; returns that text.
pub async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        seen.clear();
        if let Ok(elements) = c.find_all(Locator::Css(css)).await {
            for e in elements {
                if let Ok(text) = e.text().await {
                    if text.contains(needle) {
                        return text;
                    }
                    seen.push(text);
                }
            }
        }
        if Instant::now() >= deadline {
            let body = match c.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!(
                "{css:?} never showed {needle:?} on {} within {WAIT:?}; it showed {seen:?}; \
                 the page reads:\n{body}",
                page_url(c).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the current URL's path is `path` (any query).
pub async fn wait_path(c: &Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = path_of(c).await;
        if now == path {
            return;
        }
        if Instant::now() >= deadline {
            panic!("expected to be at {path}, still at {now} after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn path_of(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

pub async fn page_url(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_else(|e| format!("(no URL: {e})"))
}

/// Screenshots of the current page at a laptop and a phone width: what fits in the window
/// (`<name>-<w>x<h>.png`) and the whole page (`<name>-<w>-full.png`). Restores 1280×900.
pub async fn screenshots(c: &Client, dir: &Path, name: &str) {
    for (width, height) in [(1280, 900), (390, 844)] {
        resize_viewport(c, width, height).await;
        let metrics = c
            .execute(
                "const d = document.documentElement;
                 return [innerWidth, innerHeight, d.scrollWidth, d.scrollHeight];",
                vec![],
            )
            .await
            .expect("page metrics");
        let m: Vec<u64> = metrics
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let [inner_w, inner_h, scroll_w, scroll_h] = m[..] else {
            panic!("page metrics: {metrics}");
        };
        assert_eq!(
            (inner_w, inner_h),
            (width, height),
            "the viewport is the size asked for"
        );
        if scroll_w > inner_w {
            eprintln!(
                "[browser] LAYOUT: {name} at {width} px is {scroll_w} px wide: \
                 the page scrolls sideways"
            );
        }
        save_png(c, &dir.join(format!("{name}-{width}x{height}.png"))).await;
        // The whole page: a window as tall as the document (capped).
        resize_viewport(c, width, scroll_h.clamp(height, 6000)).await;
        save_png(c, &dir.join(format!("{name}-{width}-full.png"))).await;
    }
    resize_viewport(c, 1280, 900).await;
}

/// Sizes the window so that the viewport (not the outer window) is `width`×`height`. The
/// browser's frame is measured and added; Chromium applies a resize asynchronously, so the
/// size is read back and corrected until it holds (a few rounds at most).
pub async fn resize_viewport(c: &Client, width: u64, height: u64) {
    let (mut outer_w, mut outer_h) = (to_u32(width), to_u32(height));
    let mut inner = (0, 0);
    for _ in 0..6 {
        c.set_window_size(outer_w, outer_h)
            .await
            .expect("set window size");
        let size = c
            .execute("return [innerWidth, innerHeight];", vec![])
            .await
            .expect("viewport size");
        inner = (
            size[0].as_u64().unwrap_or(width),
            size[1].as_u64().unwrap_or(height),
        );
        if inner == (width, height) {
            return;
        }
        let grow = |outer: u32, want: u64, got: u64| {
            let outer = i64::from(outer) + i64::try_from(want).unwrap_or(0)
                - i64::try_from(got).unwrap_or(0);
            u32::try_from(outer.max(1)).unwrap_or(1)
        };
        outer_w = grow(outer_w, width, inner.0);
        outer_h = grow(outer_h, height, inner.1);
    }
    eprintln!("[browser] the viewport stays {inner:?}, not {width}×{height}");
}

pub fn to_u32(v: u64) -> u32 {
    u32::try_from(v).expect("a window dimension fits u32")
}

pub async fn save_png(c: &Client, path: &Path) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    std::fs::write(path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("[browser] screenshot {}", path.display());
}
