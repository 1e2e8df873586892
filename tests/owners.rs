//! Owners in their time (Round 2 contract): times in `KIPEKEE_TIMEZONE`, the login's `next`
//! path, CSV exports that open cleanly in a spreadsheet and follow the list's filters.

mod common;

use std::net::SocketAddr;

use common::admin::{start_with, PASSWORD};
use common::{form_body, TestApp};
use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;

fn client_addr() -> SocketAddr {
    "10.1.2.4:40000".parse().unwrap()
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key)? + key.len();
    // As a browser reads the attribute: tera's escapes undone.
    html[at..].split('"').next().map(|v| {
        v.replace("&#x2F;", "/")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    })
}

/// Logs in through the page at `login_path`, posting whatever hidden `next` it carries plus
/// `extra`; returns the login's `Location`.
fn login_via(client: &Client, login_path: &str, extra: &[(&str, &str)]) -> String {
    let page = client
        .get(login_path.to_string())
        .remote(client_addr())
        .dispatch()
        .into_string()
        .unwrap();
    let token = hidden(&page, "csrf_token").expect("csrf token");
    let next = hidden(&page, "next");
    let mut pairs = vec![("password", PASSWORD), ("csrf_token", token.as_str())];
    if let Some(next) = &next {
        pairs.push(("next", next.as_str()));
    }
    pairs.extend_from_slice(extra);
    let res = client
        .post("/admin/login")
        .remote(client_addr())
        .header(ContentType::Form)
        .body(form_body(&pairs))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    res.headers().get_one("Location").unwrap().to_string()
}

fn post_quote(t: &TestApp, name: &str, extra: &[(&str, &str)]) -> kipekee::model::Submission {
    let mut pairs = vec![("full_name", name), ("email", "zoe@visitor.example")];
    pairs.extend_from_slice(extra);
    if !extra.iter().any(|(k, _)| *k == "message") {
        pairs.push(("message", "Two tents for a week"));
    }
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .body(form_body(&pairs))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther, "{name}");
    let reference = common::query_param(res.headers().get_one("Location").unwrap(), "reference")
        .expect("reference");
    t.store()
        .list_submissions(&Default::default(), None, 100)
        .unwrap()
        .items
        .into_iter()
        .find(|s| s.reference == reference)
        .expect("stored")
}

