//! Reading the inbox in-process: unread markers and counts per form (a submission is unread
//! until its page is opened), "1–25 of 33" with newer and older pages on the submissions and
//! deliveries lists, previews cut with an ellipsis, a paper-clip for files, and read state
//! through a backup and restore.

mod common;

use common::admin::{csrf_of, logged_in, page, row_of};
use common::multipart::Multipart;
use common::TestApp;
use kipekee::model::{Delivery, EmailBody, EmailStatus, NewSubmission, Submission};
use kipekee::store::Store;
use rocket::http::Status;

/// Posts `pairs` to form `form`; the stored submission.
fn submit(t: &TestApp, form: &str, pairs: &[(&str, &str)]) -> Submission {
    let res = t.post_form(&format!("/f/{form}"), pairs);
    assert_eq!(res.status(), Status::SeeOther, "post /f/{form}");
    t.stored_behind(&res)
}

fn quote(t: &TestApp, name: &str, message: &str) -> Submission {
    submit(
        t,
        "quote",
        &[
            ("full_name", name),
            ("email", "visitor@example.com"),
            ("message", message),
        ],
    )
}

/// The "Submissions" link of the nav, with its unread count.
fn nav_count(html: &str) -> String {
    let at = html
        .find("<a href=\"/admin/submissions\"")
        .expect("nav link");
    let end = at + html[at..].find("</a>").unwrap();
    html[at..end].to_string()
}

#[test]
fn a_submission_is_unread_until_its_page_is_opened_and_tests_are_never_unread() {
    let t = logged_in();
    let first = quote(&t, "Wanjiru Kamau", "Two tents for June");
    let second = quote(&t, "Juma Otieno", "A lodge for four");
    let contact = submit(
        &t,
        "contact",
        &[
            ("name", "Zoë"),
            ("email", "zoe@example.com"),
            ("message", "Hello"),
        ],
    );
    let csrf = csrf_of(&page(&t, "/admin/settings"));
    let res = t.post_form("/admin/forms/quote/test", &[("csrf_token", &csrf)]);
    assert_eq!(res.status(), Status::SeeOther, "the test submission");
    let test_location = res.headers().get_one("Location").unwrap().to_string();

    let dashboard = page(&t, "/admin");
    assert!(
        nav_count(&dashboard).contains(">3<span class=\"vh\"> unread"),
        "three unread in the nav (the test is not): {}",
        nav_count(&dashboard)
    );
    assert!(
        dashboard.contains("2 unread</span>") && dashboard.contains("1 unread</span>"),
        "unread per form on the dashboard cards"
    );
    let list = page(&t, "/admin/submissions");
    assert!(list.contains("Request a quote (2 unread)"), "in the filter");
    for s in [&first, &second, &contact] {
        let row = row_of(&list, &s.id.to_string());
        assert!(
            row.contains("class=\"sub unread\"") && row.contains("Unread: "),
            "{row}"
        );
    }

    // Opening the page reads it; the test submission's own page changes nothing.
    page(&t, &format!("/admin/submissions/{}", first.id));
    page(&t, &test_location);
    let list = page(&t, "/admin/submissions");
    let row = row_of(&list, &first.id.to_string());
    assert!(!row.contains("unread") && !row.contains("Unread"), "{row}");
    assert!(row_of(&list, &second.id.to_string()).contains("Unread: "));
    assert!(nav_count(&list).contains(">2<span"), "{}", nav_count(&list));
    assert!(list.contains("Request a quote (1 unread)"));
    assert_eq!(t.store().unread_count("quote"), 1);
    assert_eq!(t.store().unread_count("contact"), 1);

    // Once everything is read, no count is shown.
    page(&t, &format!("/admin/submissions/{}", second.id));
    page(&t, &format!("/admin/submissions/{}", contact.id));
    let dashboard = page(&t, "/admin");
    assert!(!nav_count(&dashboard).contains("unread"));
    assert!(!dashboard.contains(" unread</span>"));
}

