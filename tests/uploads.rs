//! CV uploads in-process: real documents from real producers are accepted whatever their
//! layout, impostors are refused, an oversize CV keeps the visitor's work, only a body over
//! the hard cap is 413, and below the free-space floor nothing is written (507).

mod common;

use base64::Engine;
use common::multipart::Multipart;
use common::{cv_fixture, query_param, TestApp};
use rocket::http::{Accept, ContentType, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

const COVER: &str = "Karibu! I have guided in the Serengeti for six years.\r\nI speak French.";

/// A job application as a browser sends it; `cv_first` puts the file before the text fields.
fn application(filename: &str, bytes: &[u8], cv_first: bool) -> (String, Vec<u8>) {
    let cv = |m: Multipart| m.file("cv", filename, "application/octet-stream", bytes);
    let mut m = Multipart::default();
    if cv_first {
        m = cv(m);
    }
    m = m
        .text("full_name", "Amina Wanjiru")
        .text("email", "amina@visitor.example")
        .text("phone", "+255 700 000 000")
        .text("position", "Safari guide")
        .text("cover_letter", COVER);
    if !cv_first {
        m = cv(m);
    }
    m.finish()
}

fn post<'a>(t: &'a TestApp, body: (String, Vec<u8>), json: bool) -> LocalResponse<'a> {
    let mut req = t
        .client
        .post("/f/job")
        .header(ContentType::parse_flexible(&body.0).unwrap())
        .body(body.1);
    if json {
        req = req.header(Accept::JSON);
    }
    req.dispatch()
}

