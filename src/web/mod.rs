//! HTTP: routes of the public site, the one error-to-status mapping, embedded assets,
//! and the fairings every response passes through (request log, CORS, security headers).

pub mod admin;
mod assets;
pub mod client;
mod error;
mod fairings;
mod input;
pub mod metrics;
mod public;

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
        .register("/", error::catchers())
        .register("/admin", admin::catchers())
        .manage(admin::LoginThrottle::default())
        .attach(fairings::RequestLog)
        .attach(fairings::Cors { allowed })
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

/// One line for a failed launch (Rocket's error panics if dropped unread).
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
        other => format!("could not start: {other:?}"),
    }
}
