//! Environment variables read as the text they are. figment's `Env` parses every value as if
//! it were TOML (`0000` becomes a number, `true` a bool, `1e5` a float, `[x` an attempt at an
//! array), so a token or a hash made only of digits stopped start-up with a type error
//! (issue 9, item 3; figment issue #17). Numbers and switches are still read from text:
//! `AppConfig::from_figment` extracts lossily, which turns `"10"` into `10` where a number is
//! wanted and nowhere else.

use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// Keys whose value is structured (a table of forms, a table of texts): parsed as figment's
/// `Env` does, so `KIPEKEE_STRINGS='{"form.submit"="Tuma"}'` is a table.
const STRUCTURED: &[&str] = &["forms", "strings"];

/// Rocket's settings that are text (rocket 0.5 `Config`: a key, a name, an address, a path,
/// a level). `ROCKET_IDENT` and `ROCKET_IP_HEADER` keep `false`, Rocket's word for "none".
/// Everything else of `ROCKET_*` (port, workers, limits, …) is parsed as figment does.
pub const ROCKET_TEXT: &[&str] = &[
    "secret_key",
    "ident",
    "ip_header",
    "address",
    "temp_dir",
    "log_level",
    "tls.certs",
    "tls.key",
];

/// Rocket's text settings whose `false` turns them off.
const ROCKET_FALSE_IS_NONE: &[&str] = &["ident", "ip_header"];

/// Which values of an `Env` are read as text.
#[derive(Clone, Copy)]
enum Reading {
    /// All but [`STRUCTURED`] (Kipekee's own and the seed's names).
    Text,
    /// Only [`ROCKET_TEXT`] (`ROCKET_*`).
    Rocket,
}

/// An `Env` whose values are read as strings where they are strings.
pub struct TextEnv(Env, Reading);

impl TextEnv {
    /// Every value is text, except the keys in [`STRUCTURED`].
    pub fn new(env: Env) -> TextEnv {
        TextEnv(env, Reading::Text)
    }

    /// The keys of [`ROCKET_TEXT`] are text, the others parsed.
    pub fn rocket(env: Env) -> TextEnv {
        TextEnv(env, Reading::Rocket)
    }

    fn value(&self, key: &str, text: String) -> Value {
        let top = key.split('.').next().unwrap_or(key);
        let text_key = match self.1 {
            Reading::Text => !STRUCTURED.contains(&top),
            Reading::Rocket => ROCKET_TEXT.contains(&key),
        };
        let off = ROCKET_FALSE_IS_NONE.contains(&key) && text.trim().eq_ignore_ascii_case("false");
        match (text_key, self.1) {
            (true, Reading::Rocket) if off => Value::from(false),
            (true, _) => Value::from(text),
            (false, _) => text
                .parse()
                .unwrap_or_else(|never: std::convert::Infallible| match never {}),
        }
    }
}

impl Provider for TextEnv {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, text) in self.0.iter() {
            let key = key.as_str();
            let value = self.value(key, text);
            if let Value::Dict(_, nested) = figment::util::nest(key, value) {
                merge(&mut dict, nested);
            }
        }
        Ok(self.0.profile.collect(dict))
    }
}

