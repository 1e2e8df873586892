//! Stopping on SIGTERM (`systemctl stop`) or Ctrl-C. kipekee handles the signal itself
//! (Rocket's own handling is switched off): it keeps serving until the requests in flight
//! have answered, their Mailtrap calls included (at most the longest send the app allows),
//! then asks Rocket to shut down with its short default grace, waits for background tasks,
//! flushes the store and exits 0. An idle server stops at once. Nothing on this path prints a
//! configuration: Rocket's errors carry the whole orbiting instance (figment, token, cookie
//! key, admin hash) in their `Debug` form, so only their short `Display` or our own words
//! reach the log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use figment::Figment;
use rocket::error::ErrorKind;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::tokio::task::JoinHandle;
use rocket::{Build, Data, Orbit, Phase, Request, Response, Rocket};

use crate::config::AppConfig;
use crate::store::Store;

/// Seconds kept on top of the longest Mailtrap call for recording its outcome and writing
/// the visitor's answer.
pub const MARGIN_SECS: u64 = 2;

/// Figment's name for Rocket's built-in defaults: a `shutdown.grace` from there was not chosen
/// by the owner.
const ROCKET_DEFAULTS: &str = "rocket::Config::default()";

/// The longest one Mailtrap exchange may take, in seconds: the budget of the largest message
/// Mailtrap takes ([`crate::mail::longest_send`]; 50 s with the default 10 s base).
pub fn longest_send_secs(config: &AppConfig) -> u64 {
    let base = Duration::from_secs(config.mailtrap_timeout_secs.max(1));
    crate::mail::longest_send(base).as_secs()
}

/// How long a stop waits for requests in flight before asking Rocket to shut down: the
/// longest send plus [`MARGIN_SECS`] (52 s with the default 10 s base). Rocket's grace (2 s),
/// mercy (3 s) and one second of its own come on top: the unit's `TimeoutStopSec` is 60.
pub fn drain_needed_secs(config: &AppConfig) -> u64 {
    longest_send_secs(config) + MARGIN_SECS
}

/// Switches Rocket's signal handling off ([`serve`] handles SIGTERM and SIGINT) and sizes
/// the wait for requests in flight: [`drain_needed_secs`], or the owner's `shutdown.grace`
/// (`ROCKET_SHUTDOWN`, `Rocket.toml`) if one is set; one shorter than the longest send is
/// kept but returned as a warning, since a stop during a slow send then cuts it off.
pub fn plan(figment: Figment, config: &AppConfig) -> (Figment, Arc<StopState>, Option<String>) {
    let needed = drain_needed_secs(config);
    let chosen = figment
        .find_metadata("shutdown.grace")
        .is_some_and(|m| m.name != ROCKET_DEFAULTS);
    let grace: u64 = figment.extract_inner("shutdown.grace").unwrap_or(0);
    let drain = if chosen { grace } else { needed };
    let warning = (drain < needed).then(|| {
        format!(
            "shutdown grace is {grace} s but a Mailtrap call may take {} s: a stop during a \
             slow send cuts it off (leave ROCKET_SHUTDOWN's grace unset to size it)",
            longest_send_secs(config)
        )
    });
    let figment = figment
        .merge(("shutdown.ctrlc", false))
        .merge(("shutdown.signals", Vec::<String>::new()));
    let state = StopState {
        drain: Duration::from_secs(drain),
        in_flight: AtomicUsize::new(0),
    };
    (figment, Arc::new(state), warning)
}

/// The requests in flight (counted by [`InFlight`]) and how long a stop waits for them.
pub struct StopState {
    drain: Duration,
    in_flight: AtomicUsize,
}

impl StopState {
    /// Waits for SIGTERM or SIGINT, then for the requests in flight (at most the drain
    /// time), then notifies Rocket's shutdown.
    async fn stop_on_signal(self: Arc<Self>, shutdown: rocket::Shutdown) {
        use rocket::tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT: only SIGKILL stops the server");
            return;
        };
        let name = rocket::tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        let requests = self.in_flight.load(Ordering::SeqCst);
        tracing::info!(
            requests,
            "{name}: stopping once the requests in flight have answered"
        );
        let deadline = rocket::tokio::time::Instant::now() + self.drain;
        while self.in_flight.load(Ordering::SeqCst) > 0
            && rocket::tokio::time::Instant::now() < deadline
        {
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.notify();
    }
}

/// Counts requests from their arrival to their response.
pub struct InFlight(pub Arc<StopState>);