fn temp_files(t: &TestApp) -> usize {
    std::fs::read_dir(t.dir.path().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn real_cvs_from_word_processors_are_accepted_stored_and_attached() {
    let t = TestApp::start();
    let cases = [
        ("cv-python-docx.docx", "docx", "wordprocessingml.document"),
        ("cv.docx", "docx", "wordprocessingml.document"),
        ("cv.odt", "odt", "application/vnd.oasis.opendocument.text"),
        ("cv.doc", "doc", "application/msword"),
        ("cv.pdf", "pdf", "application/pdf"),
    ];
    for (name, ext, mime) in cases {
        let bytes = cv_fixture(name);
        // The visitor's name for the file says nothing: the content decides.
        let res = post(&t, application("My CV.bin", &bytes, false), false);
        assert_eq!(res.status(), Status::SeeOther, "{name}");
        let location = res.headers().get_one("Location").unwrap().to_string();
        let reference = query_param(&location, "reference").unwrap();
        let store = t.store();
        let saved = store.submission_by_reference(&reference).unwrap().unwrap();
        assert_eq!(saved.files[0].filename, format!("My CV.{ext}"), "{name}");
        assert_eq!(
            store.file(saved.id, "cv").unwrap().unwrap(),
            bytes,
            "{name}"
        );
        let delivered = t.fake.delivered();
        let owner = delivered
            .iter()
            .rev()
            .find(|m| m["to"][0]["email"] == common::JOBS)
            .unwrap();
        let attachment = &owner["attachments"][0];
        assert!(
            attachment["type"].as_str().unwrap().contains(mime),
            "{name}: {attachment}"
        );
        let content = base64::engine::general_purpose::STANDARD
            .decode(attachment["content"].as_str().unwrap())
            .unwrap();
        assert_eq!(content, bytes, "{name}");
    }
    assert_eq!(temp_files(&t), 0, "every temp upload is removed");
}

#[test]
fn the_job_form_offers_odt_and_states_the_types_and_the_size_limit() {
    let t = TestApp::start();
    let html = t.client.get("/f/job").dispatch().into_string().unwrap();
    assert!(html.contains(r#"accept=".pdf,.doc,.docx,.odt""#), "{html}");
    assert!(
        html.contains("PDF, DOC, DOCX or ODT, up to 5 MiB"),
        "{html}"
    );
}

#[test]
fn impostors_get_422_with_a_clear_message_and_nothing_is_stored() {
    let t = TestApp::start();
    // A real executable: the first KiB of this test binary (an ELF file from rustc).
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let cases = [
        ("cv.pdf", exe[..1024].to_vec()),
        ("cv.docx", cv_fixture("cv-plain.zip")),
        ("cv.docx", cv_fixture("cv-word-only.zip")),
        ("cv.doc", cv_fixture("cv-html.doc")),
        ("cv.odt", cv_fixture("cv-not-text.ods")),
    ];
    for (filename, bytes) in &cases {
        let res = post(&t, application(filename, bytes, false), false);
        assert_eq!(res.status(), Status::UnprocessableEntity, "{filename}");
        let html = res.into_string().unwrap();
        assert!(
            html.contains("This file is not a PDF, DOC, DOCX or ODT document."),
            "{filename}: {html}"
        );
        assert!(
            html.contains("value=\"Amina Wanjiru\""),
            "typed values are kept"
        );

        let res = post(&t, application(filename, bytes, false), true);
        assert_eq!(res.status(), Status::UnprocessableEntity);
        let body: Value = res.into_json().unwrap();
        assert!(body["errors"]["cv"]
            .as_str()
            .unwrap()
            .contains("is not a PDF"));
    }
    assert_eq!(t.store().count_submissions(), 0);
    assert!(t.fake.requests().is_empty());
    assert_eq!(temp_files(&t), 0);
}

#[test]
fn an_oversize_cv_re_renders_the_form_with_every_typed_value_kept() {
    let t = TestApp::start();
    let limit = t.config().max_upload_bytes;
    assert_eq!(limit, 5 * 1024 * 1024, "the default limit");
    // A phone scan: a real PDF grown past the limit (its size is all that is checked).
    let mut scan = cv_fixture("cv.pdf");
    scan.resize(8 * 1000 * 1000, b'\n');
    // The file comes first, so the fields after it must still be read.
    let res = post(&t, application("scan.pdf", &scan, true), false);
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let html = res.into_string().unwrap();
    let at = html
        .find(r#"id="e-cv""#)
        .expect("the message sits by the CV field");
    assert!(
        html[at..].contains("This file is larger than 5 MiB"),
        "{html}"
    );
    for typed in [
        "Amina Wanjiru",
        "amina@visitor.example",
        "+255 700 000 000",
        "Safari guide",
    ] {
        assert!(html.contains(&format!("value=\"{typed}\"")), "{typed} kept");
    }
    assert!(
        html.contains("Karibu! I have guided in the Serengeti for six years.\r\nI speak French.")
    );

    let res = post(&t, application("scan.pdf", &scan, true), true);
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let body: Value = res.into_json().unwrap();
    assert!(body["errors"]["cv"]
        .as_str()
        .unwrap()
        .contains("larger than 5 MiB"));
    assert_eq!(t.store().count_submissions(), 0);
    assert_eq!(temp_files(&t), 0);
}

#[test]
fn only_a_body_over_the_hard_cap_is_413_in_the_site_layout() {
    let t = TestApp::start_with(|f| {
        f.merge(("max_upload_bytes", 64 * 1024))
            .merge(("max_body_bytes", 256 * 1024))
    });
    let huge = vec![b'%'; 300 * 1024];
    let res = post(&t, application("cv.pdf", &huge, false), false);
    assert_eq!(res.status(), Status::PayloadTooLarge);
    let html = res.into_string().unwrap();
    assert!(html.contains(r#"class="brand""#), "site layout: {html}");
    assert!(
        html.contains("<h1>That was too large to send</h1>"),
        "{html}"
    );
    assert!(html.contains("attach a smaller file"), "{html}");
    assert!(!html.contains("Payload Too Large"));

    let res = post(&t, application("cv.pdf", &huge, false), true);
    assert_eq!(res.status(), Status::PayloadTooLarge);
    let body: Value = res.into_json().unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("much larger than this site accepts"));

    // Under the cap but over the upload limit: the form again, not 413.
    let res = post(&t, application("cv.pdf", &huge[..100 * 1024], false), false);
    assert_eq!(res.status(), Status::UnprocessableEntity);
    assert_eq!(t.store().count_submissions(), 0);
    assert_eq!(temp_files(&t), 0);
}

#[test]
fn below_the_free_space_floor_posts_get_507_and_nothing_is_written() {
    let t = TestApp::start_with(|f| f.merge(("min_free_bytes", u64::MAX / 2)));
    let res = post(&t, application("cv.pdf", common::PDF, false), false);
    assert_eq!(res.status(), Status::InsufficientStorage);
    let html = res.into_string().unwrap();
    assert!(html.contains("<h1>Submissions are paused</h1>"), "{html}");
    assert!(html.contains("Nothing you sent was saved"), "{html}");

    let res = post(&t, application("cv.pdf", common::PDF, false), true);
    assert_eq!(res.status(), Status::InsufficientStorage);
    let body: Value = res.into_json().unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("out of storage space"));

    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body(r#"{"name":"Ann","email":"ann@visitor.example","message":"hi"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::InsufficientStorage);

    assert_eq!(t.store().count_submissions(), 0);
    assert!(t.fake.requests().is_empty());
    assert_eq!(temp_files(&t), 0);

    let health: Value = t.client.get("/healthz").dispatch().into_json().unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["cause"], "disk_full");
}

#[test]
fn a_bots_post_keeps_no_files() {
    let t = TestApp::start();
    let (ct, body) = Multipart::default()
        .text("full_name", "Bot")
        .text("email", "bot@visitor.example")
        .text("position", "Anything")
        .text("website", "https://spam.example")
        .file("cv", "cv.pdf", "application/pdf", common::PDF)
        .finish();
    let res = post(&t, (ct, body), false);
    assert_eq!(
        res.status(),
        Status::SeeOther,
        "a bot sees the normal answer"
    );
    let saved = t.stored_behind(&res);
    let store = t.store();
    assert!(saved.spam);
    assert!(saved.files.is_empty());
    assert_eq!(store.file(saved.id, "cv").unwrap(), None);
    assert_eq!(temp_files(&t), 0);
}

/// The hidden token the form shown again carries for the kept CV.
fn kept_token(html: &str) -> String {
    let at = html
        .find(r#"name="_kept_cv" value=""#)
        .expect("the form carries the kept CV's token")
        + r#"name="_kept_cv" value=""#.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// A job application whose CV part is `cv` (an empty part is a browser's "no file chosen"),
/// with `extra` text fields.
fn application_with(email: &str, cv: (&str, &[u8]), extra: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut m = Multipart::default()
        .text("full_name", "Amina Wanjiru")
        .text("email", email)
        .text("position", "Safari guide")
        .text("cover_letter", COVER);
    for (name, value) in extra {
        m = m.text(name, value);
    }
    m.file("cv", cv.0, "application/octet-stream", cv.1)
        .finish()
}

#[test]
fn a_cv_is_kept_when_another_field_sends_the_form_back() {
    let t = TestApp::start();
    let cv = cv_fixture("cv.docx");
    let res = post(
        &t,
        application_with("amina@", ("Amina CV.docx", &cv), &[]),
        false,
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let html = res.into_string().unwrap();
    assert!(
        html.contains("<strong>Amina CV.docx</strong> (attached) — choose another to replace"),
        "{html}"
    );
    let input = &html[html.find(r#"id="f-cv""#).unwrap()..];
    let input = &input[..input.find('>').unwrap()];
    assert!(
        !input.contains("required"),
        "no need to choose it again: {input}"
    );
    let token = kept_token(&html);
    assert_eq!(t.store().count_submissions(), 0);

    // The corrected post, with no file chosen this time.
    let fixed = application_with("amina@visitor.example", ("", b""), &[("_kept_cv", &token)]);
    let res = post(&t, fixed, false);
    assert_eq!(res.status(), Status::SeeOther);
    let saved = t.stored_behind(&res);
    let store = t.store();
    assert_eq!(saved.files[0].filename, "Amina CV.docx");
    assert_eq!(store.file(saved.id, "cv").unwrap().unwrap(), cv);
    let owner = t
        .fake
        .delivered()
        .into_iter()
        .find(|m| m["to"][0]["email"] == common::JOBS)
        .unwrap();
    let sent = base64::engine::general_purpose::STANDARD
        .decode(owner["attachments"][0]["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(sent, cv, "the kept CV is the one mailed");
    assert_eq!(temp_files(&t), 0, "the kept file moved into the store");

    // A token is used once, and one never issued is nothing.
    for token in [token.as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let again = application_with("amina@visitor.example", ("", b""), &[("_kept_cv", token)]);
        let res = post(&t, again, false);
        assert_eq!(res.status(), Status::UnprocessableEntity);
        assert!(res.into_string().unwrap().contains("Please attach a file."));
    }
}

#[test]
fn a_new_file_replaces_the_kept_one_and_a_kept_file_serves_its_own_form_only() {
    let t = TestApp::start();
    let res = post(
        &t,
        application_with("amina@", ("old.docx", &cv_fixture("cv.docx")), &[]),
        false,
    );
    let token = kept_token(&res.into_string().unwrap());
    let pdf = cv_fixture("cv.pdf");
    let replaced = application_with(
        "amina@visitor.example",
        ("new.pdf", &pdf),
        &[("_kept_cv", &token)],
    );
    let res = post(&t, replaced, false);
    assert_eq!(res.status(), Status::SeeOther);
    let saved = t.stored_behind(&res);
    let store = t.store();
    assert_eq!(saved.files[0].filename, "new.pdf");
    assert_eq!(store.file(saved.id, "cv").unwrap().unwrap(), pdf);
    assert_eq!(
        temp_files(&t),
        0,
        "the replaced kept file is removed at once"
    );

    // A token kept for the job form means nothing to another form with a file field.
    let t = TestApp::start_with(|f| {
        f.merge((
            "forms.drop",
            serde_json::json!({
                "title": "Drop a CV", "reference_prefix": "D",
                "fields": [{ "name": "cv", "label": "CV", "kind": "file", "required": true,
                              "accept": ["pdf", "docx"] }],
                "emails": [],
            }),
        ))
    });
    let res = post(
        &t,
        application_with("amina@", ("cv.docx", &cv_fixture("cv.docx")), &[]),
        false,
    );
    let token = kept_token(&res.into_string().unwrap());
    let kept_only = Multipart::default()
        .text("_kept_cv", &token)
        .file("cv", "", "application/octet-stream", b"")
        .finish();
    let res = t.post_multipart("/f/drop", kept_only);
    assert_eq!(res.status(), Status::UnprocessableEntity);
    assert!(res.into_string().unwrap().contains("Please attach a file."));
}