#[test]
fn previews_end_with_an_ellipsis_and_files_get_a_labelled_paper_clip() {
    let t = logged_in();
    let long = "We would like a mid-range lodge near the crater rim for four nights in August, \
                with a guide who speaks German and a driver for the whole week, please.";
    let cut = quote(&t, "Hans Müller", long);
    let short = quote(&t, "Asha", "Two tents.");
    let application = Multipart::default()
        .text("full_name", "Amani Wanjiru")
        .text("email", "amani@visitor.example")
        .text("position", "Safari guide")
        .file("cv", "amani-cv.pdf", "application/pdf", common::PDF)
        .finish();
    let res = t.post_multipart("/f/job", application);
    assert_eq!(res.status(), Status::SeeOther);
    let job = t.stored_behind(&res);

    let list = page(&t, "/admin/submissions");
    let row = row_of(&list, &cut.id.to_string());
    let preview = row
        .split("<div class=\"preview\">")
        .nth(1)
        .and_then(|p| p.split("</div>").next())
        .expect("a preview");
    assert!(preview.ends_with('…'), "{preview}");
    assert!(
        long.starts_with(preview.trim_end_matches('…')),
        "cut at a word: {preview}"
    );
    assert!(
        row_of(&list, &short.id.to_string()).contains("<div class=\"preview\">Two tents.</div>")
    );

    let job_row = row_of(&list, &job.id.to_string());
    assert!(
        job_row.contains("aria-label=\"Has 1 attached file\"")
            && job_row.contains("title=\"amani-cv.pdf\""),
        "{job_row}"
    );
    assert!(!row_of(&list, &cut.id.to_string()).contains("attached file"));
}

fn fixture(form: &str, i: usize) -> NewSubmission {
    let (prefix, name) = if form == "quote" {
        ("Q", "full_name")
    } else {
        ("C", "name")
    };
    NewSubmission::new(
        form,
        prefix,
        [
            (name, format!("Visitor {i}")),
            ("message", format!("Message number {i}")),
        ],
    )
}

/// The pager's text and its links: `(count, newer, older)`.
fn pager(html: &str) -> (String, Option<String>, Option<String>) {
    let at = html.find("<nav class=\"pager\"").expect("a pager");
    let nav = &html[at..at + html[at..].find("</nav>").unwrap()];
    let count = nav
        .split("<span class=\"count\">")
        .nth(1)
        .and_then(|c| c.split("</span>").next())
        .unwrap_or_default()
        .to_string();
    let href = |rel: &str| {
        let marker = format!("rel=\"{rel}\"");
        let tag_end = nav.find(&marker)?;
        let tag_start = nav[..tag_end].rfind("<a ")?;
        let tag = &nav[tag_start..tag_end];
        let h = tag.split("href=\"").nth(1)?.split('"').next()?;
        Some(h.replace("&#x2F;", "/").replace("&amp;", "&"))
    };
    (count, href("prev"), href("next"))
}

#[test]
fn the_submissions_list_says_where_it_is_and_pages_both_ways_through_a_filter() {
    let t = logged_in();
    let batch: Vec<NewSubmission> = (0..33)
        .map(|i| fixture(if i % 3 == 0 { "contact" } else { "quote" }, i))
        .collect();
    rocket::execute(t.store().insert_submissions(batch)).unwrap();

    let first = page(&t, "/admin/submissions");
    let (count, newer, older) = pager(&first);
    assert_eq!(count, "1–25 of 33");
    assert_eq!(newer, None);
    let older = older.expect("an older page");
    assert_eq!(first.matches("<tr class=\"sub").count(), 25);
    assert!(first.contains("Visitor 32") && !first.contains("Visitor 7<"));

    let second = page(&t, &older);
    let (count, newer, older) = pager(&second);
    assert_eq!(count, "26–33 of 33");
    assert_eq!(older, None);
    assert_eq!(newer.as_deref(), Some("/admin/submissions"));
    assert_eq!(second.matches("<tr class=\"sub").count(), 8);
    assert!(second.contains("Visitor 0<") && !second.contains("Visitor 8<"));

    // 22 quotes: pages of 25 hold them all; 11 contacts likewise.
    let quotes = page(&t, "/admin/submissions?form=quote");
    assert_eq!(pager(&quotes), ("1–22 of 22".to_string(), None, None));

    // A third page: newer goes back to the second page, not to the first.
    let more: Vec<NewSubmission> = (33..60).map(|i| fixture("quote", i)).collect();
    rocket::execute(t.store().insert_submissions(more)).unwrap();
    let (count, _, p2) = pager(&page(&t, "/admin/submissions?form=quote"));
    assert_eq!(count, "1–25 of 49");
    let p2 = p2.expect("page 2");
    assert!(p2.contains("form=quote"), "the filter is kept: {p2}");
    let (count, _, p3) = pager(&page(&t, &p2));
    assert_eq!(count, "26–49 of 49");
    assert_eq!(p3, None);
    let all = page(&t, "/admin/submissions");
    let (_, _, p2) = pager(&all);
    let (_, _, p3) = pager(&page(&t, &p2.unwrap()));
    let third = page(&t, &p3.expect("a third page"));
    let (count, newer, older) = pager(&third);
    assert_eq!(count, "51–60 of 60");
    assert_eq!(older, None);
    let back = page(&t, &newer.expect("a newer page"));
    assert_eq!(pager(&back).0, "26–50 of 60");
}

