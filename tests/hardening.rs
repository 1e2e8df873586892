//! Abuse controls and hostile input, in-process against the loopback fake Mailtrap.

mod common;

use std::net::SocketAddr;

use common::{form_body, query_param, TestApp};
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::LocalResponse;

const QUOTE: &[(&str, &str)] = &[
    ("full_name", "Jane Doe"),
    ("email", "jane@visitor.example"),
    ("message", "Two tents"),
];

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, last], 40000))
}

fn post<'a>(
    t: &'a TestApp,
    slug: &str,
    pairs: &[(&str, &str)],
    from: SocketAddr,
) -> LocalResponse<'a> {
    t.client
        .post(format!("/f/{slug}"))
        .remote(from)
        .header(ContentType::Form)
        .body(form_body(pairs))
        .dispatch()
}

fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    html[at..].split('"').next().unwrap().to_string()
}

fn now_ms() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}

#[test]
fn a_form_posted_faster_than_a_person_types_is_held_for_review_and_mails_nothing() {
    let t = TestApp::start_with(|f| f.merge(("spam_min_seconds", 3)));
    let page = t.client.get("/f/quote").dispatch().into_string().unwrap();
    let shown_at = hidden(&page, "_t");
    let mut pairs = QUOTE.to_vec();
    pairs.push(("_t", &shown_at));
    let res = post(&t, "quote", &pairs, addr(1));
    assert_eq!(
        res.status(),
        Status::SeeOther,
        "the bot sees the ordinary answer"
    );
    let res = post(&t, "quote", QUOTE, addr(1));
    assert_eq!(res.status(), Status::SeeOther, "no time field at all");
    let forged = format!("{}.{}", now_ms() - 60_000, "00".repeat(32));
    let mut pairs = QUOTE.to_vec();
    pairs.push(("_t", &forged));
    assert_eq!(
        post(&t, "quote", &pairs, addr(1)).status(),
        Status::SeeOther
    );
    assert!(t.fake.requests().is_empty());
    let stored = t.store().latest_submissions(None, 10).unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|s| s.review.is_some() && !s.spam));

    // Shown a while ago (a token minted for five seconds back): a person.
    let slow = t.trap().token(now_ms() - 5000);
    let mut pairs = QUOTE.to_vec();
    pairs.push(("_t", &slow));
    let res = post(&t, "quote", &pairs, addr(1));
    assert_eq!(
        query_param(res.headers().get_one("Location").unwrap(), "email").as_deref(),
        Some("sent")
    );
    assert_eq!(t.fake.requests().len(), 1);

    // JSON clients and a business's own site (an allowed origin) cannot carry the field.
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::JSON)
        .body(r#"{"full_name":"A","email":"a@visitor.example","message":"m"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::Created);
    assert_eq!(t.fake.requests().len(), 2);
}

#[test]
fn an_allowed_origin_skips_the_time_trap() {
    let t = TestApp::start_with(|f| {
        f.merge(("spam_min_seconds", 3))
            .merge(("allowed_origins", "https://shop.example"))
    });
    let res = t
        .client
        .post("/f/quote")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://shop.example"))
        .body(form_body(QUOTE))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert!(!t.store().latest_submissions(None, 1).unwrap()[0].spam);
    assert_eq!(t.fake.requests().len(), 1);
}

#[test]
fn posts_over_the_rate_limit_get_429_with_retry_after() {
    let t = TestApp::start_with(|f| f.merge(("rate_limit", 2)));
    assert_eq!(
        post(&t, "contact", &[("name", "A")], addr(1)).status(),
        Status::UnprocessableEntity
    );
    assert_eq!(post(&t, "quote", QUOTE, addr(1)).status(), Status::SeeOther);
    let res = post(&t, "quote", QUOTE, addr(1));
    assert_eq!(res.status(), Status::SeeOther);
    let res = post(&t, "quote", QUOTE, addr(1));
    assert_eq!(res.status(), Status::TooManyRequests);
    let wait: u64 = res
        .headers()
        .get_one("Retry-After")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert!(res.into_string().unwrap().contains("Too many submissions"));
    assert_eq!(
        post(&t, "quote", QUOTE, addr(2)).status(),
        Status::SeeOther,
        "another address"
    );
    assert_eq!(t.store().count_submissions(), 3);
}

