//! One state, one word (DESIGN.md, "The owner's day"): a submission's delivery state comes
//! from one rule over its whole delivery log, so the list and its filter, the submission's
//! header, the dashboard, the CSV and JSON exports agree, whatever order the attempts came
//! in: a bounced confirmation is `bounced`, emails queued for retry are `retrying`, a
//! Mailtrap `reject` is `rejected` and worded as such, never as a bounce.

mod common;

use std::time::{Duration, Instant};

use common::admin::{csrf_of, log_in, logged_in, page, row_of};
use common::webhooks::{self, hook, issued_to, Payload};
use common::{Fault, TestApp};
use rocket::http::Status;

/// Both emails of a contact message are refused for good; the owner fixes the cause and
/// resends only the notification to themselves, which goes through. The visitor's
/// confirmation never left: the submission is `failed` everywhere the owner looks.
#[test]
fn a_resend_of_the_owners_notification_leaves_the_submission_failed_everywhere() {
    let t = logged_in();
    t.fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    let res = t.post_form(
        "/f/contact",
        &[
            ("name", "Amani Mwangi"),
            ("email", "amani@visitor.example"),
            ("message", "Do you run day trips to Amboseli?"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let s = t.stored_behind(&res);
    let store = t.store();
    assert_eq!(store.pending_retries(), 0, "a 401 is not retried");
    assert!(t.fake.delivered().is_empty());

    t.fake.set_fault(Fault::None);
    let detail = page(&t, &format!("/admin/submissions/{}", s.id));
    let res = t.post_form(
        &format!("/admin/submissions/{}/resend", s.id),
        &[("csrf_token", &csrf_of(&detail)), ("kind", "admin")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let delivered = t.fake.delivered();
    assert_eq!(delivered.len(), 1, "the owner's notification only");
    assert_eq!(delivered[0]["to"][0]["email"], common::OWNER);

    let row = format!(">{}</a>", s.reference);
    assert!(
        page(&t, "/admin/submissions").contains(&row),
        "listed at all"
    );
    let listed = page(&t, "/admin/submissions?email=failed").contains(&row);
    let csv = t
        .client
        .get("/admin/export.csv?form=contact")
        .dispatch()
        .into_bytes()
        .expect("a CSV export");
    let csv_status = email_status_in_csv(&csv, &s.reference);
    let dashboard = page(&t, "/admin");
    let attention = dashboard
        .split("Deliveries that need attention")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("the dashboard's needs-attention section");
    let needs_attention = attention.contains(&format!("/admin/submissions/{}", s.id))
        && attention.contains("confirmation");
    assert_eq!(
        (listed, csv_status.as_str(), needs_attention),
        (true, "failed", true),
        "(in the list filtered email=failed, the CSV's email_status, in the dashboard's \
         needs attention) disagree"
    );
}

/// The `email_status` cell of the row with this `reference` in a CSV export.
fn email_status_in_csv(csv: &[u8], reference: &str) -> String {
    let csv = csv
        .strip_prefix(kipekee::export::UTF8_BOM)
        .expect("the export starts with a BOM");
    let mut rows = csv::Reader::from_reader(csv);
    let headers = rows.headers().expect("a header row").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column in {headers:?}"))
    };
    let (reference_at, status_at) = (column("reference"), column("email_status"));
    rows.records()
        .map(|r| r.expect("a CSV row"))
        .find(|r| &r[reference_at] == reference)
        .map(|r| r[status_at].to_string())
        .unwrap_or_else(|| panic!("{reference} is not in the export"))
}

/// Where submission `reference` (of form `form`, id `id`) stands everywhere the owner reads
/// its state: (the list's badge, the header's badge, the CSV's `email_status`, the JSON
/// export's `email_status`), and whether the list filtered on `word` shows it.
fn everywhere(t: &TestApp, form: &str, id: &str, reference: &str, word: &str) -> [String; 5] {
    let list = page(t, &format!("/admin/submissions?form={form}"));
    let row = row_of(&list, id);
    let filtered =
        page(t, &format!("/admin/submissions?email={word}")).contains(&format!(">{reference}</a>"));
    let detail = page(t, &format!("/admin/submissions/{id}"));
    let header = detail
        .split("<h1>")
        .nth(1)
        .and_then(|h| h.split("</h1>").next())
        .expect("the submission's header")
        .to_string();
    let csv = t
        .client
        .get(format!("/admin/export.csv?form={form}"))
        .dispatch()
        .into_bytes()
        .expect("a CSV export");
    let json: serde_json::Value = serde_json::from_slice(
        &t.client
            .get(format!("/admin/export.json?form={form}"))
            .dispatch()
            .into_bytes()
            .expect("a JSON export"),
    )
    .expect("the JSON export is JSON");
    let exported = json
        .as_array()
        .expect("an array")
        .iter()
        .find(|s| s["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} is not in the JSON export"));
    [
        badge_word(&row),
        badge_word(&header),
        email_status_in_csv(&csv, reference),
        exported["email_status"].as_str().unwrap_or("").to_string(),
        if filtered {
            word.to_string()
        } else {
            format!("not under email={word}")
        },
    ]
}

/// The state word of the first email badge in `html` (its first class after `badge`).
fn badge_word(html: &str) -> String {
    html.split("<span class=\"badge ")
        .nth(1)
        .and_then(|b| b.split(['"', ' ']).next())
        .unwrap_or_else(|| panic!("no badge in {html}"))
        .to_string()
}

/// A quote from Anna, whose confirmation Mailtrap then reports with `event`.
fn quote_reported(event: &str) -> (TestApp, kipekee::model::Submission) {
    let t = webhooks::start();
    log_in(&t);
    webhooks::quote(&t, "anna@visitor.example");
    let s = t
        .store()
        .latest_submissions(Some("quote"), 1)
        .unwrap()
        .remove(0);
    let confirmation = issued_to(&t, "anna@visitor.example");
    let e = webhooks::event(event, &confirmation, &format!("evt-{event}"));
    assert_eq!(hook(&t, &[e], Payload::Json, None), Status::Ok);
    (t, s)
}

/// Mailtrap accepted both emails, then the visitor's mail server bounced the confirmation:
/// the submission is `bounced` (red) wherever the owner looks, never a green `sent`.
#[test]
fn a_bounced_confirmation_is_bounced_in_the_list_the_header_and_both_exports() {
    let (t, s) = quote_reported("bounce");
    let seen = everywhere(&t, "quote", &s.id.to_string(), &s.reference, "bounced");
    assert_eq!(
        seen,
        ["bounced"; 5].map(String::from),
        "(list, header, CSV, JSON, filter)"
    );
    let list = page(&t, "/admin/submissions?form=quote");
    assert!(
        row_of(&list, &s.id.to_string()).contains("badge bounced bad"),
        "red, as every state that needs the owner"
    );
    assert!(!page(&t, "/admin/submissions?email=sent").contains(&format!(">{}</a>", s.reference)));
}

/// Mailtrap refused to send the confirmation (the address is on its suppression list): the
/// submission is `rejected`, and the owner reads Mailtrap's reason, not a bounce and not
/// "the address may be mistyped".
#[test]
fn a_reject_is_rejected_with_its_reason_not_worded_as_a_bounce() {
    let (t, s) = quote_reported("reject");
    let seen = everywhere(&t, "quote", &s.id.to_string(), &s.reference, "rejected");
    assert_eq!(
        seen,
        ["rejected"; 5].map(String::from),
        "(list, header, CSV, JSON, filter)"
    );
    for path in ["/admin".to_string(), format!("/admin/submissions/{}", s.id)] {
        let html = page(&t, &path);
        let line = html
            .split("class=\"flash")
            .find(|l| l.contains("anna@visitor.example"))
            .unwrap_or_else(|| panic!("{path} names the confirmation Mailtrap refused"));
        let line = line.split("</p>").next().unwrap_or_default();
        assert!(
            line.contains("Recipient in suppression list"),
            "{path}: {line}"
        );
        assert!(
            line.contains("+254 711 222 333"),
            "{path}: a way to reach her: {line}"
        );
        assert!(
            !line.contains("bounced") && !line.contains("mistyped"),
            "{path}: {line}"
        );
    }
}

/// Mailtrap has an outage: both emails are queued for an automatic retry, so the
/// submission is `retrying`, not `failed`; once the retry goes through it is `sent`.
#[test]
fn emails_queued_for_retry_are_retrying_then_sent_once_retried() {
    let t = common::admin::start_with(|f| f.merge(("retry_base_secs", 1)));
    log_in(&t);
    t.fake.set_fault(Fault::Status {
        code: 500,
        body: r#"{"errors":["Internal Server Error"]}"#.into(),
        retry_after: None,
    });
    let res = t.post_form(
        "/f/quote",
        &[
            ("full_name", "Juma Otieno"),
            ("email", "juma@visitor.example"),
            ("message", "A lodge for four in August"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let location = res.headers().get_one("Location").unwrap_or("").to_string();
    assert!(
        location.contains("email=retrying"),
        "the visitor's: {location}"
    );
    let s = t.stored_behind(&res);
    assert_eq!(t.store().pending_retries(), 2);
    let id = s.id.to_string();
    let seen = everywhere(&t, "quote", &id, &s.reference, "retrying");
    assert_eq!(
        seen,
        ["retrying"; 5].map(String::from),
        "(list, header, CSV, JSON, filter)"
    );
    let dashboard = page(&t, "/admin");
    assert!(
        !dashboard.contains(&format!("/admin/submissions/{id}\">Open")),
        "a retry on its way needs nothing of the owner"
    );

    t.fake.set_fault(Fault::None);
    let start = Instant::now();
    while t.fake.delivered().len() < 2 || t.store().pending_retries() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the retry went through"
        );
        // Requests drive the in-process server, whose retry worker sends what is due.
        page(&t, "/admin");
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen = everywhere(&t, "quote", &id, &s.reference, "sent");
    assert_eq!(
        seen,
        ["sent"; 5].map(String::from),
        "(list, header, CSV, JSON, filter)"
    );
}

/// Mailtrap forbids sending (an unverified domain): the dashboard says so, with the fix,
/// from the first email that failed, not after a run of them.
#[test]
fn a_403_shows_its_hint_on_the_dashboard_from_the_first_failure() {
    let t = logged_in();
    t.fake.set_fault(Fault::Status {
        code: 403,
        body: r#"{"errors":["Forbidden"]}"#.into(),
        retry_after: None,
    });
    let res = t.post_form("/f/newsletter", &[("email", "reader@visitor.example")]);
    assert_eq!(res.status(), Status::SeeOther);
    let s = t.stored_behind(&res);
    assert_eq!(
        t.store().deliveries_of(s.id).unwrap().len(),
        1,
        "one email, one failure"
    );
    let dashboard = page(&t, "/admin");
    let banner = dashboard
        .split("<section class=\"banner\"")
        .nth(1)
        .and_then(|b| b.split("</section>").next())
        .expect("the failure banner");
    assert!(
        banner.contains("the sending domain of DEFAULT_FROM_EMAIL is not verified yet"),
        "{banner}"
    );
}

/// The dashboard reads the newest 200 attempts; a bounce behind 250 later ones still
/// stands until the confirmation goes through, so it is still shown, once (its line, not
/// again under "needs attention").
#[test]
fn a_bounce_behind_250_later_attempts_is_still_on_the_dashboard() {
    let (t, s) = quote_reported("bounce");
    let store = t.store();
    let other = rocket::execute(store.insert_submission(kipekee::model::NewSubmission::new(
        "contact",
        "C",
        [("message", "Busy day")],
    )))
    .unwrap();
    let later: Vec<_> = (0..250)
        .map(|i| {
            let mut d = kipekee::model::Delivery::planned("admin", Some(common::OWNER), "New");
            d.outcome.status = kipekee::model::EmailStatus::Sent;
            d.subject = format!("Message {i}");
            (d, kipekee::model::EmailBody::default())
        })
        .collect();
    rocket::execute(store.record_deliveries(other.id, later)).unwrap();
    let dashboard = page(&t, "/admin");
    let line = format!(
        "/admin/submissions/{}\">The confirmation to anna@visitor.example bounced",
        s.id
    );
    assert_eq!(dashboard.matches(&line).count(), 1, "{dashboard}");
    let attention = dashboard
        .split("Deliveries that need attention")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("the dashboard's needs-attention section");
    assert!(
        !attention.contains(&format!("/admin/submissions/{}", s.id)),
        "not listed a second time: {attention}"
    );
}
