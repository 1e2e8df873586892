//! `kipekee`: parse the command line, set up logging, dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use kipekee::cli::{self, Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Installed before Rocket is built: Rocket then sends its own log records through it.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rocket=warn,_=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Check => cli::check(),
    }
}

fn serve() -> ExitCode {
    let rocket = match kipekee::rocket(kipekee::config::figment()) {
        Ok(rocket) => rocket,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rocket::execute(rocket.launch()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", kipekee::web::launch_error(&e));
            ExitCode::FAILURE
        }
    }
}
