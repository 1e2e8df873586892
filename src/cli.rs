//! The command line: what each subcommand does, on top of the library. Results go to stdout,
//! problems to stderr as `error: …` lines with a non-zero exit. A store held by the running
//! server (sled allows one process) is one such line, never a panic.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use figment::providers::Serialized;
use figment::Figment;

use crate::config::{self, AppConfig, ConfigError};

use crate::export::{self, ExportError};
use crate::mail::{Email, Mailtrap};
use crate::model::{EmailAddress, EmailStatus, Failure, FailureKind, Mailbox, Outcome};
use crate::store::backup::{BackupError, BackupStats};
use crate::store::{private, Store, StoreError};

/// `0.1.0 (commit 1a2b3c4)`; `build.rs` finds the commit (`unknown` outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KIPEKEE_GIT_COMMIT"),
    ")"
);

/// Longest password `hash-password` reads from a pipe.
const MAX_PASSWORD_BYTES: u64 = 4096;

#[derive(Parser)]
#[command(
    name = "kipekee",
    version = VERSION,
    about = "Self-hosted form-to-email appliance: public forms, an embedded store, Mailtrap delivery",
    long_about = "Self-hosted form-to-email appliance.\n\nWith no command, serves the public forms \
(default http://127.0.0.1:8000, data in ./data). Configuration comes from built-in defaults, \
then Rocket.toml (or the file named by ROCKET_CONFIG), then the environment: MAILTRAP_API_TOKEN, \
DEFAULT_FROM_EMAIL, ADMIN_EMAIL, JOBS_EMAIL, NEWSLETTER_EMAIL, MAILTRAP_API_URL, KIPEKEE_DATA_DIR, \
KIPEKEE_PUBLIC_URL, KIPEKEE_ALLOWED_ORIGINS, ROCKET_ADDRESS, ROCKET_PORT, ...\n\nexport, backup \
and restore open the store, which only one process may hold: stop the server first (the admin \
panel offers export and backup while it runs)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the forms (the default).
    Serve,
    /// Read a password (from stdin, or a prompt without echo) and print its argon2id PHC
    /// string, the value of KIPEKEE_ADMIN_PASSWORD_HASH.
    HashPassword,
    /// Validate the configuration and print it with secrets masked; non-zero naming each problem.
    Check,
    /// Send one test email through Mailtrap with the current configuration.
    SendTest {
        /// Recipient of the test email.
        #[arg(long, value_name = "ADDR", value_parser = EmailAddress::parse)]
        to: EmailAddress,
    },
    /// Write stored submissions to stdout, oldest first; spam is left out.
    Export {
        /// Only this form's submissions, with one column per field of the form.
        #[arg(long, value_name = "SLUG")]
        form: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Include submissions made with the admin panel's "test this form".
        #[arg(long)]
        include_test: bool,
    },
    /// Write a complete backup of the store to FILE (`-`: stdout). The server must be stopped.
    Backup { file: PathBuf },
    /// Replace the store with the backup in FILE (`-`: stdin). The server must be stopped.
    Restore {
        file: PathBuf,
        /// Replace a store that already holds submissions or subscribers.
        #[arg(long)]
        force: bool,
    },
    /// Print the manual page (roff, for `man -l -`), generated from this command line; the
    /// packages ship it as kipekee(1).
    #[command(hide = true)]
    Man,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// One row per submission, formulas defused, for spreadsheets.
    Csv,
    /// An array of full submission records.
    Json,
}

/// Why a command failed; shown as one `error: …` line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl From<figment::Error> for CliError {
    fn from(e: figment::Error) -> Self {
        CliError::Config(e.into())
    }
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::File {
        path: path.display().to_string(),
        source,
    }
}