#[test]
fn a_double_submit_returns_the_first_answer_and_mails_once() {
    let t = TestApp::start();
    let page = t.client.get("/f/quote").dispatch().into_string().unwrap();
    let key = hidden(&page, "_idem");
    let mut pairs = QUOTE.to_vec();
    pairs.push(("_idem", &key));
    let first = post(&t, "quote", &pairs, addr(1))
        .headers()
        .get_one("Location")
        .unwrap()
        .to_string();
    let second = post(&t, "quote", &pairs, addr(1))
        .headers()
        .get_one("Location")
        .unwrap()
        .to_string();
    assert_eq!(
        query_param(&first, "reference"),
        query_param(&second, "reference")
    );
    assert_eq!(query_param(&second, "email").as_deref(), Some("sent"));
    assert_eq!(t.store().count_submissions(), 1);
    assert_eq!(t.fake.requests().len(), 1);

    let json = |body: &str| {
        let res = t
            .client
            .post("/f/contact")
            .header(ContentType::JSON)
            .body(body)
            .dispatch();
        assert_eq!(res.status(), Status::Created);
        res.into_json::<serde_json::Value>().unwrap()
    };
    let body = r#"{"name":"A","email":"a@visitor.example","message":"m","_idem":"client-retry-1"}"#;
    let (a, b) = (json(body), json(body));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["emails"][0]["status"], "sent");
    assert_eq!(t.store().count_submissions(), 2);
}

#[test]
fn confirmations_to_one_address_are_capped_per_day_but_the_owner_still_hears() {
    let t = TestApp::start();
    for i in 0..4 {
        let res = post(
            &t,
            "contact",
            &[
                ("name", "Bot"),
                ("email", "victim@elsewhere.example"),
                ("message", &format!("spam {i}")),
            ],
            addr(9),
        );
        assert_eq!(res.status(), Status::SeeOther);
    }
    let to_victim = t
        .fake
        .delivered()
        .iter()
        .filter(|m| m["to"][0]["email"] == "victim@elsewhere.example")
        .count();
    assert_eq!(to_victim, 3);
    let last = t.store().latest_submissions(None, 1).unwrap().remove(0);
    let log = t.store().deliveries_of(last.id).unwrap();
    let confirmation = log.iter().find(|d| d.kind == "confirmation").unwrap();
    assert_eq!(
        confirmation.outcome.status,
        kipekee::model::EmailStatus::Skipped
    );
    assert!(confirmation
        .outcome
        .error
        .as_deref()
        .unwrap()
        .contains("daily limit"));
    assert_eq!(
        log.iter()
            .find(|d| d.kind == "admin")
            .unwrap()
            .outcome
            .status,
        kipekee::model::EmailStatus::Sent
    );
}

#[test]
fn hsts_is_sent_only_behind_an_https_public_url() {
    let t = TestApp::start();
    assert!(t
        .client
        .get("/")
        .dispatch()
        .headers()
        .get_one("Strict-Transport-Security")
        .is_none());
    let t = TestApp::start_with(|f| f.merge(("public_url", "https://forms.shop.example")));
    let res = t.client.get("/").dispatch();
    assert!(res
        .headers()
        .get_one("Strict-Transport-Security")
        .unwrap()
        .contains("max-age"));
    assert!(res
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[test]
fn hostile_input_gets_clear_errors_never_a_5xx() {
    let t = TestApp::start();
    let too_many: Vec<(String, String)> = (0..100).map(|i| (format!("f{i}"), "x".into())).collect();
    let pairs: Vec<(&str, &str)> = too_many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = post(&t, "contact", &pairs, addr(1));
    assert_eq!(res.status(), Status::PayloadTooLarge);
    let cases: Vec<(ContentType, Vec<u8>)> = vec![
        (ContentType::JSON, b"{\"name\": [1,2]}".to_vec()),
        (ContentType::JSON, b"\xff\xfe not json".to_vec()),
        (ContentType::Form, b"name=%ZZ&email=%".to_vec()),
        (ContentType::Form, b"\xff\xfe=\xfe".to_vec()),
        (ContentType::Plain, b"hello".to_vec()),
        (
            ContentType::parse_flexible("multipart/form-data; boundary=x").unwrap(),
            b"--x\r\ngarbage".to_vec(),
        ),
    ];
    for (ct, body) in cases {
        let res = t
            .client
            .post("/f/contact")
            .header(ct.clone())
            .body(body)
            .dispatch();
        let code = res.status().code;
        assert!((400..500).contains(&code), "{ct}: {code}");
    }
    assert_eq!(t.client.get("/healthz").dispatch().status(), Status::Ok);
    assert_eq!(t.store().count_submissions(), 0);
}
