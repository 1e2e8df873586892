//! The web layer's one error type and its one mapping to a status; the words a visitor reads
//! come from the catalogue (`error.*` keys), the log keeps the English `Display`. The
//! response itself (a page in the site's or the admin's layout, or JSON) is `web::respond`.

use rocket::http::Status;
use rocket::request::Request;
use rocket::{catch, catchers, Catcher};

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
    pub(super) fn title(&self, strings: &Catalogue) -> String {
        match self {
            Error::ExpiredLink(_) => strings.text("error.expired_title").into(),
            other => title(other.status(), strings),
        }
    }

    /// What the visitor may read: never the internal cause.
    pub(super) fn public_message(&self, strings: &Catalogue) -> String {
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
