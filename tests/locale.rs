//! The visitor's side in their language (`KIPEKEE_LOCALE`, `[default.strings]`; issue 13 items
//! 2 and 5): pages, validation messages, error pages and the visitor's emails as the fake
//! Mailtrap receives them, in-process.

mod common;

use common::{query_param, TestApp};
use figment::Figment;
use rocket::http::Status;
use serde_json::Value;

const VISITOR: &str = "amina@visitor.example";

fn swahili(f: Figment) -> Figment {
    f.merge(("locale", "sw"))
        .merge(("business_address", "Mtaa wa Samora 12, Dar es Salaam"))
        .merge(("business_phone", "+255 22 211 0000"))
        .merge(("business_website", "https://www.mbugani.example/"))
}

fn post(t: &TestApp, slug: &str, pairs: &[(&str, &str)]) -> (Status, Option<String>, String) {
    let res = t.post_form(&format!("/f/{slug}"), pairs);
    let status = res.status();
    let location = res.headers().get_one("Location").map(str::to_string);
    (status, location, res.into_string().unwrap_or_default())
}

fn get(t: &TestApp, path: &str) -> (Status, String) {
    let res = t.client.get(path).dispatch();
    (res.status(), res.into_string().unwrap_or_default())
}

/// Tera writes `/` in HTML as `&#x2F;`; a browser reads both alike.
fn unescape(html: &str) -> String {
    html.replace("&#x2F;", "/")
}

fn mail_to<'a>(mails: &'a [Value], address: &str, subject_start: &str) -> &'a Value {
    mails
        .iter()
        .find(|m| {
            m["to"][0]["email"] == address
                && m["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(subject_start))
        })
        .unwrap_or_else(|| panic!("no mail to {address} starting {subject_start:?}: {mails:?}"))
}

const ENGLISH_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SWAHILI_MONTHS: [&str; 12] = [
    "Januari", "Februari", "Machi", "Aprili", "Mei", "Juni", "Julai", "Agosti", "Septemba",
    "Oktoba", "Novemba", "Desemba",
];

#[test]
fn a_swahili_form_errors_thanks_and_confirmation_email() {
    let t = TestApp::start_with(swahili);
    let (status, page) = get(&t, "/f/quote");
    assert_eq!(status, Status::Ok);
    assert!(page.contains("<html lang=\"sw\">"), "{page}");
    for text in [
        "Omba bei",
        "Jina kamili",
        "Unahitaji nini?",
        "title=\"inahitajika\"",
    ] {
        assert!(page.contains(text), "{text} missing: {page}");
    }
    assert!(!page.contains("Full name") && !page.contains("Powered by"));
    let (_, index) = get(&t, "/");
    assert!(
        index.contains("Tukusaidie vipi?") && index.contains("Omba kazi"),
        "{index}"
    );
    let (_, job) = get(&t, "/f/job");
    assert!(job.contains("PDF, DOC, DOCX au ODT, hadi 5 MiB"), "{job}");

    let (status, _, page) = post(
        &t,
        "quote",
        &[("full_name", "Amina Juma"), ("email", "amina@")],
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("<html lang=\"sw\">"));
    for text in [
        "Tafadhali sahihisha sehemu 2 zilizowekwa alama.",
        "Weka anwani sahihi ya barua pepe, kama jina@mfano.com.",
        "Sehemu hii inahitajika.",
        "value=\"Amina Juma\"",
    ] {
        assert!(page.contains(text), "{text} missing: {page}");
    }
    assert!(!page.contains("This field is required"), "{page}");

    let (status, location, _) = post(
        &t,
        "quote",
        &[
            ("full_name", "Amina Juma"),
            ("email", VISITOR),
            ("message", "Safari ya siku tatu Serengeti"),
        ],
    );
    assert_eq!(status, Status::SeeOther);
    let location = location.unwrap();
    assert_eq!(query_param(&location, "email").as_deref(), Some("sent"));
    let (status, page) = get(&t, &location);
    assert_eq!(status, Status::Ok);
    for text in [
        "<html lang=\"sw\">",
        "Asante!",
        "Asante kwa ombi lako la bei. Tutawasiliana nawe hivi karibuni.",
        "Namba yako ya kumbukumbu: <strong>Q-1001</strong>",
        "Tumekutumia uthibitisho kwa barua pepe.",
        "Rudi mwanzo",
    ] {
        assert!(page.contains(text), "{text} missing: {page}");
    }

    let mails = t.fake.delivered();
    let mail = mail_to(&mails, VISITOR, "Tumepokea ombi lako la bei (Q-1001)");
    assert_eq!(
        mail["reply_to"]["email"],
        common::OWNER,
        "replies reach the business"
    );
    let html = &unescape(mail["html"].as_str().unwrap());
    let text = mail["text"].as_str().unwrap();
    assert!(html.contains("<html lang=\"sw\">"), "{html}");
    let preheader = html
        .split("class=\"preheader\"")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .expect("a preheader");
    assert!(preheader.contains("display:none"), "{preheader}");
    assert!(
        preheader.contains("Namba yako ya kumbukumbu ni Q-1001"),
        "{preheader}"
    );
    for part in [html, text] {
        for expected in [
            "Asante, tumeipokea",
            "Asante kwa ombi lako la bei. Tutawasiliana nawe hivi karibuni.",
            "Imetumwa tarehe ",
            "Mtaa wa Samora 12, Dar es Salaam",
            "+255 22 211 0000",
            "Jibu barua pepe hii ili kuwasiliana na Mbugani Shop",
        ] {
            assert!(part.contains(expected), "{expected} missing: {part}");
        }
        assert!(SWAHILI_MONTHS.iter().any(|m| part.contains(m)), "{part}");
        assert!(!ENGLISH_MONTHS.iter().any(|m| part.contains(m)), "{part}");
        assert!(!part.contains("Safari ya siku tatu"), "no visitor text");
    }
    assert!(html.contains("href=\"tel:+255222110000\""), "{html}");
    assert!(
        html.contains("href=\"https://www.mbugani.example/\""),
        "{html}"
    );
    assert!(html.contains(">mbugani.example</a>"), "{html}");
    assert!(text.contains("https://www.mbugani.example/"), "{text}");

    let owner = mail_to(&mails, common::OWNER, "New quote request Q-1001");
    assert!(owner["text"].as_str().unwrap().contains("Received"));
}

