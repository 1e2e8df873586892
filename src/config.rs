//! Configuration: one flat `AppConfig` extracted from Rocket's own figment, plus the
//! validated value types (`EmailAddress`, `Mailbox`, `Secret`) it is made of.
//! Nothing outside this module reads the environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Profile};
use serde::{Deserialize, Serialize};

use crate::forms::{FormDef, Recipient};
use crate::model::{EmailAddress, FormSlug, Mailbox, Secret};

mod business;
mod origins;
mod text_env;
mod trusted;
mod values;

pub use business::{Phone, Website};

pub use origins::Origins;
use text_env::TextEnv;
pub use trusted::TrustedProxies;
pub use values::InboxId;
use values::{empty_is_none, inbox_id};

/// The seed's environment names, read without a prefix so existing deployments work unchanged.
const SEED_ENV: &[&str] = &[
    "MAILTRAP_API_TOKEN",
    "MAILTRAP_API_URL",
    "DEFAULT_FROM_EMAIL",
    "ADMIN_EMAIL",
    "JOBS_EMAIL",
    "NEWSLETTER_EMAIL",
];

/// Names read without the `KIPEKEE_` prefix because other tools and SDKs use them so.
const UNPREFIXED_ENV: &[&str] = &["SSL_CERT_FILE", "MAILTRAP_INBOX_ID"];

/// The environment name of a setting: `admin_email` → `ADMIN_EMAIL` (the seed's names and
/// [`UNPREFIXED_ENV`] have no prefix), `data_dir` → `KIPEKEE_DATA_DIR`.
pub fn env_name(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    if SEED_ENV.contains(&upper.as_str()) || UNPREFIXED_ENV.contains(&upper.as_str()) {
        upper
    } else {
        format!("KIPEKEE_{upper}")
    }
}

/// Shown when `DEFAULT_FROM_EMAIL` is not configured; `kipekee check` flags it.
pub const PLACEHOLDER_FROM: &str = "Kipekee <noreply@kipekee.invalid>";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(Box<figment::Error>),
    #[error("configuration: {key}: {message}")]
    Value { key: String, message: String },
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        ConfigError::Invalid(Box::new(e))
    }
}

