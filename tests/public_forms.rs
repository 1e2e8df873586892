//! The public forms in-process, against a loopback fake Mailtrap.

mod common;

use common::multipart::Multipart;
use common::{form_body, query_param, Fault, TestApp, JOBS, NEWS, OWNER};
use kipekee::model::{DeliveryState, EmailStatus};
use rocket::http::{ContentType, Header, Status};
use serde_json::Value;

fn post_form<'a>(
    t: &'a TestApp,
    slug: &str,
    pairs: &[(&str, &str)],
) -> rocket::local::blocking::LocalResponse<'a> {
    t.client
        .post(format!("/f/{slug}"))
        .header(ContentType::Form)
        .body(form_body(pairs))
        .dispatch()
}

const QUOTE: &[(&str, &str)] = &[
    ("full_name", "Jane Doe"),
    ("email", "jane@visitor.example"),
    ("phone", "+255 700 000 000"),
    ("message", "Two tents for a week"),
];

#[test]
fn index_lists_the_four_forms() {
    let t = TestApp::start();
    let body = t.client.get("/").dispatch().into_string().unwrap();
    for slug in ["quote", "job", "newsletter", "contact"] {
        assert!(
            body.contains(&format!("href=\"/f/{slug}\"")),
            "{slug} missing"
        );
    }
}

#[test]
fn each_form_page_has_its_fields_and_the_honeypot() {
    let t = TestApp::start();
    let cases: &[(&str, &[&str])] = &[
        (
            "quote",
            &["full_name", "email", "phone", "company", "message"],
        ),
        (
            "job",
            &[
                "full_name",
                "email",
                "phone",
                "position",
                "cover_letter",
                "cv",
            ],
        ),
        ("newsletter", &["email", "name"]),
        ("contact", &["name", "email", "message"]),
    ];
    for (slug, fields) in cases {
        let res = t.client.get(format!("/f/{slug}")).dispatch();
        assert_eq!(res.status(), Status::Ok);
        let body = res.into_string().unwrap();
        for f in *fields {
            assert!(
                body.contains(&format!("name=\"{f}\"")),
                "{slug}: {f} missing"
            );
        }
        assert!(
            body.contains("name=\"website\""),
            "{slug}: honeypot missing"
        );
    }
    let job = t.client.get("/f/job").dispatch().into_string().unwrap();
    assert!(job.contains("enctype=\"multipart/form-data\""));
}

#[test]
fn a_valid_quote_is_stored_and_mailed_in_one_round_trip() {
    let t = TestApp::start();
    let res = post_form(&t, "quote", QUOTE);
    assert_eq!(res.status(), Status::SeeOther);
    let location = res.headers().get_one("Location").unwrap().to_string();
    assert!(location.starts_with("/f/quote/thanks"), "{location}");
    assert_eq!(query_param(&location, "email").as_deref(), Some("sent"));

    let requests = t.fake.requests();
    assert_eq!(requests.len(), 1, "one HTTP round trip for both emails");
    let r = &requests[0];
    assert_eq!(r.path, "/api/batch");
    assert_eq!(r.header("authorization"), Some("Bearer test-token"));
    assert_eq!(r.status, 200);
    let delivered = t.fake.delivered();
    assert_eq!(delivered.len(), 2);
    let admin = &delivered[0];
    assert_eq!(admin["to"][0]["email"], OWNER);
    assert_eq!(admin["reply_to"]["email"], "jane@visitor.example");
    assert_eq!(admin["reply_to"]["name"], "Jane Doe");
    assert_eq!(admin["from"]["email"], "hello@example.com");
    assert!(admin["subject"].as_str().unwrap().contains("Jane Doe"));
    assert!(admin["text"]
        .as_str()
        .unwrap()
        .contains("Two tents for a week"));
    assert!(admin["html"]
        .as_str()
        .unwrap()
        .contains("Two tents for a week"));
    let confirmation = &delivered[1];
    assert_eq!(confirmation["to"][0]["email"], "jane@visitor.example");
    // The visitor's reply reaches the business, not the no-reply sender.
    assert_eq!(confirmation["reply_to"]["email"], OWNER);
    assert_eq!(confirmation["reply_to"]["name"], "Mbugani Shop");

    let reference = query_param(&location, "reference").unwrap();
    assert!(confirmation["text"].as_str().unwrap().contains(&reference));
    assert!(admin["subject"].as_str().unwrap().contains(&reference));
    let store = t.store();
    let saved = store
        .submission_by_reference(&reference)
        .unwrap()
        .expect("stored");
    assert_eq!(saved.fields["message"], "Two tents for a week");
    assert_eq!(saved.email_status, DeliveryState::Sent);
    let log = store.deliveries_of(saved.id).unwrap();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|d| d.outcome.status == EmailStatus::Sent && d.outcome.http_status == Some(200)));
    assert_eq!(log[0].to.as_deref(), Some(OWNER));
    assert_eq!(log[0].outcome.message_ids.len(), 1);

    let thanks = t.client.get(location).dispatch().into_string().unwrap();
    assert!(thanks.contains(&reference));
    assert!(thanks.contains("emailed you a confirmation"));
}

