//! `kipekee check`: every problem of the configuration at once, each naming its key and
//! where it was set, then what the appliance will run with.

use super::*;

/// `kipekee check`: every problem of the configuration, or the configuration with secrets
/// masked and its warnings.
pub(super) fn check() -> Result<(), CliError> {
    let figment = config::figment();
    let app_defaults = Figment::from(Serialized::defaults(AppConfig::default()));
    let (app, mut problems) = every_problem(&figment, &app_defaults, AppConfig::from_figment);
    let rocket_defaults = Figment::from(rocket::Config::default());
    let (rocket, rocket_problems) = every_problem(&figment, &rocket_defaults, |f| {
        f.extract::<rocket::Config>().map_err(ConfigError::from)
    });
    let rocket = rocket.map(|r| rocket::Config {
        profile: figment.profile().clone(),
        ..r
    });
    problems.extend(rocket_problems);
    if let Some(app) = &app {
        problems.extend(password_hash_problem(app));
        if app.data_dir.exists() && !app.data_dir.is_dir() {
            problems.push(format!(
                "configuration: data_dir: {} is not a directory",
                app.data_dir.display()
            ));
        }
    }
    let (Some(app), Some(rocket), true) = (app, rocket, problems.is_empty()) else {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        return Err(CliError::Failed(format!(
            "the configuration has {} problem(s)",
            problems.len()
        )));
    };
    print_config(&app, &rocket);
    Ok(())
}

/// A warning when an upload the limit allows makes an owner notification over Mailtrap's
/// 10,000,000 bytes (the file base64-encoded plus the rest of the message,
/// `mail::largest_message`): such an email goes without its file.
pub(super) fn upload_limit_warning(max_upload_bytes: u64) -> Option<String> {
    let largest = crate::mail::largest_message(max_upload_bytes);
    let limit = crate::mail::MAX_MESSAGE_BYTES as u64;
    (largest > limit).then(|| {
        let fits = (limit - crate::mail::MESSAGE_RESERVE) / 4 * 3;
        format!(
            "KIPEKEE_MAX_UPLOAD_BYTES={max_upload_bytes} allows an email of up to {largest} bytes, over Mailtrap's limit of {limit}: \
             such a file is not attached (the owner's email says it is in the admin panel); {fits} bytes or less always fit"
        )
    })
}

pub(super) fn print_config(app: &AppConfig, rocket: &rocket::Config) {
    println!("kipekee {VERSION}");
    println!("profile = {}", rocket.profile);
    println!("address = {}:{}", rocket.address, rocket.port);
    println!("public_url = {}", app.public_base(rocket));
    match &rocket.ip_header {
        Some(header) => println!("ip_header = {header} (client address from the proxy)"),
        None => println!("ip_header = none (no client address header trusted)"),
    }
    let key = if rocket.secret_key.is_zero() {
        "generated on first start, kept in the store"
    } else {
        "***"
    };
    println!("secret_key = {key}");
    match serde_json::to_string_pretty(app) {
        Ok(text) => println!("{text}"),
        Err(e) => println!("(could not print the configuration: {e})"),
    }
    for warning in app
        .warnings()
        .into_iter()
        .chain(upload_limit_warning(app.max_upload_bytes))
    {
        println!("warning: {warning}");
    }
    for wide in private::wide_modes(&app.data_dir) {
        println!("warning: the data directory should be the owner's alone: {wide} (chmod 700 the directory, 600 its files)");
    }
    println!("configuration OK");
}

/// Extracts with `extract`; after each failure records it, puts the offending top-level key
/// back to its default and tries again, so that one run names every problem.
pub(super) fn every_problem<T>(
    figment: &Figment,
    defaults: &Figment,
    extract: impl Fn(&Figment) -> Result<T, ConfigError>,
) -> (Option<T>, Vec<String>) {
    let mut figment = figment.clone();
    let mut problems: Vec<String> = Vec::new();
    loop {
        let found: Vec<(Option<String>, String)> = match extract(&figment) {
            Ok(value) => return (Some(value), problems),
            Err(ConfigError::Invalid(e)) => e
                .into_iter()
                .map(|e| (e.path.first().cloned(), describe(&e)))
                .collect(),
            Err(ConfigError::Value { key, message }) => {
                let top = key.split('.').next().unwrap_or(&key).to_string();
                let message = format!("configuration: {key}: {message}{}", set_by(&figment, &key));
                vec![(Some(top), message)]
            }
        };
        let mut progressed = false;
        for (key, message) in found {
            if problems.contains(&message) {
                continue;
            }
            problems.push(message);
            if let Some(key) = key {
                let default = defaults
                    .find_value(&key)
                    .unwrap_or_else(|_| figment::value::Value::from(String::new()));
                figment = figment.merge(Serialized::global(&key, default));
                progressed = true;
            }
        }
        if !progressed {
            return (None, problems);
        }
    }
}

/// ` (set by KIPEKEE_PUBLIC_URL in environment variable(s))`, when figment knows.
pub(super) fn set_by(figment: &Figment, key: &str) -> String {
    let Some(metadata) = figment.find_metadata(key) else {
        return String::new();
    };
    let keys: Vec<&str> = key.split('.').collect();
    let (name, source) = key_and_source(metadata, figment.profile(), &keys);
    format!(" (set by {name} in {source})")
}

/// A figment error as one line, naming the key as the user wrote it (`ROCKET_PORT`, not
/// figment's `PORT` in "`ROCKET_` environment variable(s)").
pub(super) fn describe(e: &figment::Error) -> String {
    let mut line = format!("configuration: {}", e.kind);
    if let Some(metadata) = &e.metadata {
        let profile = e.profile.clone().unwrap_or_default();
        let (name, source) = key_and_source(metadata, &profile, &e.path);
        if !e.path.is_empty() {
            line.push_str(&format!(" for key {name:?}"));
        }
        line.push_str(&format!(" in {source}"));
    }
    line
}

pub(super) fn key_and_source<K: AsRef<str>>(
    metadata: &figment::Metadata,
    profile: &figment::Profile,
    keys: &[K],
) -> (String, String) {
    let name = metadata.interpolate(profile, keys);
    // `Env::prefixed` names itself "`PREFIX_` environment variable(s)" and drops the prefix.
    let prefixed = metadata
        .name
        .strip_prefix('`')
        .and_then(|rest| rest.split_once("` "));
    let (name, kind) = match prefixed {
        Some((prefix, kind)) => (format!("{prefix}{name}"), kind.to_string()),
        None => (name, metadata.name.to_string()),
    };
    let source = match &metadata.source {
        Some(source) => format!("{source} {kind}"),
        None => kind,
    };
    (name, source)
}

pub(super) fn password_hash_problem(app: &AppConfig) -> Option<String> {
    let hash = app.admin_password_hash.as_ref()?;
    match PasswordHash::new(hash.expose()) {
        Ok(phc) if phc.algorithm.as_str().starts_with("argon2") => None,
        _ => Some(
            "configuration: KIPEKEE_ADMIN_PASSWORD_HASH is not an argon2 PHC string \
             ($argon2id$v=19$…); make one with `kipekee hash-password`"
                .into(),
        ),
    }
}
