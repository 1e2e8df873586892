//! The command line: what each subcommand does, on top of the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, AppConfig};

#[derive(Parser)]
#[command(
    name = "kipekee",
    version,
    about = "Self-hosted form-to-email appliance: public forms, an embedded store, Mailtrap delivery",
    long_about = "Self-hosted form-to-email appliance.\n\nWith no command, serves the public forms \
(default http://127.0.0.1:8000, data in ./data). Configuration comes from built-in defaults, \
then Rocket.toml (or the file named by ROCKET_CONFIG), then the environment: MAILTRAP_API_TOKEN, \
DEFAULT_FROM_EMAIL, ADMIN_EMAIL, JOBS_EMAIL, NEWSLETTER_EMAIL, MAILTRAP_API_URL, KIPEKEE_DATA_DIR, \
KIPEKEE_PUBLIC_URL, KIPEKEE_ALLOWED_ORIGINS, ROCKET_ADDRESS, ROCKET_PORT, ..."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the forms (the default).
    Serve,
    /// Validate the configuration and print it with secrets masked; non-zero on error.
    Check,
}

/// `kipekee check`: the effective configuration, masked, and every warning.
pub fn check() -> ExitCode {
    let figment = config::figment();
    match AppConfig::from_figment(&figment) {
        Ok(config) => {
            let rocket: rocket::Config = figment.extract().unwrap_or_default();
            println!("address = {}:{}", rocket.address, rocket.port);
            match serde_json::to_string_pretty(&config) {
                Ok(text) => println!("{text}"),
                Err(e) => println!("(could not print the configuration: {e})"),
            }
            for warning in config.warnings() {
                println!("warning: {warning}");
            }
            println!("configuration OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
