//! The real-browser end-to-end test: headless Chromium, driven through chromedriver with
//! fantoccini, against the real `kipekee` binary and the loopback fake Mailtrap.
//!
//! A visitor fills in the public quote form; the owner logs in (a wrong password first),
//! finds the submission on the dashboard, opens it, resends its emails, moves it to "won",
//! adds a note, exports the CSV with the browser's session and logs out. Every step is
//! asserted from what the page shows. Screenshots of the dashboard and of the submission
//! page, at 1280×900 and 390×844, go to `<target>/test-artifacts/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! it is skipped with a loud line, except under `CI=true` where it fails
//! (`common::tools::require_tool`). Everything stays on 127.0.0.1.

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::process::{self, Server};
use common::FakeMailtrap;

const PASSWORD: &str = "a long and correct admin passphrase";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "install Debian's Chromium and ChromeDriver: \
     `apt-get install -y --no-install-recommends chromium chromium-driver` (.ci/run does this)";

/// How long one wait for the page (an element, a text, a URL) may take.
const WAIT: Duration = Duration::from_secs(15);
/// How long the whole browser journey may take.
const JOURNEY: Duration = Duration::from_secs(180);

const VISITOR_NAME: &str = "Amani Wanjiru";
const VISITOR_EMAIL: &str = "amani@visitor.example";
const VISITOR_MESSAGE: &str = "Quote for 40 hand-woven baskets, delivered to Arusha by June.";
const NOTE: &str = "Called back: deposit agreed, invoice sent.";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `<target>/test-artifacts`, created.
fn artifacts_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir");
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// chromedriver on a free loopback port, killed (with the browser it started) on drop.
struct ChromeDriver {
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

#[test]
fn the_owner_handles_a_quote_request_in_a_real_browser() {
    let install = "apt-get install -y --no-install-recommends chromium chromium-driver";
    if !common::tools::require_tool("chromedriver", install)
        || !common::tools::require_tool(CHROMIUM, install)
    {
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    let profile = tmp.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");

    let fake = Arc::new(FakeMailtrap::start());
    let hash = kipekee::web::admin::hash_password(PASSWORD);
    let server = Server::start_command(&data_dir, |port| {
        let mut cmd = process::command(&data_dir, port, &fake.url());
        cmd.env("KIPEKEE_ADMIN_PASSWORD_HASH", &hash)
            .env("KIPEKEE_SPAM_MIN_SECONDS", "0");
        cmd
    });
    let driver = ChromeDriver::start(tmp.path());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let base = server.url("");
    let artifacts = artifacts_dir();
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
        let journey = tokio::spawn(journey(client.clone(), Arc::clone(&fake), base, artifacts));
        let abort = journey.abort_handle();
        let outcome = tokio::time::timeout(JOURNEY, journey).await;
        abort.abort();
        // Always end the session, so that Chromium goes away with it.
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        outcome
    });
    drop(runtime);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => {
            eprintln!("kipekee log:\n{}", server.log_text());
            std::panic::resume_unwind(e.into_panic())
        }
        Ok(Err(e)) => panic!("browser journey did not finish: {e}"),
        Err(_) => panic!(
            "browser journey took longer than {JOURNEY:?}; kipekee log:\n{}",
            server.log_text()
        ),
    }
    eprintln!(
        "browser end-to-end test passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The whole journey, step by step, asserting what the page shows.
async fn journey(c: Client, fake: Arc<FakeMailtrap>, base: String, artifacts: PathBuf) {
    let url = |path: &str| format!("{base}{path}");
    let mut timeouts = TimeoutConfiguration::default();
    timeouts.set_page_load(Some(Duration::from_secs(20)));
    timeouts.set_script(Some(Duration::from_secs(10)));
    timeouts.set_implicit(Some(Duration::ZERO));
    c.update_timeouts(timeouts).await.expect("set timeouts");

    // 1. A visitor asks for a quote.
    step("visitor fills in /f/quote");
    c.goto(&url("/f/quote")).await.expect("open /f/quote");
    find(&c, "input[name=full_name]")
        .await
        .send_keys(VISITOR_NAME)
        .await
        .expect("type full_name");
    find(&c, "input[name=email]")
        .await
        .send_keys(VISITOR_EMAIL)
        .await
        .expect("type email");
    find(&c, "textarea[name=message]")
        .await
        .send_keys(VISITOR_MESSAGE)
        .await
        .expect("type message");
    click(&c, "form[action='/f/quote'] button[type=submit]").await;
    wait_path(&c, "/f/quote/thanks").await;
    let reference = wait_text(&c, ".reference strong", "Q-").await;
    assert!(
        reference.starts_with("Q-") && reference.len() > 2,
        "reference on the thank-you page: {reference:?}"
    );
    wait_text(&c, ".notice", "emailed you a confirmation").await;
    let requests = wait_requests(&fake, 1).await;
    assert_eq!(
        requests.len(),
        1,
        "one round trip to Mailtrap per submission"
    );
    assert_eq!(requests[0].path, "/api/batch", "the batch endpoint is used");
    let delivered = fake.delivered();
    assert!(
        delivered
            .iter()
            .any(|m| m["to"][0]["email"] == VISITOR_EMAIL),
        "the visitor's confirmation went to Mailtrap: {delivered:#?}"
    );

    // 2. The admin panel needs a login; a wrong password says only that.
    step("/admin redirects to login; wrong password");
    c.goto(&url("/admin")).await.expect("open /admin");
    wait_path(&c, "/admin/login").await;
    find(&c, "#password")
        .await
        .send_keys("not the password")
        .await
        .expect("type password");
    click(&c, "form[action='/admin/login'] button[type=submit]").await;
    wait_text(&c, ".flash", "Wrong password.").await;
    assert_eq!(path_of(&c).await, "/admin/login");

    step("right password → dashboard");
    find(&c, "#password")
        .await
        .send_keys(PASSWORD)
        .await
        .expect("type password");
    click(&c, "form[action='/admin/login'] button[type=submit]").await;
    wait_text(&c, "h1", "Dashboard").await;
    assert_eq!(path_of(&c).await, "/admin");
    let latest = wait_text(&c, "table.list tbody", &reference).await;
    assert!(latest.contains(VISITOR_NAME), "dashboard row: {latest}");
    screenshots(&c, &artifacts, "dashboard").await;

    // 3. The owner opens the submission from the dashboard.
    step("open the submission");
    find_link(&c, &reference)
        .await
        .click()
        .await
        .expect("click reference");
    wait_text(&c, "h1", &reference).await;
    let fields = wait_text(&c, "dl.fields", VISITOR_NAME).await;
    for value in [VISITOR_EMAIL, VISITOR_MESSAGE] {
        assert!(
            fields.contains(value),
            "{value:?} in the details:\n{fields}"
        );
    }
    let detail_path = path_of(&c).await;
    assert!(
        detail_path.starts_with("/admin/submissions/"),
        "{detail_path}"
    );
    screenshots(&c, &artifacts, "submission").await;

    // 4. Resend: nothing failed, so the default (failed emails) sends nothing; "All emails"
    // is a new round trip, reported on the page.
    step("resend");
    let before = fake.requests().len();
    click(&c, "form[action$='/resend'] button[type=submit]").await;
    wait_text(&c, ".flash", "Nothing resent").await;
    assert_eq!(
        fake.requests().len(),
        before,
        "nothing failed, nothing resent"
    );
    click(&c, "form[action$='/resend'] select option[value='all']").await;
    click(&c, "form[action$='/resend'] button[type=submit]").await;
    wait_text(&c, ".flash", "Resent: 2 of 2").await;
    let after = wait_requests(&fake, before + 1).await;
    assert!(after.len() > before, "the resend reached Mailtrap");

    // 5. The pipeline: status "won" and a private note.
    step("status won + note");
    find(&c, "select[name=status]")
        .await
        .select_by_label("won")
        .await
        .expect("choose won");
    click(&c, "form[action$='/status'] button[type=submit]").await;
    wait_text(&c, ".flash", "Status set to won.").await;
    let selected = find(&c, "select[name=status]")
        .await
        .prop("value")
        .await
        .expect("status value");
    assert_eq!(selected.as_deref(), Some("won"), "status after reload");
    find(&c, "textarea[name=text]")
        .await
        .send_keys(NOTE)
        .await
        .expect("type note");
    click(&c, "form[action$='/notes'] button[type=submit]").await;
    wait_text(&c, ".flash", "Note added.").await;
    wait_text(&c, ".note", NOTE).await;

    // 6. Export: the "Export CSV" link of the Submissions page, fetched with the browser's
    //    own session (a click would start a download the test cannot read).
    step("export CSV");
    click(&c, "header nav a[href='/admin/submissions']").await;
    wait_text(&c, "h1", "Submissions").await;
    let list = wait_text(&c, "table.list tbody", &reference).await;
    assert!(
        list.contains("won"),
        "the list shows the new status: {list}"
    );
    let link = find_link(&c, "Export CSV").await;
    let href = link
        .prop("href")
        .await
        .expect("href")
        .expect("Export CSV has an href");
    assert!(href.contains("/admin/export.csv"), "{href}");
    let export = c
        .execute_async(
            "const [href, done] = arguments;
             fetch(href, {credentials: 'same-origin'})
               .then(async r => done({
                 status: r.status,
                 type: r.headers.get('content-type'),
                 disposition: r.headers.get('content-disposition'),
                 body: await r.text(),
               }))
               .catch(e => done({error: String(e)}));",
            vec![json!(href)],
        )
        .await
        .expect("fetch the export");
    assert_eq!(export["status"], 200, "export answer: {export:#}");
    let disposition = export["disposition"].as_str().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment"),
        "Content-Disposition: {disposition:?}"
    );
    let csv = export["body"].as_str().unwrap_or_default();
    assert!(csv.contains(&reference), "the CSV has the row:\n{csv}");
    assert!(
        csv.contains(VISITOR_EMAIL),
        "the CSV has the fields:\n{csv}"
    );

    // 7. Log out: back at the login page, and the panel stays closed.
    step("log out");
    click(&c, "form.logout button[type=submit]").await;
    wait_path(&c, "/admin/login").await;
    find(&c, "#password").await;
    c.goto(&url("/admin")).await.expect("open /admin");
    wait_path(&c, "/admin/login").await;
    c.goto(&url(&detail_path))
        .await
        .expect("open the submission");
    wait_path(&c, "/admin/login").await;
}

