//! The settings page as an owner's checklist: each thing Kipekee needs,
//! how it stands, each form's address and a `<form>` to paste into a site, and the raw
//! configuration folded away with no secret in it.

mod common;

use common::admin::{self, log_in, page};
use common::webhooks::{quote, SECRET};
use common::{fake_mailtrap, form_body, Fault, TestApp, PUBLIC_URL};
use rocket::http::{ContentType, Header, Status};

const METRICS_TOKEN: &str = "scrape-me-7c1d9e";

/// The settings page with tera's entities decoded, so text can be searched as shown.
fn settings(t: &TestApp) -> String {
    page(t, "/admin/settings")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<li>` of checklist item `id`, as HTML.
fn item<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"check-{id}\""))
        .unwrap_or_else(|| panic!("no checklist item {id}:\n{page}"));
    let end = page[start..]
        .find("</li>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

/// The app with an admin password, a metrics token, an allowed site and (if `webhook`) the
/// webhook secret.
fn start(webhook: bool) -> TestApp {
    admin::start_with(|f| {
        let f = f
            .merge(("metrics_token", METRICS_TOKEN))
            .merge(("allowed_origins", "https://www.shop.example"));
        if webhook {
            f.merge(("mailtrap_webhook_secret", SECRET))
        } else {
            f
        }
    })
}

#[test]
fn the_checklist_says_what_is_in_place_and_what_to_do() {
    let t = start(false);
    log_in(&t);
    let p = settings(&t);
    let sender = item(&p, "sender");
    assert!(
        sender.contains(">OK<") && sender.contains("Mbugani Shop <hello@example.com>"),
        "{sender}"
    );
    let owners = item(&p, "owners");
    assert!(owners.contains("Quotes and messages go to owner@shop.example"));
    assert!(owners.contains("job applications to jobs@shop.example"));
    let mailtrap = item(&p, "mailtrap");
    assert!(mailtrap.contains("No email sent yet"), "{mailtrap}");
    assert!(
        mailtrap.contains("action=\"/admin/test-email\""),
        "the test email is offered there"
    );
    let webhook = item(&p, "webhook");
    assert!(
        webhook.contains("Off:") && webhook.contains("check"),
        "{webhook}"
    );
    assert!(webhook.contains(&format!("{PUBLIC_URL}/hooks/mailtrap")));
    assert!(item(&p, "sandbox").contains("Off: emails go to the real recipients."));
    assert!(item(&p, "timezone").contains("UTC: it is now "));
    assert!(item(&p, "public_url").contains(&format!("Links in emails start with {PUBLIC_URL}")));
    assert!(
        p.contains("<details id=\"raw-config\">"),
        "the raw configuration is folded away"
    );

    quote(&t, "anna@visitor.example");
    let p = settings(&t);
    assert!(
        item(&p, "mailtrap").contains("Mailtrap accepted the latest email"),
        "{p}"
    );

    let refused = r#"{"errors":["Unauthorized"]}"#;
    t.fake.set_fault(Fault::Status {
        code: 401,
        body: refused.into(),
        retry_after: None,
    });
    quote(&t, "ben@visitor.example");
    let p = settings(&t);
    let mailtrap = item(&p, "mailtrap");
    assert!(
        mailtrap.contains("MAILTRAP_API_TOKEN is wrong or expired"),
        "{mailtrap}"
    );
    assert!(mailtrap.contains(">needs fixing<"), "{mailtrap}");
}

#[test]
fn with_the_webhook_on_and_a_sandbox_the_checklist_says_so() {
    let t = admin::start_with(|f| {
        f.merge(("mailtrap_webhook_secret", SECRET))
            .merge(("mailtrap_inbox_id", 4242))
    });
    log_in(&t);
    let p = settings(&t);
    assert!(item(&p, "webhook").contains("On: Mailtrap tells Kipekee"));
    let sandbox = item(&p, "sandbox");
    assert!(
        sandbox.contains("test inbox 4242") && sandbox.contains("no real person"),
        "{sandbox}"
    );
}

#[test]
fn no_secret_appears_on_the_settings_page() {
    let t = start(true);
    log_in(&t);
    let hash = t.config().admin_password_hash.as_ref().expect("a hash");
    let hash = hash.expose();
    let p = settings(&t);
    for secret in [fake_mailtrap::TOKEN, SECRET, METRICS_TOKEN, hash] {
        assert!(!p.contains(secret), "{secret:?} is on the settings page");
    }
    assert!(p.contains("\"mailtrap_api_token\": \"***\""), "{p}");
}

/// Each form has its absolute address and a `<form>` that, pasted into the allowed site,
/// posts a submission that is stored and mailed (not held for review).
#[test]
fn each_form_has_its_address_and_a_snippet_that_works_from_the_allowed_site() {
    let t = start(false);
    log_in(&t);
    let p = settings(&t);
    let url = format!("{PUBLIC_URL}/f/quote");
    assert!(
        p.contains(&format!("<a href=\"{url}\" id=\"url-quote\">")),
        "{p}"
    );
    assert!(p.contains("data-copy=\"url-quote\""), "a copy button");
    let start = p.find("id=\"snippet-quote\">").expect("the quote snippet") + 19;
    let snippet = &p[start..start + p[start..].find("</code>").unwrap()];
    assert!(
        snippet.starts_with(&format!("<form action=\"{url}\" method=\"post\">")),
        "{snippet}"
    );
    let names: Vec<&str> = snippet
        .split("name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    let def = t.config().forms.get("quote").expect("the quote form");
    let mut expected: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
    expected.push("_gotcha");
    assert_eq!(names, expected, "{snippet}");
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://www.shop.example"))
        .body(form_body(&[
            ("full_name", "Neema Juma"),
            ("email", "neema@visitor.example"),
            ("phone", ""),
            ("message", "From our own site"),
            ("_gotcha", ""),
        ]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    let stored = t.store().latest_submissions(None, 1).unwrap().remove(0);
    assert_eq!(stored.review, None, "not held for review");
    assert!(!stored.spam);
    assert_eq!(t.fake.requests().len(), 1, "its emails went out");
}
