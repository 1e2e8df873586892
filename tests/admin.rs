//! The admin panel in-process: authentication, CSRF, every page and action.

mod common;

use common::admin::{csrf_of, logged_in, login, page, start, start_with, PASSWORD};
use common::{Fault, TestApp};
use kipekee::model::DeliveryState;
use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;

fn quote(t: &TestApp) -> String {
    let res = t.post_form(
        "/f/quote",
        &[
            ("full_name", "Jane Doe"),
            ("email", "jane@visitor.example"),
            ("message", "=HYPERLINK(\"http://evil.example\",\"click\")"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    t.stored_behind(&res).id.to_string()
}

#[test]
fn unauthenticated_requests_are_sent_to_the_login_page() {
    let t = start();
    let id = quote(&t);
    let gets = [
        "/admin".to_string(),
        "/admin/submissions".into(),
        format!("/admin/submissions/{id}"),
        "/admin/deliveries".into(),
        "/admin/subscribers".into(),
        "/admin/settings".into(),
        "/admin/export.csv?form=quote".into(),
        "/admin/backup".into(),
    ];
    for path in gets {
        let res = t.client.get(&path).dispatch();
        assert_eq!(res.status(), Status::SeeOther, "{path}");
        // A page being read is returned to after the login (`next`).
        let next: String = path
            .chars()
            .map(|c| match c {
                '/' | '?' | '=' | '&' => format!("%{:02X}", c as u8),
                c => c.to_string(),
            })
            .collect();
        assert_eq!(
            res.headers().get_one("Location"),
            Some(format!("/admin/login?next={next}").as_str()),
            "{path}"
        );
    }
    for path in [
        format!("/admin/submissions/{id}/resend"),
        format!("/admin/submissions/{id}/delete"),
        "/admin/logout".into(),
    ] {
        let res = t.post_form(&path, &[("csrf_token", "x")]);
        assert_eq!(
            res.headers().get_one("Location"),
            Some("/admin/login"),
            "{path}"
        );
    }
    assert!(t.store().submission(id.parse().unwrap()).unwrap().is_some());
    assert_eq!(t.fake.requests().len(), 1, "no resend happened");
}

#[test]
fn a_wrong_password_says_only_that_and_repeated_failures_are_throttled() {
    let t = start();
    for _ in 0..5 {
        let res = login(&t.client, "guess");
        assert_eq!(res.status(), Status::Unauthorized);
        let body = res.into_string().unwrap();
        assert!(body.contains("Wrong password."));
        assert!(!body.contains("argon2"));
    }
    assert_eq!(login(&t.client, "guess").status(), Status::TooManyRequests);
    assert_eq!(
        login(&t.client, PASSWORD).status(),
        Status::TooManyRequests,
        "even the right one, for a while"
    );
    assert_eq!(t.client.get("/admin").dispatch().status(), Status::SeeOther);
}

#[test]
fn login_needs_its_csrf_token() {
    let t = start();
    let res = t.post_form("/admin/login", &[("password", PASSWORD)]);
    assert_eq!(res.status(), Status::Forbidden);
    let res = t.post_form(
        "/admin/login",
        &[("password", PASSWORD), ("csrf_token", "forged")],
    );
    assert_eq!(res.status(), Status::Forbidden);
    assert_eq!(t.client.get("/admin").dispatch().status(), Status::SeeOther);
}

#[test]
fn the_session_cookie_is_private_httponly_and_strict() {
    let t = start_with(|f| f.merge(("public_url", "https://forms.shop.example")));
    let res = login(&t.client, PASSWORD);
    let cookie = res
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with("kipekee_session="))
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Secure"));
    assert!(cookie.contains("Path=/admin"));
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("kipekee_session=");
    let (store, tag, hour) = (t.store(), t.admin_tag(), kipekee::web::admin::IDLE);
    assert!(
        store.session(value, &tag, hour).unwrap().is_none(),
        "the cookie is encrypted"
    );
    let id = common::admin::session_id(&t);
    assert!(
        store.session(&id, &tag, hour).unwrap().is_some(),
        "and decrypts to a live session"
    );
}

#[test]
fn every_state_change_needs_the_sessions_csrf_token() {
    let t = logged_in();
    let id = quote(&t);
    let before = t.fake.requests().len();
    for (path, pairs) in [
        (
            format!("/admin/submissions/{id}/resend"),
            vec![("csrf_token", "wrong")],
        ),
        (
            format!("/admin/submissions/{id}/status"),
            vec![("csrf_token", "wrong"), ("status", "won")],
        ),
        (
            format!("/admin/submissions/{id}/notes"),
            vec![("text", "hello")],
        ),
        (format!("/admin/submissions/{id}/delete"), vec![]),
        ("/admin/test-email".into(), vec![("to", "x@example.com")]),
        ("/admin/forms/quote/test".into(), vec![("csrf_token", "")]),
        ("/admin/logout".into(), vec![]),
    ] {
        assert_eq!(
            t.post_form(&path, &pairs).status(),
            Status::Forbidden,
            "{path}"
        );
    }
    let s = t.store().submission(id.parse().unwrap()).unwrap().unwrap();
    assert_eq!((s.status.as_str(), s.notes.len()), ("new", 0));
    assert_eq!(t.fake.requests().len(), before);
    assert_eq!(t.store().count_submissions(), 1);
    assert_eq!(
        t.client.get("/admin").dispatch().status(),
        Status::Ok,
        "still logged in"
    );
}

#[test]
fn the_owner_reads_resends_moves_notes_and_deletes_a_submission() {
    let t = logged_in();
    let id = quote(&t);
    let dashboard = page(&t, "/admin");
    assert!(dashboard.contains("Request a quote"));
    assert!(dashboard.contains("Jane Doe"));

    let list = page(&t, "/admin/submissions?form=quote");
    assert!(list.contains(&format!("/admin/submissions/{id}")));
    assert!(page(&t, "/admin/submissions?q=hyperlink").contains("Jane Doe"));
    assert!(!page(&t, "/admin/submissions?q=nobody-by-that-name").contains("Jane Doe"));
    assert!(!page(&t, "/admin/submissions?email=failed").contains("Jane Doe"));

    let detail = page(&t, &format!("/admin/submissions/{id}"));
    assert!(detail.contains("jane@visitor.example"));
    assert!(detail.contains("=HYPERLINK(&quot;http:&#x2F;&#x2F;evil.example&quot;"));
    let csrf = csrf_of(&detail);

    let res = t.post_form(
        &format!("/admin/submissions/{id}/resend"),
        &[("csrf_token", &csrf), ("kind", "confirmation")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let log = t.store().deliveries_of(id.parse().unwrap()).unwrap();
    assert_eq!(log.len(), 3, "a new, logged attempt");
    assert_eq!(log[2].kind, "confirmation");
    assert_eq!(t.fake.delivered().len(), 3);
    assert!(page(&t, &format!("/admin/submissions/{id}")).contains("Resent: 1 of 1"));

    assert_eq!(
        t.post_form(
            &format!("/admin/submissions/{id}/status"),
            &[("csrf_token", &csrf), ("status", "won")]
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        t.post_form(
            &format!("/admin/submissions/{id}/status"),
            &[("csrf_token", &csrf), ("status", "hired")]
        )
        .status(),
        Status::BadRequest
    );
    assert_eq!(
        t.post_form(
            &format!("/admin/submissions/{id}/notes"),
            &[("csrf_token", &csrf), ("text", "Called her <back>")]
        )
        .status(),
        Status::SeeOther
    );
    let s = t.store().submission(id.parse().unwrap()).unwrap().unwrap();
    assert_eq!(s.status, "won");
    assert_eq!(s.notes[0].text, "Called her <back>");
    assert!(page(&t, &format!("/admin/submissions/{id}")).contains("Called her &lt;back&gt;"));

    let preview = t
        .client
        .get(format!("/admin/deliveries/{}/preview", log[0].id))
        .dispatch();
    assert_eq!(preview.status(), Status::Ok);
    assert!(preview
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .starts_with("sandbox"));

    assert_eq!(
        t.post_form(
            &format!("/admin/submissions/{id}/delete"),
            &[("csrf_token", &csrf)]
        )
        .status(),
        Status::SeeOther
    );
    let sid = id.parse().unwrap();
    assert!(t.store().submission(sid).unwrap().is_none());
    let store = t.store();
    assert!(store
        .deliveries_of(sid)
        .unwrap()
        .iter()
        .all(|d| d.to.is_none() && store.body(d.id).unwrap().is_none()));
    assert_eq!(
        t.client
            .get(format!("/admin/submissions/{id}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn export_csv_has_the_forms_columns_and_neutralises_formulas() {
    let t = logged_in();
    quote(&t);
    let res = t.client.get("/admin/export.csv?form=quote").dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert!(res
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("attachment"));
    let csv = res.into_string().unwrap();
    let header = csv.lines().next().unwrap();
    let header = header.strip_prefix('\u{feff}').expect("byte order mark");
    for col in [
        "id",
        "reference",
        "created_at",
        "full_name",
        "email",
        "phone",
        "company",
        "message",
        "email_status",
        "status",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} in {header}");
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"));
    let json = t
        .client
        .get("/admin/export.json?form=quote")
        .dispatch()
        .into_string()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["fields"]["full_name"], "Jane Doe");
}

#[test]
fn logout_revokes_the_session_server_side() {
    let t = logged_in();
    let html = page(&t, "/admin");
    let stolen = t.client.cookies().get_private("kipekee_session").unwrap();
    let res = t.post_form("/admin/logout", &[("csrf_token", &csrf_of(&html))]);
    assert_eq!(res.headers().get_one("Location"), Some("/admin/login"));
    assert_eq!(t.client.get("/admin").dispatch().status(), Status::SeeOther);
    // Replaying the old cookie no longer works: the session is gone from the store.
    let res = t.client.get("/admin").private_cookie(stolen).dispatch();
    assert_eq!(res.status(), Status::SeeOther);
}

#[test]
fn uploaded_files_download_as_attachments() {
    let t = logged_in();
    let application = common::multipart::Multipart::default()
        .text("full_name", "Amani")
        .text("email", "amani@visitor.example")
        .text("position", "Guide")
        .file("cv", "cv.pdf", "text/html", common::PDF)
        .finish();
    let res = t.post_multipart("/f/job", application);
    let s = t.stored_behind(&res);
    let detail = page(&t, &format!("/admin/submissions/{}", s.id));
    assert!(
        detail.contains(&format!("/admin/submissions/{}/files/cv", s.id)) && detail.contains("KiB")
    );
    let res = t
        .client
        .get(format!("/admin/submissions/{}/files/cv", s.id))
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::Binary));
    assert_eq!(
        res.headers().get_one("Content-Disposition"),
        Some("attachment; filename=\"cv.pdf\"")
    );
    assert_eq!(
        res.headers().get_one("X-Content-Type-Options"),
        Some("nosniff")
    );
    assert_eq!(res.into_bytes().unwrap(), common::PDF);
}

#[test]
fn the_backup_download_restores_into_a_fresh_store_with_its_files() {
    let t = logged_in();
    quote(&t);
    let quoted = t.store().latest_submissions(None, 1).unwrap().remove(0).id;
    let (ct, body) = common::multipart::Multipart::default()
        .text("full_name", "Amani")
        .text("email", "amani@visitor.example")
        .text("position", "Guide")
        .file("cv", "cv.pdf", "application/pdf", common::PDF)
        .finish();
    let res = t
        .client
        .post("/f/job")
        .header(ContentType::parse_flexible(&ct).unwrap())
        .body(body)
        .dispatch();
    let job = t.stored_behind(&res);
    let res = t.client.get("/admin/backup").dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert!(res
        .headers()
        .get_one("Content-Disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"kipekee-backup-")));
    let bytes = res.into_bytes().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stats = kipekee::store::Store::restore_from(
        dir.path(),
        std::io::BufReader::new(bytes.as_slice()),
        false,
    )
    .unwrap();
    assert_eq!(stats.count("files"), 1, "the CV travels in the backup");
    let restored = kipekee::store::Store::open(dir.path()).unwrap();
    let s = restored.submission(quoted).unwrap().unwrap();
    assert_eq!(s.fields["full_name"], "Jane Doe");
    assert_eq!(restored.deliveries_of(s.id).unwrap().len(), 2);
    let (meta, path) = restored
        .file_on_disk(job.id, "cv")
        .unwrap()
        .expect("the restored CV");
    assert_eq!(meta.filename, "cv.pdf");
    assert_eq!(std::fs::read(path).unwrap(), common::PDF);
}

#[test]
fn settings_masks_secrets_and_tests_send_real_emails() {
    let t = logged_in();
    let html = page(&t, "/admin/settings");
    assert!(!html.contains("test-token"));
    assert!(!html.contains("$argon2id$"));
    assert!(html.contains("\"***\"") || html.contains("&quot;***&quot;"));
    let csrf = csrf_of(&html);
    let res = t.post_form(
        "/admin/test-email",
        &[("csrf_token", &csrf), ("to", "me@shop.example")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    assert!(page(&t, "/admin/settings").contains("accepted by Mailtrap"));
    assert_eq!(t.fake.delivered()[0]["to"][0]["email"], "me@shop.example");

    let res = t.post_form("/admin/forms/contact/test", &[("csrf_token", &csrf)]);
    assert_eq!(res.status(), Status::SeeOther);
    let test_sub = t.store().latest_submissions(None, 1).unwrap().remove(0);
    assert!(test_sub.test);
    assert!(
        page(&t, &format!("/admin/submissions/{}", test_sub.id)).contains("Test submission"),
        "the outcome is shown"
    );
    assert_eq!(test_sub.email_status, DeliveryState::Sent);
    assert_eq!(t.fake.delivered().len(), 3);
    assert!(
        t.fake.delivered().iter().all(|m| m["category"] == "test"),
        "tests stay out of the owner's Mailtrap statistics"
    );
    assert!(
        !page(&t, "/admin/submissions").contains(&test_sub.reference),
        "tests are hidden by default"
    );
    assert!(page(&t, "/admin/submissions?test=true").contains(&test_sub.reference));
    let csv = t
        .client
        .get("/admin/export.csv?form=contact")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(!csv.contains(&test_sub.reference));
}

#[test]
fn the_dashboard_is_loud_when_deliveries_keep_failing() {
    let t = logged_in();
    t.fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    quote(&t);
    quote(&t);
    let html = page(&t, "/admin");
    assert!(html.contains("Emails are failing"), "{html}");
    assert!(html.contains("HTTP 401: Unauthorized"));
    assert!(html.contains("2 visitors and 2 owner notifications"));
    assert!(page(&t, "/admin/deliveries?status=failed").contains("HTTP 401: Unauthorized"));
    assert!(!page(&t, "/admin/deliveries?status=sent").contains("HTTP 401"));
}

#[test]
fn subscribers_are_listed_exported_and_can_be_unsubscribed() {
    let t = logged_in();
    let res = t.post_form(
        "/f/newsletter",
        &[("email", "reader@visitor.example"), ("name", "=Reader")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let html = page(&t, "/admin/subscribers");
    assert!(html.contains("reader@visitor.example") && html.contains("pending"));
    let csv = t
        .client
        .get("/admin/subscribers.csv")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(csv.contains("reader@visitor.example") && csv.contains("'=Reader"));
    let res = t.post_form(
        "/admin/subscribers/unsubscribe",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("email", "reader@visitor.example"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    assert!(page(&t, "/admin/subscribers?state=unsubscribed").contains("reader@visitor.example"));
}

#[test]
fn without_a_configured_hash_a_password_is_generated_once_and_kept() {
    let fake = common::FakeMailtrap::start();
    let dir = tempfile::tempdir().unwrap();
    let hash_after_start = || {
        let rocket = kipekee::rocket(common::figment(dir.path(), &fake)).unwrap();
        let client = Client::untracked(rocket).unwrap();
        client
            .rocket()
            .state::<kipekee::store::Store>()
            .unwrap()
            .generated_password_hash()
            .unwrap()
    };
    let first = hash_after_start().expect("a password was generated");
    assert!(first.starts_with("$argon2id$"));
    assert_eq!(hash_after_start().unwrap(), first);
}

#[test]
fn a_resend_takes_the_queued_retrys_place_and_only_failed_emails_go_again() {
    let t = logged_in();
    t.fake.set_fault(Fault::Status {
        code: 503,
        body: r#"{"errors":["Service unavailable"]}"#.into(),
        retry_after: None,
    });
    let id = quote(&t);
    let sid = id.parse().unwrap();
    let store = t.store();
    assert_eq!(
        store.queued_retries(sid).unwrap().len(),
        2,
        "Mailtrap's 503 is transient"
    );
    let detail = page(&t, &format!("/admin/submissions/{id}"));
    assert!(detail.contains("retrying"), "{detail}");
    assert!(detail.contains("attempt 2 of 5"), "{detail}");
    assert!(detail.contains("first try"));
    let attention = |t: &TestApp| {
        let html = page(t, "/admin");
        let at = html.find("Deliveries that need attention").unwrap();
        html[at..].to_string()
    };
    assert!(
        attention(&t).contains("Nothing failed recently"),
        "a retry on its way needs nothing of the owner"
    );

    t.fake.set_fault(Fault::None);
    let csrf = csrf_of(&detail);
    let res = t.post_form(
        &format!("/admin/submissions/{id}/resend"),
        &[("csrf_token", &csrf), ("kind", "")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(t.fake.delivered().len(), 2);
    assert!(store.queued_retries(sid).unwrap().is_empty(), "never both");
    let detail = page(&t, &format!("/admin/submissions/{id}"));
    assert!(detail.contains("resent by the owner"));
    assert!(!detail.contains("attempt 2 of 5"));
    assert!(attention(&t).contains("Nothing failed recently"));

    // The default resend leaves what already arrived alone.
    let res = t.post_form(
        &format!("/admin/submissions/{id}/resend"),
        &[("csrf_token", &csrf), ("kind", "")],
    );
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(
        t.fake.delivered().len(),
        2,
        "nothing failed, nothing resent"
    );
}

#[test]
fn resend_all_failed_catches_up_after_the_token_is_fixed() {
    let t = logged_in();
    t.fake.set_fault(Fault::Status {
        code: 401,
        body: r#"{"errors":["Unauthorized"]}"#.into(),
        retry_after: None,
    });
    quote(&t);
    quote(&t);
    assert_eq!(t.store().pending_retries(), 0, "a 401 is not retried");
    let deliveries = page(&t, "/admin/deliveries");
    let csrf = csrf_of(&deliveries);
    assert!(deliveries.contains("Resend all failed"));
    t.fake.set_fault(Fault::None);
    let res = t.post_form("/admin/deliveries/resend-failed", &[("csrf_token", &csrf)]);
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(t.fake.delivered().len(), 4, "two emails of two submissions");
    let again = t.post_form("/admin/deliveries/resend-failed", &[("csrf_token", &csrf)]);
    assert_eq!(again.status(), Status::SeeOther);
    assert_eq!(t.fake.delivered().len(), 4, "each exactly once");
    let bad = t.post_form("/admin/deliveries/resend-failed", &[("csrf_token", "x")]);
    assert_ne!(bad.status(), Status::SeeOther);
}

#[test]
fn the_dashboard_says_why_posts_are_refused_when_the_disk_is_nearly_full() {
    let t = start_with(|f| f.merge(("min_free_bytes", u64::MAX / 2)));
    assert_eq!(login(&t.client, PASSWORD).status(), Status::SeeOther);
    let html = page(&t, "/admin");
    assert!(
        html.contains("New submissions are refused: the disk is nearly full."),
        "{html}"
    );
    assert!(html.contains("below KIPEKEE_MIN_FREE_BYTES"), "{html}");

    let t = logged_in();
    assert!(!page(&t, "/admin").contains("the disk is nearly full"));
}
