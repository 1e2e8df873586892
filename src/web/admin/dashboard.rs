//! The dashboard: counts and unread per form, the latest submissions, what needs the
//! owner's attention (failing deliveries, bounces, the review queue, a full disk).

use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{get, State};
use serde_json::json;
use tera::Context;
use time::OffsetDateTime;

use super::auth::Admin;
use super::list::row;
use super::pages::delivery_row;
use super::render;
use crate::model::{EmailStatus, FailureKind};
use crate::outbox;
use crate::store::{Delivery, DeliveryFilter, SubmissionFilter};
use crate::templates::human_time;
use crate::web::metrics::DeliveryHealth;
use crate::web::Error;
use crate::zone::Zone;
use crate::App;

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
        counts.push(
            json!({ "slug": slug, "title": def.title, "today": c.today, "week": c.week,
                            "total": c.total, "unread": app.store.unread_count(slug) }),
        );
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
        .filter(|d| matches!(d.status, EmailStatus::Failed | EmailStatus::Unknown))
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
    let health = DeliveryHealth::judge(recent);
    let DeliveryHealth::Failing { streak } = &health else {
        return None;
    };
    let visitors = streak.iter().filter(|d| d.to_visitor).count();
    let cause = streak[0]
        .error
        .clone()
        .unwrap_or_else(|| "unknown error".into());
    Some(json!({
        "count": streak.len(), "visitors": visitors, "owners": streak.len() - visitors,
        "cause": cause, "hint": health.failure().map(FailureKind::advice),
        "since": human_time(zone, streak[streak.len() - 1].started_at),
    }))
}
