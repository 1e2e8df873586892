//! The owner's admin panel under `/admin`: every page needs a session (`Admin` guard) and
//! every state-changing form the session's CSRF token (`csrf::Csrf`, a data guard).
//! Unauthenticated requests are sent to the login.

mod auth;
mod csrf;
mod dashboard;
mod deliveries;
mod devices;
mod downloads;
mod inbox;
mod list;
mod next;
mod pager;
mod reader;
mod settings;
mod submissions;
mod subscribers;
mod throttle;
mod trial;
mod wording;

use rocket::request::{FlashMessage, Request};
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{catch, catchers, routes, Catcher, Route};
use serde::Serialize;
use tera::Context;

pub use auth::{hash_password, setup, Admin, AdminPassword, SetupError, IDLE};
pub use throttle::LoginThrottle;

use crate::store::{Session, Store};
use crate::web::Error;
use crate::web::Page;
use reader::Reader;

pub fn routes() -> Vec<Route> {
    routes![
        auth::login_form,
        auth::login_submit,
        devices::logout,
        dashboard::dashboard,
        deliveries::deliveries,
        deliveries::delivery_preview,
        subscribers::subscribers,
        subscribers::subscriber_unsubscribe,
        settings::settings,
        devices::end,
        devices::end_others,
        trial::test_email,
        trial::test_form,
        list::list,
        submissions::show,
        submissions::resend,
        submissions::resend_failed,
        submissions::approve,
        submissions::set_status,
        submissions::add_note,
        submissions::delete,
        downloads::file,
        downloads::export_csv,
        downloads::export_json,
        downloads::subscribers_csv,
        downloads::backup,
    ]
}

/// Not logged in: to the login page, which returns to a page that was being read (`GET`).
#[catch(401)]
fn to_login(req: &Request<'_>) -> Redirect {
    let back = (req.method() == rocket::http::Method::Get)
        .then(|| next::AdminPath::parse(&req.uri().to_string()))
        .flatten();
    Redirect::to(back.map_or("/admin/login".to_string(), |p| p.login_url()))
}

/// An admin address that does not exist: the admin's own not-found page for a logged-in
/// owner, the login page for anyone else (nothing about the panel is shown to them).
#[catch(404)]
fn admin_not_found(req: &Request<'_>) -> rocket::Either<Error, Redirect> {
    match auth::session_of(req) {
        Ok(Some(_)) => rocket::Either::Left(Error::NotFound),
        _ => rocket::Either::Right(Redirect::to("/admin/login")),
    }
}

pub fn catchers() -> Vec<Catcher> {
    catchers![to_login, csrf::refused, admin_not_found]
}

/// The admin layout's context for a page shown outside a route (error pages): `None` when
/// the request has no live admin session.
pub(crate) fn layout_context(req: &Request<'_>, page: Page<'_>) -> Option<Context> {
    let store = req.rocket().state::<Store>()?;
    let session = auth::session_of(req).ok().flatten()?;
    Some(layout(page, store, &session, "", None))
}

/// Renders an admin page: its own context `ctx` inside the [`layout`].
fn render(
    page: Page<'_>,
    store: &Store,
    admin: &Admin,
    flash: Option<FlashMessage<'_>>,
    (name, nav): (&str, &str),
    mut ctx: Context,
) -> Result<RawHtml<String>, Error> {
    let notice = flash.map(|f| f.message().to_string());
    ctx.extend(layout(page, store, &admin.session, nav, notice));
    Ok(RawHtml(page.templates.render(name, &ctx)?))
}

/// What the layout of every admin page shows around it: the session's CSRF token for its
/// forms, the nav with `nav` marked, a one-line `notice`, the site, whether emails really go
/// out (a token, a sandbox) and the unread count.
fn layout(
    page: Page<'_>,
    store: &Store,
    session: &Session,
    nav: &str,
    notice: Option<String>,
) -> Context {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &session.csrf);
    ctx.insert("nav", nav);
    ctx.insert("notice", &notice);
    ctx.insert("site_name", page.config.site_name());
    ctx.insert("mailtrap_configured", &page.mailtrap_configured());
    ctx.insert("sandbox_inbox", &page.config.mailtrap_inbox_id);
    ctx.insert("unread_total", &store.unread_total());
    ctx
}

/// A form's slug with its title, for filters and labels.
#[derive(Serialize)]
struct FormRef<'a> {
    slug: &'a str,
    title: &'a str,
}

fn form_refs(page: Page<'_>) -> Vec<FormRef<'_>> {
    page.forms
        .iter()
        .map(|(slug, f)| FormRef {
            slug,
            title: &f.title,
        })
        .collect()
}

/// A redirect back to an admin page carrying a one-line notice (a flash cookie).
fn back_to(path: String, notice: impl Into<String>) -> Flash<Redirect> {
    Flash::success(Redirect::to(path), notice.into())
}
