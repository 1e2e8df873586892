//! The pages behind the newsletter's emailed links: confirm, unsubscribe, subscribe again.
//! They never act on `GET` or `HEAD` (Round 2 contract): only the button's `POST` does.

use rocket::response::content::RawHtml;
use rocket::{get, post, routes, Route, State};

use super::page::Page;
use super::{Error, LinkKind};
use crate::model::{Subscriber, SubscriberState};
use crate::store::Store;
use crate::submit::Intake;

pub fn routes() -> Vec<Route> {
    routes![
        confirm_page,
        confirm,
        unsubscribe_page,
        unsubscribe,
        resubscribe
    ]
}

/// What the page behind an emailed link shows: the address, and a button when there is
/// something to do. Title, message and button label are catalogue keys (`link.*`).
struct LinkPage<'a> {
    title: &'a str,
    message: &'a str,
    email: Option<&'a str>,
    /// `(path, label)` of the button that posts back; `None` when nothing is left to do.
    button: Option<(String, &'a str)>,
}

fn link_page(page: Page<'_>, p: LinkPage<'_>) -> Result<RawHtml<String>, Error> {
    let strings = page.strings();
    let mut ctx = page.context();
    ctx.insert("title", strings.text(p.title));
    ctx.insert("message", strings.text(p.message));
    ctx.insert("email", &p.email);
    ctx.insert("action", &p.button.as_ref().map(|b| b.0.as_str()));
    ctx.insert("button", &p.button.as_ref().map(|b| strings.text(b.1)));
    Ok(page.render("public/link.html", &ctx)?)
}

/// Emailed links never act on `GET` or `HEAD`: mail link scanners (Safe Links, Proofpoint,
/// Mimecast, Gmail's prefetch) open every link. The page asks; only the button's `POST` acts.
#[get("/confirm/<token>")]
fn confirm_page(
    token: &str,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<RawHtml<String>, Error> {
    let sub = store
        .subscriber_for_link(token)?
        .filter(|s| s.confirm_token == token && s.state != SubscriberState::Unsubscribed)
        .ok_or(Error::ExpiredLink(LinkKind::Confirm))?;
    if sub.state == SubscriberState::Confirmed {
        return link_page(
            page,
            LinkPage {
                title: "link.subscribed_title",
                message: "link.already_confirmed",
                email: Some(sub.email.as_str()),
                button: None,
            },
        );
    }
    link_page(
        page,
        LinkPage {
            title: "link.confirm_title",
            message: "link.confirm_message",
            email: Some(sub.email.as_str()),
            button: Some((format!("/confirm/{token}"), "link.confirm_button")),
        },
    )
}

#[post("/confirm/<token>")]
async fn confirm(
    token: &str,
    page: Page<'_>,
    intake: &State<Intake>,
) -> Result<RawHtml<String>, Error> {
    let sub = intake
        .confirm_subscription(token)
        .await?
        .ok_or(Error::ExpiredLink(LinkKind::Confirm))?;
    link_page(
        page,
        LinkPage {
            title: "link.subscribed_title",
            message: "link.confirmed",
            email: Some(sub.email.as_str()),
            button: None,
        },
    )
}

#[get("/unsubscribe/<token>")]
fn unsubscribe_page(
    token: &str,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<RawHtml<String>, Error> {
    let sub = store
        .subscriber_for_link(token)?
        .filter(|s| s.unsubscribe_token == token)
        .ok_or(Error::ExpiredLink(LinkKind::Unsubscribe))?;
    if sub.state == SubscriberState::Unsubscribed {
        return unsubscribed_page(page, &sub);
    }
    link_page(
        page,
        LinkPage {
            title: "link.unsubscribe_title",
            message: "link.unsubscribe_message",
            email: Some(sub.email.as_str()),
            button: Some((format!("/unsubscribe/{token}"), "link.unsubscribe_button")),
        },
    )
}

fn unsubscribed_page(page: Page<'_>, sub: &Subscriber) -> Result<RawHtml<String>, Error> {
    link_page(
        page,
        LinkPage {
            title: "link.unsubscribed_title",
            message: "link.unsubscribed_message",
            email: Some(sub.email.as_str()),
            button: Some((
                format!("/resubscribe/{}", sub.unsubscribe_token),
                "link.subscribe_again",
            )),
        },
    )
}

/// The page's button and RFC 8058 one-click unsubscribe alike (mail clients post
/// `List-Unsubscribe=One-Click` from `List-Unsubscribe-Post`, from any origin).
#[post("/unsubscribe/<token>")]
async fn unsubscribe(
    token: &str,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<RawHtml<String>, Error> {
    let sub = store
        .unsubscribe(token)
        .await?
        .ok_or(Error::ExpiredLink(LinkKind::Unsubscribe))?;
    unsubscribed_page(page, &sub)
}

#[post("/resubscribe/<token>")]
async fn resubscribe(
    token: &str,
    page: Page<'_>,
    store: &State<Store>,
) -> Result<RawHtml<String>, Error> {
    let sub = store
        .resubscribe(token)
        .await?
        .ok_or(Error::ExpiredLink(LinkKind::Unsubscribe))?;
    let message = if sub.state == SubscriberState::Confirmed {
        "link.welcome_back"
    } else {
        "link.almost_there"
    };
    link_page(
        page,
        LinkPage {
            title: "link.resubscribed_title",
            message,
            email: Some(sub.email.as_str()),
            button: None,
        },
    )
}
