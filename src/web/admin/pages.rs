//! Dashboard, delivery log, subscribers and settings.

use rocket::form::{Form, FromForm};
use rocket::http::Header;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect, Responder};
use rocket::{get, post, State};
use serde_json::json;
use tera::Context;
use time::OffsetDateTime;

use super::auth::{Admin, CsrfForm};
use super::submissions::row;
use super::{back_to, render};
use crate::health::DeliveryHealth;
use crate::mail::Email;
use crate::model::{
    Delivery, DeliveryId, EmailAddress, EmailStatus, InboxState, Mailbox, SubscriberState,
};
use crate::store::{DeliveryFilter, SubmissionFilter};
use crate::templates::human_time;
use crate::web::Error;
use crate::zone::Zone;
use crate::{outbox, submit, App};

/// Deliveries looked at for the "keeps failing" banner.
const RECENT: usize = 200;

#[get("/")]
pub fn dashboard(
    admin: Admin,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>, Error> {
    let starts = app.config.timezone.day_starts(OffsetDateTime::now_utc());
    let mut counts = Vec::new();
    for (slug, def) in app.forms.iter() {
        let c = app.store.form_counts(slug, starts)?;
        counts.push(json!({ "slug": slug, "title": def.title, "today": c.today, "week": c.week, "total": c.total }));
    }
    let latest = app
        .store
        .list_submissions(&SubmissionFilter::default(), None, 8)?;
    let recent = app
        .store
        .list_deliveries(&DeliveryFilter::default(), None, RECENT)?
        .items;
    // An email needs attention only while its latest attempt has not gone through.
    let mut failed: Vec<&Delivery> = outbox::latest_attempts(&recent)
        .into_iter()
        .filter(|d| matches!(d.outcome.status, EmailStatus::Failed | EmailStatus::Unknown))
        .collect();
    failed.sort_by_key(|d| std::cmp::Reverse(d.id));
    let failed: Vec<_> = failed
        .into_iter()
        .take(8)
        .map(|d| delivery_row(&app.config.timezone, d))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("counts", &counts);
    ctx.insert(
        "latest",
        &latest.items.iter().map(|s| row(app, s)).collect::<Vec<_>>(),
    );
    ctx.insert("failed", &failed);
    ctx.insert("bounced", &super::inbox::bounced_visitors(app, &recent));
    ctx.insert("banner", &failure_banner(&app.config.timezone, &recent));
    ctx.insert("review_count", &app.store.count_review());
    ctx.insert("disk_full", &app.disk.check().err().map(|e| e.to_string()));
    render(
        app,
        &admin,
        flash,
        ("admin/dashboard.html", "dashboard"),
        ctx,
    )
}

/// When delivery is failing ([`DeliveryHealth`]), say why and who is left waiting: the
/// visitors and owners whose email failed in that streak.
fn failure_banner(zone: &Zone, recent: &[Delivery]) -> Option<serde_json::Value> {
    let DeliveryHealth::Failing(streak) = DeliveryHealth::judge(recent) else {
        return None;
    };
    Some(json!({
        "count": streak.attempts, "visitors": streak.to_visitors,
        "owners": streak.attempts - streak.to_visitors,
        "cause": streak.latest_error.as_deref().unwrap_or("unknown error"),
        "hint": streak.latest.advice(),
        "since": human_time(zone, streak.since),
    }))
}

fn delivery_row(zone: &Zone, d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.id, "submission_id": d.submission_id, "kind": d.kind, "to": d.to,
        "subject": d.subject, "started_at": human_time(zone, d.outcome.started_at), "duration_ms": d.outcome.duration_ms,
        "status": d.outcome.status, "http_status": d.outcome.http_status, "message_ids": d.outcome.message_ids, "error": d.outcome.error,
        "inbox": super::inbox::view(zone, d.inbox.as_ref()),
    })
}