#[test]
fn times_are_shown_in_the_configured_zone() {
    let t = start_with(|f| f.merge(("timezone", "Africa/Nairobi")));
    let s = post_quote(&t, "Zoë", &[]);
    let expected = t.config().timezone.human(s.created_at);
    assert!(expected.ends_with(" EAT"), "{expected}");

    let sent = t.fake.delivered();
    let owner_mail = sent
        .iter()
        .find(|m| m["to"][0]["email"] == common::OWNER)
        .expect("owner notified");
    let text = owner_mail["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("Received {expected}")), "{text}");

    login_via(&t.client, "/admin/login", &[]);
    let detail = t
        .client
        .get(format!("/admin/submissions/{}", s.id))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(detail.contains(&format!("Received {expected}")), "{detail}");
    let list = t
        .client
        .get("/admin/submissions")
        .dispatch()
        .into_string()
        .unwrap();
    let iso = t.config().timezone.rfc3339(s.created_at);
    assert!(iso.ends_with("+03:00"), "{iso}");
    assert!(
        list.contains(&format!("<time datetime=\"{iso}\" title=\"{expected}\">")),
        "{list}"
    );
    let csv = t
        .client
        .get("/admin/export.csv?form=quote")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(csv.contains(&format!(",{iso},")), "{csv}");
}

#[test]
fn an_unknown_zone_stops_start_up_naming_the_key() {
    let fake = common::FakeMailtrap::start();
    let dir = tempfile::tempdir().unwrap();
    let figment = common::figment(dir.path(), &fake).merge(("timezone", "Mars/Olympus"));
    let Err(err) = kipekee::rocket(figment) else {
        panic!("start-up should be refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("KIPEKEE_TIMEZONE") && err.contains("Mars/Olympus"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn the_admin_link_of_the_owner_email_lands_on_the_submission_after_login() {
    let t = start_with(|f| f);
    let s = post_quote(&t, "Ann", &[]);
    let sent = t.fake.delivered();
    let owner_mail = sent
        .iter()
        .find(|m| m["to"][0]["email"] == common::OWNER)
        .expect("owner notified");
    let link = format!("{}/admin/submissions/{}", common::PUBLIC_URL, s.id);
    let html = owner_mail["html"].as_str().unwrap();
    assert!(html.contains(&tera::escape_html(&link)), "{html}");

    let path = format!("/admin/submissions/{}", s.id);
    let res = t.client.get(path.clone()).dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    let login = res.headers().get_one("Location").unwrap().to_string();
    assert_eq!(
        login,
        format!("/admin/login?next=%2Fadmin%2Fsubmissions%2F{}", s.id)
    );
    assert_eq!(login_via(&t.client, &login, &[]), path);
    // Logged in already: the login page goes straight on.
    let res = t.client.get(login).dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(res.headers().get_one("Location"), Some(path.as_str()));
}

#[test]
fn hostile_next_values_land_on_the_dashboard() {
    for bad in [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "/admin/../evil",
        "/admin/%2e%2e/x",
        "/admin/\r\nLocation: https://evil.example",
        "javascript:alert(1)",
        "/admin/login",
    ] {
        let t = start_with(|f| f);
        let encoded: String = bad.bytes().map(|b| format!("%{b:02X}")).collect();
        let page = t
            .client
            .get(format!("/admin/login?next={encoded}"))
            .dispatch()
            .into_string()
            .unwrap();
        assert!(page.contains("csrf_token"), "the login page itself");
        assert_eq!(hidden(&page, "next"), None, "{bad:?}");
        let to = login_via(&t.client, "/admin/login", &[("next", bad)]);
        assert_eq!(to, "/admin", "{bad:?}");
    }
}

fn logged_in_with(configure: impl FnOnce(figment::Figment) -> figment::Figment) -> TestApp {
    let t = start_with(configure);
    assert_eq!(login_via(&t.client, "/admin/login", &[]), "/admin");
    t
}

fn get_bytes(t: &TestApp, path: &str) -> Vec<u8> {
    let res = t.client.get(path.to_string()).dispatch();
    assert_eq!(res.status(), Status::Ok, "{path}");
    res.into_bytes().unwrap()
}

#[test]
fn csv_exports_start_with_a_byte_order_mark() {
    let t = logged_in_with(|f| f);
    post_quote(&t, "Zoë", &[]);
    t.client.get("/admin/subscribers").dispatch();
    for path in [
        "/admin/export.csv",
        "/admin/export.csv?form=quote",
        "/admin/subscribers.csv",
    ] {
        let bytes = get_bytes(&t, path);
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "{path}");
    }
    let bytes = get_bytes(&t, "/admin/export.csv?form=quote");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("Zoë"), "{text}");
    // The JSON export is for programs: no byte order mark.
    assert_eq!(get_bytes(&t, "/admin/export.json")[0], b'[');
}

#[test]
fn a_filtered_export_holds_only_the_listed_rows() {
    let t = logged_in_with(|f| f);
    let zoe = post_quote(&t, "Zoë Achieng", &[("message", "Tents for 40")]);
    let ben = post_quote(&t, "Ben Otieno", &[("message", "Chairs")]);
    let names = |query: &str| -> Vec<String> {
        let bytes = get_bytes(&t, &format!("/admin/export.csv?{query}"));
        let mut reader = csv::Reader::from_reader(&bytes[3..]);
        let header = reader.headers().unwrap().clone();
        let at = header.iter().position(|h| h == "full_name").unwrap();
        reader
            .records()
            .map(|r| r.unwrap()[at].to_string())
            .collect()
    };
    assert_eq!(names("form=quote"), ["Zoë Achieng", "Ben Otieno"]);
    assert_eq!(names("form=quote&q=tents"), ["Zoë Achieng"]);
    assert_eq!(names("q=Ot%C3%AFeno"), Vec::<String>::new());
    assert_eq!(names("q=otieno"), ["Ben Otieno"]);
    assert_eq!(names("form=quote&status=won"), Vec::<String>::new());
    let _ = (zoe, ben);

    // The list's own export link carries the filter.
    let list = t
        .client
        .get("/admin/submissions?form=quote&q=tents")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        list.contains("/admin/export.csv?form=quote&amp;q=tents"),
        "{list}"
    );
}

