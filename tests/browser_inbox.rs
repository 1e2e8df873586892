//! Followed to the inbox, in a real browser: the real binary with the Mailtrap webhook on,
//! three quote requests whose emails the fake Mailtrap then reports on with signed webhook
//! events (a bounced confirmation, a spam complaint, and an attempt that timed out after
//! sending and that Mailtrap reports delivered), and the owner reading each submission.
//!
//! Screenshots of the bounced submission at 1280 and 390 px go to
//! `<target>/test-artifacts/inbox-bounced-*.png`; the text of each submission page to
//! `inbox-{bounced,complained,reconciled}.txt` there; the settings checklist as
//! `settings-*.png`. Needs Debian's `chromium` and
//! `chromium-driver` (skipped without them, except under `CI=true`).

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::time::Duration;

use fantoccini::Client;
use serde_json::{json, Value};

use browser::{
    find, log_in, resize_viewport, screenshots, step, wait_path, wait_text, Site, PASSWORD,
};
use common::fake_mailtrap::Issued;
use common::process::Server;
use common::webhooks::{self, Payload, Signing, SECRET};
use common::{form_body, FakeMailtrap, Fault};

const JOURNEY: Duration = Duration::from_secs(120);
/// What the fake's bounce event says (tests/common/webhooks.rs).
const BOUNCE: &str =
    "Bounced (bad_mailbox): 550 5.1.1 The email account that you tried to reach does not exist";

#[test]
fn the_owner_reads_a_bounce_a_complaint_and_a_reconciled_timeout() {
    let Some(served) = browser::serve(&[
        ("KIPEKEE_MAILTRAP_WEBHOOK_SECRET", SECRET),
        ("KIPEKEE_MAILTRAP_TIMEOUT_SECS", "1"),
    ]) else {
        return;
    };
    let (server, fake) = (&served.server, &*served.fake);
    let hook = server.url("/hooks/mailtrap");
    let signed = Signing::With(SECRET);

    step("anna's confirmation bounces");
    quote(server, "Anna Wanjiru", "anna@visitor.example");
    let anna = issued_to(fake, "anna@visitor.example");
    let e = webhooks::event("bounce", &anna, "evt-anna-bounce");
    assert_eq!(webhooks::post(&hook, &[e], Payload::Json, signed), 200);

    step("ben marks his confirmation as spam");
    quote(server, "Ben Otieno", "ben@visitor.example");
    let ben = issued_to(fake, "ben@visitor.example");
    let events = [
        webhooks::event("delivery", &ben, "evt-ben-delivery"),
        webhooks::event("spam", &ben, "evt-ben-spam"),
    ];
    assert_eq!(webhooks::post(&hook, &events, Payload::Jsonl, signed), 200);

    step("chris's emails time out after sending; Mailtrap then reports them delivered");
    fake.set_fault(Fault::Hang);
    quote(server, "Chris Mwangi", "chris@visitor.example");
    fake.set_fault(Fault::None);
    let sent_blind = accepted_unanswered(fake);
    assert_eq!(sent_blind.len(), 2, "the owner's copy and the confirmation");
    let delivered: Vec<Value> = sent_blind
        .iter()
        .enumerate()
        .map(|(i, m)| webhooks::event("delivery", m, &format!("evt-chris-{i}")))
        .collect();

    let ids = [
        submission_of(&anna),
        submission_of(&ben),
        submission_of(&sent_blind[0]),
    ];
    served.run(JOURNEY, move |client, site| {
        journey(client, site, ids, delivered)
    });
}

async fn journey(
    c: Client,
    site: Site,
    [anna, ben, chris]: [String; 3],
    chris_delivered: Vec<Value>,
) {
    let artifacts = &site.artifacts;

    step("log in");
    c.goto(&site.url("/admin")).await.expect("open /admin");
    wait_path(&c, "/admin/login").await;
    log_in(&c, PASSWORD).await;
    wait_text(&c, "h1", "Dashboard").await;
    wait_text(
        &c,
        ".bounced",
        "The confirmation to anna@visitor.example bounced",
    )
    .await;

    step("the bounced submission");
    c.goto(&site.url(&format!("/admin/submissions/{anna}")))
        .await
        .expect("open anna's submission");
    let bounce = wait_text(&c, "main", BOUNCE).await;
    assert!(bounce.contains("Anna Wanjiru"), "{bounce}");
    wait_text(
        &c,
        ".flash.bounced",
        "The confirmation to anna@visitor.example bounced: the address may be mistyped — \
         call them on +254 711 222 333.",
    )
    .await;
    wait_text(&c, "details.delivery summary .badge.bounced", "bounced").await;
    for width in [1280, 390] {
        resize_viewport(&c, width, 844).await;
        let cut = cut_off(&c).await;
        assert!(cut.is_empty(), "cut off at {width} px: {cut:#?}");
        let shown = visible(&c, "dd.inbox-bounced").await;
        assert!(shown, "the bounce is on screen, whole, at {width} px");
    }
    resize_viewport(&c, 1280, 900).await;
    screenshots(&c, artifacts, "inbox-bounced").await;
    save_text(&c, artifacts, "inbox-bounced").await;

    step("the complaint");
    c.goto(&site.url(&format!("/admin/submissions/{ben}")))
        .await
        .expect("open ben's submission");
    wait_text(&c, "main", "Marked as spam by the recipient").await;
    save_text(&c, artifacts, "inbox-complained").await;

    step("the timeout, before and after Mailtrap's word");
    c.goto(&site.url(&format!("/admin/submissions/{chris}")))
        .await
        .expect("open chris's submission");
    wait_text(&c, "main", "waiting for Mailtrap to confirm it").await;
    let hook = site.url("/hooks/mailtrap");
    let status = tokio::task::spawn_blocking(move || {
        webhooks::post(
            &hook,
            &chris_delivered,
            Payload::Json,
            Signing::With(SECRET),
        )
    })
    .await
    .expect("posting the events");
    assert_eq!(status, 200);
    c.refresh().await.expect("reload");
    let text = wait_text(
        &c,
        "main",
        "Delivered: the recipient's mail server accepted it",
    )
    .await;
    assert!(!text.contains("waiting for Mailtrap"), "{text}");
    assert!(
        !text.contains("unknown"),
        "no email is left unknown: {text}"
    );
    save_text(&c, artifacts, "inbox-reconciled").await;

    step("the settings checklist");
    c.goto(&site.url("/admin/settings"))
        .await
        .expect("open settings");
    wait_text(&c, "#check-webhook", "On: Mailtrap tells Kipekee").await;
    wait_text(&c, "#check-webhook code", "/hooks/mailtrap").await;
    let copy = find(&c, "button[data-copy='hook-url']").await;
    assert!(
        copy.is_displayed().await.expect("displayed"),
        "the copy button is shown once its script runs"
    );
    for width in [1280, 390] {
        resize_viewport(&c, width, 844).await;
        let cut = cut_off(&c).await;
        assert!(cut.is_empty(), "settings cut off at {width} px: {cut:#?}");
    }
    resize_viewport(&c, 1280, 900).await;
    screenshots(&c, artifacts, "settings").await;
}

