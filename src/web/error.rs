//! The only place that turns an error into a status and a body: HTML for browsers,
//! JSON for API clients. Internal errors are logged here with their cause and shown
//! to the visitor without it. The visitor reads titles and messages in the site's language
//! (`error.*` keys of the catalogue); the log keeps the English `Display`.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{catch, catchers, Catcher};
use serde_json::json;
use tera::Context;

use super::page::Page;
use crate::i18n::Catalogue;
use crate::space::SpaceError;
use crate::store::StoreError;

/// What a visitor reads when a post is over `KIPEKEE_MAX_BODY_BYTES` (or a JSON or
/// url-encoded post over its own limit).
pub const TOO_LARGE: &str = "What you sent is much larger than this site accepts, so none of it was received. \
Please go back, attach a smaller file (a PDF is usually much smaller than a photo or a scan) and send the form again.";

/// Which emailed link was followed when its token is unknown, used or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Confirm,
    Unsubscribe,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("There is no page at this address. It may have been mistyped, or the page has moved. Check the address, or start again from the home page.")]
    NotFound,
    /// A confirm or unsubscribe link that no longer works (404, said plainly).
    #[error("{}", link_message(*.0))]
    ExpiredLink(LinkKind),
    #[error("{0}")]
    BadRequest(String),
    /// A post whose body could not be read as fields (400).
    #[error("{0}")]
    Unreadable(Unreadable),
    #[error("{0}")]
    Forbidden(String),
    /// A cross-site post from an origin not in `KIPEKEE_ALLOWED_ORIGINS` (403).
    #[error("posts from {0} are not allowed (KIPEKEE_ALLOWED_ORIGINS)")]
    OriginNotAllowed(String),
    /// An admin form whose CSRF token is not the session's (403).
    #[error("the admin form's CSRF token does not match the session")]
    FormExpired,
    /// A body over `KIPEKEE_MAX_BODY_BYTES` (or a url-encoded post over its limit).
    #[error("{TOO_LARGE}")]
    TooLarge,
    #[error("the post is not url-encoded, multipart or JSON")]
    UnsupportedMediaType,
    #[error("Too many submissions from your address. Please wait {0} seconds and try again.")]
    TooManyRequests(u64),
    /// Free disk space is below `KIPEKEE_MIN_FREE_BYTES`, or a write found the disk full.
    #[error("{0}")]
    InsufficientStorage(SpaceError),
    #[error("{0}")]
    Status(Status),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] tera::Error),
}

impl Error {
    pub fn status(&self) -> Status {
        match self {
            Error::NotFound | Error::ExpiredLink(_) => Status::NotFound,
            Error::BadRequest(_) | Error::Unreadable(_) => Status::BadRequest,
            Error::Forbidden(_) | Error::OriginNotAllowed(_) | Error::FormExpired => {
                Status::Forbidden
            }
            Error::TooLarge => Status::PayloadTooLarge,
            Error::UnsupportedMediaType => Status::UnsupportedMediaType,
            Error::TooManyRequests(_) => Status::TooManyRequests,
            Error::InsufficientStorage(_) => Status::InsufficientStorage,
            Error::Status(s) => *s,
            Error::Store(_) | Error::Template(_) => Status::InternalServerError,
        }
    }

    /// The page's heading in plain words.
    fn title(&self, strings: &Catalogue) -> String {
        match self {
            Error::ExpiredLink(_) => strings.text("error.expired_title").into(),
            other => title(other.status(), strings),
        }
    }

    /// What the visitor may read: never the internal cause.
    fn public_message(&self, strings: &Catalogue) -> String {
        let say = |key: &str| strings.text(key).to_string();
        match self {
            Error::Store(_) | Error::Template(_) => say("error.internal"),
            Error::NotFound => say("error.not_found"),
            Error::FormExpired => say("admin.error.form_expired"),
            Error::ExpiredLink(LinkKind::Confirm) => say("error.expired_confirm"),
            Error::ExpiredLink(LinkKind::Unsubscribe) => say("error.expired_unsubscribe"),
            Error::TooLarge => say("error.too_large"),
            Error::UnsupportedMediaType => say("error.unsupported_type"),
            Error::OriginNotAllowed(origin) => {
                strings.t("error.origin_not_allowed", &[("origin", origin)])
            }
            Error::Unreadable(Unreadable::Form(_) | Unreadable::Body(_)) => {
                say("error.unreadable_form")
            }
            Error::Unreadable(Unreadable::NotAnObject(_)) => say("error.unreadable_json"),
            Error::Unreadable(Unreadable::NotText(field)) => {
                strings.t("error.unreadable_field", &[("field", field)])
            }
            Error::TooManyRequests(seconds) => strings.plural("error.too_many", *seconds, &[]),
            Error::InsufficientStorage(_) => say("error.no_space"),
            Error::Status(s) if s.code == 429 => say("error.slow_down"),
            Error::Status(s) if s.code == 404 => say("error.not_found"),
            Error::Status(s) if s.code == 413 => say("error.too_large"),
            Error::Status(s) if s.code >= 500 => say("error.internal"),
            Error::Status(s) => strings.t("error.generic", &[("code", &s.code)]),
            other => other.to_string(),
        }
    }
}

