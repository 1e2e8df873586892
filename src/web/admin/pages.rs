//! Delivery log, subscribers, and the settings page's actions (test email, test form); the
//! dashboard is in `dashboard`, the settings page in `settings`.

use rocket::form::FromForm;
use rocket::http::Header;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect, Responder};
use rocket::{get, post, State};
use serde_json::json;
use tera::Context;

use super::auth::Admin;
use super::csrf::Csrf;
use super::pager::Pager;
use super::{back_to, render, Reader};
use std::sync::Arc;

use crate::mail::{Email, Mailtrap};
use crate::model::{
    Delivery, DeliveryId, EmailAddress, EmailStatus, InboxState, Mailbox, SubscriberState,
};
use crate::store::DeliveryFilter;
use crate::store::Store;
use crate::submit::Intake;
use crate::web::Error;
use crate::web::Page;

/// Rows per page of the delivery log.
const DELIVERIES_PAGE: usize = 25;

/// A delivery as the lists show it (dashboard and delivery log).
pub(super) fn delivery_row(r: Reader, d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.id, "submission_id": d.submission_id, "kind": d.kind, "to": d.to,
        "subject": d.subject, "started_at": r.time(d.outcome.started_at),
        "started_iso": r.zone.rfc3339(d.outcome.started_at),
        "started_ago": r.ago(d.outcome.started_at), "duration_ms": d.outcome.duration_ms,
        "status": d.outcome.status, "http_status": d.outcome.http_status, "message_ids": d.outcome.message_ids, "error": d.outcome.error,
        "inbox": super::inbox::view(r, d.inbox.as_ref()),
    })
}

#[get("/deliveries?<before>&<query..>")]
pub fn deliveries(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    flash: Option<FlashMessage<'_>>,
    before: Option<u64>,
    query: DeliveryQuery,
) -> Result<RawHtml<String>, Error> {
    let filter = query.filter();
    let (found, position) = store.deliveries_page(&filter, before, DELIVERIES_PAGE)?;
    let mut ctx = Context::new();
    ctx.insert(
        "rows",
        &found
            .items
            .iter()
            .map(|d| delivery_row(Reader::of(page), d))
            .collect::<Vec<_>>(),
    );
    ctx.insert("status", &filter.status);
    ctx.insert("inbox", &filter.inbox.map(InboxState::label));
    ctx.insert(
        "pager",
        &Pager::new(
            "/admin/deliveries",
            &filter_pairs(&filter),
            found.items.len(),
            position,
            found.next,
        ),
    );
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/deliveries.html", "deliveries"),
        ctx,
    )
}

/// The delivery log's filter as its query string; a value it does not know filters nothing.
#[derive(FromForm)]
pub struct DeliveryQuery {
    /// How the attempt ended (`failed`, `unknown`…).
    status: Option<String>,
    /// What Mailtrap's webhook said since (`bounced`…).
    inbox: Option<String>,
}

impl DeliveryQuery {
    fn filter(&self) -> DeliveryFilter {
        DeliveryFilter {
            status: self
                .status
                .as_deref()
                .and_then(|s| serde_json::from_value(json!(s)).ok()),
            inbox: self.inbox.as_deref().and_then(InboxState::parse),
        }
    }
}

/// `status=failed`, `inbox=bounced`: the filter as query pairs, for the pager.
fn filter_pairs(filter: &DeliveryFilter) -> Vec<(&'static str, String)> {
    let status = filter
        .status
        .and_then(|s| json!(s).as_str().map(str::to_string));
    let inbox = filter.inbox.map(|i| i.label().to_string());
    [("status", status), ("inbox", inbox)]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

/// The email's HTML exactly as stored, sandboxed: no script, no network, no navigation,
/// and no page may frame it.
pub struct Preview(String);

impl<'r> Responder<'r, 'static> for Preview {
    fn respond_to(self, req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        let mut res = RawHtml(self.0).respond_to(req)?;
        res.set_header(Header::new(
            "Content-Security-Policy",
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ));
        Ok(res)
    }
}

#[get("/deliveries/<id>/preview")]
pub fn delivery_preview(
    id: DeliveryId,
    _admin: Admin,
    store: &State<Store>,
) -> Result<Preview, Error> {
    let d = store.delivery(id)?.ok_or(Error::NotFound)?;
    Ok(Preview(d.html))
}

