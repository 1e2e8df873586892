//! The login throttle: attempts per client counted *before* the password is checked, in
//! one lock with the check, and a bound on argon2 verifications running at once (each
//! costs argon2's default 19 MiB). Security review #1 and #13.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rocket::tokio::sync::{Semaphore, SemaphorePermit};
use rocket::tokio::time::timeout;

use crate::web::client::ClientKey;

/// Attempts a client may make within `WINDOW` before it is refused (429).
pub const MAX_ATTEMPTS: usize = 5;
/// How long an attempt counts against its client.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Password verifications running at once; the next wait for a free one.
const CONCURRENT_VERIFICATIONS: usize = 2;
/// How long an attempt waits for a verification slot before it is refused (429).
const SLOT_WAIT: Duration = Duration::from_secs(5);
/// Clients tracked at most. When that many clients made attempts within the window, a
/// client not yet tracked is refused: a flood from many addresses fails closed.
pub const MAX_CLIENTS: usize = 100_000;
/// The table is swept of clients whose attempts have all expired at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Why an attempt was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client used its attempts for the window; seconds until the oldest expires.
    TooMany(u64),
    /// Every verification slot stayed busy for `SLOT_WAIT`.
    Busy,
}

struct Attempts {
    by_client: HashMap<ClientKey, VecDeque<Instant>>,
    swept_at: Instant,
}

/// Attempts per client within the window, in memory (reset by a restart).
pub struct LoginThrottle {
    attempts: Mutex<Attempts>,
    verifying: Semaphore,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            attempts: Mutex::new(Attempts {
                by_client: HashMap::new(),
                swept_at: Instant::now(),
            }),
            verifying: Semaphore::new(CONCURRENT_VERIFICATIONS),
        }
    }
}

impl LoginThrottle {
    /// Counts one attempt by `client` at `now`, or refuses it. Check and count happen under
    /// one lock, so concurrent attempts cannot all pass the check.
    pub fn reserve(&self, client: ClientKey, now: Instant) -> Result<(), Refused> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        // One sweep a minute at most, so no request pays for a scan of the whole table.
        if now.saturating_duration_since(attempts.swept_at) >= SWEEP_EVERY {
            attempts
                .by_client
                .retain(|_, times| times.back().is_some_and(|t| now < *t + WINDOW));
            attempts.swept_at = now;
        }
        if attempts.by_client.len() >= MAX_CLIENTS && !attempts.by_client.contains_key(&client) {
            return Err(Refused::TooMany(WINDOW.as_secs()));
        }
        let times = attempts.by_client.entry(client).or_default();
        while times.front().is_some_and(|t| now >= *t + WINDOW) {
            times.pop_front();
        }
        if let Some(oldest) = times.front().filter(|_| times.len() >= MAX_ATTEMPTS) {
            let wait = (*oldest + WINDOW).saturating_duration_since(now);
            return Err(Refused::TooMany(wait.as_secs().max(1)));
        }
        times.push_back(now);
        Ok(())
    }

    /// A verification slot, waited for at most `SLOT_WAIT`.
    pub async fn slot(&self) -> Result<SemaphorePermit<'_>, Refused> {
        match timeout(SLOT_WAIT, self.verifying.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refused::Busy),
        }
    }

    /// Forgets a client's attempts: it logged in.
    pub fn clear(&self, client: ClientKey) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.by_client.remove(&client);
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.by_client.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::web::client::client_key;

    fn client(n: u32) -> ClientKey {
        client_key(Some(IpAddr::from(n.to_be_bytes())))
    }

    #[test]
    fn a_handful_of_attempts_then_refused_until_the_window_passes() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..MAX_ATTEMPTS {
            assert_eq!(t.reserve(client(1), now), Ok(()));
        }
        assert!(matches!(t.reserve(client(1), now), Err(Refused::TooMany(s)) if s > 0));
        assert_eq!(
            t.reserve(client(2), now),
            Ok(()),
            "other clients are not affected"
        );
        assert_eq!(t.reserve(client(1), now + WINDOW), Ok(()));
        t.clear(client(1));
        assert_eq!(t.reserve(client(1), now + WINDOW), Ok(()));
    }

    #[test]
    fn a_hundred_thousand_clients_are_forgotten_once_their_window_passes() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..100_000 {
            assert_eq!(t.reserve(client(n), now), Ok(()));
        }
        assert_eq!(t.tracked(), 100_000);
        assert_eq!(
            t.reserve(client(100_001), now),
            Err(Refused::TooMany(WINDOW.as_secs())),
            "a full table refuses new clients"
        );
        assert_eq!(t.reserve(client(7), now), Ok(()), "tracked clients go on");
        assert_eq!(t.reserve(client(100_001), now + WINDOW), Ok(()));
        assert_eq!(t.tracked(), 1, "expired clients were swept");
    }
}
