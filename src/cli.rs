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
use crate::model::{
    DeliveryState, EmailAddress, EmailStatus, Failure, FailureKind, Mailbox, Outcome,
};
use crate::store::backup::{BackupError, BackupStats};
use crate::store::{private, Store, StoreError};

mod check;
mod data;

use check::check;
#[cfg(test)]
use check::{every_problem, password_hash_problem, upload_limit_warning};
use data::{backup, export, restore};

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
    let status = DeliveryState::from(outcome.status);
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
        .map(|kind| format!(" — {}", crate::i18n::english().text(kind.advice_key())))
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

#[cfg(test)]
mod tests;
