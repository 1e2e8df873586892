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
use super::Reader;
use crate::health::DeliveryHealth;
use crate::model::{Confirmation, Delivery, Ledger};
use crate::space::DiskFloor;
use crate::store::Store;
use crate::store::{DeliveryFilter, SubmissionFilter};
use crate::web::Error;
use crate::web::Page;

/// Deliveries looked at for the "keeps failing" banner and "needs attention".
const RECENT: usize = 200;

/// Rows of "needs attention", and bounce lines, shown at most.
const SHOWN: usize = 8;

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
    let mut log = store
        .list_deliveries(&DeliveryFilter::default(), None, RECENT)?
        .items;
    let recent = log.len();
    // Bounces stand until a later attempt goes through, however old: the index has them
    // past the newest attempts. Older than every one of those, they go at the end.
    for b in store.standing_bounces(SHOWN)? {
        if !log.iter().any(|d| d.id == b.id) {
            log.push(b);
        }
    }
    let now = OffsetDateTime::now_utc();
    let webhooks = page.config.mailtrap_webhook_secret.is_some();
    let ledger = Ledger::new(&log).retries_queued(store.retries_queued()?);
    let standing = ledger.standing_bounces();
    // A standing bounce has its own line (with a way to reach the visitor): not listed twice.
    let failed: Vec<_> = ledger
        .attention(now, webhooks)
        .into_iter()
        .filter(|d| !standing.iter().any(|b| b.id == d.id))
        .take(SHOWN)
        .map(|d| attention_row(page, store, &ledger, d, (webhooks, now)))
        .collect();
    let standing = &standing[..standing.len().min(SHOWN)];
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
    ctx.insert("bounced", &super::inbox::bounces(page, store, standing));
    ctx.insert("banner", &failure_banner(Reader::of(page), &log[..recent]));
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

/// A "needs attention" row, in its email's state; an `unknown` email that Mailtrap never
/// confirmed carries the question to resend it and the history of its attempts.
fn attention_row(
    page: Page<'_>,
    store: &Store,
    ledger: &Ledger<'_>,
    d: &Delivery,
    (webhooks, now): (bool, OffsetDateTime),
) -> serde_json::Value {
    let r = Reader::of(page);
    let mut row = delivery_row(r, d, ledger.email_state(d));
    if ledger.confirmation(d, webhooks, now) == Confirmation::Overdue {
        let log = store.deliveries_of(d.submission_id).unwrap_or_default();
        row["unconfirmed"] = json!(super::inbox::unconfirmed(r));
        row["history"] = json!(super::inbox::history(r, &log, &d.kind));
    }
    row
}