fn step(what: &str) {
    eprintln!("[browser] {what}");
}

/// The first element matching `css`, waiting for it.
async fn find(c: &Client, css: &str) -> Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => panic!("no {css:?} on {} within {WAIT:?}: {e}", page_url(c).await),
    }
}

/// The link whose text is exactly `text`, waiting for it.
async fn find_link(c: &Client, text: &str) -> Element {
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

async fn click(c: &Client, css: &str) {
    let element = find(c, css).await;
    if let Err(e) = element.click().await {
        panic!("click {css:?} on {}: {e}", page_url(c).await);
    }
}

/// Waits until an element matching `css` shows text containing `needle`; returns that text.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
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
async fn wait_path(c: &Client, path: &str) {
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

async fn path_of(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

async fn page_url(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_else(|e| format!("(no URL: {e})"))
}

/// Waits until the fake recorded at least `n` requests (or the wait ends); returns them all.
async fn wait_requests(fake: &FakeMailtrap, n: usize) -> Vec<common::fake_mailtrap::Recorded> {
    let deadline = Instant::now() + WAIT;
    while fake.requests().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A short grace period makes an unexpected extra request visible.
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.requests()
}

/// Screenshots of the current page at a laptop and a phone width: what fits in the window
/// (`<name>-<w>x<h>.png`) and the whole page (`<name>-<w>-full.png`). Restores 1280×900.
async fn screenshots(c: &Client, dir: &Path, name: &str) {
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

/// Sizes the window so that the viewport (not the outer window) is `width`×`height`.
async fn resize_viewport(c: &Client, width: u64, height: u64) {
    let (w, h) = (to_u32(width), to_u32(height));
    c.set_window_size(w, h).await.expect("set window size");
    let inner = c
        .execute("return [innerWidth, innerHeight];", vec![])
        .await
        .expect("viewport size");
    let (iw, ih) = (
        inner[0].as_u64().unwrap_or(width),
        inner[1].as_u64().unwrap_or(height),
    );
    if (iw, ih) != (width, height) {
        let outer_w = w + to_u32(width.saturating_sub(iw));
        let outer_h = h + to_u32(height.saturating_sub(ih));
        c.set_window_size(outer_w, outer_h)
            .await
            .expect("set window size");
    }
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).expect("a window dimension fits u32")
}

async fn save_png(c: &Client, path: &Path) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    std::fs::write(path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("[browser] screenshot {}", path.display());
}
