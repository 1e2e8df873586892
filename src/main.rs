//! `kipekee`: parse the command line, set up logging, dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use kipekee::cli::{self, Cli, Command};
use kipekee::config::LogFormat;

fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    init_logs(matches!(command, Command::Serve));
    cli::run(command)
}

/// Installed before Rocket is built: Rocket then sends its own log records through it.
/// The server logs to stdout (the journal under systemd); the other commands keep stdout
/// for their output (an export, a PHC string) and log only warnings, to stderr.
fn init_logs(serving: bool) {
    let default_filter = if serving {
        "info,rocket=warn,_=warn"
    } else {
        "warn"
    };
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = kipekee::logging::filter(rust_log.as_deref(), default_filter);
    // A bad value is reported by `check` and by the server's start; logs fall back to text.
    let format = kipekee::config::figment()
        .extract_inner::<LogFormat>("log_format")
        .unwrap_or_default();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match (format, serving) {
        (LogFormat::Json, true) => logs.json().flatten_event(true).init(),
        (LogFormat::Json, false) => logs.json().with_writer(std::io::stderr).init(),
        (LogFormat::Text, true) => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        (LogFormat::Text, false) => logs
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init(),
    }
}
