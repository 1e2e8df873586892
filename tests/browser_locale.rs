//! A Swahili visitor in a real browser ("a Swahili run of the public flow"):
//! headless Chromium, driven through chromedriver, against the real `kipekee` binary started
//! with `KIPEKEE_LOCALE=sw` and the loopback fake Mailtrap. The visitor fills in the quote
//! form with a mistyped address, reads the Swahili message by the field, fixes it and lands
//! on the Swahili thank-you page; the confirmation email Mailtrap received is then opened in
//! the same browser at phone width and must not scroll sideways. Screenshots at 1280 and
//! 390 px go to `<target>/test-artifacts/sw-*.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver`, like tests/browser.rs.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Client;

use browser::{
    click, find, resize_viewport, screenshots, step, type_into, value_of, wait_path, wait_text,
    Site,
};
use common::FakeMailtrap;

const JOURNEY: Duration = Duration::from_secs(120);
const VISITOR_EMAIL: &str = "amina@visitor.example";

#[test]
fn a_swahili_visitor_fixes_a_mistake_and_is_thanked_in_swahili() {
    let started = Instant::now();
    let Some(served) = browser::serve(&[
        ("KIPEKEE_LOCALE", "sw"),
        ("KIPEKEE_TIMEZONE", "Africa/Dar_es_Salaam"),
        (
            "KIPEKEE_BUSINESS_ADDRESS",
            "Mtaa wa Samora 12, Dar es Salaam",
        ),
        ("KIPEKEE_BUSINESS_PHONE", "+255 22 211 0000"),
        ("KIPEKEE_BUSINESS_WEBSITE", "https://www.mbugani.example/"),
    ]) else {
        return;
    };
    let fake = Arc::clone(&served.fake);
    let mail_file = served.tmp.path().join("confirmation.html");
    served.run(JOURNEY, |client, site| {
        journey(client, site, fake, mail_file)
    });
    eprintln!(
        "Swahili browser journey passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn journey(c: Client, site: Site, fake: Arc<FakeMailtrap>, mail_file: PathBuf) {
    let artifacts = &site.artifacts;

    step("the Swahili quote form");
    c.goto(&site.url("/f/quote")).await.expect("open /f/quote");
    wait_text(&c, "h1", "Omba bei").await;
    let lang = c
        .execute("return document.documentElement.lang;", vec![])
        .await
        .expect("read lang");
    assert_eq!(lang, "sw", "<html lang>");
    wait_text(&c, "label[for=f-full_name]", "Jina kamili").await;
    screenshots(&c, artifacts, "sw-form").await;

    step("submit with a mistyped address and no message");
    type_into(&c, "input[name=full_name]", "Amina Juma").await;
    type_into(&c, "input[name=email]", "amina@visitor").await;
    click(&c, "form[action='/f/quote'] button[type=submit]").await;
    wait_text(
        &c,
        ".alert",
        "Tafadhali sahihisha sehemu 2 zilizowekwa alama.",
    )
    .await;
    wait_text(&c, "#e-email", "Weka anwani sahihi ya barua pepe").await;
    wait_text(&c, "#e-message", "Sehemu hii inahitajika.").await;
    let kept = value_of(&c, "input[name=full_name]").await;
    assert_eq!(
        kept.as_deref(),
        Some("Amina Juma"),
        "what was typed is kept"
    );
    screenshots(&c, artifacts, "sw-form-422").await;

    step("fix both and send");
    let email = find(&c, "input[name=email]").await;
    email.clear().await.expect("clear email");
    email.send_keys(VISITOR_EMAIL).await.expect("type email");
    type_into(
        &c,
        "textarea[name=message]",
        "Safari ya siku tatu Serengeti kwa watu wanne.",
    )
    .await;
    click(&c, "form[action='/f/quote'] button[type=submit]").await;
    wait_path(&c, "/f/quote/thanks").await;
    wait_text(&c, "h1", "Asante!").await;
    wait_text(&c, ".reference", "Namba yako ya kumbukumbu:").await;
    wait_text(&c, ".notice", "Tumekutumia uthibitisho kwa barua pepe.").await;
    screenshots(&c, artifacts, "sw-thanks").await;

    step("the confirmation email, opened at phone width");
    let html = confirmation_html(&fake).await;
    std::fs::write(&mail_file, &html).expect("write the email");
    c.goto(&format!("file://{}", mail_file.display()))
        .await
        .expect("open the email");
    wait_text(&c, "h1", "Asante, tumeipokea").await;
    wait_text(&c, ".business", "+255 22 211 0000").await;
    resize_viewport(&c, 390, 844).await;
    let widths = c
        .execute(
            "return [innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .expect("widths");
    assert!(
        widths[1].as_u64() <= widths[0].as_u64(),
        "the email scrolls sideways at 390 px: {widths}"
    );
    screenshots(&c, artifacts, "sw-email-confirmation").await;
}

/// The visitor's confirmation as Mailtrap received it, waiting for it to arrive.
async fn confirmation_html(fake: &FakeMailtrap) -> String {
    let deadline = Instant::now() + browser::WAIT;
    loop {
        let found = fake
            .delivered()
            .into_iter()
            .find(|m| m["to"][0]["email"] == VISITOR_EMAIL)
            .and_then(|m| m["html"].as_str().map(str::to_string));
        if let Some(html) = found {
            return html;
        }
        assert!(
            Instant::now() < deadline,
            "no confirmation reached Mailtrap"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