#[test]
fn the_delivery_log_pages_with_a_count_and_keeps_its_filter() {
    let t = logged_in();
    let store: &Store = t.store();
    let subs =
        rocket::execute(store.insert_submissions((0..4).map(|i| fixture("quote", i)).collect()))
            .unwrap();
    for (i, s) in subs.iter().enumerate() {
        let attempts: Vec<(Delivery, EmailBody)> = (0..8)
            .map(|k| {
                let mut d = Delivery::planned(
                    "admin",
                    Some("owner@shop.example"),
                    &format!("Mail {i}-{k}"),
                );
                d.outcome.status = if k % 4 == 0 {
                    EmailStatus::Failed
                } else {
                    EmailStatus::Sent
                };
                (d, EmailBody::default())
            })
            .collect();
        rocket::execute(store.record_deliveries(s.id, attempts)).unwrap();
    }
    let first = page(&t, "/admin/deliveries");
    let (count, newer, older) = pager(&first);
    assert_eq!((count.as_str(), newer), ("1–25 of 32", None));
    let second = page(&t, &older.expect("older"));
    let (count, newer, older) = pager(&second);
    assert_eq!(count, "26–32 of 32");
    assert_eq!((newer.as_deref(), older), (Some("/admin/deliveries"), None));

    let failed = page(&t, "/admin/deliveries?status=failed");
    assert_eq!(pager(&failed), ("1–8 of 8".to_string(), None, None));
    assert_eq!(failed.matches("badge failed").count(), 8);
}

#[test]
fn read_state_survives_a_backup_and_restore() {
    let t = logged_in();
    let read = quote(&t, "Read", "Opened already");
    let unread = quote(&t, "Unread", "Not yet");
    page(&t, &format!("/admin/submissions/{}", read.id));
    let mut backup = Vec::new();
    t.store().backup_to(&mut backup).unwrap();

    let restored = Store::temporary().unwrap();
    restored.restore_into(&backup[..], false).unwrap();
    assert!(!restored.is_unread(&read).unwrap());
    assert!(restored.is_unread(&unread).unwrap());
    assert_eq!(restored.unread_count("quote"), 1);
}

/// An owner's form whose fields have their own names says what they mean with `role`: its
/// name field is the list's "who" and the name on the Reply-To of the owner's email, its
/// trip the summary. The same form without the roles has no name to show.
#[test]
fn an_owners_form_with_roles_gets_a_who_a_summary_and_a_reply_to_name() {
    let safari = |roles: bool| {
        let role = |r: &str| {
            if roles {
                serde_json::json!(r)
            } else {
                serde_json::Value::Null
            }
        };
        serde_json::json!({
            "title": "Book a safari", "reference_prefix": "S",
            "fields": [
                { "name": "contact_name", "label": "Your name", "kind": "text", "role": role("name") },
                { "name": "contact_email", "label": "Email", "kind": "email", "role": role("email") },
                { "name": "trip", "label": "Your trip", "kind": "textarea", "role": role("summary") },
            ],
            "emails": [{ "kind": "admin", "to": "admin", "subject": "Safari {{ reference }}",
                         "template": "admin" }],
        })
    };
    for roles in [true, false] {
        let t = common::admin::start_with(|f| f.merge(("forms.safari", safari(roles))));
        common::admin::log_in(&t);
        let s = submit(
            &t,
            "safari",
            &[
                ("contact_name", "Amina Juma"),
                ("contact_email", "amina@visitor.example"),
                ("trip", "Three days in the Serengeti"),
            ],
        );
        let row = row_of(&page(&t, "/admin/submissions"), &s.id.to_string());
        let mails = t.fake.delivered();
        let admin = mails
            .iter()
            .find(|m| m["to"][0]["email"] == common::OWNER)
            .expect("the owner's email");
        if roles {
            assert!(
                row.contains("<span class=\"who\">Amina Juma</span>"),
                "{row}"
            );
            assert!(row.contains("Three days in the Serengeti"), "{row}");
            assert_eq!(admin["reply_to"]["email"], "amina@visitor.example");
            assert_eq!(admin["reply_to"]["name"], "Amina Juma");
        } else {
            assert!(!row.contains("Amina Juma"), "{row}");
            assert!(!row.contains("Serengeti"), "{row}");
            assert!(admin["reply_to"].is_null(), "{admin}");
        }
    }
}
