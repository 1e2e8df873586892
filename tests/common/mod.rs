//! Shared test harness: a loopback fake Mailtrap, the app in-process, the binary as a process.
#![allow(dead_code)]

pub mod admin;
pub mod admin_http;
pub mod fake_mailtrap;
pub mod multipart;
pub mod process;
pub mod proxy;
pub mod secrets;
pub mod slow;
pub mod tools;
pub mod webhooks;

use std::path::Path;

use figment::Figment;
use rocket::http::ContentType;
use rocket::local::blocking::{Client, LocalResponse};
use tempfile::TempDir;

#[allow(unused_imports)]
pub use fake_mailtrap::{FakeMailtrap, Fault};

pub const OWNER: &str = "owner@shop.example";
pub const JOBS: &str = "jobs@shop.example";
pub const NEWS: &str = "news@shop.example";
pub const FROM: &str = "Mbugani Shop <hello@example.com>";
pub const PUBLIC_URL: &str = "http://shop.test";

/// The configuration every test starts from: its own data dir, the fake as Mailtrap.
pub fn figment(dir: &Path, fake: &FakeMailtrap) -> Figment {
    kipekee::config::figment()
        .merge(("data_dir", dir.display().to_string()))
        .merge(("mailtrap_api_url", fake.url()))
        .merge(("mailtrap_api_token", fake_mailtrap::TOKEN))
        .merge(("mailtrap_timeout_secs", 2))
        .merge(("default_from_email", FROM))
        .merge(("admin_email", OWNER))
        .merge(("jobs_email", JOBS))
        .merge(("newsletter_email", NEWS))
        .merge(("public_url", PUBLIC_URL))
        // Tests post instantly and often; the abuse controls have tests of their own.
        .merge(("spam_min_seconds", 0))
        .merge(("rate_limit", 0))
        .merge(("log_level", "off"))
}

/// The app in-process with a tracked client; the fake and the data dir live as long as it.
pub struct TestApp {
    pub client: Client,
    pub fake: FakeMailtrap,
    pub dir: TempDir,
}

impl TestApp {
    pub fn start() -> TestApp {
        TestApp::start_with(|f| f)
    }

    pub fn start_with(configure: impl FnOnce(Figment) -> Figment) -> TestApp {
        let fake = FakeMailtrap::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let rocket = kipekee::rocket(configure(figment(dir.path(), &fake))).expect("app builds");
        let client = Client::tracked(rocket).expect("valid rocket");
        TestApp { client, fake, dir }
    }

    /// The store the server writes into.
    pub fn store(&self) -> &kipekee::store::Store {
        self.client
            .rocket()
            .state::<kipekee::store::Store>()
            .expect("the store is managed")
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &kipekee::config::AppConfig {
        self.client
            .rocket()
            .state::<kipekee::config::AppConfig>()
            .expect("the configuration is managed")
    }

    /// The tag sessions carry of the admin password they were opened with.
    pub fn admin_tag(&self) -> String {
        self.client
            .rocket()
            .state::<kipekee::web::admin::AdminPassword>()
            .expect("the admin password is managed")
            .tag()
            .to_string()
    }

    /// The form pages' time trap, to sign a `_t` as a page shown at another time would.
    pub fn trap(&self) -> &kipekee::forms::spam::TimeTrap {
        self.client
            .rocket()
            .state::<kipekee::forms::spam::TimeTrap>()
            .expect("the time trap is managed")
    }

    /// Posts `pairs` url-encoded to `path`, as a browser's form does.
    pub fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> LocalResponse<'_> {
        self.client
            .post(path.to_string())
            .header(ContentType::Form)
            .body(form_body(pairs))
            .dispatch()
    }

    /// Posts a `multipart/form-data` body, as [`multipart::Multipart::finish`] makes it.
    pub fn post_multipart(
        &self,
        path: &str,
        (content_type, body): (String, Vec<u8>),
    ) -> LocalResponse<'_> {
        let content_type = ContentType::parse_flexible(&content_type).expect("a content type");
        self.client
            .post(path.to_string())
            .header(content_type)
            .body(body)
            .dispatch()
    }

    /// The stored submission a form post's 303 points at (by its `reference`).
    pub fn stored_behind(&self, res: &LocalResponse<'_>) -> kipekee::model::Submission {
        let location = res.headers().get_one("Location").expect("a redirect");
        let reference = query_param(location, "reference").expect("a reference");
        self.store()
            .submission_by_reference(&reference)
            .expect("the store answers")
            .expect("stored")
    }
}

/// A url-encoded body from pairs.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded`, as browsers send it (WHATWG URL standard).
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The query parameter `name` of a Location such as `/f/quote/thanks?reference=Q-1001&email=sent`.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A real one-page PDF CV, made by LibreOffice (see tests/fixtures/cv/README.md).
pub const PDF: &[u8] = include_bytes!("../fixtures/cv/cv.pdf");

/// A CV fixture by name, from tests/fixtures/cv/ (each made by a real producer).
pub fn cv_fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cv")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
