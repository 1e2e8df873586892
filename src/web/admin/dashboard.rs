//! The dashboard: counts and unread per form, the latest submissions, what needs the
//! owner's attention (failing deliveries, bounces, the review queue, a full disk).

use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{get, State};
use serde_json::json;
use tera::Context;
use time::OffsetDateTime;

use super::auth::Admin;
use super::deliveries::delivery_row;
use super::inbox::Confirmation;
use super::list::row;
use super::render;
use super::Reader;
use crate::health::DeliveryHealth;
use crate::model::Delivery;
use crate::outbox;
use crate::space::DiskFloor;
use crate::store::Store;
use crate::store::{DeliveryFilter, SubmissionFilter};
use crate::web::Error;
use crate::web::Page;

/// Deliveries looked at for the "keeps failing" banner.
const RECENT: usize = 200;

#[get("/")]
pub fn dashboard(
    admin: Admin,
    page: Page<'_>,
    store: &State<Store>,
    disk: &State<DiskFloor>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>, Error> {
    let starts = page.config.timezone.day_starts(OffsetDateTime::now_utc());
    let mut counts = Vec::new();
    for (slug, def) in page.forms.iter() {
        let c = store.form_counts(slug, starts)?;
        counts.push(
            json!({ "slug": slug, "title": def.title, "today": c.today, "week": c.week,
                            "total": c.total, "unread": store.unread_count(slug) }),
        );
    }
    let latest = store.list_submissions(&SubmissionFilter::default(), None, 8)?;
    let recent = store
        .list_deliveries(&DeliveryFilter::default(), None, RECENT)?
        .items;
    // An email needs attention only while its latest attempt has not gone through (with
    // webhooks, an `unknown` one once Mailtrap has not confirmed it in time).
    let now = OffsetDateTime::now_utc();
    let webhooks = page.config.mailtrap_webhook_secret.is_some();
    let mut failed: Vec<&Delivery> = outbox::latest_attempts(&recent)
        .into_iter()
        .filter(|d| Confirmation::needs_attention(d, webhooks, now))
        .collect();
    failed.sort_by_key(|d| std::cmp::Reverse(d.id));
    let failed: Vec<_> = failed
        .into_iter()
        .take(8)
        .map(|d| attention_row(page, store, d, webhooks, now))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("counts", &counts);
    ctx.insert(
        "latest",
        &latest
            .items
            .iter()
            .map(|s| row(page, store, s))
            .collect::<Vec<_>>(),
    );
    ctx.insert("failed", &failed);
    ctx.insert("bounced", &super::inbox::bounces(page, store, &recent));
    ctx.insert("banner", &failure_banner(Reader::of(page), &recent));
    ctx.insert("review_count", &store.count_review());
    ctx.insert("disk_full", &disk.check().err().map(|e| e.to_string()));
    render(
        page,
        store,
        &admin,
        flash,
        ("admin/dashboard.html", "dashboard"),
        ctx,
    )
}

/// When delivery is failing ([`DeliveryHealth`]), say why and who is left waiting: the
/// visitors and owners whose email failed in that streak.
fn failure_banner(r: Reader, recent: &[Delivery]) -> Option<serde_json::Value> {
    let DeliveryHealth::Failing(streak) = DeliveryHealth::judge(recent) else {
        return None;
    };
    Some(json!({
        "count": streak.attempts, "visitors": streak.to_visitors,
        "owners": streak.attempts - streak.to_visitors,
        "cause": streak.cause_error.clone().unwrap_or_else(|| r.t("admin.dashboard.unknown_error", &[])),
        "hint": r.advice(streak.cause),
        "since": r.time(streak.since),
    }))
}

/// A "needs attention" row; an `unknown` email that Mailtrap never confirmed carries the
/// question to resend it and the history of its attempts.
fn attention_row(
    page: Page<'_>,
    store: &Store,
    d: &Delivery,
    webhooks: bool,
    now: OffsetDateTime,
) -> serde_json::Value {
    let r = Reader::of(page);
    let mut row = delivery_row(r, d);
    if Confirmation::of(d, webhooks, now) == Confirmation::Overdue {
        let log = store.deliveries_of(d.submission_id).unwrap_or_default();
        row["unconfirmed"] = json!(super::inbox::unconfirmed(r));
        row["history"] = json!(super::inbox::history(r, &log, &d.kind));
    }
    row
}
