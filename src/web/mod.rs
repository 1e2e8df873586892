//! HTTP: routes of the public site, the one error-to-status mapping, embedded assets,
//! and the fairings every response passes through (request log, CORS, security headers).

pub mod admin;
mod assets;
pub mod client;
mod error;
mod fairings;
pub mod hooks;
mod input;
mod limits;
mod links;
pub mod metrics;
mod page;
mod public;
mod respond;

use rocket::{Build, Rocket};

pub use error::{Error, LinkKind};
pub use limits::RateLimiter;
pub use page::{Page, Site};

use crate::forms::spam::TimeTrap;
use crate::space::DiskFloor;

/// The state only the web layer uses, built by the composition root (`crate::rocket`).
pub struct WebState {
    pub admin_password: admin::AdminPassword,
    /// The signed time field of form pages.
    pub trap: TimeTrap,
    pub rate_limit: RateLimiter,
    /// `KIPEKEE_MIN_FREE_BYTES` on the data dir's file system.
    pub disk: DiskFloor,
    /// Absolute base of the site's links, without a trailing slash.
    pub public_base: String,
}

/// Mounts the routes, catchers and fairings on a Rocket that already manages the services,
/// and manages the web layer's own state, each part on its own.
pub fn mount(rocket: Rocket<Build>, state: WebState) -> Rocket<Build> {
    let site = Site {
        public_base: state.public_base,
    };
    let allowed = rocket
        .state::<crate::config::AppConfig>()
        .map(|c| c.allowed_origins.clone())
        .unwrap_or_default();
    let https = site.https();
    rocket
        .manage(site)
        .manage(state.admin_password)
        .manage(state.trap)
        .manage(state.rate_limit)
        .manage(state.disk)
        .manage(admin::LoginThrottle::default())
        .mount("/", public::routes())
        .mount("/", links::routes())
        .mount("/assets", assets::routes())
        .mount("/admin", admin::routes())
        .mount("/", metrics::routes())
        .mount("/", hooks::routes())
        .register("/", error::catchers())
        .register("/admin", admin::catchers())
        .attach(fairings::RequestLog)
        .attach(fairings::Cors { allowed })
        .attach(shield())
        .attach(fairings::SecurityHeaders { https })
        .attach(metrics::RejectedPosts)
}

/// Rocket's Shield with `X-Frame-Options: DENY` instead of its default `SAMEORIGIN`: no
/// page of Kipekee is meant to be framed (security review #15). Its other defaults stay
/// (`nosniff`, the `interest-cohort` opt-out).
fn shield() -> rocket::shield::Shield {
    rocket::shield::Shield::default().enable(rocket::shield::Frame::Deny)
}
