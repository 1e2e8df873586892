//! HTTP: routes of the public site, the one error-to-status mapping, embedded assets,
//! and the fairings every response passes through (request log, CORS, security headers).

pub mod admin;
mod assets;
pub mod client;
mod error;
mod fairings;
pub mod hooks;
mod input;
mod links;
pub mod metrics;
mod public;
mod redirect;

use rocket::{Build, Rocket};

pub use error::{Error, LinkKind};

use crate::App;

pub fn mount(rocket: Rocket<Build>, app: App) -> Rocket<Build> {
    let allowed = app.config.allowed_origins.clone();
    let https = app.public_base.starts_with("https://");
    rocket
        .manage(app)
        .mount("/", public::routes())
        .mount("/", links::routes())
        .mount("/assets", assets::routes())
        .mount("/admin", admin::routes())
        .mount("/", metrics::routes())
        .mount("/", hooks::routes())
        .register("/", error::catchers())
        .register("/admin", admin::catchers())
        .manage(admin::LoginThrottle::default())
        .attach(fairings::RequestLog)
        .attach(fairings::Cors { allowed })
        .attach(shield())
        .attach(fairings::SecurityHeaders { https })
        .manage(crate::shutdown::Background::default())
        .attach(rocket::fairing::AdHoc::on_liftoff(
            "retry worker",
            |rocket| {
                Box::pin(async move {
                    let state = (
                        rocket.state::<App>(),
                        rocket.state::<crate::shutdown::Background>(),
                    );
                    if let (Some(app), Some(background)) = state {
                        background.spawn(crate::retry::run(app.clone(), rocket.shutdown()));
                    }
                })
            },
        ))
        .attach(metrics::RejectedPosts)
}

/// Rocket's Shield with `X-Frame-Options: DENY` instead of its default `SAMEORIGIN`: no
/// page of Kipekee is meant to be framed (security review #15). Its other defaults stay
/// (`nosniff`, the `interest-cohort` opt-out).
fn shield() -> rocket::shield::Shield {
    rocket::shield::Shield::default().enable(rocket::shield::Frame::Deny)
}