/// Everything Kipekee reads from its configuration besides Rocket's own keys.
/// Field names are the environment names lowercased (`ADMIN_EMAIL` ↔ `admin_email`,
/// `KIPEKEE_DATA_DIR` ↔ `data_dir`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppConfig {
    /// Mailtrap sending token; unset means emails are rendered, stored and marked skipped.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub mailtrap_api_token: Option<Secret>,
    /// Base URL of the Mailtrap sending API (tests point it at a loopback fake).
    pub mailtrap_api_url: String,
    /// `KIPEKEE_MAILTRAP_WEBHOOK_SECRET`: the signing secret of the Mailtrap webhook; set, it
    /// turns on `POST /hooks/mailtrap` (mailtrap-api.md section 8).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub mailtrap_webhook_secret: Option<Secret>,
    /// `MAILTRAP_INBOX_ID`: a Mailtrap sandbox (test) inbox; set, every email goes there and no
    /// real person receives anything (mailtrap-api.md, sandbox sending).
    #[serde(default, deserialize_with = "inbox_id")]
    pub mailtrap_inbox_id: Option<InboxId>,
    /// Seconds allowed for the whole Mailtrap request (connect, send, answer).
    pub mailtrap_timeout_secs: u64,
    /// `SSL_CERT_FILE`: a PEM bundle of extra root certificates the Mailtrap client trusts,
    /// on top of the system's (a TLS-inspecting proxy's CA, a loopback fake's certificate).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub ssl_cert_file: Option<PathBuf>,
    /// Benchmark only (`KIPEKEE_MAILTRAP_SEED_MODE`, not documented for users): send like
    /// the seed did, a new connection per email, one email after the other.
    #[serde(default, skip_serializing)]
    pub mailtrap_seed_mode: bool,
    /// Sender of every email, `Name <addr>` or `addr`.
    pub default_from_email: Mailbox,
    /// Receives quote and contact notifications; the fallback for the other two.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub admin_email: Option<EmailAddress>,
    /// Receives job applications (falls back to `admin_email`).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub jobs_email: Option<EmailAddress>,
    /// Receives newsletter notices (falls back to `admin_email`).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub newsletter_email: Option<EmailAddress>,
    /// Directory of the sled store.
    pub data_dir: PathBuf,
    /// sled's page cache, in bytes (`KIPEKEE_CACHE_BYTES`). sled's own default is 1 GiB, more
    /// than a small server has: it then logs an ERROR on every open.
    pub cache_bytes: u64,
    /// Absolute URL used in emailed links; defaults to `http://<address>:<port>`.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub public_url: Option<String>,
    /// argon2id PHC string of the admin password.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub admin_password_hash: Option<Secret>,
    /// Origins (`https://shop.example`) allowed to post cross-site.
    pub allowed_origins: Origins,
    /// Least seconds between showing a form and its post; 0 turns the trap off. A post
    /// sooner than this is held for review, not dropped (Round 2 contract: a signup 1.5 s
    /// after the page was shown is not suspect under the default).
    pub spam_min_seconds: u64,
    /// Emails a day to one visitor address, normalised (lower case, `+tag` removed); 0 = no cap.
    pub confirmations_per_address: u32,
    /// Visitor emails a day triggered by one client address; 0 = no cap.
    pub confirmations_per_client: u32,
    /// Posts per minute per client address per form; 0 turns the limit off.
    pub rate_limit: u32,
    /// Largest accepted upload, in bytes; a larger one is the field's error (422).
    pub max_upload_bytes: u64,
    /// Largest multipart body read at all, in bytes (Rocket's `data-form` limit); beyond: 413.
    pub max_body_bytes: u64,
    /// Free space the data dir's file system keeps, in bytes; below it posts get 507. 0: off.
    pub min_free_bytes: u64,
    /// First wait before retrying a transiently failed email; each retry waits 4× longer.
    pub retry_base_secs: u64,
    /// The public forms by slug. The built-ins' visitor texts are catalogue keys until
    /// [`AppConfig::from_figment`] loads them.
    pub forms: BTreeMap<FormSlug, FormDef>,
    /// Log lines as `text` (for people, the default) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Bearer token a non-loopback scraper must send for `/metrics`; unset: loopback only.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub metrics_token: Option<Secret>,
    /// Peers whose client-address header (`ROCKET_IP_HEADER`) is believed
    /// (`KIPEKEE_TRUSTED_PROXIES`, comma-separated addresses and CIDR ranges).
    pub trusted_proxies: TrustedProxies,
    /// `KIPEKEE_TIMEZONE`: the IANA zone every time shown to a person is in (default `UTC`);
    /// an unknown name stops start-up.
    pub timezone: crate::zone::Zone,
    /// `KIPEKEE_LOCALE`: the language of everything a visitor sees (`en`, `sw`, `fr`); an
    /// unknown code stops start-up.
    pub locale: crate::i18n::Locale,
    /// `[default.strings]`: the owner's text for any catalogue key; an unknown key stops
    /// start-up.
    #[serde(default)]
    pub strings: crate::i18n::StringOverrides,
    /// `KIPEKEE_BUSINESS_ADDRESS`: the postal address in the visitor's emails' footer.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub business_address: Option<String>,
    /// `KIPEKEE_BUSINESS_PHONE`: the phone number in that footer, linked with `tel:`.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub business_phone: Option<Phone>,
    /// `KIPEKEE_BUSINESS_WEBSITE`: the website in that footer (`https://…`).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub business_website: Option<Website>,
}

