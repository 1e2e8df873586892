//! Per-client limits kept in memory, bounded: the key a client is counted by, and the
//! per-minute rate limit of form posts. Security review #13: maps keyed by client address
//! must neither grow without bound nor be scanned whole on a request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Clients tracked at most by one limiter; beyond, new clients share one bucket.
pub const MAX_CLIENTS: usize = 100_000;

/// What per-client limits count by: the client's address, an IPv6 address reduced to its
/// /64 (one subscriber's allocation, which costs an attacker nothing to rotate through).
/// The one place that decides it, so every limit changes together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(Option<IpAddr>);

/// The key of a client seen at `ip` (`None`: the address is unknown).
pub fn client_key(ip: Option<IpAddr>) -> ClientKey {
    ClientKey(ip.map(|ip| match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::from(prefix.to_be_bytes())
        }
        v4 => v4,
    }))
}

/// Posts per minute per client and form; 0 turns it off.
pub struct RateLimiter {
    per_minute: u32,
    window: Mutex<Window>,
}

/// The counts of the current minute only: a new minute starts an empty table.
struct Window {
    minute: u64,
    counts: HashMap<(ClientKey, String), u32>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            window: Mutex::new(Window {
                minute: 0,
                counts: HashMap::new(),
            }),
        }
    }

    /// `Err(seconds to wait)` when this post is over the limit. `now` is Unix seconds.
    pub fn check(&self, ip: Option<IpAddr>, form: &str, now: u64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let minute = now / 60;
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window.minute != minute {
            // A fresh map rather than `clear()`: the memory of a flood is given back.
            *window = Window {
                minute,
                counts: HashMap::new(),
            };
        }
        let mut key = (client_key(ip), form.to_string());
        if window.counts.len() >= MAX_CLIENTS && !window.counts.contains_key(&key) {
            key.0 = ClientKey(None);
        }
        let count = window.counts.entry(key).or_insert(0);
        if *count >= self.per_minute {
            return Err(60 - now % 60);
        }
        *count += 1;
        Ok(())
    }

    /// (client, form) pairs counted this minute.
    pub fn tracked(&self) -> usize {
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_counts_per_address_and_form_per_minute() {
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        let limiter = RateLimiter::new(2);
        assert!(limiter.check(ip, "quote", 120).is_ok());
        assert!(limiter.check(ip, "quote", 121).is_ok());
        assert_eq!(limiter.check(ip, "quote", 150), Err(30));
        assert!(limiter.check(ip, "contact", 150).is_ok(), "per form");
        assert!(limiter
            .check(Some(IpAddr::from([10, 0, 0, 2])), "quote", 150)
            .is_ok());
        assert!(limiter.check(ip, "quote", 180).is_ok(), "a new minute");
        assert!(RateLimiter::new(0).check(ip, "quote", 0).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_ne!(client_key(Some(a)), client_key(Some(other)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            client_key(Some(mapped)),
            client_key(Some(IpAddr::from([10, 0, 0, 1])))
        );
    }

    #[test]
    fn a_flood_of_distinct_clients_keeps_the_table_bounded() {
        let limiter = RateLimiter::new(10);
        for n in 0u32..150_000 {
            let ip = Some(IpAddr::from(n.to_be_bytes()));
            let _ = limiter.check(ip, "quote", 600);
        }
        assert_eq!(
            limiter.tracked(),
            MAX_CLIENTS + 1,
            "beyond the bound, one shared bucket"
        );
        let late = Some(IpAddr::from(200_000u32.to_be_bytes()));
        assert!(
            limiter.check(late, "quote", 600).is_err(),
            "the shared bucket is full"
        );
        assert!(limiter.check(late, "quote", 660).is_ok());
        assert_eq!(limiter.tracked(), 1, "a new minute forgets the flood");
    }
}