/// Runs one command to its exit code.
pub fn run(command: Command) -> ExitCode {
    private::owner_only_umask();
    let result = match command {
        Command::Serve => return serve(),
        Command::HashPassword => hash_password(),
        Command::Check => check(),
        Command::SendTest { to } => send_test(to),
        Command::Export {
            form,
            format,
            include_test,
        } => export(form.as_deref(), format, include_test),
        Command::Backup { file } => backup(&file),
        Command::Restore { file, force } => restore(&file, force),
        Command::Man => man(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> ExitCode {
    let rocket = match crate::rocket(config::figment()) {
        Ok(rocket) => rocket,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SIGTERM or Ctrl-C: requests in flight finish (their Mailtrap calls included), the
    // store is flushed, exit 0; see `shutdown`.
    match rocket::execute(crate::shutdown::serve(rocket)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `kipekee man`: the manual page in roff, from the clap definition above.
fn man() -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::Failed(format!("writing the manual page: {e}")))
}

/// `kipekee hash-password`: the argon2id PHC string of a password read from a pipe or typed.
fn hash_password() -> Result<(), CliError> {
    let stdin = std::io::stdin();
    let typed = stdin.is_terminal();
    let password = if typed {
        prompt_password()?
    } else {
        read_password(stdin.lock())?
    };
    if password.is_empty() {
        return Err(CliError::Failed("the password is empty".into()));
    }
    println!("{}", phc_hash(&password)?);
    if typed {
        eprintln!("Set KIPEKEE_ADMIN_PASSWORD_HASH to this value (in single quotes in a shell: it contains `$`) and restart kipekee.");
    }
    Ok(())
}

fn prompt_password() -> Result<String, CliError> {
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::Failed(format!("reading the password: {e}")))
    };
    let password = ask("Admin password: ")?;
    if !password.is_empty() && ask("Repeat it: ")? != password {
        return Err(CliError::Failed("the two passwords differ".into()));
    }
    Ok(password)
}

/// A piped password: one line, its line ending dropped.
fn read_password(input: impl Read) -> Result<String, CliError> {
    let mut text = String::new();
    input
        .take(MAX_PASSWORD_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::Failed(format!("reading the password from stdin: {e}")))?;
    if text.len() as u64 > MAX_PASSWORD_BYTES {
        return Err(CliError::Failed(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\n') {
        return Err(CliError::Failed(
            "the password must be one line (got several on stdin)".into(),
        ));
    }
    Ok(line.to_string())
}

/// argon2id with the crate's default (OWASP-recommended) parameters and a random salt.
pub fn phc_hash(password: &str) -> Result<String, CliError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CliError::Failed(format!("hashing the password: {e}")))
}

/// `kipekee check`: every problem of the configuration, or the configuration with secrets
/// masked and its warnings.
fn check() -> Result<(), CliError> {
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
fn upload_limit_warning(max_upload_bytes: u64) -> Option<String> {
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

fn print_config(app: &AppConfig, rocket: &rocket::Config) {
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
fn every_problem<T>(
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
fn set_by(figment: &Figment, key: &str) -> String {
    let Some(metadata) = figment.find_metadata(key) else {
        return String::new();
    };
    let keys: Vec<&str> = key.split('.').collect();
    let (name, source) = key_and_source(metadata, figment.profile(), &keys);
    format!(" (set by {name} in {source})")
}

/// A figment error as one line, naming the key as the user wrote it (`ROCKET_PORT`, not
/// figment's `PORT` in "`ROCKET_` environment variable(s)").
fn describe(e: &figment::Error) -> String {
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

fn key_and_source<K: AsRef<str>>(
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

fn password_hash_problem(app: &AppConfig) -> Option<String> {
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

/// `kipekee send-test --to ADDR`: one email through Mailtrap, its outcome on stdout.
fn send_test(to: EmailAddress) -> Result<(), CliError> {
    let figment = config::figment();
    let app = AppConfig::from_figment(&figment)?;
    let rocket: rocket::Config = figment.extract()?;
    let email = test_email(&app, &app.public_base(&rocket), to);
    let outcome = Mailtrap::new(&app)
        .send_batch(std::slice::from_ref(&email))
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            Outcome::failed(Failure::new(
                FailureKind::Internal,
                "Mailtrap client returned no outcome",
            ))
        });
    let status = format!("{:?}", outcome.status).to_lowercase();
    println!(
        "to = {}",
        email.to.as_ref().map(|m| m.to_string()).unwrap_or_default()
    );
    println!("status = {status}");
    if let Some(code) = outcome.http_status {
        println!("http_status = {code}");
    }
    if !outcome.message_ids.is_empty() {
        println!("message_ids = {}", outcome.message_ids.join(", "));
    }
    println!("duration_ms = {}", outcome.duration_ms);
    if outcome.status == EmailStatus::Sent {
        return Ok(());
    }
    let why = outcome.error.unwrap_or_default();
    let hint = outcome
        .failure
        .map(|kind| format!(" — {}", kind.advice()))
        .unwrap_or_default();
    Err(CliError::Failed(format!(
        "the test email was {status}: {why}{hint}"
    )))
}

fn test_email(app: &AppConfig, public_base: &str, to: EmailAddress) -> Email {
    let from = app.default_from_email.email.as_str();
    let text = format!(
        "This is a test email from Kipekee at {public_base}.\n\nIt reached you, so delivery \
         through Mailtrap works: the API token is accepted and the sender {from} is on a \
         verified domain.\n"
    );
    let html = format!(
        "<p>This is a test email from Kipekee at {}.</p><p>It reached you, so delivery through \
         Mailtrap works: the API token is accepted and the sender {} is on a verified domain.</p>",
        tera::escape_html(public_base),
        tera::escape_html(from)
    );
    Email {
        kind: "test".into(),
        to_visitor: false,
        category: "test".into(),
        to: Some(Mailbox {
            name: None,
            email: to,
        }),
        reply_to: None,
        subject: "Kipekee test email".into(),
        text,
        html,
        headers: Default::default(),
        custom_variables: Default::default(),
        attachments: Vec::new(),
    }
}

/// Runs `f` on the store of a data directory that must already exist; see `with_store`.
fn with_existing_store<T>(
    app: &AppConfig,
    f: impl FnOnce(Store) -> Result<T, CliError>,
) -> Result<T, CliError> {
    if !app.data_dir.is_dir() {
        return Err(CliError::Failed(format!(
            "there is no store at {} (set KIPEKEE_DATA_DIR to the server's data directory)",
            app.data_dir.display()
        )));
    }
    with_store(&app.data_dir, app.cache_bytes, f)
}

/// Opens the store, runs `f` (which drops it), then hands whatever sled wrote in the data
/// directory back to the directory's owner: root running a command against a service's
/// directory would otherwise leave root-owned files there (sled writes a snapshot file even
/// on a read).
fn with_store<T>(
    dir: &Path,
    cache_bytes: u64,
    f: impl FnOnce(Store) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let result = f(Store::open_with_cache(dir, cache_bytes)?);
    #[cfg(unix)]
    same_owner_as(dir, dir, 3);
    result
}

/// Gives every entry under `root` (to `depth` levels) the owner of `dir`. Best effort: only
/// root may change owners, and for anyone else nothing differs.
#[cfg(unix)]
fn same_owner_as(dir: &Path, root: &Path, depth: u8) {
    use std::os::unix::fs::MetadataExt;
    let (Ok(owner), Ok(entries)) = (std::fs::metadata(dir), std::fs::read_dir(root)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != owner.uid() || meta.gid() != owner.gid() {
            let _ = std::os::unix::fs::lchown(&path, Some(owner.uid()), Some(owner.gid()));
        }
        if meta.is_dir() && depth > 1 {
            same_owner_as(dir, &path, depth - 1);
        }
    }
}

/// `kipekee export`: CSV or JSON on stdout; a reader that stops early is not an error.
fn export(form: Option<&str>, format: Format, include_test: bool) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    let filter = crate::store::SubmissionFilter {
        form: form.map(str::to_string),
        test: include_test,
        ..Default::default()
    };
    with_existing_store(&app, |store| {
        let out = BufWriter::new(std::io::stdout().lock());
        let written = match format {
            Format::Csv => export::csv(&store, &app.forms, &filter, &app.timezone, out),
            Format::Json => export::json(&store, &app.forms, &filter, out),
        };
        match written {
            Err(e) if e.is_broken_pipe() => Ok(()),
            other => Ok(other?),
        }
    })
}

/// `kipekee backup FILE`: written beside FILE, synced, then renamed over it, so a failed
/// backup never replaces a good one. Created readable by its owner only: it holds visitors'
/// data and the generated secrets.
fn backup(file: &Path) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    with_existing_store(&app, |store| {
        if file == Path::new("-") {
            let stats = store.backup_to(BufWriter::new(std::io::stdout().lock()))?;
            eprintln!("backed up {}", summary(&stats));
            return Ok(());
        }
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        let partial = file.with_file_name(format!(".{}.partial", name.unwrap_or_default()));
        let written = write_backup(&store, &partial).and_then(|stats| {
            std::fs::rename(&partial, file).map_err(file_error(file))?;
            Ok(stats)
        });
        match written {
            Ok(stats) => {
                println!("backed up {} to {}", summary(&stats), file.display());
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    })
}

fn write_backup(store: &Store, path: &Path) -> Result<BackupStats, CliError> {
    // A mode applies only to a file being created: a stale partial (any mode, any owner
    // who could write the directory) is removed, never reused.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_error(path)(e)),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(file_error(path))?;
    let stats = store.backup_to(BufWriter::new(&file))?;
    file.sync_all().map_err(file_error(path))?;
    Ok(stats)
}

/// `kipekee restore FILE`: the store is opened first (held by the server: one line), and the
/// file is read through once, every record decoded, before the store is touched. Stdin is
/// first copied to a private temporary file so it can be checked the same way.
fn restore(file: &Path, force: bool) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    let dir = &app.data_dir;
    let created = private::create_dir(dir).map_err(file_error(dir))?;
    let spool = if file == Path::new("-") {
        Some(spool_stdin()?)
    } else {
        None
    };
    let source = spool.as_deref().unwrap_or(file);
    let stats = with_store(dir, app.cache_bytes, |store| {
        store.check_restorable(force)?;
        let open = || {
            File::open(source)
                .map(BufReader::new)
                .map_err(file_error(source))
        };
        Store::verify_backup(open()?)?;
        Ok(store.restore_into(open()?, force)?)
    });
    if let Some(spool) = &spool {
        let _ = std::fs::remove_file(spool);
    }
    let stats = stats?;
    if created {
        private::restrict_contents(dir).map_err(file_error(dir))?;
    }
    println!("restored {} into {}", summary(&stats), dir.display());
    Ok(())
}

/// Copies stdin to a new 0600 file in the temporary directory; its path.
fn spool_stdin() -> Result<PathBuf, CliError> {
    let path = std::env::temp_dir().join(format!(
        ".kipekee-restore-{}-{:016x}.partial",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let copied = options.open(&path).and_then(|mut out| {
        std::io::copy(&mut std::io::stdin().lock(), &mut out)?;
        out.sync_all()
    });
    match copied {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(file_error(&path)(e))
        }
    }
}

fn summary(stats: &BackupStats) -> String {
    format!(
        "{} submission(s), {} file(s), {} delivery attempt(s), {} subscriber(s) \
         ({} entries in {} trees, schema version {})",
        stats.count("submissions"),
        stats.count("files"),
        stats.count("deliveries"),
        stats.count("subscribers"),
        stats.entries(),
        stats.trees.len(),
        stats.schema_version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piped_password_loses_its_line_ending_only() {
        assert_eq!(read_password(&b"s3cret pass\n"[..]).unwrap(), "s3cret pass");
        assert_eq!(read_password(&b"s3cret\r\n"[..]).unwrap(), "s3cret");
        assert_eq!(read_password(&b" x "[..]).unwrap(), " x ");
        assert_eq!(read_password(&b"\n"[..]).unwrap(), "");
        assert!(read_password(&b"one\ntwo\n"[..]).is_err());
        assert!(read_password(&[b'a'; 5000][..]).is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn check_finds_every_bad_key_not_only_the_first() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ADMIN_EMAIL", "not-an-address");
            jail.set_env("JOBS_EMAIL", "also bad");
            jail.set_env("KIPEKEE_PUBLIC_URL", "shop.example");
            jail.set_env("ROCKET_PORT", "eighty");
            let figment = config::figment();
            let defaults = Figment::from(Serialized::defaults(AppConfig::default()));
            let (app, problems) = every_problem(&figment, &defaults, AppConfig::from_figment);
            assert!(app.is_some(), "{problems:?}");
            assert_eq!(problems.len(), 3, "{problems:#?}");
            for name in ["ADMIN_EMAIL", "JOBS_EMAIL", "KIPEKEE_PUBLIC_URL"] {
                assert!(
                    problems.iter().any(|p| p.contains(name)),
                    "{name}: {problems:#?}"
                );
            }
            let defaults = Figment::from(rocket::Config::default());
            let (_, problems) = every_problem(&figment, &defaults, |f| {
                f.extract::<rocket::Config>().map_err(ConfigError::from)
            });
            assert_eq!(problems.len(), 1, "{problems:#?}");
            assert!(problems[0].contains("ROCKET_PORT"), "{problems:#?}");
            Ok(())
        });
    }

    #[test]
    fn an_upload_limit_that_makes_a_message_over_mailtrap_limit_is_a_warning() {
        assert_eq!(
            upload_limit_warning(5 * 1024 * 1024),
            None,
            "the default fits"
        );
        let fits = (10_000_000 - crate::mail::MESSAGE_RESERVE) / 4 * 3;
        assert_eq!(upload_limit_warning(fits), None);
        let warning = upload_limit_warning(fits + 1).expect("one byte more is over");
        assert!(warning.contains("KIPEKEE_MAX_UPLOAD_BYTES"), "{warning}");
        assert!(warning.contains("10000000"), "{warning}");
        assert!(upload_limit_warning(8 * 1024 * 1024).is_some());
    }

    #[test]
    fn a_hash_that_is_not_argon2_is_a_problem() {
        let mut app = AppConfig::default();
        assert!(password_hash_problem(&app).is_none());
        app.admin_password_hash = Some(crate::model::Secret::new("hunter2"));
        assert!(password_hash_problem(&app).is_some());
        app.admin_password_hash = Some(crate::model::Secret::new(phc_hash("pw").unwrap()));
        assert!(password_hash_problem(&app).is_none());
    }
}