#[get("/deliveries?<status>&<inbox>&<before>")]
pub fn deliveries(
    admin: Admin,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
    status: Option<&str>,
    inbox: Option<&str>,
    before: Option<u64>,
) -> Result<RawHtml<String>, Error> {
    let status = status.and_then(|s| serde_json::from_value(json!(s)).ok());
    let inbox = inbox.and_then(InboxState::parse);
    let page = app
        .store
        .list_deliveries(&DeliveryFilter { status, inbox }, before, 50)?;
    let mut ctx = Context::new();
    ctx.insert(
        "rows",
        &page
            .items
            .iter()
            .map(|d| delivery_row(&app.config.timezone, d))
            .collect::<Vec<_>>(),
    );
    ctx.insert("status", &status);
    ctx.insert("inbox", &inbox.map(InboxState::label));
    let mut status_query = status
        .map(|s| format!("&status={}", json!(s).as_str().unwrap_or("")))
        .unwrap_or_default();
    if let Some(i) = inbox {
        status_query.push_str(&format!("&inbox={}", i.label()));
    }
    ctx.insert(
        "next",
        &page
            .next
            .map(|n| format!("/admin/deliveries?before={n}{status_query}")),
    );
    render(
        app,
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
pub fn delivery_preview(id: DeliveryId, _admin: Admin, app: &State<App>) -> Result<Preview, Error> {
    let d = app.store.delivery(id)?.ok_or(Error::NotFound)?;
    Ok(Preview(d.html))
}

#[get("/subscribers?<q>&<state>")]
pub fn subscribers(
    admin: Admin,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
    q: Option<&str>,
    state: Option<&str>,
) -> Result<RawHtml<String>, Error> {
    let state: Option<SubscriberState> = state.and_then(|s| serde_json::from_value(json!(s)).ok());
    let q = q
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let rows: Vec<_> = app
        .store
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
                "created_at": human_time(&app.config.timezone, s.created_at),
                "confirmed_at": s.confirmed_at.map(|t| human_time(&app.config.timezone, t)),
            })
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("rows", &rows);
    ctx.insert("q", &q);
    ctx.insert("state", &state);
    render(
        app,
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
    app: &State<App>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
    let email = EmailAddress::parse(&form.email).map_err(Error::BadRequest)?;
    let sub = app.store.subscriber(&email)?.ok_or(Error::NotFound)?;
    app.store.unsubscribe(&sub.unsubscribe_token).await?;
    Ok(back_to(
        "/admin/subscribers".into(),
        format!("{email} unsubscribed."),
    ))
}

#[get("/settings")]
pub fn settings(
    admin: Admin,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>, Error> {
    let config = serde_json::to_string_pretty(&app.config).unwrap_or_default();
    let forms: Vec<_> = app
        .forms
        .iter()
        .map(|(slug, f)| {
            let emails: Vec<_> = f
                .emails
                .iter()
                .map(|e| {
                    let to = if e.to_visitor() {
                        "the visitor".to_string()
                    } else {
                        app.config
                            .recipient(&e.to)
                            .map_or("not configured".into(), |a| a.to_string())
                    };
                    json!({ "kind": e.kind, "to": to, "when": e.when })
                })
                .collect();
            json!({ "slug": slug, "title": f.title, "emails": emails })
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("config", &config);
    ctx.insert("forms", &forms);
    ctx.insert("warnings", &app.config.warnings());
    ctx.insert("admin_email", &app.config.admin_email);
    render(app, &admin, flash, ("admin/settings.html", "settings"), ctx)
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
    app: &State<App>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
    let to = EmailAddress::parse(&form.to).map_err(Error::BadRequest)?;
    let email = Email {
        kind: "test".into(),
        to_visitor: false,
        category: "test".into(),
        to: Some(Mailbox {
            name: None,
            email: to.clone(),
        }),
        reply_to: None,
        subject: "Kipekee test email".into(),
        text: "This test email from your Kipekee admin panel reached you: sending works.".into(),
        html: "<p>This test email from your Kipekee admin panel reached you: sending works.</p>"
            .into(),
        headers: Default::default(),
        custom_variables: Default::default(),
        attachments: Vec::new(),
    };
    let mailer = app.mailer.clone();
    let outcome = rocket::tokio::task::spawn_blocking(move || mailer.send_batch(&[email]))
        .await
        .ok()
        .and_then(|mut o| o.pop());
    let notice = match outcome {
        Some(o) if o.status == EmailStatus::Sent => {
            format!(
                "Test email to {to} accepted by Mailtrap (HTTP {}, message id {}).",
                o.http_status.unwrap_or(0),
                o.message_ids.join(", ")
            )
        }
        Some(o) => format!(
            "Test email to {to} {}: {}",
            if o.status == EmailStatus::Skipped {
                "not sent"
            } else {
                "failed"
            },
            o.error.unwrap_or_default()
        ),
        None => "The test email could not be attempted.".into(),
    };
    Ok(back_to("/admin/settings".into(), notice))
}

#[post("/forms/<slug>/test", data = "<form>")]
pub async fn test_form(
    slug: &str,
    admin: Admin,
    form: Form<CsrfForm>,
    app: &State<App>,
) -> Result<Flash<Redirect>, Error> {
    admin.check_csrf(&form.csrf_token)?;
    let accepted = submit::test_submission(app, slug)
        .await?
        .ok_or(Error::NotFound)?;
    let outcomes: Vec<String> = accepted
        .deliveries
        .iter()
        .map(|d| {
            let status = json!(d.outcome.status).as_str().unwrap_or("").to_string();
            match &d.outcome.error {
                Some(e) if d.outcome.status != EmailStatus::Sent => {
                    format!("{} {status} ({e})", d.kind)
                }
                _ => format!("{} {status}", d.kind),
            }
        })
        .collect();
    let id = accepted.submission.id;
    Ok(back_to(
        format!("/admin/submissions/{id}"),
        format!(
            "Test submission {} made: {}.",
            accepted.submission.reference,
            outcomes.join(", ")
        ),
    ))
}
