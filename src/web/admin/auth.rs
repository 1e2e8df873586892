//! Who may use the admin panel: the argon2id password, the session cookie recorded
//! server-side, the CSRF token tied to it, and the throttle on failed logins.

use std::time::Instant;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;
use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::tokio::task::spawn_blocking;
use rocket::{get, post, State};
use subtle::ConstantTimeEq;
use tera::Context;
use time::Duration;

use super::next::AdminPath;
use super::throttle::{LoginThrottle, Refused};
use crate::config::{AppConfig, ConfigError};
use crate::store::{Idle, Session, Store};
use crate::web::client::client_key;
use crate::web::Site;
use crate::web::{Error, Page};

const SESSION_COOKIE: &str = "kipekee_session";
const LOGIN_COOKIE: &str = "kipekee_login";
/// How long the login form may stay open before its CSRF token is gone.
const LOGIN_FORM: Duration = Duration::hours(12);
/// A session unused for this long is over: two hours, or 30 days on a device the owner asked
/// to be kept logged in on (the cookie lives as long).
pub const IDLE: Idle = Idle {
    normal: Duration::hours(2),
    remembered: Duration::days(30),
};

/// The admin password's PHC string, from `KIPEKEE_ADMIN_PASSWORD_HASH` or generated.
pub struct AdminPassword {
    phc: String,
    /// Sessions remember this; when the password changes, their tag no longer matches.
    tag: String,
}