#[test]
fn swahili_newsletter_opt_in_confirm_page_and_welcome() {
    let t = TestApp::start_with(swahili);
    let (status, location, _) = post(&t, "newsletter", &[("email", VISITOR)]);
    assert_eq!(status, Status::SeeOther);
    let (_, thanks) = get(&t, &location.unwrap());
    assert!(thanks.contains("Angalia kikasha chako"), "{thanks}");

    let mails = t.fake.delivered();
    let optin = mail_to(&mails, VISITOR, "Tafadhali thibitisha usajili wako");
    let html = &unescape(optin["html"].as_str().unwrap());
    assert!(html.contains("Thibitisha usajili wangu") && html.contains("jarida la Mbugani Shop"));
    let link = html
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap_or(""))
        .find(|href| href.contains("/confirm/"))
        .expect("a confirm link");
    let path = link.trim_start_matches(common::PUBLIC_URL);

    let (status, page) = get(&t, path);
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Thibitisha usajili wako") && page.contains(">Thibitisha</button>"));
    let res = t.client.post(path).dispatch();
    assert_eq!(res.status(), Status::Ok);
    let page = res.into_string().unwrap();
    assert!(
        page.contains("Asante kwa kuthibitisha. Karibu sana!"),
        "{page}"
    );

    let mails = t.fake.delivered();
    let welcome = mail_to(&mails, VISITOR, "Karibu kwenye jarida letu");
    let html = welcome["html"].as_str().unwrap();
    assert!(
        html.contains("Karibu!") && html.contains(">Jiondoe</a>"),
        "{html}"
    );
    assert!(welcome["text"]
        .as_str()
        .unwrap()
        .contains("Jiondoe wakati wowote: http://shop.test/unsubscribe/"));
}

#[test]
fn swahili_error_pages() {
    let t = TestApp::start_with(swahili);
    let (status, page) = get(&t, "/no-such-page");
    assert_eq!(status, Status::NotFound);
    assert!(page.contains("<html lang=\"sw\">"));
    assert!(
        page.contains("Ukurasa haukupatikana") && page.contains("Hakuna ukurasa kwenye anwani hii")
    );

    let (status, page) = get(&t, "/confirm/not-a-token");
    assert_eq!(status, Status::NotFound);
    assert!(page.contains("Kiungo hiki hakifanyi kazi tena"), "{page}");

    let huge = "x".repeat(70 * 1024);
    let (status, _, page) = post(&t, "contact", &[("message", &huge)]);
    assert_eq!(status, Status::PayloadTooLarge);
    assert!(page.contains("Ulichotuma ni kikubwa mno"), "{page}");
    assert!(page.contains("hakuna kilichopokelewa"), "{page}");
}

/// A refused post (403 for an origin, 400 for a body that is not fields, 415 for another
/// content type) is worded by the catalogue, in the page and in the JSON answer alike.
#[test]
fn swahili_refusals_of_a_post_are_in_swahili() {
    use rocket::http::{ContentType, Header};
    let t = TestApp::start_with(swahili);
    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::Form)
        .header(Header::new("Origin", "https://evil.example"))
        .body("name=A&email=a%40visitor.example&message=m")
        .dispatch();
    assert_eq!(res.status(), Status::Forbidden);
    let page = res.into_string().unwrap();
    assert!(
        page.contains("Fomu hii haipokei ujumbe kutoka https:&#x2F;&#x2F;evil.example"),
        "{page}"
    );
    assert!(
        !page.contains("KIPEKEE_ALLOWED_ORIGINS"),
        "no setting name: {page}"
    );

    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::JSON)
        .body(r#"{"name":["A"],"email":"a@visitor.example","message":"m"}"#)
        .dispatch();
    assert_eq!(res.status(), Status::BadRequest);
    let body: Value = serde_json::from_str(&res.into_string().unwrap()).unwrap();
    assert_eq!(body["error"], "Sehemu \"name\" lazima iwe maandishi.");

    let res = t
        .client
        .post("/f/contact")
        .header(ContentType::Plain)
        .body("hello")
        .dispatch();
    assert_eq!(res.status(), Status::UnsupportedMediaType);
    assert!(res
        .into_string()
        .unwrap()
        .contains("Fomu hii inapokea kile ambacho fomu ya wavuti hutuma"));
}

