//! Every admin and public page in headless Chromium, on a phone and a laptop: no element past
//! the right edge of a 390 px viewport (the test names the element), no `serious` or
//! `critical` axe-core violation at 390 and 1280 px, every link, button and field reachable
//! with the Tab key, and the owner's notification email, as the fake Mailtrap received it,
//! without sideways scrolling at 390 px. Screenshots of every page at 1280 and 390 px go to
//! `<target>/test-artifacts/` (`admin-*`, `public-*`, `email-*`).
//!
//! axe-core is the pinned copy in `tests/vendor/axe-core/` (its README says where it comes
//! from); its hash is checked before it is injected. Needs Debian's `chromium` and
//! `chromium-driver` (skipped with a loud line without them, failed under `CI=true`).

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

use browser::{
    click, find, log_in, path_of, resize_viewport, screenshots, step, type_into, wait_path,
    wait_text, Site, PASSWORD,
};
use common::multipart::Multipart;
use common::process::{self, Server};
use common::{form_body, FakeMailtrap, Fault};

const JOURNEY: Duration = Duration::from_secs(900);
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");
/// `sha512sum tests/vendor/axe-core/axe.min.js`, as its README states.
const AXE_SHA512: &str = "e63e659f9806d7ae5bd40899043b0871a5062c5442b01b3f1a3edf5eaf50bf5c3a7104a72463293b4ad1b77c661a0d4e40e850dec89de9d6ece70a8c13a9af17";
const URLENCODED: &str = "application/x-www-form-urlencoded";
/// A visitor address and a pasted link long enough to push a careless layout off a phone.
const LONG_EMAIL: &str = "wanjiru.kamau.bookings@kilimanjaro-highland-safaris-and-tours.example";
const LONG_URL: &str = "https://www.example.com/itineraries/serengeti-ngorongoro-tarangire-8-days-migration-special-offer?utm_source=newsletter&utm_campaign=2026";

