//! HTTP: routes of the public site, the one error-to-status mapping, embedded assets,
//! and the fairings every response passes through (request log, CORS, security headers).

pub mod admin;
mod assets;
pub mod client;
mod error;
mod fairings;
pub mod hooks;
mod input;
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
        .attach(rocket::fairing::AdHoc::on_liftoff(
            "retry worker",
            |rocket| {
                Box::pin(async move {
                    if let Some(app) = rocket.state::<App>() {
                        rocket::tokio::spawn(crate::retry::run(app.clone()));
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

/// One line for a failed launch (Rocket's error panics if dropped unread), without any
/// configuration value in it.
pub fn launch_error(e: &rocket::Error) -> String {
    match e.kind() {
        rocket::error::ErrorKind::Bind(io) => {
            format!("cannot listen on the configured address: {io}")
        }
        rocket::error::ErrorKind::Io(io) => format!("I/O error: {io}"),
        rocket::error::ErrorKind::Config(c) => format!("configuration: {c}"),
        rocket::error::ErrorKind::InsecureSecretKey(_) => {
            "ROCKET_SECRET_KEY is missing or insecure".into()
        }
        rocket::error::ErrorKind::FailedFairings(failed) => {
            let names: Vec<&str> = failed.iter().map(|f| f.name).collect();
            format!("could not start: {} failed", names.join(", "))
        }
        // Never `Debug`: a shutdown error embeds the Rocket instance, and with it the figment
        // holding every configured secret.
        other => format!("could not start: {other}"),
    }
}