#[test]
fn test_submissions_are_not_counted_on_the_dashboard() {
    let t = logged_in_with(|f| f);
    post_quote(&t, "Real Visitor", &[]);
    let settings = t
        .client
        .get("/admin/settings")
        .dispatch()
        .into_string()
        .unwrap();
    let token = hidden(&settings, "csrf_token").unwrap();
    let res = t
        .client
        .post("/admin/forms/quote/test")
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", &token)]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    let with_tests = kipekee::store::SubmissionFilter {
        test: true,
        ..Default::default()
    };
    let all = t
        .store()
        .list_submissions(&with_tests, None, 10)
        .unwrap()
        .items;
    assert_eq!(
        all.iter().filter(|s| s.test).count(),
        1,
        "the test was stored"
    );
    let starts = t
        .config()
        .timezone
        .day_starts(time::OffsetDateTime::now_utc());
    let c = t.store().form_counts("quote", starts).unwrap();
    assert_eq!((c.today, c.week, c.total), (1, 1, 1));
}

#[test]
fn not_found_pages_say_what_to_do_next() {
    let t = start_with(|f| f);
    let res = t.client.get("/no/such/page").dispatch();
    assert_eq!(res.status(), Status::NotFound);
    let html = res.into_string().unwrap();
    assert!(
        html.contains("Page not found") && html.contains("Check the address"),
        "{html}"
    );
    assert!(html.contains("href=\"/\""), "{html}");

    for (path, words) in [
        (
            "/confirm/not-a-token",
            "confirmation link is not valid any more",
        ),
        (
            "/unsubscribe/not-a-token",
            "unsubscribe link is not valid any more",
        ),
    ] {
        let res = t.client.get(path).dispatch();
        assert_eq!(res.status(), Status::NotFound, "{path}");
        let html = res.into_string().unwrap();
        assert!(
            html.contains("This link no longer works") && html.contains(words),
            "{html}"
        );
        assert!(!html.contains("does not exist"), "{html}");
    }
    let res = t.client.post("/unsubscribe/not-a-token").dispatch();
    assert!(res
        .into_string()
        .unwrap()
        .contains("unsubscribe link is not valid"));

    // Not logged in: an unknown admin address shows nothing of the panel.
    let res = t.client.get("/admin/nothing-here").dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(res.headers().get_one("Location"), Some("/admin/login"));

    assert_eq!(login_via(&t.client, "/admin/login", &[]), "/admin");
    let s = post_quote(&t, "Ann", &[]);
    let gone = format!(
        "/admin/submissions/{}",
        kipekee::model::SubmissionId(s.id.0 + 1)
    );
    for path in ["/admin/nothing-here", gone.as_str()] {
        let res = t.client.get(path).dispatch();
        assert_eq!(res.status(), Status::NotFound, "{path}");
        let html = res.into_string().unwrap();
        assert!(
            html.contains("Back to the dashboard") && html.contains("action=\"/admin/logout\""),
            "admin layout for {path}: {html}"
        );
    }
}

#[test]
fn too_many_requests_is_said_plainly() {
    let t = start_with(|f| f.merge(("rate_limit", 1)));
    post_quote(&t, "First", &[]);
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .body(form_body(&[
            ("full_name", "Second"),
            ("email", "s@visitor.example"),
        ]))
        .dispatch();
    assert_eq!(res.status(), Status::TooManyRequests);
    let html = res.into_string().unwrap();
    assert!(
        html.contains("Please slow down") && html.contains("wait"),
        "{html}"
    );
    assert!(!html.contains("Too Many Requests"), "{html}");
}

#[test]
fn owner_email_is_one_column_with_tap_to_answer_links_and_the_visitor_can_reply() {
    let t = start_with(|f| f);
    let long = "x".repeat(300);
    post_quote(
        &t,
        "Zoë",
        &[("phone", "+254 712 345-678"), ("message", &long)],
    );
    let sent = t.fake.delivered();
    let owner = sent
        .iter()
        .find(|m| m["to"][0]["email"] == common::OWNER)
        .expect("owner notified");
    let html = owner["html"].as_str().unwrap();
    assert!(
        html.contains("href=\"mailto:zoe@visitor.example\""),
        "{html}"
    );
    assert!(html.contains("href=\"tel:+254712345678\""), "{html}");
    assert!(html.contains("overflow-wrap:anywhere"), "{html}");
    assert!(
        !html.contains("white-space:nowrap"),
        "no side-by-side label column: {html}"
    );
    assert!(html.contains(&long));

    let visitor = sent
        .iter()
        .find(|m| m["to"][0]["email"] == "zoe@visitor.example")
        .expect("visitor confirmed");
    assert_eq!(visitor["reply_to"]["email"], common::OWNER);
    assert_ne!(visitor["reply_to"]["email"], visitor["from"]["email"]);
}