/// What the seeding left for the browser to look at.
struct Seed {
    /// Admin paths of a job application with a CV and of a submission whose emails failed.
    job: String,
    failed: String,
    /// The opt-in link of a pending subscriber and the unsubscribe link of a confirmed one.
    confirm: String,
    unsubscribe: String,
    /// The owner notifications' HTML as Mailtrap received it: a quote and the job application.
    owner_html: Vec<(&'static str, String)>,
}

#[test]
fn every_page_fits_a_phone_passes_axe_and_works_by_keyboard() {
    // The shipped time trap, so that a post without the form's token waits for review.
    let Some(served) = browser::serve(&[("KIPEKEE_SPAM_MIN_SECONDS", "1")]) else {
        return;
    };
    let digest = hex::encode(Sha512::digest(AXE.as_bytes()));
    assert_eq!(
        digest, AXE_SHA512,
        "tests/vendor/axe-core/axe.min.js changed"
    );
    let seed = seed(&served.server, &served.fake);
    served.run(JOURNEY, |client, site| journey(client, site, seed));
}

/// The `_t` token of a form page, so that a post counts as a person's (after a second).
fn form_token(server: &Server, form: &str) -> String {
    let html = process::http()
        .get(&server.url(&format!("/f/{form}")))
        .call()
        .expect("form page")
        .into_string()
        .expect("form html");
    let at = html.find("name=\"_t\" value=\"").expect("a _t field") + 17;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

fn post(server: &Server, form: &str, content_type: &str, body: &[u8]) -> String {
    let res = process::http()
        .post(&server.url(&format!("/f/{form}")))
        .set("Content-Type", content_type)
        .send_bytes(body)
        .unwrap_or_else(|e| panic!("post /f/{form}: {e}\n{}", server.log_text()));
    assert_eq!(res.status(), 303, "post /f/{form}");
    res.header("Location").unwrap_or_default().to_string()
}

/// The first `/admin/submissions/<id>` in `text`.
fn admin_path(text: &str) -> String {
    let at = text
        .find("/admin/submissions/")
        .unwrap_or_else(|| panic!("no admin link in:\n{text}"));
    text[at..at + "/admin/submissions/".len() + 16].to_string()
}

/// The path of the first `/<route>/<token>` link in `text`.
fn link(text: &str, route: &str) -> String {
    let at = text
        .find(&format!("/{route}/"))
        .unwrap_or_else(|| panic!("no /{route}/ link in:\n{text}"));
    text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !"<>\"'".contains(*c))
        .collect()
}

/// The newest message the fake received for `to` whose text contains `needle`.
fn message(fake: &FakeMailtrap, to: &str, needle: &str) -> Value {
    fake.delivered()
        .into_iter()
        .rev()
        .find(|m| {
            m["to"][0]["email"] == to && m["text"].as_str().unwrap_or_default().contains(needle)
        })
        .unwrap_or_else(|| panic!("no message to {to} with {needle:?}"))
}

/// Submissions of every kind the lists show: unread and read, a long address and a pasted
/// link, a CV, one whose emails failed, one waiting for review, subscribers in each state.
fn seed(server: &Server, fake: &FakeMailtrap) -> Seed {
    step("seed submissions");
    let tokens: Vec<String> = (0..4).map(|_| form_token(server, "quote")).collect();
    let contact_tokens: Vec<String> = (0..2).map(|_| form_token(server, "contact")).collect();
    let job_token = form_token(server, "job");
    let news_tokens: Vec<String> = (0..2).map(|_| form_token(server, "newsletter")).collect();
    std::thread::sleep(Duration::from_millis(1100));
    let quotes = [
        ("Wanjiru Kamau", LONG_EMAIL, format!("We would like a mid-range lodge near the crater rim for four nights in August, with a guide who speaks German. Like this one: {LONG_URL}")),
        ("Hans Müller", "hans@example.de", "Zwei Zelte für Juni, bitte.".to_string()),
        ("李娜", "li.na@example.cn", "Family safari for 5, two children under 10, in the long rains.".to_string()),
        ("Baraka Otieno", "baraka@example.com", "Short question: do you do airport transfers from JRO?".to_string()),
    ];
    for ((name, email, message), t) in quotes.iter().zip(&tokens) {
        let body = form_body(&[
            ("full_name", name),
            ("email", email),
            ("message", message),
            ("_t", t),
        ]);
        post(server, "quote", URLENCODED, body.as_bytes());
    }
    let quote_html = message(fake, common::OWNER, "crater rim")["html"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let (ct, body) = Multipart::default()
        .text("full_name", "Amina Wanjiru")
        .text("email", "amina@visitor.example")
        .text("phone", "+255 700 000 000")
        .text("position", "Safari guide")
        .text(
            "cover_letter",
            "Ten years on the Mara; fluent in Maa, Swahili and English.",
        )
        .text("_t", &job_token)
        .file("cv", "amina-wanjiru-cv.pdf", "application/pdf", common::PDF)
        .finish();
    post(server, "job", &ct, &body);
    let job_message = message(fake, common::JOBS, "Safari guide");
    let job = admin_path(job_message["text"].as_str().unwrap_or_default());
    let job_html = job_message["html"].as_str().unwrap_or_default().to_string();

    // Mailtrap refuses the token for one contact: its emails fail and are not retried.
    fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    let body = form_body(&[
        ("name", "Zoë Achieng"),
        ("email", "zoe@example.com"),
        ("message", "Is the Ngorongoro day trip still on?"),
        ("_t", &contact_tokens[0]),
    ]);
    let location = post(server, "contact", URLENCODED, body.as_bytes());
    assert!(location.contains("email=failed"), "{location}");
    fake.set_fault(Fault::None);
    let reference = common::query_param(&location, "reference").expect("reference");
    // A post without the form page's token waits for review.
    let body = form_body(&[
        ("name", "Quick Poster"),
        ("email", "quick@example.com"),
        ("message", "Cheap flights!!!"),
    ]);
    post(server, "contact", URLENCODED, body.as_bytes());
    let _ = &contact_tokens[1];

    for (email, t) in ["pending@example.com", "confirmed@example.com"]
        .iter()
        .zip(&news_tokens)
    {
        let body = form_body(&[("email", email), ("name", "Reader"), ("_t", t)]);
        post(server, "newsletter", URLENCODED, body.as_bytes());
    }
    let confirm = link(
        message(fake, "pending@example.com", "/confirm/")["text"]
            .as_str()
            .unwrap_or_default(),
        "confirm",
    );
    let to_confirm = link(
        message(fake, "confirmed@example.com", "/confirm/")["text"]
            .as_str()
            .unwrap_or_default(),
        "confirm",
    );
    let res = process::http()
        .post(&server.url(&to_confirm))
        .call()
        .expect("confirm");
    assert_eq!(res.status(), 200);
    let welcome = message(fake, "confirmed@example.com", "/unsubscribe/");
    let unsubscribe = link(welcome["text"].as_str().unwrap_or_default(), "unsubscribe");
    Seed {
        job,
        failed: reference,
        confirm,
        unsubscribe,
        owner_html: vec![("quote", quote_html), ("job", job_html)],
    }
}

/// Problems found on every page, reported together at the end.
#[derive(Default)]
struct Findings(Vec<String>);

async fn journey(c: Client, site: Site, seed: Seed) {
    let artifacts = &site.artifacts;
    let mut found = Findings::default();

    // The visitor's side.
    for (name, path) in [
        ("index", "/"),
        ("form-quote", "/f/quote"),
        ("form-contact", "/f/contact"),
        ("form-job", "/f/job"),
        ("form-newsletter", "/f/newsletter"),
        ("confirm", seed.confirm.as_str()),
        ("unsubscribe", seed.unsubscribe.as_str()),
        ("404", "/no-such-page"),
    ] {
        c.goto(&site.url(path)).await.expect("open page");
        check_page(&c, &format!("public-{name}"), artifacts, &mut found).await;
    }
    step("a 422 re-render and the thank-you page");
    c.goto(&site.url("/f/quote")).await.expect("open /f/quote");
    type_into(&c, "input[name=full_name]", "Neema").await;
    type_into(&c, "input[name=email]", "not an address").await;
    type_into(&c, "textarea[name=message]", "Two tents, please.").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    click(&c, "form[action='/f/quote'] button[type=submit]").await;
    wait_text(&c, ".alert", "highlighted").await;
    check_page(&c, "public-422", artifacts, &mut found).await;
    let email = find(&c, "input[name=email]").await;
    email.clear().await.expect("clear email");
    email
        .send_keys("neema@example.com")
        .await
        .expect("type email");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    click(&c, "form[action='/f/quote'] button[type=submit]").await;
    wait_path(&c, "/f/quote/thanks").await;
    check_page(&c, "public-thanks", artifacts, &mut found).await;

    // The owner's side.
    c.goto(&site.url("/admin/login")).await.expect("open login");
    check_page(&c, "admin-login", artifacts, &mut found).await;
    log_in(&c, PASSWORD).await;
    wait_text(&c, "h1", "Dashboard").await;
    skip_link_leads_to_the_content(&c, &mut found).await;
    let failed_path = {
        c.goto(&site.url(&format!("/admin/submissions?q={}", seed.failed)))
            .await
            .expect("search");
        let link = find(&c, "table.rows a.row-link").await;
        link.attr("href").await.ok().flatten().expect("row link")
    };
    for (name, path) in [
        ("dashboard", "/admin"),
        ("submissions", "/admin/submissions"),
        ("review", "/admin/submissions?review=true"),
        ("deliveries", "/admin/deliveries"),
        ("deliveries-failed", "/admin/deliveries?status=failed"),
        ("subscribers", "/admin/subscribers"),
        ("settings", "/admin/settings"),
        ("submission-job", seed.job.as_str()),
        ("submission-failed", failed_path.as_str()),
        ("404", "/admin/no-such-page"),
    ] {
        c.goto(&site.url(path)).await.expect("open admin page");
        check_page(&c, &format!("admin-{name}"), artifacts, &mut found).await;
        keyboard_reaches_everything(&c, name, &mut found).await;
    }
    a_card_opens_with_the_keyboard_on_a_phone(&c, &site.url("/admin/submissions")).await;

    // The owner's notification as the mail client gets it.
    for (name, html) in &seed.owner_html {
        c.goto("about:blank").await.expect("blank page");
        c.execute(
            "document.open(); document.write(arguments[0]); document.close();",
            vec![json!(html)],
        )
        .await
        .expect("write the email");
        resize_viewport(&c, 390, 844).await;
        overflow(&c, &format!("email-owner-{name}"), &mut found).await;
        screenshots(&c, artifacts, &format!("email-owner-{name}")).await;
    }
    assert!(
        found.0.is_empty(),
        "{} problem(s):\n{}",
        found.0.len(),
        found.0.join("\n")
    );
}

/// Overflow at 390 px, axe at 390 and 1280 px, and the screenshots.
async fn check_page(c: &Client, name: &str, artifacts: &std::path::Path, found: &mut Findings) {
    step(&format!("check {name} ({})", path_of(c).await));
    resize_viewport(c, 390, 844).await;
    overflow(c, name, found).await;
    axe(c, &format!("{name} at 390 px"), found).await;
    resize_viewport(c, 1280, 900).await;
    axe(c, &format!("{name} at 1280 px"), found).await;
    screenshots(c, artifacts, name).await;
}

/// Every visible element whose right edge is past the viewport, and sideways scrolling.
async fn overflow(c: &Client, name: &str, found: &mut Findings) {
    let result = c
        .execute(
            "const width = document.documentElement.clientWidth;
             const describe = e => e.tagName.toLowerCase()
               + (e.id ? '#' + e.id : '')
               + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
               + ' \"' + (e.textContent || '').trim().slice(0, 40) + '\"';
             const past = [];
             for (const e of document.querySelectorAll('body *')) {
               const r = e.getBoundingClientRect();
               if (r.width === 0 || r.height === 0) continue;
               if (!e.checkVisibility({ visibilityProperty: true })) continue;
               if (r.right > width + 0.5) past.push(describe(e) + ' ends at ' + Math.round(r.right) + ' px');
             }
             return { width, scroll: document.documentElement.scrollWidth, past: past.slice(0, 12) };",
            vec![],
        )
        .await
        .expect("measure the layout");
    let width = result["width"].as_u64().unwrap_or(0);
    let scroll = result["scroll"].as_u64().unwrap_or(0);
    let past: Vec<String> = result["past"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if scroll > width || !past.is_empty() {
        found.0.push(format!(
            "{name}: {scroll} px wide in a {width} px viewport; past the right edge: {past:#?}"
        ));
    }
}

/// axe-core's violations of impact `serious` or `critical` on the current page.
async fn axe(c: &Client, name: &str, found: &mut Findings) {
    let present = c
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .expect("look for axe");
    if present != json!(true) {
        c.execute(AXE, vec![]).await.expect("inject axe-core");
    }
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({
                 id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ': '
                   + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240)),
               }))))
               .catch(e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .expect("run axe-core");
    assert!(
        result.get("error").is_none(),
        "axe-core on {name}: {result}"
    );
    for v in result.as_array().into_iter().flatten() {
        let impact = v["impact"].as_str().unwrap_or_default();
        if matches!(impact, "serious" | "critical") {
            found.0.push(format!(
                "{name}: axe {impact} {} ({}): {:#}",
                v["id"], v["help"], v["nodes"]
            ));
        }
    }
}