#[test]
fn swahili_rate_limit_page_counts_seconds() {
    let t = TestApp::start_with(|f| swahili(f).merge(("rate_limit", 1)));
    let visitor = [("name", "Amina"), ("email", VISITOR), ("message", "Habari")];
    assert_eq!(post(&t, "contact", &visitor).0, Status::SeeOther);
    let (status, _, page) = post(&t, "contact", &visitor);
    assert_eq!(status, Status::TooManyRequests);
    assert!(page.contains("Tafadhali punguza kasi"), "{page}");
    assert!(page.contains("Tafadhali subiri sekunde "), "{page}");
}

#[test]
fn french_plurals_on_a_form_with_errors() {
    let t = TestApp::start_with(|f| f.merge(("locale", "fr")));
    let (status, _, page) = post(&t, "contact", &[("email", "x")]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(page.contains("<html lang=\"fr\">"));
    assert!(
        page.contains("Veuillez corriger les 3\u{a0}champs signalés.")
            || page.contains("Veuillez corriger les 3 champs signalés."),
        "{page}"
    );
    assert!(page.contains("Ce champ est obligatoire."), "{page}");
    let (_, _, page) = post(
        &t,
        "contact",
        &[("name", "Zoé"), ("email", "zoe@x.example")],
    );
    assert!(
        page.contains("Veuillez corriger le champ signalé."),
        "{page}"
    );
}

#[test]
fn owner_strings_and_texts_win_over_the_catalogue() {
    let t = TestApp::start_with(|f| {
        swahili(f)
            .merge(("strings.thanks.heading", "Shukrani nyingi!"))
            .merge(("strings.validate.required", "Jaza hapa tafadhali."))
            .merge(("strings.form.errors_summary.other", "Kuna makosa {n}."))
            .merge(("forms.contact.title", "Andikia Mbugani"))
    });
    let (_, page) = get(&t, "/f/contact");
    assert!(page.contains("<h1>Andikia Mbugani</h1>"), "{page}");
    assert!(
        page.contains("Tuma ujumbe"),
        "the rest still follows the locale"
    );
    let (status, _, page) = post(&t, "contact", &[("email", VISITOR)]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        page.contains("Jaza hapa tafadhali.") && page.contains("Kuna makosa 2."),
        "{page}"
    );
    let (_, location, _) = post(
        &t,
        "contact",
        &[("name", "Amina"), ("email", VISITOR), ("message", "Habari")],
    );
    let (_, page) = get(&t, &location.unwrap());
    assert!(page.contains("Shukrani nyingi!"), "{page}");
}

fn start_error(configure: impl FnOnce(Figment) -> Figment) -> String {
    let fake = common::FakeMailtrap::start();
    let dir = tempfile::tempdir().unwrap();
    match kipekee::rocket(configure(common::figment(dir.path(), &fake))) {
        Ok(_) => panic!("started"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_locale_and_unknown_string_key_stop_start_up_with_one_line() {
    let e = start_error(|f| f.merge(("locale", "de")));
    assert!(e.contains("KIPEKEE_LOCALE") && e.contains("\"de\""), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let e = start_error(|f| f.merge(("strings.form.sumbit", "Tuma")));
    assert!(e.contains("strings.form.sumbit"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

/// The admin panel's texts are the catalogue's `admin.*` keys: English whatever the visitors'
/// locale (with English plurals: French would say "0 submission"), reworded by the owner's
/// `[default.strings]` like any other text.
#[test]
fn the_admin_panel_stays_english_in_any_locale_and_takes_the_owners_words() {
    for locale in ["sw", "fr"] {
        let t = common::admin::start_with(|f| f.merge(("locale", locale)));
        common::admin::log_in(&t);
        let dashboard = common::admin::page(&t, "/admin");
        assert!(
            dashboard.contains(">Dashboard</a>") && dashboard.contains("Latest submissions"),
            "{locale}: {dashboard}"
        );
        let settings = common::admin::page(&t, "/admin/settings");
        assert!(
            settings.contains("Sender address")
                && settings.contains("<code>KIPEKEE_ALLOWED_ORIGINS</code>"),
            "{locale}: {settings}"
        );
    }
    let t = common::admin::start_with(|f| {
        f.merge(("locale", "sw"))
            .merge(("strings.admin.nav.dashboard", "Muhtasari"))
            .merge(("strings.admin.dashboard.latest", "Maombi ya <karibuni>"))
    });
    common::admin::log_in(&t);
    let dashboard = common::admin::page(&t, "/admin");
    assert!(dashboard.contains(">Muhtasari</a>"), "{dashboard}");
    assert!(
        dashboard.contains("Maombi ya &lt;karibuni&gt;"),
        "an owner's text is escaped like any other: {dashboard}"
    );
}