/// Posts the quote form as a browser would (303 to the thank-you page).
fn quote(server: &Server, name: &str, email: &str) {
    let body = form_body(&[
        ("full_name", name),
        ("email", email),
        ("phone", "+254 711 222 333"),
        ("message", "Two nights at the lodge in March, two adults."),
    ]);
    let res = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
        .post(&server.url("/f/quote"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body)
        .expect("answered");
    assert_eq!(res.status(), 303);
}

fn issued_to(fake: &FakeMailtrap, email: &str) -> Issued {
    fake.issued()
        .into_iter()
        .rev()
        .find(|i| i.email == email)
        .unwrap_or_else(|| panic!("a message to {email}"))
}

/// The messages of the last request the fake read but never answered, as Mailtrap would
/// know them: a message id Kipekee never learnt, and the custom variables it sent.
fn accepted_unanswered(fake: &FakeMailtrap) -> Vec<Issued> {
    let request = fake.requests().pop().expect("a request");
    assert_eq!(request.status, 0, "the fake never answered it");
    let items = request.body["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Issued {
            message_id: format!("6f1a0c2e-0000-4000-8000-00000000000{i}"),
            email: item["to"][0]["email"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            category: item["category"].as_str().map(str::to_string),
            custom_variables: item["custom_variables"].clone(),
        })
        .collect()
}

fn submission_of(m: &Issued) -> String {
    m.custom_variables["submission_id"]
        .as_str()
        .expect("submission_id")
        .to_string()
}

/// Elements of `main` whose right edge is past the viewport, unless a scrolling container
/// holds them (reachable by a swipe).
async fn cut_off(c: &Client) -> Vec<Value> {
    let found = c
        .execute(
            "const vw = document.documentElement.clientWidth;
             const out = [];
             const scrolls = e => {
               for (let p = e.parentElement; p; p = p.parentElement) {
                 const o = getComputedStyle(p).overflowX;
                 if ((o === 'auto' || o === 'scroll') && p.scrollWidth > p.clientWidth) return true;
               }
               return false;
             };
             for (const e of document.querySelectorAll('main *')) {
               const r = e.getBoundingClientRect();
               if (r.width === 0 || r.height === 0) continue;
               if (r.right > vw + 1 && !scrolls(e)) {
                 out.push(`${e.tagName.toLowerCase()}.${e.className}: right ${Math.round(r.right)} > ${vw}`);
               }
             }
             if (document.documentElement.scrollWidth > vw) out.push(`page ${document.documentElement.scrollWidth} px wide`);
             return out;",
            vec![],
        )
        .await
        .expect("layout check");
    found.as_array().cloned().unwrap_or_default()
}

/// Whether the element is laid out inside the viewport's width with none of its text hidden.
async fn visible(c: &Client, css: &str) -> bool {
    let v = c
        .execute(
            "const e = document.querySelector(arguments[0]);
             if (!e) return false;
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth
               && e.scrollWidth <= e.clientWidth + 1;",
            vec![json!(css)],
        )
        .await
        .expect("visibility check");
    v == json!(true)
}

/// The page's main content as text (every delivery opened), to `<name>.txt`, and printed.
async fn save_text(c: &Client, dir: &std::path::Path, name: &str) {
    let text = c
        .execute(
            "document.querySelectorAll('main details').forEach(d => d.open = true);
             return document.querySelector('main').innerText;",
            vec![],
        )
        .await
        .expect("page text");
    let text = text.as_str().unwrap_or_default().to_string();
    let path = dir.join(format!("{name}.txt"));
    std::fs::write(&path, &text).expect("write the page text");
    eprintln!("[browser] {}:\n{text}\n", path.display());
}
