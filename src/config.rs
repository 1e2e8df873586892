//! Configuration: one flat `AppConfig` extracted from Rocket's own figment, plus the
//! validated value types (`EmailAddress`, `Mailbox`, `Secret`) it is made of.
//! Nothing outside this module reads the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Profile};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::forms::FormDef;

mod text_env;
mod trusted;

use text_env::TextEnv;
pub use trusted::TrustedProxies;

/// The seed's environment names, read without a prefix so existing deployments work unchanged.
const SEED_ENV: &[&str] = &[
    "MAILTRAP_API_TOKEN",
    "MAILTRAP_API_URL",
    "DEFAULT_FROM_EMAIL",
    "ADMIN_EMAIL",
    "JOBS_EMAIL",
    "NEWSLETTER_EMAIL",
];

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
    #[serde(default, deserialize_with = "empty_is_none")]
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
    #[serde(deserialize_with = "comma_list")]
    pub allowed_origins: Vec<String>,
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
    /// The public forms by slug.
    pub forms: BTreeMap<String, FormDef>,
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
            allowed_origins: Vec::new(),
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
        .merge(TextEnv::new(
            Env::raw()
                .only(&["SSL_CERT_FILE", "MAILTRAP_INBOX_ID"])
                .global(),
        ))
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
    /// Extracts and cross-checks the configuration; the error names the offending key.
    /// Lossy: the environment's values are text (`TextEnv`), and a number or a switch is read
    /// from its text (`"10"`, `"true"`) where the setting wants one.
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, ConfigError> {
        let config: AppConfig = figment.extract_lossy()?;
        config.check()?;
        Ok(config)
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
        for origin in &self.allowed_origins {
            if !origin.starts_with("http://") && !origin.starts_with("https://") {
                return Err(value_error(
                    "allowed_origins",
                    format!("{origin:?} is not an origin like https://example.com"),
                ));
            }
        }
        for (slug, form) in &self.forms {
            form.check(slug)
                .map_err(|message| value_error(&format!("forms.{slug}"), message))?;
        }
        Ok(())
    }

    /// Where the recipient role of a form's email resolves to, with the documented fallbacks.
    pub fn recipient(&self, role: &str) -> Option<&EmailAddress> {
        let admin = self.admin_email.as_ref();
        match role {
            "admin" => admin,
            "jobs" => self.jobs_email.as_ref().or(admin),
            "newsletter" => self.newsletter_email.as_ref().or(admin),
            _ => None,
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

/// A Mailtrap sandbox inbox id: digits, as shown in the inbox's URL in Mailtrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InboxId(pub u64);

impl TryFrom<String> for InboxId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.trim()
            .parse()
            .map(InboxId)
            .map_err(|_| format!("{s:?} is not a Mailtrap inbox id (digits)"))
    }
}

impl From<InboxId> for String {
    fn from(id: InboxId) -> String {
        id.0.to_string()
    }
}

impl fmt::Display for InboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A syntactically valid email address with no characters that could break a header.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        let invalid = || format!("{s:?} is not a valid email address");
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        let plain = |c: char| !c.is_control() && !c.is_whitespace() && !"<>()[]\\,;:\"".contains(c);
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(plain)
            || local.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !email_address::EmailAddress::is_valid(s)
        {
            return Err(invalid());
        }
        Ok(EmailAddress(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as Mailtrap accepts it (ASCII only): the domain in its punycode form
    /// (`anna@bücher.example` → `anna@xn--bcher-kva.example`, IDNA/UTS 46 via the `idna`
    /// crate). `None` when the local part is not ASCII (no ASCII form exists) or the
    /// domain is not a valid international name.
    pub fn to_ascii(&self) -> Option<String> {
        let (local, domain) = self.0.rsplit_once('@')?;
        if !local.is_ascii() {
            return None;
        }
        if domain.is_ascii() {
            return Some(self.0.clone());
        }
        let ascii = idna::domain_to_ascii(domain).ok()?;
        Some(format!("{local}@{ascii}"))
    }

    /// The address lowercased, for lookups where `A@x.com` and `a@x.com` are one person.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An address with an optional display name: `Name <addr>` or `addr`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mailbox {
    pub name: Option<String>,
    pub email: EmailAddress,
}

impl Mailbox {
    pub fn parse(input: &str) -> Result<Mailbox, String> {
        let s = input.trim();
        match (s.find('<'), s.strip_suffix('>')) {
            (Some(open), Some(rest)) => {
                let name = s[..open].trim().trim_matches('"').trim();
                let email = EmailAddress::parse(&rest[open + 1..])?;
                Ok(Mailbox::new(name, email))
            }
            (None, None) => Ok(Mailbox {
                name: None,
                email: EmailAddress::parse(s)?,
            }),
            _ => Err(format!("{s:?} is not `Name <address>` or `address`")),
        }
    }

    /// A mailbox whose display name is cleaned of anything that cannot sit in a header.
    pub fn new(name: &str, email: EmailAddress) -> Mailbox {
        let name = crate::forms::single_line(name, 100);
        Mailbox {
            name: (!name.is_empty()).then_some(name),
            email,
        }
    }
}

impl TryFrom<String> for Mailbox {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Mailbox::parse(&s)
    }
}

impl From<Mailbox> for String {
    fn from(m: Mailbox) -> String {
        m.to_string()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.email),
            None => write!(f, "{}", self.email),
        }
    }
}

