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

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Client;

use browser::{
    click, find, find_link, log_in, path_of, screenshots, step, type_into, value_of, wait_path,
    wait_text, Site, PASSWORD, WAIT,
};
use common::FakeMailtrap;
use serde_json::json;

/// How long the whole browser journey may take.
const JOURNEY: Duration = Duration::from_secs(180);

const VISITOR_NAME: &str = "Amani Wanjiru";
const VISITOR_EMAIL: &str = "amani@visitor.example";
const VISITOR_MESSAGE: &str = "Quote for 40 hand-woven baskets, delivered to Arusha by June.";
const NOTE: &str = "Called back: deposit agreed, invoice sent.";

#[test]
fn the_owner_handles_a_quote_request_in_a_real_browser() {
    let started = Instant::now();
    let Some(served) = browser::serve(&[]) else {
        return;
    };
    let fake = Arc::clone(&served.fake);
    served.run(JOURNEY, |client, site| journey(client, site, fake));
    eprintln!(
        "browser end-to-end test passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The whole journey, step by step, asserting what the page shows.
async fn journey(c: Client, site: Site, fake: Arc<FakeMailtrap>) {
    // 1. A visitor asks for a quote.
    step("visitor fills in /f/quote");
    c.goto(&site.url("/f/quote")).await.expect("open /f/quote");
    type_into(&c, "input[name=full_name]", VISITOR_NAME).await;
    type_into(&c, "input[name=email]", VISITOR_EMAIL).await;
    type_into(&c, "textarea[name=message]", VISITOR_MESSAGE).await;
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
    c.goto(&site.url("/admin")).await.expect("open /admin");
    wait_path(&c, "/admin/login").await;
    log_in(&c, "not the password").await;
    wait_text(&c, ".flash", "Wrong password.").await;
    assert_eq!(path_of(&c).await, "/admin/login");

    step("right password → dashboard");
    log_in(&c, PASSWORD).await;
    wait_text(&c, "h1", "Dashboard").await;
    assert_eq!(path_of(&c).await, "/admin");
    let latest = wait_text(&c, "table.list tbody", &reference).await;
    assert!(latest.contains(VISITOR_NAME), "dashboard row: {latest}");
    screenshots(&c, &site.artifacts, "dashboard").await;

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
    screenshots(&c, &site.artifacts, "submission").await;

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
    let selected = value_of(&c, "select[name=status]").await;
    assert_eq!(selected.as_deref(), Some("won"), "status after reload");
    type_into(&c, "textarea[name=text]", NOTE).await;
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
    c.goto(&site.url("/admin")).await.expect("open /admin");
    wait_path(&c, "/admin/login").await;
    c.goto(&site.url(&detail_path))
        .await
        .expect("open the submission");
    wait_path(&c, "/admin/login").await;
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
