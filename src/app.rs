//! `App`: everything a request handler may need (configuration, store, mailer, templates,
//! counters), built once from the configuration and managed by Rocket.

use std::sync::Arc;

use crate::config::{AppConfig, ConfigError};
use crate::forms::{self, Forms};
use crate::mail::Mailtrap;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::templates::Templates;
use crate::{space, web};

/// Everything a request handler may need, managed once by Rocket.
/// Cheap to clone (handles and `Arc`s), so background tasks such as the retry worker get
/// their own copy.
#[derive(Clone)]
pub struct App {
    pub config: AppConfig,
    pub forms: Forms,
    pub store: Store,
    pub mailer: Arc<Mailtrap>,
    pub templates: Arc<Templates>,
    pub admin: Arc<web::admin::AdminPassword>,
    /// The signed time field of form pages.
    pub trap: Arc<forms::spam::TimeTrap>,
    pub rate_limit: Arc<forms::spam::RateLimiter>,
    /// Absolute base of emailed links, without a trailing slash.
    pub public_base: String,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// `KIPEKEE_MIN_FREE_BYTES` on the data dir's file system.
    pub disk: space::DiskFloor,
}

impl App {
    /// Wires the parts together; reads the store's generated secrets (time trap, admin).
    pub fn new(
        config: AppConfig,
        store: Store,
        rocket_config: &rocket::Config,
    ) -> Result<App, StartError> {
        Ok(App {
            admin: Arc::new(web::admin::setup(&config, &store)?),
            trap: Arc::new(forms::spam::TimeTrap::new(
                store.secret("time-trap")?,
                config.spam_min_seconds,
            )),
            rate_limit: Arc::new(forms::spam::RateLimiter::new(config.rate_limit)),
            forms: Forms::new(&config.forms),
            templates: Arc::new(Templates::load(&config)?),
            mailer: Arc::new(Mailtrap::new(&config)),
            public_base: config.public_base(rocket_config),
            metrics: Default::default(),
            disk: space::DiskFloor::new(config.data_dir.clone(), config.min_free_bytes),
            store,
            config,
        })
    }
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