#[get("/subscribers?<q>&<state>")]
pub fn subscribers(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    flash: Option<FlashMessage<'_>>,
    q: Option<&str>,
    state: Option<&str>,
) -> Result<RawHtml<String>, Error> {
    let state: Option<SubscriberState> = state.and_then(|s| serde_json::from_value(json!(s)).ok());
    let q = q
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let r = Reader::of(page);
    let rows: Vec<_> = store
        .subscribers()?
        .into_iter()
        .filter(|s| state.is_none_or(|st| st == s.state))
        .filter(|s| {
            q.as_ref().is_none_or(|q| {
                s.email.normalized().contains(q)
                    || s.name
                        .as_ref()
                        .is_some_and(|n| n.to_lowercase().contains(q))
            })
        })
        .map(|s| {
            json!({
                "email": s.email, "name": s.name, "state": s.state,
                "created_at": r.time(s.created_at),
                "created_iso": r.zone.rfc3339(s.created_at),
                "created_ago": r.ago(s.created_at),
                "confirmed_at": s.confirmed_at.map(|t| r.time(t)),
                "confirmed_iso": s.confirmed_at.map(|t| r.zone.rfc3339(t)),
                "confirmed_ago": s.confirmed_at.map(|t| r.ago(t)),
            })
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("rows", &rows);
    ctx.insert("q", &q);
    ctx.insert("state", &state);
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/subscribers.html", "subscribers"),
        ctx,
    )
}

#[derive(FromForm)]
pub struct UnsubscribeForm {
    email: String,
}

#[post("/subscribers/unsubscribe", data = "<form>")]
pub async fn subscriber_unsubscribe(
    _admin: Admin,
    form: Csrf<UnsubscribeForm>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    let email = EmailAddress::parse(&form.email).map_err(Error::BadRequest)?;
    let sub = store.subscriber(&email)?.ok_or(Error::NotFound)?;
    store.unsubscribe(&sub.unsubscribe_token).await?;
    Ok(back_to(
        "/admin/subscribers".into(),
        format!("{email} unsubscribed."),
    ))
}

#[derive(FromForm)]
pub struct TestEmailForm {
    to: String,
}

#[post("/test-email", data = "<form>")]
pub async fn test_email(
    _admin: Admin,
    form: Csrf<TestEmailForm>,
    page: Page<'_>,
    mailer: &State<Arc<Mailtrap>>,
) -> Result<Flash<Redirect>, Error> {
    let to = EmailAddress::parse(&form.to).map_err(Error::BadRequest)?;
    let r = Reader::of(page);
    let text = r.t("admin.test_email.text", &[]);
    let email = Email {
        kind: "test".into(),
        to_visitor: false,
        category: "test".into(),
        to: Some(Mailbox {
            name: None,
            email: to.clone(),
        }),
        reply_to: None,
        subject: r.t("admin.test_email.subject", &[]),
        html: format!("<p>{}</p>", tera::escape_html(&text)),
        text,
        headers: Default::default(),
        custom_variables: Default::default(),
        attachments: Vec::new(),
    };
    let mailer = Arc::clone(mailer);
    let outcome = rocket::tokio::task::spawn_blocking(move || mailer.send_batch(&[email]))
        .await
        .ok()
        .and_then(|mut o| o.pop());
    let notice = match outcome {
        Some(o) if o.status == EmailStatus::Sent => r.t(
            "admin.test_email.accepted",
            &[
                ("to", &to),
                ("code", &o.http_status.unwrap_or(0)),
                ("ids", &o.message_ids.join(", ")),
            ],
        ),
        Some(o) if o.status == EmailStatus::Skipped => r.t(
            "admin.test_email.skipped",
            &[("to", &to), ("error", &o.error.unwrap_or_default())],
        ),
        Some(o) => r.t(
            "admin.test_email.failed",
            &[("to", &to), ("error", &o.error.unwrap_or_default())],
        ),
        None => r.t("admin.test_email.not_attempted", &[]),
    };
    Ok(back_to("/admin/settings".into(), notice))
}

#[post("/forms/<slug>/test", data = "<_csrf>")]
pub async fn test_form(
    slug: &str,
    _admin: Admin,
    _csrf: Csrf,
    page: Page<'_>,
    intake: &State<Intake>,
) -> Result<Flash<Redirect>, Error> {
    let accepted = intake.test_submission(slug).await?.ok_or(Error::NotFound)?;
    let r = Reader::of(page);
    let outcomes: Vec<String> = accepted
        .deliveries
        .iter()
        .map(|d| {
            let status = json!(d.outcome.status).as_str().unwrap_or("").to_string();
            let status = r.t(&format!("admin.email_filter.{status}"), &[]);
            match &d.outcome.error {
                Some(e) if d.outcome.status != EmailStatus::Sent => r.t(
                    "admin.test_form.outcome_error",
                    &[("kind", &d.kind), ("status", &status), ("error", e)],
                ),
                _ => r.t(
                    "admin.test_form.outcome",
                    &[("kind", &d.kind), ("status", &status)],
                ),
            }
        })
        .collect();
    let id = accepted.submission.id;
    let notice = r.t(
        "admin.test_form.made",
        &[
            ("reference", &accepted.submission.reference),
            ("outcomes", &outcomes.join(", ")),
        ],
    );
    Ok(back_to(format!("/admin/submissions/{id}"), notice))
}
