//! The newsletter's subscribers: listed, searched by address or name, filtered by state,
//! and unsubscribed by the owner.

use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, State};
use serde_json::json;
use tera::Context;

use super::auth::Admin;
use super::csrf::Csrf;
use super::{back_to, render, Reader};
use crate::model::{EmailAddress, SubscriberState};
use crate::store::Store;
use crate::web::Error;
use crate::web::Page;

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