#[rocket::async_trait]
impl Fairing for InFlight {
    fn info(&self) -> Info {
        Info {
            name: "requests in flight",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, _: &mut Request<'_>, _: &mut Data<'_>) {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, _: &mut Response<'r>) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Tasks that run beside the server (the retry queue); a stop waits for their current
/// round before the store is flushed.
#[derive(Default)]
pub struct Background {
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Background {
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = rocket::tokio::spawn(task);
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(handle);
        }
    }

    /// Waits up to `limit` for every task to end; returns how many did not.
    async fn join(&self, limit: Duration) -> usize {
        let tasks: Vec<JoinHandle<()>> = match self.tasks.lock() {
            Ok(mut tasks) => tasks.drain(..).collect(),
            Err(_) => return 0,
        };
        let deadline = rocket::tokio::time::Instant::now() + limit;
        let mut running = 0;
        for task in tasks {
            if rocket::tokio::time::timeout_at(deadline, task)
                .await
                .is_err()
            {
                running += 1;
            }
        }
        running
    }
}

/// Why serving ended badly; each variant is one line without any configuration in it.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on the configured address: {0}")]
    Bind(std::io::Error),
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    #[error("configuration: {0} (run `kipekee check`)")]
    Config(String),
    #[error("ROCKET_SECRET_KEY is missing or insecure")]
    InsecureSecretKey,
    #[error("could not start: {0}")]
    Launch(String),
    #[error("flushing the store at shutdown: {0}")]
    Flush(crate::store::StoreError),
}

impl ServeError {
    /// One line for a failed launch. `kind()` marks the error handled (Rocket's error
    /// panics if dropped unread); only `Display` forms are used, never `Debug`.
    pub fn from_launch(e: &rocket::Error) -> ServeError {
        match e.kind() {
            ErrorKind::Bind(io) => ServeError::Bind(clone_io(io)),
            ErrorKind::Io(io) => ServeError::Io(clone_io(io)),
            // A figment error's text may quote the offending value: name the key only.
            ErrorKind::Config(c) => ServeError::Config(match c.path.is_empty() {
                true => "Rocket's configuration is invalid".into(),
                false => format!("invalid value for {}", c.path.join(".")),
            }),
            ErrorKind::InsecureSecretKey(_) => ServeError::InsecureSecretKey,
            ErrorKind::FailedFairings(failed) => {
                let names: Vec<&str> = failed.iter().map(|f| f.name).collect();
                ServeError::Launch(format!("{} failed", names.join(", ")))
            }
            other => ServeError::Launch(other.to_string()),
        }
    }
}

fn clone_io(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

/// Launches, and after a stop signal finishes cleanly: waits for background tasks, flushes
/// the store, returns `Ok` (exit 0). Rocket reports requests still running after its grace
/// and mercy periods as a `Shutdown` error; that is still a stop: it is logged as one line
/// and the store is flushed all the same.
pub async fn serve(rocket: Rocket<Build>) -> Result<(), ServeError> {
    let rocket = match rocket.ignite().await {
        Ok(rocket) => rocket,
        Err(e) => return Err(ServeError::from_launch(&e)),
    };
    if let Some(stop) = rocket.state::<Arc<StopState>>() {
        rocket::tokio::spawn(stop.clone().stop_on_signal(rocket.shutdown()));
    }
    let outcome = rocket.launch().await;
    let stopped: Arc<Rocket<Orbit>> = match &outcome {
        Ok(rocket) => return finish(rocket, 0).await,
        Err(e) => match e.kind() {
            ErrorKind::Shutdown(rocket, _) => rocket.clone(),
            _ => return Err(ServeError::from_launch(e)),
        },
    };
    // This handle and Rocket's own: anything more is a request task still running.
    let running = Arc::strong_count(&stopped).saturating_sub(2);
    finish(&stopped, running).await
}

async fn finish<P: Phase>(rocket: &Rocket<P>, requests_running: usize) -> Result<(), ServeError> {
    let (Some(config), Some(store)) = (rocket.state::<AppConfig>(), rocket.state::<Store>()) else {
        return Ok(());
    };
    if requests_running > 0 {
        tracing::warn!(
            requests = requests_running,
            grace_secs = rocket
                .figment()
                .extract_inner::<u32>("shutdown.grace")
                .unwrap_or(0),
            "stopping with requests still running after the shutdown grace period; their \
             submissions are stored, and an email they were sending is marked unknown at the \
             next start"
        );
    }
    if let Some(background) = rocket.state::<Background>() {
        let limit = Duration::from_secs(drain_needed_secs(config));
        let left = background.join(limit).await;
        if left > 0 {
            tracing::warn!(tasks = left, "stopping with a retry round still running");
        }
    }
    store.flush().await.map_err(ServeError::Flush)?;
    tracing::info!("store flushed, stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_covers_the_longest_send_unless_the_owner_chose_a_grace() {
        let mut config = AppConfig::default();
        let (figment, stop, warning) = plan(crate::config::figment(), &config);
        let base = Duration::from_secs(config.mailtrap_timeout_secs);
        let longest = crate::mail::longest_send(base).as_secs();
        assert!(longest > config.mailtrap_timeout_secs);
        assert_eq!(stop.drain.as_secs(), longest + MARGIN_SECS);
        assert!(warning.is_none());
        let rocket: rocket::Config = figment.extract().unwrap();
        assert!(!rocket.shutdown.ctrlc);
        assert!(rocket.shutdown.signals.is_empty());

        config.mailtrap_timeout_secs = 40;
        let (_, stop, _) = plan(crate::config::figment(), &config);
        let longest = crate::mail::longest_send(Duration::from_secs(40)).as_secs();
        assert_eq!(stop.drain.as_secs(), longest + MARGIN_SECS);

        let chosen = crate::config::figment().merge(("shutdown.grace", 5));
        let (_, stop, warning) = plan(chosen, &config);
        assert_eq!(stop.drain.as_secs(), 5);
        assert!(warning.is_some_and(|w| w.contains(&format!("{longest} s"))));

        let generous = crate::config::figment().merge(("shutdown.grace", 600));
        let (_, stop, warning) = plan(generous, &config);
        assert_eq!(stop.drain.as_secs(), 600);
        assert!(warning.is_none());
    }
}
