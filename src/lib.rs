//! Kipekee: a self-hosted form-to-email appliance. One binary serves public forms, stores
//! every submission in sled, and mails owner and visitor through Mailtrap in the request.

/// What every handler shares (`App`) and how it is built.
mod app;
/// The command line.
pub mod cli;
/// Configuration from Rocket's figment: `AppConfig` and the validated value types.
pub mod config;
/// Submissions as CSV (spreadsheet-safe) or JSON, for the CLI and the admin panel.
pub mod export;
/// Forms as data, their built-in definitions and the validation of a post.
pub mod forms;
/// Whether email delivery works: the one rule behind `/healthz` and the dashboard banner.
pub mod health;
/// The visitor's side in their language: the string catalogue, plurals, dates.
pub mod i18n;
/// The log filter that keeps secret-carrying HTTP dumps out of every log level.
pub mod logging;
/// Rendering emails and sending them through Mailtrap.
pub mod mail;
/// Counters since start-up, in Prometheus text format.
pub mod metrics;
/// The values every layer speaks: addresses, ids, outcomes (a leaf module).
pub mod model;
/// Retrying transient delivery failures in-process, from a queue kept in the store.
pub mod outbox;

pub mod retry;
/// Stopping cleanly: Rocket's grace sized to the Mailtrap timeout, background tasks joined,
/// the store flushed, no configuration in any error.
pub mod shutdown;
/// The free-space floor below which posts are refused (507).
pub mod space;
/// The sled store: submissions, files, deliveries, subscribers, secrets.
pub mod store;
/// What happens to a valid submission: store, mail, log. Shared by every entry point.
pub mod submit;
/// The embedded tera templates of pages and emails.
pub mod templates;
/// HTTP: public routes, error mapping, assets, fairings.
pub mod web;
/// The owner's time zone (`KIPEKEE_TIMEZONE`).
pub mod zone;

use base64::Engine;
use figment::Figment;
use rocket::{Build, Rocket};

pub use app::{App, StartError};
use config::AppConfig;
use store::Store;

/// The one composition root: config, store, templates and mailer wired into a Rocket.
pub fn rocket(figment: Figment) -> Result<Rocket<Build>, StartError> {
    let config = AppConfig::from_figment(&figment)?;
    let store = open_store(&config)?;
    // Rocket reads the whole multipart body within this; an upload's own cap is smaller.
    let mut figment = figment.merge(("limits.data-form", config.max_body_bytes));
    let rocket_config: rocket::Config = figment.extract()?;
    if rocket_config.secret_key.is_zero() {
        // Generated once and kept in the store, so private cookies survive restarts.
        let key = base64::engine::general_purpose::STANDARD.encode(store.secret("cookie")?);
        figment = figment.merge(("secret_key", key));
    }
    let (figment, stop, grace_warning) = shutdown::plan(figment, &config);
    let app = App::new(config, store, &rocket_config)?;
    tracing::info!(
        data_dir = %app.config.data_dir.display(),
        public_url = %app.public_base,
        mailtrap = if app.mailer.is_configured() { "configured" } else { "not configured: emails are stored as skipped" },
        "kipekee ready"
    );
    for warning in app.config.warnings().into_iter().chain(grace_warning) {
        tracing::warn!("{warning}");
    }
    let rocket = rocket::custom(figment)
        .manage(stop.clone())
        .attach(shutdown::InFlight(stop));
    Ok(web::mount(rocket, app))
}

fn open_store(config: &AppConfig) -> Result<Store, StartError> {
    let dir = &config.data_dir;
    let io_error = |source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    let created = store::private::create_dir(dir).map_err(io_error)?;
    forms::upload::prepare(dir).map_err(io_error)?;
    let store = Store::open_with_cache(dir, config.cache_bytes)?;
    if created {
        store::private::restrict_contents(dir).map_err(io_error)?;
    }
    for wide in store::private::wide_modes(dir) {
        tracing::warn!("the data directory should be the owner's alone: {wide} (chmod 700 the directory, 600 its files)");
    }
    Ok(store)
}
