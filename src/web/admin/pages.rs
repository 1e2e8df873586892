//! Delivery log, subscribers, and the settings page's actions (test email, test form); the
//! dashboard is in `dashboard`, the settings page in `settings`.

use rocket::form::{Form, FromForm};
use rocket::http::Header;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect, Responder};
use rocket::{get, post, State};
use serde_json::json;
use tera::Context;

use super::auth::{Admin, CsrfForm};
use super::pager::Pager;
use super::{back_to, render, Reader};
use std::sync::Arc;

use crate::mail::{Email, Mailtrap};
use crate::model::{
    Delivery, DeliveryId, DeliveryState, EmailAddress, EmailStatus, InboxState, Mailbox,
    SubscriberState,
};
use crate::store::DeliveryFilter;
use crate::store::Store;
use crate::submit::Intake;
use crate::web::Error;
use crate::web::Page;

/// Rows per page of the delivery log.
const DELIVERIES_PAGE: usize = 25;

/// A delivery as the lists show it (dashboard and delivery log), in `state`: its email's
/// state where the list knows its ledger, else the attempt's own ([`Delivery::state`]).
pub(super) fn delivery_row(r: Reader, d: &Delivery, state: DeliveryState) -> serde_json::Value {
    json!({
        "id": d.id, "submission_id": d.submission_id, "kind": d.kind, "to": d.to,
        "subject": d.subject, "started_at": r.time(d.outcome.started_at),
        "started_iso": r.zone.rfc3339(d.outcome.started_at),
        "started_ago": r.ago(d.outcome.started_at), "duration_ms": d.outcome.duration_ms,
        "status": state.as_str(), "tone": state.tone(), "http_status": d.outcome.http_status,
        "message_ids": d.outcome.message_ids, "error": d.outcome.error,
        "inbox": super::inbox::view(r, d.inbox.as_ref()),
    })
}

#[get("/deliveries?<status>&<inbox>&<before>")]
pub fn deliveries(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    flash: Option<FlashMessage<'_>>,
    status: Option<&str>,
    inbox: Option<&str>,
    before: Option<u64>,
) -> Result<RawHtml<String>, Error> {
    let status = status.and_then(|s| s.parse::<DeliveryState>().ok());
    let inbox = inbox.and_then(InboxState::parse);
    let filter = DeliveryFilter { status, inbox };
    let (found, position) = store.deliveries_page(&filter, before, DELIVERIES_PAGE)?;
    let mut ctx = Context::new();
    ctx.insert(
        "rows",
        &found
            .items
            .iter()
            .map(|d| delivery_row(Reader::of(page), d, d.state()))
            .collect::<Vec<_>>(),
    );
    ctx.insert("status", &status.map(DeliveryState::as_str));
    ctx.insert("inbox", &inbox.map(InboxState::label));
    let mut query: Vec<String> = status.map(|s| format!("status={s}")).into_iter().collect();
    query.extend(inbox.map(|i| format!("inbox={}", i.label())));
    ctx.insert(
        "pager",
        &Pager::new(
            "/admin/deliveries",
            &query,
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
    match store.body(id)? {
        Some(body) => Ok(Preview(body.html)),
        // Nothing rendered (a template that failed) or its submission deleted: an empty page.
        None => store
            .delivery(id)?
            .map(|_| Preview(String::new()))
            .ok_or(Error::NotFound),
    }
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
    #[field(default = String::new())]
    csrf_token: String,
    email: String,
}

#[post("/subscribers/unsubscribe", data = "<form>")]
pub async fn subscriber_unsubscribe(
    admin: Admin,
    form: Form<UnsubscribeForm>,
    store: &State<Store>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
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
    #[field(default = String::new())]
    csrf_token: String,
    to: String,
}

#[post("/test-email", data = "<form>")]
pub async fn test_email(
    admin: Admin,
    form: Form<TestEmailForm>,
    page: Page<'_>,
    mailer: &State<Arc<Mailtrap>>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
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

#[post("/forms/<slug>/test", data = "<form>")]
pub async fn test_form(
    slug: &str,
    admin: Admin,
    form: Form<CsrfForm>,
    page: Page<'_>,
    intake: &State<Intake>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
    let accepted = intake.test_submission(slug).await?.ok_or(Error::NotFound)?;
    let r = Reader::of(page);
    let outcomes: Vec<String> = accepted
        .deliveries
        .iter()
        .map(|d| {
            let status = super::inbox::state_label(r, DeliveryState::from(d.outcome.status));
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
