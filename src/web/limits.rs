//! The per-client rate limit of form posts, kept in memory and bounded: `governor`'s keyed
//! GCRA (a burst of `KIPEKEE_RATE_LIMIT` posts, then one more every 60 / n seconds), so a
//! client cannot post twice the limit across a minute boundary as a fixed window allows.
//! The daily caps on confirmation emails are persisted instead (`store::caps`).

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use super::client::ClientKey;

/// Clients tracked at most; beyond, every client shares one bucket until the next sweep
/// drops the idle ones (a flood from many addresses slows itself down, never the memory of
/// the server).
pub const MAX_CLIENTS: usize = 100_000;

/// Keys idle long enough to be fresh again are dropped at most this often, so no request
/// pays for a scan of the whole table.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

type Key = (ClientKey, String);
type Gcra<C> =
    governor::RateLimiter<Key, DashMapStateStore<Key>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Posts per minute per client and form; 0 turns it off.
pub struct RateLimiter<C: Clock = DefaultClock> {
    gcra: Option<Gcra<C>>,
    clock: C,
    swept_at: Mutex<C::Instant>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter::with_clock(per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// On another clock (the tests' fake one).
    pub fn with_clock(per_minute: u32, clock: C) -> RateLimiter<C> {
        let gcra = NonZeroU32::new(per_minute).map(|n| {
            governor::RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone())
        });
        RateLimiter {
            gcra,
            swept_at: Mutex::new(clock.now()),
            clock,
        }
    }

    /// `Err(seconds to wait)` when this post is over the limit.
    pub fn check(&self, client: ClientKey, form: &str) -> Result<(), u64> {
        let Some(gcra) = &self.gcra else {
            return Ok(());
        };
        self.sweep(gcra);
        let mut key = (client, form.to_string());
        if gcra.len() >= MAX_CLIENTS {
            key.0 = ClientKey::UNKNOWN;
        }
        gcra.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    fn sweep(&self, gcra: &Gcra<C>) {
        let now = self.clock.now();
        let mut swept_at = self.swept_at.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(*swept_at) >= SWEEP_EVERY.into() {
            *swept_at = now;
            gcra.retain_recent();
            gcra.shrink_to_fit();
        }
    }

    /// (client, form) pairs tracked now.
    pub fn tracked(&self) -> usize {
        self.gcra.as_ref().map_or(0, |g| g.len())
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::web::client::client_key;

    fn at(n: u32) -> ClientKey {
        client_key(Some(IpAddr::from(n.to_be_bytes())))
    }

    #[test]
    fn rate_limit_counts_per_address_and_form() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(2, clock.clone());
        assert!(limiter.check(at(1), "quote").is_ok());
        assert!(limiter.check(at(1), "quote").is_ok());
        assert_eq!(
            limiter.check(at(1), "quote"),
            Err(30),
            "one more every 30 s"
        );
        assert!(limiter.check(at(1), "contact").is_ok(), "per form");
        assert!(limiter.check(at(2), "quote").is_ok(), "per client");
        clock.advance(Duration::from_secs(30));
        assert!(limiter.check(at(1), "quote").is_ok());
        assert!(limiter.check(at(1), "quote").is_err());
        assert!(
            RateLimiter::new(0).check(at(1), "quote").is_ok(),
            "0 is off"
        );
    }

    #[test]
    fn no_double_burst_across_a_minute_boundary() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(10, clock.clone());
        clock.advance(Duration::from_secs(59));
        let first = (0..10).filter(|_| limiter.check(at(1), "quote").is_ok());
        assert_eq!(first.count(), 10);
        clock.advance(Duration::from_secs(2));
        let next = (0..10).filter(|_| limiter.check(at(1), "quote").is_ok());
        assert!(next.count() <= 1, "a new minute is not a new burst");
    }

    #[test]
    fn a_flood_of_distinct_clients_keeps_the_table_bounded() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(10, clock.clone());
        for n in 0u32..(MAX_CLIENTS as u32 + 50_000) {
            let _ = limiter.check(at(n), "quote");
        }
        assert_eq!(
            limiter.tracked(),
            MAX_CLIENTS + 1,
            "beyond the bound, one shared bucket"
        );
        let late = at(200_000);
        assert!(
            limiter.check(late, "quote").is_err(),
            "the shared bucket is full"
        );
        clock.advance(SWEEP_EVERY * 2);
        assert!(limiter.check(late, "quote").is_ok());
        assert!(limiter.tracked() <= 2, "a sweep forgets the flood");
    }
}