/// Why a post's body could not be read as fields; the visitor reads the catalogue's words,
/// the log the parser's own (English, with the detail).
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("the form data could not be read: {0}")]
    Form(String),
    #[error("the body could not be read: {0}")]
    Body(String),
    #[error("the body is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("field {0:?} is not a string")]
    NotText(String),
}

/// JSON when the client asked for it or sent JSON; HTML otherwise.
pub fn wants_json(req: &Request<'_>) -> bool {
    req.accept()
        .is_some_and(|a| a.preferred().media_type().is_json())
        || req.content_type().is_some_and(|c| c.is_json())
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status();
        if let Error::InsufficientStorage(cause) = &self {
            tracing::warn!(path = %req.uri().path(), "post refused: {cause}");
        } else if let Error::Unreadable(cause) = &self {
            tracing::info!(path = %req.uri().path(), "post not read: {cause}");
        } else if status.code >= 500 {
            tracing::error!(path = %req.uri().path(), "{self}");
        }
        // The admin panel stays English (issue 13 item 2 covers the visitor's side).
        let english = crate::i18n::english();
        let strings = match Page::of(req.rocket()) {
            Some(page) if !req.uri().path().starts_with("/admin") => page.strings(),
            _ => english,
        };
        let message = self.public_message(strings);
        let (content_type, body) = if wants_json(req) {
            (ContentType::JSON, json!({ "error": message }).to_string())
        } else {
            (
                ContentType::HTML,
                error_page(req, status, &self.title(strings), &message),
            )
        };
        let mut res = Response::build();
        if let Error::TooManyRequests(seconds) = self {
            res.header(rocket::http::Header::new(
                "Retry-After",
                seconds.to_string(),
            ));
        }
        res.status(status)
            .header(content_type)
            .sized_body(body.len(), std::io::Cursor::new(body))
            .ok()
    }
}

/// The error in the site's layout, or in the admin's own layout for a logged-in owner on an
/// `/admin` page.
fn error_page(req: &Request<'_>, status: Status, title: &str, message: &str) -> String {
    let Some(page) = Page::of(req.rocket()) else {
        return format!("{} {}", status.code, tera::escape_html(message));
    };
    let admin =
        req.uri().path().starts_with("/admin") && !req.uri().path().starts_with("/admin/login");
    let (template, mut ctx) = match admin
        .then(|| crate::web::admin::layout_context(req, page))
        .flatten()
    {
        Some(ctx) => ("admin/error.html", ctx),
        None => ("public/error.html", Context::new()),
    };
    ctx.insert("status", &status.code);
    ctx.insert("title", title);
    ctx.insert("site_name", page.config.site_name());
    ctx.insert("message", message);
    page.templates
        .render(template, &ctx)
        .unwrap_or_else(|_| format!("{} {}", status.code, tera::escape_html(message)))
}

fn link_message(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Confirm => {
            "This confirmation link is not valid any more: it may be from an \
            older email, already used, or cut short when it was copied. To subscribe, fill in the \
            sign-up form again and use the link in the new email."
        }
        LinkKind::Unsubscribe => {
            "This unsubscribe link is not valid any more: it may be from an \
            older email or cut short when it was copied. If you still receive the newsletter, use \
            the unsubscribe link in the most recent one, or reply to it and ask to be removed."
        }
    }
}

/// The page's heading in plain words.
fn title(status: Status, strings: &Catalogue) -> String {
    let key = match status.code {
        404 => "error.not_found_title",
        413 => "error.too_large_title",
        429 => "error.slow_down_title",
        400 | 422 => "error.unreadable_title",
        403 => "error.forbidden_title",
        405 => "error.not_here_title",
        507 => "error.paused_title",
        500.. => "error.internal_title",
        _ => "error.other_title",
    };
    strings.text(key).into()
}

#[catch(404)]
fn not_found() -> Error {
    Error::NotFound
}

#[catch(413)]
fn too_large() -> Error {
    Error::TooLarge
}

#[catch(default)]
fn any(status: Status, _req: &Request<'_>) -> Error {
    Error::Status(status)
}

pub fn catchers() -> Vec<Catcher> {
    catchers![not_found, too_large, any]
}