#[test]
fn an_invalid_post_rerenders_the_form_with_422_errors_and_escaped_values() {
    let t = TestApp::start();
    let res = post_form(
        &t,
        "quote",
        &[
            ("full_name", "<script>alert(1)</script>"),
            ("email", "not-an-email"),
            ("message", ""),
        ],
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let body = res.into_string().unwrap();
    assert!(body.contains("Enter a valid email address"));
    assert!(body.contains("This field is required."));
    assert!(body.contains("value=\"not-an-email\""));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    assert!(!body.contains("<script>alert"));
    assert!(t.fake.requests().is_empty());
    assert_eq!(t.store().count_submissions(), 0);
}

#[test]
fn json_posts_get_201_or_422_json() {
    let t = TestApp::start();
    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body(r#"{"name":"Ann","email":"ann@visitor.example","message":"Hello"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let v: Value = res.into_json().unwrap();
    assert_eq!(v["form"], "contact");
    assert_eq!(v["id"].as_str().unwrap().len(), 16);
    assert!(v["reference"].as_str().unwrap().starts_with("C-"));
    let kinds: Vec<_> = v["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].clone(), e["status"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("admin".into(), "sent".into()),
            ("confirmation".into(), "sent".into())
        ]
    );

    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body(r#"{"name":"Ann","email":"nope"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let v: Value = res.into_json().unwrap();
    assert!(v["errors"]["email"].is_string());
    assert!(v["errors"]["message"].is_string());

    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body("[1,2")
        .dispatch();
    assert_eq!(res.status(), Status::BadRequest);
    assert!(res.into_json::<Value>().unwrap()["error"].is_string());
}

#[test]
fn a_form_post_with_accept_json_gets_json() {
    let t = TestApp::start();
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Accept", "application/json"))
        .body(form_body(QUOTE))
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    assert_eq!(res.into_json::<Value>().unwrap()["form"], "quote");
}

#[test]
fn unknown_forms_are_404_in_html_and_json() {
    let t = TestApp::start();
    assert_eq!(
        t.client.get("/f/nope").dispatch().status(),
        Status::NotFound
    );
    let res = post_form(&t, "nope", QUOTE);
    assert_eq!(res.status(), Status::NotFound);
    let res = t
        .client
        .post("/f/nope")
        .header(ContentType::JSON)
        .body("{}")
        .dispatch();
    assert_eq!(res.status(), Status::NotFound);
    let error = res.into_json::<Value>().unwrap()["error"].to_string();
    assert!(error.contains("no page at this address"), "{error}");
}

fn job_post<'a>(
    t: &'a TestApp,
    filename: &str,
    bytes: &[u8],
) -> rocket::local::blocking::LocalResponse<'a> {
    let (ct, body) = Multipart::default()
        .text("full_name", "Amani Guide")
        .text("email", "amani@visitor.example")
        .text("position", "Safari guide")
        .text("cover_letter", "I know every trail.\r\nHire me.")
        .file("cv", filename, "application/octet-stream", bytes)
        .finish();
    t.client
        .post("/f/job")
        .header(ContentType::parse_flexible(&ct).unwrap())
        .body(body)
        .dispatch()
}

