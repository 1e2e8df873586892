//! "Keep me logged in on this device" and the devices list on the settings page: a
//! remembered session's cookie lasts 30 days, each device can be logged out from another,
//! and no page shows a session id.

mod common;

use common::admin::{hidden, page, remote, start};
use common::{form_body, TestApp};
use rocket::http::{ContentType, Cookie, Header, Status};

const PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                     Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36";
const LAPTOP: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Logs in from the browser `user_agent`; the session id and its cookie's `Set-Cookie`.
fn log_in_from(t: &TestApp, user_agent: &'static str, remember: bool) -> (String, String) {
    // As a device without a session: one the client may hold from an earlier login is
    // replaced by a stale one.
    let login = t
        .client
        .get("/admin/login")
        .remote(remote())
        .private_cookie(Cookie::new("kipekee_session", "another device"))
        .dispatch()
        .into_string()
        .unwrap();
    let mut pairs = vec![
        ("password", common::admin::PASSWORD.to_string()),
        ("csrf_token", hidden(&login, "csrf_token")),
    ];
    if remember {
        pairs.push(("remember", "true".into()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = t
        .client
        .post("/admin/login")
        .remote(remote())
        .header(ContentType::Form)
        .header(Header::new("User-Agent", user_agent))
        .body(form_body(&pairs))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    let set_cookie = res
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with("kipekee_session="))
        .unwrap()
        .to_string();
    let id = common::admin::session_id(t);
    (id, set_cookie)
}

/// Whether the session `id` is still live in the store. (Asking with a request would let a
/// remembered session's renewed cookie replace the one the test client is logged in with.)
fn alive(t: &TestApp, id: &str) -> bool {
    t.store()
        .session(id, &t.admin_tag(), kipekee::web::admin::IDLE)
        .unwrap()
        .is_some()
}

/// `GET /admin` with the session `id` as the cookie, as that device would send it.
fn dashboard_as(t: &TestApp, id: &str) -> Status {
    t.client
        .get("/admin")
        .private_cookie(Cookie::new("kipekee_session", id.to_string()))
        .dispatch()
        .status()
}

#[test]
fn a_remembered_login_lasts_30_days_and_a_plain_one_does_not() {
    let t = start();
    let login = t.client.get("/admin/login").remote(remote()).dispatch();
    let login = login.into_string().unwrap();
    assert!(
        login.contains("name=\"remember\"") && login.contains("Keep me logged in"),
        "{login}"
    );
    let (phone, remembered) = log_in_from(&t, PHONE, true);
    assert!(remembered.contains("Max-Age=2592000"), "{remembered}");
    let expires = remembered
        .split("Expires=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc2822)
            .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!(
        (29..=30).contains(&days),
        "Expires agrees with Max-Age: {remembered}"
    );

    // Each use renews the cookie: 30 days from the last use, not from the login.
    let res = t
        .client
        .get("/admin")
        .private_cookie(Cookie::new("kipekee_session", phone))
        .dispatch();
    let renewed = res
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with("kipekee_session="))
        .map(str::to_string);
    assert!(
        renewed
            .as_deref()
            .is_some_and(|c| c.contains("Max-Age=2592000")),
        "{renewed:?}"
    );

    // Without the box the cookie ends with the browser (a shared computer forgets it).
    let (laptop, plain) = log_in_from(&t, LAPTOP, false);
    assert!(
        !plain.contains("Max-Age") && !plain.contains("Expires"),
        "{plain}"
    );
    let res = t
        .client
        .get("/admin")
        .private_cookie(Cookie::new("kipekee_session", laptop))
        .dispatch();
    assert!(
        res.headers()
            .get("Set-Cookie")
            .all(|c| !c.starts_with("kipekee_session=")),
        "a plain session's cookie is not renewed"
    );
}

#[test]
fn the_owner_sees_each_device_and_logs_one_out_from_another() {
    let t = start();
    let (phone, _) = log_in_from(&t, PHONE, true);
    let (laptop, _) = log_in_from(&t, LAPTOP, false);
    assert!(alive(&t, &phone));

    let settings = page(&t, "/admin/settings");
    assert!(settings.contains("Chrome · Android"), "{settings}");
    assert!(settings.contains("Firefox · Linux"), "{settings}");
    assert!(settings.contains("this device") && settings.contains("kept logged in"));
    for id in [&phone, &laptop] {
        assert!(
            !settings.contains(id.as_str()),
            "a session id is never shown"
        );
    }

    // The phone's "Log out" button: the one form posting a handle.
    let at = settings.find("action=\"/admin/sessions/end\"").unwrap();
    let handle = hidden(&settings[at..], "handle");
    let csrf = hidden(&settings, "csrf_token");
    let res = t
        .client
        .post("/admin/sessions/end")
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", &csrf), ("handle", &handle)]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    let settings = page(&t, "/admin/settings");
    assert!(settings.contains("1 device logged out."), "{settings}");
    assert!(!settings.contains("Chrome · Android"));
    assert_eq!(
        dashboard_as(&t, &phone),
        Status::SeeOther,
        "the phone is out"
    );
    assert_eq!(dashboard_as(&t, &laptop), Status::Ok, "the laptop is not");
}

#[test]
fn log_out_every_other_device_keeps_only_this_one_and_needs_the_csrf_token() {
    let t = start();
    let (first, _) = log_in_from(&t, PHONE, true);
    let (second, _) = log_in_from(&t, PHONE, false);
    let (this, _) = log_in_from(&t, LAPTOP, false);
    let forged = t
        .client
        .post("/admin/sessions/end-others")
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", "forged")]))
        .dispatch();
    assert_eq!(forged.status(), Status::Forbidden);
    assert!(alive(&t, &first));

    let csrf = hidden(&page(&t, "/admin/settings"), "csrf_token");
    let res = t
        .client
        .post("/admin/sessions/end-others")
        .header(ContentType::Form)
        .body(form_body(&[("csrf_token", &csrf)]))
        .dispatch();
    assert_eq!(res.status(), Status::SeeOther);
    assert!(page(&t, "/admin/settings").contains("2 devices logged out."));
    assert_eq!(dashboard_as(&t, &first), Status::SeeOther);
    assert_eq!(dashboard_as(&t, &second), Status::SeeOther);
    assert_eq!(dashboard_as(&t, &this), Status::Ok);
}