/// Tabs through the page from its top and checks that every visible link, button and field
/// took the focus (nothing is reachable by mouse alone).
async fn keyboard_reaches_everything(c: &Client, name: &str, found: &mut Findings) {
    let count = c
        .execute(
            "document.activeElement && document.activeElement.blur();
             window.scrollTo(0, 0);
             let n = 0;
             for (const e of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
               const r = e.getBoundingClientRect();
               // Inside a closed <details> is reached by opening it (its summary is counted).
               const shown = e.checkVisibility({ visibilityProperty: true }) || e.classList.contains('skip');
               const hidden = e.type === 'hidden' || e.closest('[aria-hidden=true]') || e.disabled
                 || !shown || (r.width === 0 && r.height === 0 && !e.classList.contains('skip'));
               if (hidden) continue;
               e.dataset.kbd = String(n++);
             }
             return n;",
            vec![],
        )
        .await
        .expect("mark focusable elements")
        .as_u64()
        .unwrap_or(0);
    let mut seen = std::collections::BTreeSet::new();
    let body = find(c, "body").await;
    body.send_keys(&Key::Tab.to_string()).await.expect("tab");
    for _ in 0..(count * 2 + 10) {
        let focused = c
            .execute(
                "return document.activeElement ? (document.activeElement.dataset.kbd || null) : null;",
                vec![],
            )
            .await
            .expect("focused element");
        if let Some(i) = focused.as_str().and_then(|s| s.parse::<u64>().ok()) {
            if !seen.insert(i) {
                break;
            }
        }
        if seen.len() as u64 == count {
            break;
        }
        let active = c.active_element().await.expect("active element");
        active.send_keys(&Key::Tab.to_string()).await.expect("tab");
    }
    if (seen.len() as u64) < count {
        let missed = c
            .execute(
                "const seen = new Set(arguments[0]);
                 return [...document.querySelectorAll('[data-kbd]')]
                   .filter(e => !seen.has(e.dataset.kbd))
                   .map(e => e.outerHTML.slice(0, 120));",
                vec![json!(seen
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>())],
            )
            .await
            .expect("missed elements");
        found.0.push(format!(
            "{name}: {} of {count} controls never took the focus by Tab: {missed:#}",
            count - seen.len() as u64
        ));
    }
}

