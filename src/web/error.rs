//! The only place that turns an error into a status and a body: HTML for browsers,
//! JSON for API clients. Internal errors are logged here with their cause and shown
//! to the visitor without it.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{catch, catchers, Catcher};
use serde_json::json;
use tera::Context;

use crate::space::SpaceError;
use crate::store::StoreError;
use crate::App;

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
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json.")]
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
            Error::BadRequest(_) => Status::BadRequest,
            Error::Forbidden(_) => Status::Forbidden,
            Error::PayloadTooLarge(_) => Status::PayloadTooLarge,
            Error::UnsupportedMediaType => Status::UnsupportedMediaType,
            Error::TooManyRequests(_) => Status::TooManyRequests,
            Error::InsufficientStorage(_) => Status::InsufficientStorage,
            Error::Status(s) => *s,
            Error::Store(_) | Error::Template(_) => Status::InternalServerError,
        }
    }

    /// The page's heading in plain words.
    fn title(&self) -> &'static str {
        match self {
            Error::ExpiredLink(_) => "This link no longer works",
            other => title(other.status()),
        }
    }

    /// What the visitor may read: never the internal cause.
    fn public_message(&self) -> String {
        match self {
            Error::Store(_) | Error::Template(_) => {
                "Something went wrong on our side. Please try again in a moment.".into()
            }
            Error::InsufficientStorage(_) => "This site cannot take submissions at the moment: \
                its server is out of storage space. Nothing you sent was saved. Please try again \
                later, or reach the site owner another way."
                .into(),
            Error::Status(s) if s.code == 429 => "You sent a lot in a short time. Please wait a \
                minute, then try again; nothing is lost by waiting."
                .into(),
            Error::Status(s) if s.code == 404 => Error::NotFound.to_string(),
            Error::Status(s) if s.code >= 500 => {
                "Something went wrong on our side. Please try again in a moment.".into()
            }
            Error::Status(s) => format!(
                "This request could not be handled ({}). Go back and try again, or start again \
                 from the home page.",
                s.code
            ),
            other => other.to_string(),
        }
    }
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
        } else if status.code >= 500 {
            tracing::error!(path = %req.uri().path(), "{self}");
        }
        let message = self.public_message();
        let (content_type, body) = if wants_json(req) {
            (ContentType::JSON, json!({ "error": message }).to_string())
        } else {
            (
                ContentType::HTML,
                error_page(req, status, self.title(), &message),
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
    let Some(app) = req.rocket().state::<App>() else {
        return format!("{} {}", status.code, tera::escape_html(message));
    };
    let admin =
        req.uri().path().starts_with("/admin") && !req.uri().path().starts_with("/admin/login");
    let (template, mut ctx) = match admin
        .then(|| crate::web::admin::layout_context(req, app))
        .flatten()
    {
        Some(ctx) => ("admin/error.html", ctx),
        None => ("public/error.html", Context::new()),
    };
    ctx.insert("status", &status.code);
    ctx.insert("title", title);
    ctx.insert("site_name", app.config.site_name());
    ctx.insert("message", message);
    app.templates
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

/// The page's heading in plain words; HTTP's reason phrase where there is none.
fn title(status: Status) -> &'static str {
    match status.code {
        404 => "Page not found",
        413 => "That was too large to send",
        429 => "Please slow down",
        400 | 422 => "That could not be read",
        403 => "Not allowed",
        405 => "That cannot be done here",
        500 => "Something went wrong",
        507 => "Submissions are paused",
        _ => status.reason_lossy(),
    }
}

#[catch(404)]
fn not_found() -> Error {
    Error::NotFound
}

#[catch(413)]
fn too_large() -> Error {
    Error::PayloadTooLarge(TOO_LARGE.into())
}

#[catch(default)]
fn any(status: Status, _req: &Request<'_>) -> Error {
    Error::Status(status)
}

pub fn catchers() -> Vec<Catcher> {
    catchers![not_found, too_large, any]
}