impl AdminPassword {
    fn new(phc: String) -> AdminPassword {
        let tag = phc
            .rsplit('$')
            .next()
            .unwrap_or("")
            .chars()
            .take(16)
            .collect();
        AdminPassword { phc, tag }
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// Why the admin password could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The configured hash (checked to be a PHC string), or the one generated on first start,
/// whose password is printed once.
pub fn setup(config: &AppConfig, store: &Store) -> Result<AdminPassword, SetupError> {
    if let Some(phc) = &config.admin_password_hash {
        PasswordHash::new(phc.expose()).map_err(|_| ConfigError::Value {
            key: "KIPEKEE_ADMIN_PASSWORD_HASH".into(),
            message: "is not an argon2 PHC string (make one with `kipekee hash-password`)".into(),
        })?;
        return Ok(AdminPassword::new(phc.expose().to_string()));
    }
    if let Some(phc) = store.generated_password_hash()? {
        return Ok(AdminPassword::new(phc));
    }
    let password = generate_password();
    let phc = hash_password(&password);
    store.set_generated_password_hash(&phc)?;
    // Printed once, by design: the owner needs it to log in the first time.
    tracing::warn!(
        "generated admin password: {password} (shown only now; log in at /admin/login, \
         and set KIPEKEE_ADMIN_PASSWORD_HASH from `kipekee hash-password` to choose your own)"
    );
    Ok(AdminPassword::new(phc))
}

/// Four groups of five letters and digits without look-alikes: easy to type from a log.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An argon2id PHC string with a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A logged-in admin. Missing or stale → 401, which the admin catcher turns into a
/// redirect to the login page.
pub struct Admin {
    pub session: Session,
}

impl Admin {
    /// Compares the posted token with the session's in constant time.
    pub fn check_csrf(&self, token: &str) -> Result<(), Error> {
        if bool::from(token.as_bytes().ct_eq(self.session.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(Error::FormExpired)
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match session_of(req) {
            Ok(Some(session)) => {
                // A remembered device stays logged in 30 days from its last use: the cookie
                // is renewed with the session.
                if let (true, Some(site)) = (session.remembered, req.rocket().state::<Site>()) {
                    let lasts = Some(IDLE.remembered);
                    req.cookies().add_private(cookie(
                        site,
                        SESSION_COOKIE,
                        session.id.clone(),
                        lasts,
                    ));
                }
                Outcome::Success(Admin { session })
            }
            Ok(None) => Outcome::Error((Status::Unauthorized, ())),
            Err(()) => Outcome::Error((Status::InternalServerError, ())),
        }
    }
}

/// The live admin session of a request's cookie, if any; `Err` when the store cannot be read
/// (logged). Error pages use it to show the admin's own layout.
pub fn session_of(req: &Request<'_>) -> Result<Option<Session>, ()> {
    let rocket = req.rocket();
    let (Some(store), Some(password)) = (rocket.state::<Store>(), rocket.state::<AdminPassword>())
    else {
        return Err(());
    };
    let Some(cookie) = req.cookies().get_private(SESSION_COOKIE) else {
        return Ok(None);
    };
    store
        .session(cookie.value(), password.tag(), IDLE)
        .map_err(|e| tracing::error!("reading session: {e}"))
}

/// A private admin cookie that lasts `lifetime` (`Max-Age` and `Expires` agreeing), or until
/// the browser closes.
fn cookie(
    site: &Site,
    name: &'static str,
    value: String,
    lifetime: Option<Duration>,
) -> Cookie<'static> {
    let cookie = Cookie::build((name, value))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(site.https());
    match lifetime {
        Some(lifetime) => cookie
            .max_age(lifetime)
            .expires(time::OffsetDateTime::now_utc() + lifetime),
        None => cookie.expires(None::<time::OffsetDateTime>),
    }
    .build()
}

fn login_page(
    page: Page<'_>,
    jar: &CookieJar<'_>,
    error: Option<&str>,
    next: Option<&AdminPath>,
) -> Result<RawHtml<String>, Error> {
    // The login form's CSRF token rides in its own private cookie: there is no session yet.
    let token = crate::model::random_token(32);
    jar.add_private(cookie(
        page.site,
        LOGIN_COOKIE,
        token.clone(),
        Some(LOGIN_FORM),
    ));
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &token);
    ctx.insert("error", &error);
    ctx.insert("next", &next.map(AdminPath::as_str));
    ctx.insert("site_name", page.config.site_name());
    Ok(RawHtml(page.templates.render("admin/login.html", &ctx)?))
}

/// The login page; `next` ([`AdminPath`]) is where a successful login goes, and an owner
/// who is already logged in goes there at once (the owner email's admin link).
#[get("/login?<next>")]
pub fn login_form(
    next: Option<&str>,
    admin: Option<Admin>,
    page: Page<'_>,
    jar: &CookieJar<'_>,
) -> Result<LoginReply, Error> {
    let next = next.and_then(AdminPath::parse);
    if admin.is_some() {
        let to = next.map_or("/admin".to_string(), |p| p.as_str().to_string());
        return Ok(LoginReply::Done(Redirect::to(to)));
    }
    Ok(LoginReply::Page(login_page(
        page,
        jar,
        None,
        next.as_ref(),
    )?))
}

#[derive(FromForm)]
pub struct LoginForm {
    password: String,
    #[field(default = String::new())]
    csrf_token: String,
    next: Option<String>,
    /// "Keep me logged in on this device" ([`IDLE`]'s `remembered`).
    remember: bool,
}

// Built once per login and moved straight into the response: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(rocket::Responder)]
pub enum LoginReply {
    Done(Redirect),
    Page(RawHtml<String>),
    Again((Status, RawHtml<String>)),
}

#[post("/login", data = "<form>")]
#[allow(clippy::too_many_arguments)] // one per request guard: Rocket's idiom
pub async fn login_submit(
    form: Form<LoginForm>,
    page: Page<'_>,
    store: &State<Store>,
    admin_password: &State<AdminPassword>,
    jar: &CookieJar<'_>,
    throttle: &State<LoginThrottle>,
    visitor: crate::web::input::Visitor,
    device: UserAgent<'_>,
) -> Result<LoginReply, Error> {
    let expected = jar.get_private(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|t| bool::from(t.as_bytes().ct_eq(form.csrf_token.as_bytes()))) {
        let expired = page.templates.strings().t("admin.login.expired", &[]);
        return Err(Error::Forbidden(expired));
    }
    let client = client_key(visitor.ip);
    throttle.reserve(client, Instant::now()).map_err(refused)?;
    let slot = throttle.slot().await.map_err(refused)?;
    let (password, phc) = (form.password.clone(), admin_password.phc.clone());
    let next = form.next.as_deref().and_then(AdminPath::parse);
    let ok = spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false);
    drop(slot);
    if !ok {
        tracing::warn!(client_ip = ?visitor.ip, "admin login failed");
        let wrong = page
            .templates
            .strings()
            .t("admin.login.wrong_password", &[]);
        let page = login_page(page, jar, Some(&wrong), next.as_ref())?;
        return Ok(LoginReply::Again((Status::Unauthorized, page)));
    }
    throttle.clear(client);
    jar.remove_private(Cookie::build(LOGIN_COOKIE).path("/admin"));
    let session = store
        .create_session(admin_password.tag(), form.remember, device.0)
        .await?;
    let lasts = form.remember.then_some(IDLE.remembered);
    jar.add_private(cookie(page.site, SESSION_COOKIE, session.id, lasts));
    tracing::info!(client_ip = ?visitor.ip, "admin logged in");
    let to = next.map_or("/admin".to_string(), |p| p.as_str().to_string());
    Ok(LoginReply::Done(Redirect::to(to)))
}

/// The request's `User-Agent`, empty if it sent none.
pub struct UserAgent<'r>(pub &'r str);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAgent<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(UserAgent(req.headers().get_one("User-Agent").unwrap_or("")))
    }
}

fn refused(why: Refused) -> Error {
    match why {
        Refused::TooMany(seconds) => Error::TooManyRequests(seconds),
        Refused::Busy => Error::TooManyRequests(5),
    }
}

#[derive(FromForm)]
pub struct CsrfForm {
    #[field(default = String::new())]
    pub csrf_token: String,
}

#[post("/logout", data = "<form>")]
pub async fn logout(
    admin: Admin,
    form: Form<CsrfForm>,
    store: &State<Store>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Error> {
    admin.check_csrf(&form.csrf_token)?;
    store.delete_session(&admin.session.id).await?;
    jar.remove_private(Cookie::build(SESSION_COOKIE).path("/admin"));
    Ok(Redirect::to("/admin/login"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_hash_and_verify() {
        let pw = generate_password();
        assert_eq!(pw.len(), 23);
        let phc = hash_password(&pw);
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(&pw, &phc));
        assert!(!verify("wrong", &phc));
        assert!(!verify(&pw, "not a phc"));
    }
}
