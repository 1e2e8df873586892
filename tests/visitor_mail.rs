//! What reaches the visitor's address and the owner's Reply-To,
//! in-process against the fake Mailtrap, which accepts ASCII addresses only, as Mailtrap does.

mod common;

use common::{form_body, query_param, TestApp};
use rocket::http::{ContentType, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::Value;

fn post<'a>(t: &'a TestApp, slug: &str, pairs: &[(&str, &str)]) -> LocalResponse<'a> {
    t.client
        .post(format!("/f/{slug}"))
        .header(ContentType::Form)
        .body(form_body(pairs))
        .dispatch()
}

fn to_address<'a>(mails: &'a [Value], address: &str) -> Vec<&'a Value> {
    mails
        .iter()
        .filter(|m| m["to"][0]["email"] == address)
        .collect()
}

const ADVERT: &str = "WIN A FREE iPhone claim at https://evil.example/claim";

#[test]
fn mail_to_the_visitor_address_carries_no_visitor_text() {
    let t = TestApp::start();
    let res = post(
        &t,
        "contact",
        &[
            ("name", ADVERT),
            ("email", "stranger@elsewhere.example"),
            ("message", "Visit https://evil.example/claim for prizes"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let res = post(
        &t,
        "newsletter",
        &[("email", "other@elsewhere.example"), ("name", ADVERT)],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let mails = t.fake.delivered();
    let to_strangers: Vec<&Value> = ["stranger@elsewhere.example", "other@elsewhere.example"]
        .iter()
        .flat_map(|a| to_address(&mails, a))
        .collect();
    assert_eq!(to_strangers.len(), 2, "a confirmation and an opt-in");
    for m in to_strangers {
        assert!(m["to"][0].get("name").is_none(), "no display name: {m}");
        let whole = m.to_string();
        assert!(
            !whole.contains("iPhone") && !whole.contains("evil.example"),
            "{whole}"
        );
    }
    let owner = &to_address(&mails, common::OWNER)[0];
    assert_eq!(owner["reply_to"]["email"], "stranger@elsewhere.example");
    assert!(
        owner["text"].as_str().unwrap().contains("iPhone"),
        "the owner sees it all"
    );
}

#[test]
fn reply_to_names_are_cleaned_and_single_line_fields_refuse_bidi_controls() {
    let t = TestApp::start();
    let res = post(
        &t,
        "contact",
        &[
            ("name", "Müller, \"Jo\" <boss@evil.example>"),
            ("email", "jo@visitor.example"),
            ("message", "Hello"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let mails = t.fake.delivered();
    let owner = &to_address(&mails, common::OWNER)[0];
    assert_eq!(owner["reply_to"]["name"], "Müller Jo boss evil.example");
    assert_eq!(owner["reply_to"]["email"], "jo@visitor.example");

    let res = post(
        &t,
        "contact",
        &[
            ("name", "Jo \u{202E}moc.knab"),
            ("email", "jo@visitor.example"),
            ("message", "Hello"),
        ],
    );
    assert_eq!(res.status(), Status::UnprocessableEntity);
    let page = res.into_string().unwrap();
    assert!(
        page.contains("invisible direction or formatting characters"),
        "{page}"
    );
    assert_eq!(t.fake.delivered().len(), 2, "nothing more was sent");
}

#[test]
fn an_international_domain_is_sent_in_punycode_and_the_owner_always_hears() {
    let t = TestApp::start();
    let res = post(
        &t,
        "quote",
        &[
            ("full_name", "Anna Weber"),
            ("email", "anna@bücher.example"),
            ("message", "Zwei Zelte, bitte"),
        ],
    );
    assert_eq!(res.status(), Status::SeeOther);
    let location = res.headers().get_one("Location").unwrap();
    assert_eq!(query_param(location, "email").as_deref(), Some("sent"));
    let mails = t.fake.delivered();
    let owner = &to_address(&mails, common::OWNER)[0];
    assert_eq!(owner["reply_to"]["email"], "anna@xn--bcher-kva.example");
    assert_eq!(to_address(&mails, "anna@xn--bcher-kva.example").len(), 1);

    // An address with no ASCII form cannot be a Reply-To: the notice goes without one.
    assert!(kipekee::model::EmailAddress::parse("jürgen@bücher.example").is_ok());
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::JSON)
        .body(r#"{"full_name":"Jürgen","email":"jürgen@bücher.example","message":"Hallo"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    let answer: Value = res.into_json().unwrap();
    let status = |kind: &str| {
        answer["emails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(status("admin")["status"], "sent", "{answer}");
    assert_eq!(status("confirmation")["status"], "skipped");
    let mails = t.fake.delivered();
    let owner = to_address(&mails, common::OWNER)[1];
    assert!(owner.get("reply_to").is_none());
    assert!(owner["text"]
        .as_str()
        .unwrap()
        .contains("This email has no Reply-To"));
}