/// A value that must never reach a log, a page or an error message.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// Environment files often carry `ADMIN_EMAIL=`; an empty value means "not set".
fn empty_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: fmt::Display,
{
    match Option::<String>::deserialize(d)? {
        Some(s) if !s.trim().is_empty() => T::try_from(s.trim().to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}

/// `KIPEKEE_ALLOWED_ORIGINS` is comma-separated in the environment and a list in TOML.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::to_string).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_parses_both_forms() {
        let m = Mailbox::parse("Shop <hi@shop.example>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Shop"));
        assert_eq!(m.email.as_str(), "hi@shop.example");
        assert!(Mailbox::parse("hi@shop.example").unwrap().name.is_none());
        assert!(Mailbox::parse("Shop <not-an-address>").is_err());
        assert!(Mailbox::parse("Shop hi@shop.example>").is_err());
    }

    #[test]
    fn email_address_rejects_header_breakers() {
        for bad in [
            "a@b",
            "a b@c.com",
            "a@b.com\r\nBcc: x@y.com",
            "<a@b.com>",
            "@b.com",
            "a@.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(EmailAddress::parse("jane.doe+quotes@mail.example.co.tz").is_ok());
    }

    #[test]
    fn international_domains_have_an_ascii_form_and_local_parts_do_not() {
        let anna = EmailAddress::parse("anna@bücher.example").unwrap();
        assert_eq!(
            anna.to_ascii().as_deref(),
            Some("anna@xn--bcher-kva.example")
        );
        let plain = EmailAddress::parse("jo@shop.example").unwrap();
        assert_eq!(plain.to_ascii().as_deref(), Some("jo@shop.example"));
        if let Ok(local) = EmailAddress::parse("jösef@shop.example") {
            assert_eq!(local.to_ascii(), None);
        }
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn env_names_of_the_seed_work_and_bad_recipient_names_its_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ADMIN_EMAIL", "owner@shop.example");
            jail.set_env("KIPEKEE_DATA_DIR", "/tmp/kipekee-x");
            jail.set_env(
                "KIPEKEE_ALLOWED_ORIGINS",
                "https://a.example, https://b.example/",
            );
            jail.set_env("MAILTRAP_API_TOKEN", "tok");
            let c = AppConfig::from_figment(&figment()).unwrap();
            assert_eq!(c.admin_email.unwrap().as_str(), "owner@shop.example");
            assert_eq!(c.data_dir, PathBuf::from("/tmp/kipekee-x"));
            assert_eq!(
                c.allowed_origins,
                ["https://a.example", "https://b.example"]
            );
            assert_eq!(format!("{:?}", c.mailtrap_api_token), "Some(\"***\")");
            assert_eq!(c.max_upload_bytes, 5 << 20);
            assert_eq!(c.max_body_bytes, 32 << 20);
            assert_eq!(c.min_free_bytes, 512 << 20);
            let limits: rocket::data::Limits = figment().extract_inner("limits").unwrap();
            assert_eq!(
                limits.get("json"),
                Some(rocket::data::ByteUnit::Mebibyte(1))
            );

            jail.set_env("JOBS_EMAIL", "not an address");
            let err = AppConfig::from_figment(&figment()).unwrap_err().to_string();
            assert!(
                err.contains("JOBS_EMAIL") && err.contains("not a valid email"),
                "{err}"
            );
            Ok(())
        });
    }

    /// The shipped `Rocket.toml` documents real keys: uncommented, it still loads.
    #[test]
    fn shipped_rocket_toml_with_its_examples_uncommented_is_valid() {
        let text = include_str!("../Rocket.toml");
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars()
                                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let figment = Figment::from(Serialized::defaults(AppConfig::default()))
            .merge(Toml::string(&uncommented).nested());
        let c = AppConfig::from_figment(&figment).unwrap();
        assert_eq!(c.forms["quote"].title, "Book a safari");
        assert!(!c.forms["contact"].enabled);
        assert_eq!(c.admin_email.unwrap().as_str(), "owner@shop.example");
        let limits: rocket::data::Limits = figment.extract_inner("limits").unwrap();
        assert_eq!(
            limits.get("json"),
            Some(rocket::data::ByteUnit::Mebibyte(1))
        );
        assert_eq!(c.max_body_bytes, 32 << 20);
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn empty_env_values_mean_unset() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ADMIN_EMAIL", "");
            let c = AppConfig::from_figment(&figment()).unwrap();
            assert!(c.admin_email.is_none());
            Ok(())
        });
    }

    #[test]
    fn a_sandbox_inbox_goes_to_mailtrap_sandbox_or_to_the_configured_api() {
        let mut c = AppConfig::default();
        assert_eq!(
            c.mailtrap_batch_url(),
            "https://send.api.mailtrap.io/api/batch"
        );
        c.mailtrap_inbox_id = Some(InboxId(4242));
        assert_eq!(
            c.mailtrap_batch_url(),
            "https://sandbox.api.mailtrap.io/api/batch/4242"
        );
        c.mailtrap_api_url = "http://127.0.0.1:9/".into();
        assert_eq!(c.mailtrap_batch_url(), "http://127.0.0.1:9/api/batch/4242");
        assert!(InboxId::try_from("12ab".to_string()).is_err());
    }
}
