//! The only place that turns an error into a response: HTML in the site's layout (or the
//! admin's, for a logged-in owner on an `/admin` page) for browsers, JSON for API clients.
//! Internal errors are logged here with their cause and shown to the visitor without it.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::json;
use tera::Context;

use super::error::{wants_json, Error};
use super::page::Page;

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
