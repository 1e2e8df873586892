//! The admin panel in-process: the app with an admin password, logging in through the login
//! page with its CSRF token, and pages read with the session the tracked client keeps.

use std::net::SocketAddr;

use figment::Figment;
use rocket::http::{ContentType, Status};
use rocket::local::blocking::{Client, LocalResponse};

use super::{form_body, TestApp};

/// The admin password of [`start`] and [`start_with`].
pub const PASSWORD: &str = "correct horse battery staple";

/// The app with the hash of [`PASSWORD`] as its admin password and `configure` on top.
pub fn start_with(configure: impl FnOnce(Figment) -> Figment) -> TestApp {
    let hash = kipekee::web::admin::hash_password(PASSWORD);
    TestApp::start_with(|f| configure(f.merge(("admin_password_hash", hash))))
}

/// The app with the admin password [`PASSWORD`].
pub fn start() -> TestApp {
    start_with(|f| f)
}

/// [`start`], logged in.
pub fn logged_in() -> TestApp {
    let t = start();
    log_in(&t);
    t
}

/// The address the admin's login comes from (one client, as the login throttle counts them).
pub fn remote() -> SocketAddr {
    "10.1.2.3:40000".parse().expect("a socket address")
}

/// The `value` of the hidden input `name` in a page, as it stands in the HTML.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in:\n{html}"))
        + marker.len();
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// Opens the login page and posts `password` with its CSRF token, both from [`remote`]; the
/// reply to the post.
pub fn login<'a>(client: &'a Client, password: &str) -> LocalResponse<'a> {
    let page = client
        .get("/admin/login")
        .remote(remote())
        .dispatch()
        .into_string()
        .expect("the login page");
    let token = hidden(&page, "csrf_token");
    client
        .post("/admin/login")
        .remote(remote())
        .header(ContentType::Form)
        .body(form_body(&[("password", password), ("csrf_token", &token)]))
        .dispatch()
}

/// Logs in with [`PASSWORD`]; panics unless the login lands on the dashboard.
pub fn log_in(t: &TestApp) {
    let res = login(&t.client, PASSWORD);
    assert_eq!(res.status(), Status::SeeOther, "login");
    assert_eq!(res.headers().get_one("Location"), Some("/admin"));
}

/// The HTML of `path`, which must answer 200.
pub fn page(t: &TestApp, path: &str) -> String {
    let res = t.client.get(path.to_string()).dispatch();
    assert_eq!(res.status(), Status::Ok, "{path}");
    res.into_string().expect("a page")
}

/// The session's CSRF token, from the first form of a page's HTML.
pub fn csrf_of(html: &str) -> String {
    hidden(html, "csrf_token")
}

/// The id of the session the test client is logged in with (its private cookie, decrypted).
pub fn session_id(t: &TestApp) -> String {
    t.client
        .cookies()
        .get_private("kipekee_session")
        .expect("a session cookie")
        .value()
        .to_string()
}

/// The `<tr>` of the row linking to submission `id`, from `<tr` to `</tr>`.
pub fn row_of(html: &str, id: &str) -> String {
    let link = format!("href=\"/admin/submissions/{id}\"");
    let at = html
        .find(&link)
        .unwrap_or_else(|| panic!("no row for {id}"));
    let start = html[..at].rfind("<tr").expect("row start");
    let end = at + html[at..].find("</tr>").expect("row end");
    html[start..end].to_string()
}
