//! The delivery log: every attempt at an email, newest first, filtered by how it ended or
//! what Mailtrap's webhook said since, and each email's HTML as it was sent.

use rocket::form::FromForm;
use rocket::http::Header;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::Responder;
use rocket::{get, State};
use serde_json::json;
use tera::Context;

use super::auth::Admin;
use super::pager::Pager;
use super::{render, Reader};
use crate::model::{Delivery, DeliveryId, DeliveryState, InboxState};
use crate::store::DeliveryFilter;
use crate::store::Store;
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
            .map(|d| delivery_row(Reader::of(page), d, d.state()))
            .collect::<Vec<_>>(),
    );
    ctx.insert("status", &filter.status.map(DeliveryState::as_str));
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
            status: self.status.as_deref().and_then(|s| s.parse().ok()),
            inbox: self.inbox.as_deref().and_then(InboxState::parse),
        }
    }
}

/// `status=failed`, `inbox=bounced`: the filter as query pairs, for the pager.
fn filter_pairs(filter: &DeliveryFilter) -> Vec<(&'static str, String)> {
    let status = filter.status.map(|s| s.as_str().to_string());
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
    match store.body(id)? {
        Some(body) => Ok(Preview(body.html)),
        // Nothing rendered (a template that failed) or its submission deleted: an empty page.
        None => store
            .delivery(id)?
            .map(|_| Preview(String::new()))
            .ok_or(Error::NotFound),
    }
}
