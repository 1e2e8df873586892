//! Kipekee: a self-hosted form-to-email appliance. One binary serves public forms, stores
//! every submission in sled, and mails owner and visitor through Mailtrap in the request.

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
/// One delivery round, the one way every email leaves: the `Outbox` service.
pub mod outbox;
/// Retrying transient delivery failures in-process, from a queue kept in the store.
pub mod retry;
/// Stopping cleanly: Rocket's grace sized to the Mailtrap timeout, background tasks joined,
/// the store flushed, no configuration in any error.
pub mod shutdown;
/// The free-space floor below which posts are refused (507).
pub mod space;
/// The sled store: submissions, files, deliveries, subscribers, secrets.
pub mod store;
/// What happens to a valid submission: store, mail, log (the `Intake` service).
pub mod submit;
/// The embedded tera templates of pages and emails.
pub mod templates;
/// HTTP: public routes, error mapping, assets, fairings.
pub mod web;
/// Mailtrap's webhook events applied to the ledger (the `Webhooks` service).
pub mod webhooks;
/// The owner's time zone (`KIPEKEE_TIMEZONE`).
pub mod zone;

use std::sync::Arc;

use base64::Engine;
use figment::Figment;
use rocket::{Build, Rocket};

use config::{AppConfig, ConfigError};
use forms::spam::TimeTrap;
use forms::Forms;
use mail::Mailtrap;
use metrics::Metrics;
use outbox::Outbox;
use store::{Store, StoreError};
use submit::Intake;
use templates::Templates;
use webhooks::Webhooks;

/// The one composition root: builds each service once from the configuration and attaches
/// them to a Rocket as separate managed state, the web layer's own state by `web::mount`.
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
    let public_base = config.public_base(&rocket_config);
    let web = web::WebState {
        admin_password: web::admin::setup(&config, &store)?,
        trap: TimeTrap::new(store.secret("time-trap")?, config.spam_min_seconds),
        rate_limit: web::RateLimiter::new(config.rate_limit),
        disk: space::DiskFloor::new(config.data_dir.clone(), config.min_free_bytes),
        public_base: public_base.clone(),
    };
    let config = Arc::new(config);
    let forms = Forms::new(&config.forms);
    let mailer = Arc::new(Mailtrap::new(&config));
    let templates = Arc::new(Templates::load(&config)?);
    let metrics = Arc::new(Metrics::default());
    let outbox = Outbox::new(outbox::Parts {
        config: config.clone(),
        store: store.clone(),
        forms: forms.clone(),
        mailer: mailer.clone(),
        templates: templates.clone(),
        metrics: metrics.clone(),
        public_base: public_base.clone(),
    });
    let intake = Intake::new(
        config.clone(),
        store.clone(),
        forms.clone(),
        metrics.clone(),
        outbox.clone(),
    );
    // Before serving: what a killed run stored but never tried to email goes to the queue
    // (what it left with Mailtrap was marked `unknown` when the store opened).
    outbox.queue_unattempted()?;
    let webhooks = Webhooks::new(store.clone(), forms.clone(), metrics.clone());
    let worker = retry::Worker::new(outbox.clone(), store.clone(), config.retry_base_secs);
    tracing::info!(
        data_dir = %config.data_dir.display(),
        public_url = %public_base,
        mailtrap = if mailer.is_configured() { "configured" } else { "not configured: emails are stored as skipped" },
        "kipekee ready"
    );
    for warning in config.warnings().into_iter().chain(grace_warning) {
        tracing::warn!("{warning}");
    }
    let rocket = rocket::custom(figment)
        .manage(stop.clone())
        .attach(shutdown::InFlight(stop))
        .manage(AppConfig::clone(&config))
        .manage(store)
        .manage(forms)
        .manage(mailer)
        .manage(templates)
        .manage(metrics)
        .manage(outbox)
        .manage(intake)
        .manage(webhooks)
        .manage(shutdown::Background::default())
        .attach(rocket::fairing::AdHoc::on_liftoff(
            "retry worker",
            |rocket| {
                Box::pin(async move {
                    if let Some(background) = rocket.state::<shutdown::Background>() {
                        background.spawn(worker.run(rocket.shutdown()));
                    }
                })
            },
        ));
    Ok(web::mount(rocket, web))
}

/// Why the server could not be built; each variant displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

impl From<figment::Error> for StartError {
    fn from(e: figment::Error) -> Self {
        StartError::Config(e.into())
    }
}

impl From<web::admin::SetupError> for StartError {
    fn from(e: web::admin::SetupError) -> Self {
        match e {
            web::admin::SetupError::Config(e) => StartError::Config(e),
            web::admin::SetupError::Store(e) => StartError::Store(e),
        }
    }
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