/// The first Tab on a page shows the skip link; following it puts the focus on the content.
async fn skip_link_leads_to_the_content(c: &Client, found: &mut Findings) {
    step("skip link");
    c.execute(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await
    .expect("blur");
    find(c, "body")
        .await
        .send_keys(&Key::Tab.to_string())
        .await
        .expect("tab");
    let skip = c
        .execute(
            "const e = document.activeElement; const r = e.getBoundingClientRect();
             return { text: e.textContent, top: r.top, bottom: r.bottom };",
            vec![],
        )
        .await
        .expect("focused element");
    if skip["text"] != "Skip to content" || skip["top"].as_f64().unwrap_or(-1.0) < 0.0 {
        found
            .0
            .push(format!("the first Tab does not show the skip link: {skip}"));
        return;
    }
    let active = c.active_element().await.expect("active element");
    active
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    let now = c
        .execute("return document.activeElement.id;", vec![])
        .await
        .expect("focus after skip");
    if now != json!("main") {
        found
            .0
            .push(format!("the skip link left the focus on {now}"));
    }
}

/// On a phone, a submission's card is reached with Tab and opened with Enter.
async fn a_card_opens_with_the_keyboard_on_a_phone(c: &Client, list: &str) {
    step("open a card by keyboard at 390 px");
    resize_viewport(c, 390, 844).await;
    c.goto(list).await.expect("open the list");
    let href = find(c, "table.rows a.row-link")
        .await
        .attr("href")
        .await
        .ok()
        .flatten()
        .expect("a card link");
    c.execute(
        "document.querySelector('table.rows a.row-link').focus();",
        vec![],
    )
    .await
    .expect("focus");
    let active = c.active_element().await.expect("active element");
    active
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    wait_path(c, &href).await;
    resize_viewport(c, 1280, 900).await;
}
