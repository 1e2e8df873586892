use super::*;
use crate::forms::builtin;
use crate::model::FileType;

fn input(pairs: &[(&str, &str)]) -> RawInput {
    RawInput {
        values: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RawInput::default()
    }
}

#[test]
fn valid_quote_keeps_only_defined_fields() {
    let forms = builtin();
    let v = validate(
        &forms["quote"],
        input(&[
            ("full_name", " Jane Doe "),
            ("email", "jane@example.com"),
            ("message", "Two tents\r\nplease"),
            ("is_admin", "true"),
        ]),
        1024,
        crate::i18n::english(),
    )
    .unwrap();
    assert_eq!(v.fields["full_name"], "Jane Doe");
    assert_eq!(v.fields["message"], "Two tents\nplease");
    assert!(!v.fields.contains_key("is_admin"));
    assert_eq!(v.visitor_email.unwrap().as_str(), "jane@example.com");
    assert!(!v.honeypot);
}

#[test]
fn each_error_sits_on_its_field_and_values_are_kept() {
    let forms = builtin();
    let long = "x".repeat(201);
    let e = validate(
        &forms["quote"],
        input(&[
            ("full_name", &long),
            ("email", "nope"),
            ("phone", "call me"),
        ]),
        1024,
        crate::i18n::english(),
    )
    .unwrap_err();
    assert_eq!(e.errors["full_name"], "Must be at most 200 characters.");
    assert!(e.errors["email"].contains("valid email"));
    assert!(e.errors["phone"].contains("digits"));
    assert_eq!(e.errors["message"], "This field is required.");
    assert_eq!(e.values["email"], "nope");
    assert!(!e.too_large);
}

#[test]
fn header_breaking_single_line_values_are_refused() {
    let forms = builtin();
    let e = validate(
        &forms["contact"],
        input(&[
            ("name", "Eve\r\nBcc: all@x.com"),
            ("email", "e@x.com"),
            ("message", "hi"),
        ]),
        1024,
        crate::i18n::english(),
    )
    .unwrap_err();
    assert_eq!(e.errors["name"], "Must be a single line of text.");
    let e = validate(
        &forms["contact"],
        input(&[
            ("name", "Eve \u{202E}moc.knab"),
            ("email", "e@x.com"),
            ("message", "hi \u{200F}"),
        ]),
        1024,
        crate::i18n::english(),
    )
    .unwrap_err();
    assert!(e.errors["name"].contains("invisible"), "{:?}", e.errors);
    assert!(
        !e.errors.contains_key("message"),
        "textareas may hold RTL marks"
    );
    let persian = validate(
        &forms["contact"],
        input(&[
            ("name", "مهدی\u{200C}زاده"),
            ("email", "m@x.com"),
            ("message", "hi"),
        ]),
        1024,
        crate::i18n::english(),
    );
    assert!(
        persian.is_ok(),
        "a zero-width non-joiner is part of Persian names"
    );
}

#[test]
fn formspree_conventions_are_understood() {
    let forms = builtin();
    let v = validate(
        &forms["contact"],
        input(&[
            ("name", "Ann"),
            ("_replyto", "ann@example.com"),
            ("message", "hello"),
            ("_subject", "Hi\r\nthere"),
            ("_next", "https://shop.example/thanks"),
            ("_gotcha", "bot"),
        ]),
        1024,
        crate::i18n::english(),
    )
    .unwrap();
    assert_eq!(v.visitor_email.unwrap().as_str(), "ann@example.com");
    assert_eq!(v.subject.as_deref(), Some("Hi there"));
    assert_eq!(v.next.as_deref(), Some("https://shop.example/thanks"));
    assert!(v.honeypot);
}

#[rocket::async_test]
async fn cv_is_checked_by_content_and_size() {
    let forms = builtin();
    let job = &forms["job"];
    let base = [
        ("full_name", "Ann"),
        ("email", "ann@example.com"),
        ("position", "Guide"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let file = |content| RawInput {
        files: vec![RawFile {
            field: "cv".into(),
            filename: Some("../../etc/My CV.pdf".into()),
            content,
        }],
        ..input(&base)
    };
    let en = crate::i18n::english();
    let upload = |bytes: &'static [u8]| {
        let dir = tmp.path().to_path_buf();
        async move { Received::Whole(crate::forms::temp::from_bytes(&dir, bytes).await.unwrap()) }
    };
    let with_file = |content: Received, _: bool| file(content);
    let pdf = include_bytes!("../../../tests/fixtures/cv/cv.pdf");
    let ok = validate(job, with_file(upload(pdf).await, false), 1 << 20, en).unwrap();
    assert_eq!(ok.uploads[0].filename, "My CV.pdf");
    assert_eq!(ok.uploads[0].file_type, FileType::Pdf);

    let e = validate(
        job,
        with_file(upload(b"GIF89a not a cv").await, false),
        1 << 20,
        en,
    )
    .unwrap_err();
    assert_eq!(
        e.errors["cv"],
        "This file is not a PDF, DOC, DOCX or ODT document. Please attach one of those."
    );

    let e = validate(job, with_file(Received::TooLarge, true), 1 << 20, en).unwrap_err();
    assert!(e.errors["cv"].starts_with("This file is larger than 1 MiB"));
    assert!(
        !e.too_large,
        "an oversize file is the field's error, answered 422"
    );
    assert_eq!(e.values["full_name"], "Ann");

    let e = validate(job, input(&base), 1024, en).unwrap_err();
    assert_eq!(e.errors["cv"], "Please attach a file.");

    let mut other_error = file(upload(pdf).await);
    other_error.values.retain(|(k, _)| k != "full_name");
    let e = validate(job, other_error, 1 << 20, en).unwrap_err();
    assert!(e.errors.contains_key("full_name"));
    assert_eq!(e.uploads.len(), 1, "the CV that passed is handed back");
    assert_eq!(e.uploads[0].filename, "My CV.pdf");
}