/// Later keys win, tables are merged key by key (`A.B=1` and `A.C=2` make one table).
fn merge(into: &mut Dict, from: Dict) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Dict(_, old)), Value::Dict(_, new)) => merge(old, new),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{figment, AppConfig};

    /// Every text setting, how to read it back, and whether a value that is not an address,
    /// a URL or a proxy list must be refused (with the key named) rather than kept.
    type Read = fn(&AppConfig) -> String;
    const TEXT_SETTINGS: &[(&str, &str, Read, bool)] = &[
        (
            "MAILTRAP_API_TOKEN",
            "mailtrap_api_token",
            |c| secret(c.mailtrap_api_token.as_ref()),
            false,
        ),
        (
            "MAILTRAP_API_URL",
            "mailtrap_api_url",
            |c| c.mailtrap_api_url.clone(),
            true,
        ),
        (
            "SSL_CERT_FILE",
            "ssl_cert_file",
            |c| path(c.ssl_cert_file.as_ref()),
            false,
        ),
        (
            "DEFAULT_FROM_EMAIL",
            "default_from_email",
            |c| c.default_from_email.to_string(),
            true,
        ),
        (
            "ADMIN_EMAIL",
            "admin_email",
            |c| opt(c.admin_email.as_ref()),
            true,
        ),
        (
            "JOBS_EMAIL",
            "jobs_email",
            |c| opt(c.jobs_email.as_ref()),
            true,
        ),
        (
            "NEWSLETTER_EMAIL",
            "newsletter_email",
            |c| opt(c.newsletter_email.as_ref()),
            true,
        ),
        (
            "KIPEKEE_DATA_DIR",
            "data_dir",
            |c| c.data_dir.display().to_string(),
            false,
        ),
        (
            "KIPEKEE_PUBLIC_URL",
            "public_url",
            |c| opt(c.public_url.as_ref()),
            true,
        ),
        (
            "KIPEKEE_ADMIN_PASSWORD_HASH",
            "admin_password_hash",
            |c| secret(c.admin_password_hash.as_ref()),
            false,
        ),
        (
            "KIPEKEE_METRICS_TOKEN",
            "metrics_token",
            |c| secret(c.metrics_token.as_ref()),
            false,
        ),
        (
            "KIPEKEE_ALLOWED_ORIGINS",
            "allowed_origins",
            |c| c.allowed_origins.to_strings().join(","),
            true,
        ),
        (
            "KIPEKEE_TRUSTED_PROXIES",
            "trusted_proxies",
            |c| c.trusted_proxies.to_string(),
            true,
        ),
        ("KIPEKEE_LOCALE", "locale", |c| c.locale.to_string(), true),
        (
            "KIPEKEE_BUSINESS_ADDRESS",
            "business_address",
            |c| opt(c.business_address.as_ref()),
            false,
        ),
        (
            "KIPEKEE_BUSINESS_PHONE",
            "business_phone",
            |c| opt(c.business_phone.as_ref()),
            true,
        ),
        (
            "KIPEKEE_BUSINESS_WEBSITE",
            "business_website",
            |c| {
                c.business_website
                    .as_ref()
                    .map(|w| w.href().to_string())
                    .unwrap_or_default()
            },
            true,
        ),
        (
            "KIPEKEE_LOG_FORMAT",
            "log_format",
            |c| format!("{:?}", c.log_format),
            true,
        ),
    ];

    fn secret(s: Option<&crate::model::Secret>) -> String {
        s.map(|s| s.expose().to_string()).unwrap_or_default()
    }

    fn path(p: Option<&std::path::PathBuf>) -> String {
        p.map(|p| p.display().to_string()).unwrap_or_default()
    }

    fn opt(v: Option<&impl ToString>) -> String {
        v.map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn every_text_setting_reads_digits_booleans_floats_and_brackets_as_text() {
        let token = "00000000000000000000000000000000";
        for value in ["0000", "true", "1e5", "[x", token, "false", "-1", "{a=1}"] {
            for &(env, key, read, validated) in TEXT_SETTINGS {
                figment::Jail::expect_with(|jail| {
                    jail.set_env(env, value);
                    match AppConfig::from_figment(&figment()) {
                        Ok(c) => {
                            assert!(!validated, "{env}={value} accepted");
                            assert_eq!(read(&c), value, "{env}");
                        }
                        Err(e) => {
                            let e = e.to_string();
                            assert!(validated, "{env}={value}: {e}");
                            assert!(!e.contains("invalid type"), "{env}={value}: {e}");
                            assert!(!e.contains('\n'), "{env}={value}: {e}");
                            let lower = e.to_lowercase();
                            assert!(
                                lower.contains(&env.to_lowercase()) || lower.contains(key),
                                "{env}={value}: {e}"
                            );
                        }
                    }
                    Ok(())
                });
            }
        }
    }

    /// Each of Rocket's text settings reaches Rocket as the text it is; Rocket may still refuse
    /// it (a secret key must be 256 bits), naming the key, never for its type.
    #[test]
    #[allow(clippy::result_large_err)]
    fn every_rocket_text_setting_reads_digits_booleans_floats_and_brackets_as_text() {
        for value in ["0000", "true", "1e5", "[x"] {
            for key in super::ROCKET_TEXT {
                let env = format!("ROCKET_{}", key.to_uppercase());
                figment::Jail::expect_with(|jail| {
                    jail.set_env(&env, value);
                    let f = figment();
                    let found = f.find_value(key).unwrap();
                    assert_eq!(found.as_str(), Some(value), "{env}={value}: {found:?}");
                    if let Err(e) = f.extract::<rocket::Config>() {
                        let e = e.to_string();
                        assert!(!e.contains("invalid type"), "{env}={value}: {e}");
                        let named = key.rsplit('.').next().unwrap();
                        assert!(e.to_lowercase().contains(named), "{env}={value}: {e}");
                    }
                    Ok(())
                });
            }
        }
        figment::Jail::expect_with(|jail| {
            jail.set_env("ROCKET_IDENT", "0000");
            jail.set_env("ROCKET_IP_HEADER", "0000");
            let c: rocket::Config = figment().extract().unwrap();
            assert_eq!(c.ident.as_str(), Some("0000"));
            assert_eq!(c.ip_header.as_ref().map(|h| h.as_str()), Some("0000"));
            jail.set_env("ROCKET_IDENT", "false");
            jail.set_env("ROCKET_IP_HEADER", "false");
            jail.set_env("ROCKET_PORT", "8123");
            let c: rocket::Config = figment().extract().unwrap();
            assert_eq!(c.ident.as_str(), None, "false still turns the ident off");
            assert_eq!(c.ip_header, None);
            assert_eq!(c.port, 8123, "numbers are still numbers");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn numbers_and_switches_still_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KIPEKEE_RATE_LIMIT", "2");
            jail.set_env("KIPEKEE_MAILTRAP_SEED_MODE", "true");
            jail.set_env("KIPEKEE_FORMS", "{contact={enabled=false}}");
            jail.set_env("KIPEKEE_FORMS.QUOTE.TITLE", "1e5");
            let c = AppConfig::from_figment(&figment()).unwrap();
            assert_eq!(c.rate_limit, 2);
            assert!(c.mailtrap_seed_mode);
            assert!(!c.forms["contact"].enabled);
            assert_eq!(c.forms["quote"].title, "1e5");
            jail.set_env("KIPEKEE_RATE_LIMIT", "ten");
            let e = AppConfig::from_figment(&figment()).unwrap_err().to_string();
            assert!(e.contains("RATE_LIMIT") && e.contains("KIPEKEE_"), "{e}");
            Ok(())
        });
    }
}