#[test]
fn a_job_application_stores_the_cv_and_attaches_it_for_the_jobs_inbox() {
    use base64::Engine;
    let t = TestApp::start();
    let res = job_post(&t, "Amani CV.pdf", common::PDF);
    assert_eq!(res.status(), Status::SeeOther);
    let reference = query_param(res.headers().get_one("Location").unwrap(), "reference").unwrap();
    let delivered = t.fake.delivered();
    let admin = &delivered[0];
    assert_eq!(admin["to"][0]["email"], JOBS);
    let attachment = &admin["attachments"][0];
    assert_eq!(attachment["filename"], "Amani CV.pdf");
    assert_eq!(attachment["type"], "application/pdf");
    let content = base64::engine::general_purpose::STANDARD
        .decode(attachment["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(content, common::PDF);
    assert!(
        delivered[1]["attachments"].is_null(),
        "the visitor does not get their CV back"
    );

    let store = t.store();
    let saved = store.submission_by_reference(&reference).unwrap().unwrap();
    assert_eq!(saved.files[0].filename, "Amani CV.pdf");
    assert_eq!(
        saved.fields["cover_letter"],
        "I know every trail.\nHire me."
    );
    assert_eq!(store.file(saved.id, "cv").unwrap().unwrap(), common::PDF);
}

#[test]
fn a_cv_that_is_not_a_document_or_too_large_is_refused_and_nothing_is_stored() {
    let t = TestApp::start();
    let res = job_post(&t, "cv.pdf", b"MZ\x90\x00 an executable renamed to cv.pdf");
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let body = res.into_string().unwrap();
    assert!(body.contains("This file is not a PDF, DOC, DOCX or ODT document."));
    assert!(
        body.contains("value=\"Safari guide\""),
        "entered values are kept"
    );

    let t = TestApp::start_with(|f| f.merge(("max_upload_bytes", 1024)));
    let mut big = common::PDF.to_vec();
    big.resize(common::PDF.len() + 4096, b' ');
    let res = job_post(&t, "cv.pdf", &big);
    assert_eq!(res.status(), Status::UnprocessableEntity);
    assert!(res.into_string().unwrap().contains("larger than"));
    assert_eq!(t.store().count_submissions(), 0);
    assert!(t.fake.requests().is_empty());
}

#[test]
fn a_body_over_the_limit_is_413_with_a_clear_message() {
    let t = TestApp::start();
    let huge = "x".repeat(100 * 1024);
    let res = post_form(
        &t,
        "contact",
        &[
            ("name", "A"),
            ("email", "a@visitor.example"),
            ("message", &huge),
        ],
    );
    assert_eq!(res.status(), Status::PayloadTooLarge);
    assert!(res
        .into_string()
        .unwrap()
        .contains("much larger than this site accepts"));
    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body(format!(
            r#"{{"message":"{}"}}"#,
            "x".repeat(2 * 1024 * 1024)
        ))
        .dispatch();
    assert_eq!(res.status(), Status::PayloadTooLarge);
    assert_eq!(t.store().count_submissions(), 0);
}

#[test]
fn newsletter_double_opt_in_confirms_welcomes_and_unsubscribes() {
    let t = TestApp::start();
    let signup = [("email", "reader@visitor.example"), ("name", "Reader")];
    let res = post_form(&t, "newsletter", &signup);
    assert_eq!(res.status(), Status::SeeOther);
    let location = res.headers().get_one("Location").unwrap().to_string();
    let thanks = t.client.get(&location).dispatch().into_string().unwrap();
    assert!(
        thanks.contains("check your inbox to confirm")
            || thanks.contains("Check your inbox to confirm")
    );

    let optin = t.fake.delivered()[0].clone();
    assert_eq!(optin["to"][0]["email"], "reader@visitor.example");
    let text = optin["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/confirm/"))
        .unwrap();
    assert!(link.starts_with("http://shop.test/confirm/"));
    let path = link.trim_start_matches("http://shop.test");

    // A second signup neither duplicates the subscriber nor mails again.
    assert_eq!(
        post_form(&t, "newsletter", &signup).status(),
        Status::SeeOther
    );
    assert_eq!(t.fake.delivered().len(), 1);
    assert_eq!(t.store().subscribers().unwrap().len(), 1);

    // Mail link scanners open every link: GET and HEAD only ask.
    assert_eq!(t.client.head(path).dispatch().status(), Status::Ok);
    let page = t.client.get(path).dispatch();
    assert_eq!(page.status(), Status::Ok);
    let page = page.into_string().unwrap().replace("&#x2F;", "/");
    assert!(page.contains("reader@visitor.example"));
    assert!(page.contains(&format!("action=\"{path}\"")), "{page}");
    assert_eq!(t.fake.delivered().len(), 1, "a GET or HEAD sends nothing");
    let sub = &t.store().subscribers().unwrap()[0];
    assert_eq!(sub.state, kipekee::model::SubscriberState::Pending);

    let res = t.client.post(path).dispatch();
    assert_eq!(res.status(), Status::Ok);
    let delivered = t.fake.delivered();
    assert_eq!(delivered.len(), 3, "welcome and notice");
    let welcome = &delivered[1];
    assert_eq!(welcome["to"][0]["email"], "reader@visitor.example");
    let unsubscribe = welcome["headers"]["List-Unsubscribe"].as_str().unwrap();
    assert!(unsubscribe.starts_with("<http://shop.test/unsubscribe/"));
    assert_eq!(
        welcome["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(delivered[2]["to"][0]["email"], NEWS);

    // Following the confirm link again sends nothing more.
    assert_eq!(t.client.get(path).dispatch().status(), Status::Ok);
    assert_eq!(t.client.post(path).dispatch().status(), Status::Ok);
    assert_eq!(t.fake.delivered().len(), 3);

    let unsub_path = unsubscribe
        .trim_start_matches("<http://shop.test")
        .trim_end_matches('>');
    let state = || t.store().subscribers().unwrap()[0].state;
    assert_eq!(t.client.head(unsub_path).dispatch().status(), Status::Ok);
    let page = t.client.get(unsub_path).dispatch().into_string().unwrap();
    let page = page.replace("&#x2F;", "/");
    assert!(page.contains(&format!("action=\"{unsub_path}\"")), "{page}");
    assert_eq!(state(), kipekee::model::SubscriberState::Confirmed);

    // RFC 8058 one-click, as a mail client posts it, from no page of ours.
    let res = t
        .client
        .post(unsub_path)
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://mail.example"))
        .body("List-Unsubscribe=One-Click")
        .dispatch();
    assert_eq!(res.status(), Status::Ok);
    let page = res.into_string().unwrap().replace("&#x2F;", "/");
    assert_eq!(state(), kipekee::model::SubscriberState::Unsubscribed);
    let again = page
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(again.starts_with("/resubscribe/"), "{page}");
    assert_eq!(t.client.post(unsub_path).dispatch().status(), Status::Ok);
    assert_eq!(t.client.post(&again).dispatch().status(), Status::Ok);
    assert_eq!(state(), kipekee::model::SubscriberState::Confirmed);
    assert_eq!(
        t.fake.delivered().len(),
        3,
        "subscribing again mails nothing"
    );
    assert_eq!(
        t.client.get("/confirm/not-a-token").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        t.client.post("/confirm/not-a-token").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        t.client
            .post("/resubscribe/not-a-token")
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn without_a_token_emails_are_rendered_stored_and_skipped() {
    let t = TestApp::start_with(|f| f.merge(("mailtrap_api_token", "")));
    let res = post_form(&t, "quote", QUOTE);
    let location = res.headers().get_one("Location").unwrap().to_string();
    assert_eq!(query_param(&location, "email").as_deref(), Some("skipped"));
    assert!(t.fake.requests().is_empty());
    let store = t.store();
    let s = store.latest_submissions(None, 1).unwrap().remove(0);
    assert_eq!(s.email_status, DeliveryState::Skipped);
    let log = store.deliveries_of(s.id).unwrap();
    assert_eq!(log.len(), 2);
    let body = store.body(log[0].id).unwrap().expect("a body");
    assert!(
        body.html.contains("Two tents for a week"),
        "the would-be email is kept"
    );
    assert_eq!(
        log[0].outcome.error.as_deref(),
        Some("MAILTRAP_API_TOKEN is not set")
    );
}

#[test]
fn mailtrap_failures_keep_the_submission_and_tell_the_truth() {
    let cases = [
        (
            Fault::Status {
                code: 401,
                body: r#"{"errors":["Unauthorized"]}"#.into(),
                retry_after: None,
            },
            Some(401),
            "Unauthorized",
        ),
        (
            Fault::Status {
                code: 500,
                body: r#"{"errors":["Internal server error"]}"#.into(),
                retry_after: None,
            },
            Some(500),
            "Internal server error",
        ),
        (
            Fault::Status {
                code: 429,
                body: "".into(),
                retry_after: Some(3),
            },
            Some(429),
            "HTTP 429",
        ),
        (Fault::FailAllItems, Some(200), ""),
        (Fault::Drop, None, "Mailtrap"),
        (Fault::Hang, None, "Mailtrap"),
    ];
    for (fault, http_status, error_part) in cases {
        // Dropped or unanswered after the whole request was sent: it may have arrived. An
        // outage or a rate limit is retried automatically; the rest failed for good.
        let (expected, said) = match (&fault, http_status) {
            (Fault::Drop | Fault::Hang, _) => (EmailStatus::Unknown, "may take a little while"),
            (_, Some(500 | 429)) => (EmailStatus::Failed, "send your confirmation again"),
            _ => (
                EmailStatus::Failed,
                "could not send your confirmation email",
            ),
        };
        let state = match http_status {
            Some(500 | 429) => DeliveryState::Retrying,
            _ => DeliveryState::from(expected),
        };
        let t = TestApp::start_with(|f| f.merge(("mailtrap_timeout_secs", 1)));
        t.fake.set_fault(fault.clone());
        let res = post_form(&t, "quote", QUOTE);
        assert_eq!(res.status(), Status::SeeOther, "{fault:?}");
        let location = res.headers().get_one("Location").unwrap().to_string();
        assert_eq!(
            query_param(&location, "email").as_deref(),
            Some(state.as_str()),
            "{fault:?}"
        );
        let thanks = t.client.get(&location).dispatch().into_string().unwrap();
        assert!(thanks.contains(said), "{fault:?}");

        let store = t.store();
        let s = store
            .latest_submissions(Some("quote"), 1)
            .unwrap()
            .remove(0);
        assert_eq!(s.fields["full_name"], "Jane Doe");
        assert_eq!(s.email_status, state, "{fault:?}");
        let log = store.deliveries_of(s.id).unwrap();
        assert_eq!(log.len(), 2);
        for d in log {
            assert_eq!(d.outcome.status, expected);
            assert_eq!(d.outcome.http_status, http_status, "{fault:?}");
            let error = d.outcome.error.unwrap();
            assert!(error.contains(error_part), "{fault:?}: {error}");
            assert!(!error.contains("test-token"));
            let asked = (http_status == Some(429)).then_some(3);
            assert_eq!(
                d.outcome.retry_after_secs, asked,
                "Retry-After is kept for the retry queue"
            );
        }
    }
}

#[test]
fn visitor_text_is_escaped_in_email_html_and_cannot_break_headers() {
    let t = TestApp::start();
    let res = post_form(
        &t,
        "contact",
        &[
            ("name", "Eve <b>bold</b>"),
            ("email", "eve@visitor.example"),
            ("message", "<img src=x onerror=alert(1)>"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let admin = &t.fake.delivered()[0];
    let html = admin["html"].as_str().unwrap();
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<b>bold</b>"));

    let res = post_form(
        &t,
        "contact",
        &[
            ("name", "Eve\r\nBcc: victim@x.example"),
            ("email", "eve@visitor.example"),
            ("message", "hi"),
        ],
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let res = post_form(
        &t,
        "contact",
        &[
            ("name", "Eve"),
            ("email", "eve@visitor.example\r\nBcc: v@x.example"),
            ("message", "hi"),
        ],
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    assert_eq!(t.fake.delivered().len(), 2);
}

#[test]
fn a_filled_honeypot_is_stored_as_spam_and_mails_nothing() {
    let t = TestApp::start();
    let mut pairs = QUOTE.to_vec();
    pairs.push(("website", "http://spam.example"));
    let res = post_form(&t, "quote", &pairs);
    assert_eq!(res.status(), Status::SeeOther);
    assert!(t.fake.requests().is_empty());
    let s = t.store().latest_submissions(None, 1).unwrap().remove(0);
    assert!(s.spam);
}

#[test]
fn formspree_subject_and_replyto_are_honoured() {
    let t = TestApp::start();
    let res = post_form(
        &t,
        "contact",
        &[
            ("name", "Ann"),
            ("_replyto", "ann@visitor.example"),
            ("message", "hi"),
            ("_subject", "Website enquiry"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let delivered = t.fake.delivered();
    assert_eq!(delivered[0]["subject"], "Website enquiry");
    assert_eq!(delivered[0]["reply_to"]["email"], "ann@visitor.example");
    assert_ne!(
        delivered[1]["subject"], "Website enquiry",
        "_subject is for the owner only"
    );
}

/// One origin rule: the CORS answer, the origin check of a post and `_next` agree on an
/// allowed origin however the owner wrote it (case, default port, trailing slash).
#[test]
fn an_allowed_origin_is_one_origin_for_cors_the_origin_check_and_next() {
    let t = TestApp::start_with(|f| f.merge(("allowed_origins", "https://Shop.Example:443/")));
    let mut pairs = QUOTE.to_vec();
    pairs.push(("_next", "https://shop.example/thank-you"));
    for origin in ["https://shop.example", "https://SHOP.example:443"] {
        let res = t
            .client
            .post("/f/quote")
            .header(ContentType::Form)
            .header(Header::new("Origin", origin))
            .body(form_body(&pairs))
            .dispatch();
        assert_eq!(res.status(), Status::SeeOther, "{origin}");
        assert_eq!(
            res.headers().get_one("Location"),
            Some("https://shop.example/thank-you"),
            "{origin}"
        );
        assert_eq!(
            res.headers().get_one("Access-Control-Allow-Origin"),
            Some(origin),
            "{origin}"
        );
    }
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://shop.example:8443"))
        .body(form_body(&pairs))
        .dispatch();
    assert_eq!(
        res.status(),
        Status::Forbidden,
        "another port is another origin"
    );
    assert!(res
        .headers()
        .get_one("Access-Control-Allow-Origin")
        .is_none());
    assert_eq!(t.store().count_submissions(), 2);
}

#[test]
fn cross_site_posts_are_accepted_only_from_allowed_origins() {
    let t = TestApp::start_with(|f| f.merge(("allowed_origins", "https://shop.example")));
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://evil.example"))
        .body(form_body(QUOTE))
        .dispatch();
    assert_eq!(res.status(), Status::Forbidden);
    assert_eq!(t.store().count_submissions(), 0);

    let mut pairs = QUOTE.to_vec();
    pairs.push(("_next", "https://shop.example/thank-you"));
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://shop.example"))
        .body(form_body(&pairs))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert_eq!(
        res.headers().get_one("Location"),
        Some("https://shop.example/thank-you")
    );

    pairs.pop();
    pairs.push(("_next", "https://evil.example/phish"));
    let res = post_form(&t, "quote", &pairs);
    assert!(res
        .headers()
        .get_one("Location")
        .unwrap()
        .starts_with("/f/quote/thanks"));

    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::JSON)
        .header(Header::new("Origin", "https://shop.example"))
        .body(r#"{"full_name":"J","email":"j@visitor.example","message":"m"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    assert_eq!(
        res.headers().get_one("Access-Control-Allow-Origin"),
        Some("https://shop.example")
    );

    let res = t
        .client
        .req(rocket::http::Method::Options, "/f/quote")
        .header(Header::new("Origin", "https://shop.example"))
        .header(Header::new("Access-Control-Request-Method", "POST"))
        .dispatch();
    assert_eq!(res.status(), Status::NoContent);
    assert!(res
        .headers()
        .get_one("Access-Control-Allow-Methods")
        .unwrap()
        .contains("POST"));
    let res = t
        .client
        .req(rocket::http::Method::Options, "/f/quote")
        .header(Header::new("Origin", "https://evil.example"))
        .dispatch();
    assert!(res
        .headers()
        .get_one("Access-Control-Allow-Origin")
        .is_none());
}

#[test]
fn healthz_and_assets_with_cache_validators() {
    let t = TestApp::start();
    let loopback: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let res = t.client.get("/healthz").remote(loopback).dispatch();
    assert_eq!(res.status(), Status::Ok);
    let v: Value = res.into_json().unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["mailtrap"], "configured");

    let res = t.client.get("/assets/css/site.css").dispatch();
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::CSS));
    let etag = res.headers().get_one("ETag").unwrap().to_string();
    let res = t
        .client
        .get("/assets/css/site.css")
        .header(Header::new("If-None-Match", etag))
        .dispatch();
    assert_eq!(res.status(), Status::NotModified);
    assert_eq!(
        t.client.get("/assets/nope.css").dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        t.client.get("/assets/../Cargo.toml").dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn forms_are_overridable_from_the_config() {
    let t = TestApp::start_with(|f| {
        f.merge(("forms.quote.title", "Book a safari"))
            .merge(("forms.contact.enabled", false))
    });
    let index = t.client.get("/").dispatch().into_string().unwrap();
    assert!(index.contains("Book a safari"));
    assert!(!index.contains("/f/contact"));
    assert_eq!(
        t.client.get("/f/contact").dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn the_release_profile_starts_without_a_configured_secret_key_and_keeps_the_generated_one() {
    let fake = common::FakeMailtrap::start();
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let figment = common::figment(dir.path(), &fake).select("release");
        let rocket = kipekee::rocket(figment).expect("builds");
        let key: String = rocket
            .figment()
            .extract_inner("secret_key")
            .expect("a key was set");
        // Rocket refuses to ignite in release without a secret key.
        let client = rocket::local::blocking::Client::untracked(rocket).expect("release ignites");
        assert!(!client.rocket().config().secret_key.is_zero());
        key
    };
    let first = start();
    assert!(first.len() >= 43, "32 random bytes, base64");
    assert_eq!(start(), first, "the generated key survives a restart");
}

/// A page with `Referrer-Policy: no-referrer` or a sandboxed frame posts with `Origin: null`:
/// no site is named, so it is treated like a post without an `Origin` (issue 9, item 5).
#[test]
fn origin_null_is_treated_like_a_missing_origin() {
    let t = TestApp::start_with(|f| f.merge(("allowed_origins", "https://shop.example")));
    for origin in ["null", "NULL", " null "] {
        let res = t
            .client
            .post("/f/quote")
            .header(ContentType::Form)
            .header(Header::new("Origin", origin))
            .body(form_body(QUOTE))
            .dispatch();
        assert_eq!(res.status(), Status::SeeOther, "Origin: {origin:?}");
    }
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::JSON)
        .header(Header::new("Accept", "application/json"))
        .header(Header::new("Origin", "null"))
        .body(r#"{"full_name":"Ann","email":"ann@visitor.example","message":"hi"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    assert_eq!(t.store().count_submissions(), 4);
}