/// How log lines are written (`KIPEKEE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            mailtrap_api_token: None,
            mailtrap_api_url: DEFAULT_MAILTRAP_API_URL.into(),
            mailtrap_webhook_secret: None,
            mailtrap_inbox_id: None,
            mailtrap_timeout_secs: 10,
            ssl_cert_file: None,
            mailtrap_seed_mode: false,
            default_from_email: Mailbox::parse(PLACEHOLDER_FROM).expect("placeholder is valid"),
            admin_email: None,
            jobs_email: None,
            newsletter_email: None,
            data_dir: PathBuf::from("data"),
            cache_bytes: crate::store::DEFAULT_CACHE_BYTES,
            public_url: None,
            admin_password_hash: None,
            allowed_origins: Origins::default(),
            spam_min_seconds: 1,
            confirmations_per_address: 3,
            confirmations_per_client: 20,
            rate_limit: 10,
            max_upload_bytes: 5 * 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            min_free_bytes: 512 * 1024 * 1024,
            retry_base_secs: 30,
            forms: crate::forms::builtin(),
            log_format: LogFormat::Text,
            metrics_token: None,
            trusted_proxies: TrustedProxies::default(),
            timezone: crate::zone::Zone::utc(),
            locale: crate::i18n::Locale::En,
            strings: Default::default(),
            business_address: None,
            business_phone: None,
            business_website: None,
        }
    }
}

/// Rocket's own layering (its defaults, `Rocket.toml` or `ROCKET_CONFIG`, `ROCKET_*`), with
/// Kipekee's defaults slotted in under the file, and the seed's and `KIPEKEE_*` environment
/// names on top. `.global()` so a profile table in `Rocket.toml` never beats the environment.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(rocket_defaults()))
        .merge(Serialized::defaults(AppConfig::default()))
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(TextEnv::rocket(
            Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global(),
        ))
        .merge(TextEnv::new(Env::raw().only(SEED_ENV).global()))
        .merge(TextEnv::new(Env::raw().only(UNPREFIXED_ENV).global()))
        .merge(TextEnv::new(Env::prefixed("KIPEKEE_").global()))
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// Body limits of url-encoded and JSON posts; the multipart limit (`data-form`) follows
/// `KIPEKEE_MAX_BODY_BYTES` (see `crate::rocket`).
/// No client-address header is trusted unless configured (`ROCKET_IP_HEADER`): Rocket's
/// default `X-Real-IP` would let any visitor choose the address rate limits and logs see.
fn rocket_defaults() -> serde_json::Value {
    serde_json::json!({
        "limits": { "form": "64 KiB", "json": "1 MiB" },
        "ip_header": false,
    })
}

