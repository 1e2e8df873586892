//! `kipekee`: parse the command line, set up logging, dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use kipekee::cli::{self, Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    // Installed before Rocket is built: Rocket then sends its own log records through it.
    // The other commands keep stdout for their output (an export, a PHC string) and log
    // only warnings, to stderr.
    let serving = matches!(command, Command::Serve);
    let default_filter = if serving {
        "info,rocket=warn,_=warn"
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if serving {
        logs.with_ansi(std::io::stdout().is_terminal()).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
    cli::run(command)
}