impl AppConfig {
    /// The key of every setting an owner may set (`admin_email`, `data_dir`, …), from the
    /// serialised defaults; hidden benchmark switches are not serialised, so not listed.
    pub fn setting_keys() -> Vec<String> {
        match serde_json::to_value(AppConfig::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Extracts and cross-checks the configuration; the error names the offending key.
    /// Lossy: the environment's values are text (`TextEnv`), and a number or a switch is read
    /// from its text (`"10"`, `"true"`) where the setting wants one.
    /// The forms are loaded here, once (`forms::load`): roles inferred, each checked, and the
    /// built-in texts in `KIPEKEE_LOCALE` where the owner left them as shipped.
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, ConfigError> {
        let mut config: AppConfig = figment.extract_lossy()?;
        config.check()?;
        let strings = config.strings()?;
        config.forms =
            crate::forms::load(std::mem::take(&mut config.forms), &strings).map_err(|e| {
                ConfigError::Value {
                    key: format!("forms.{}", e.slug),
                    message: e.message,
                }
            })?;
        Ok(config)
    }

    /// The visitor's catalogue: `KIPEKEE_LOCALE`'s texts with `[default.strings]` on top.
    pub fn strings(&self) -> Result<crate::i18n::Catalogue, ConfigError> {
        crate::i18n::Catalogue::new(self.locale, &self.strings).map_err(|e| ConfigError::Value {
            key: format!("strings.{}", e.key()),
            message: e.to_string(),
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let value_error = |key: &str, message: String| ConfigError::Value {
            key: key.into(),
            message,
        };
        if self.max_body_bytes <= self.max_upload_bytes {
            return Err(value_error(
                "max_body_bytes",
                format!(
                    "must be larger than max_upload_bytes ({}): the body carries the upload and the form's fields",
                    self.max_upload_bytes
                ),
            ));
        }
        if !self.mailtrap_api_url.starts_with("http://")
            && !self.mailtrap_api_url.starts_with("https://")
        {
            return Err(value_error(
                "mailtrap_api_url",
                "must start with http:// or https://".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(value_error(
                    "public_url",
                    "must be an absolute http(s) URL".into(),
                ));
            }
        }
        Ok(())
    }

    /// The owner's address a form's email goes to, with the documented fallbacks; `None`
    /// for the visitor (their address is the submission's) and for an unset address.
    pub fn recipient(&self, to: Recipient) -> Option<&EmailAddress> {
        let admin = self.admin_email.as_ref();
        match to {
            Recipient::Visitor => None,
            Recipient::Admin => admin,
            Recipient::Jobs => self.jobs_email.as_ref().or(admin),
            Recipient::Newsletter => self.newsletter_email.as_ref().or(admin),
        }
    }

    /// The absolute base for emailed links, without a trailing slash.
    pub fn public_base(&self, rocket: &rocket::Config) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}:{}", rocket.address, rocket.port),
        }
    }

    /// The daily caps on emails to visitors' addresses.
    pub fn confirmation_caps(&self) -> crate::store::CapLimits {
        crate::store::CapLimits {
            per_address: self.confirmations_per_address,
            per_client: self.confirmations_per_client,
        }
    }

    /// The business's name as pages and emails show it: the sender's display name.
    pub fn site_name(&self) -> &str {
        self.default_from_email.name.as_deref().unwrap_or("Kipekee")
    }

    /// Problems worth a warning that do not stop the server (`kipekee check` lists them).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.mailtrap_api_token.is_none() {
            out.push("MAILTRAP_API_TOKEN is not set: emails are rendered and stored as skipped, not sent".into());
        }
        if self.default_from_email.to_string() == PLACEHOLDER_FROM {
            out.push("DEFAULT_FROM_EMAIL is not set: the placeholder sender cannot deliver".into());
        }
        if self.admin_email.is_none() {
            out.push("ADMIN_EMAIL is not set: owner notifications are skipped".into());
        }
        if let Some(inbox) = self.mailtrap_inbox_id {
            out.push(format!("sandbox: MAILTRAP_INBOX_ID is set, every email goes to the Mailtrap test inbox {inbox} ({}); no real person receives anything", self.mailtrap_batch_url()));
        }
        out
    }

    /// Where emails are posted: Mailtrap's sending API, or with [`AppConfig::mailtrap_inbox_id`]
    /// the sandbox's `/api/batch/<inbox>` (on `sandbox.api.mailtrap.io` unless
    /// `MAILTRAP_API_URL` names another host).
    pub fn mailtrap_batch_url(&self) -> String {
        let base = self.mailtrap_api_url.trim_end_matches('/');
        match self.mailtrap_inbox_id {
            None => format!("{base}/api/batch"),
            Some(inbox) if base == DEFAULT_MAILTRAP_API_URL => {
                format!("{SANDBOX_MAILTRAP_API_URL}/api/batch/{inbox}")
            }
            Some(inbox) => format!("{base}/api/batch/{inbox}"),
        }
    }
}

const DEFAULT_MAILTRAP_API_URL: &str = "https://send.api.mailtrap.io";
const SANDBOX_MAILTRAP_API_URL: &str = "https://sandbox.api.mailtrap.io";

#[cfg(test)]
mod tests;
