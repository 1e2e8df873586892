//! Abuse controls of the public forms, as plain data structures with the clock passed in:
//! the signed time trap, the per-address rate limit, and the daily caps on confirmation
//! emails that keep the forms from being used to mail strangers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a post was judged to be spam: stored flagged, never mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpamReason {
    Honeypot,
    /// Posted sooner than a person could have filled the form in.
    TooFast,
    /// The form page's signed time field is missing or forged.
    NoTimeToken,
}

/// A hidden field `_t` = `<unix seconds>.<hmac>` on every form page; a post carrying it
/// proves when the form was shown.
pub struct TimeTrap {
    key: Vec<u8>,
    /// Least seconds between showing and posting; 0 turns the trap off.
    pub min_seconds: u64,
}

impl TimeTrap {
    pub fn new(key: Vec<u8>, min_seconds: u64) -> TimeTrap {
        TimeTrap { key, min_seconds }
    }

    fn mac(&self, shown_at: u64) -> String {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(shown_at.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn token(&self, now: u64) -> String {
        format!("{now}.{}", self.mac(now))
    }

    /// `None` when the post passes the trap (or the trap is off).
    pub fn check(&self, token: Option<&str>, now: u64) -> Option<SpamReason> {
        if self.min_seconds == 0 {
            return None;
        }
        let Some((shown, mac)) = token.and_then(|t| t.split_once('.')) else {
            return Some(SpamReason::NoTimeToken);
        };
        let Ok(shown_at) = shown.parse::<u64>() else {
            return Some(SpamReason::NoTimeToken);
        };
        let mut check = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        check.update(shown.as_bytes());
        let genuine = hex::decode(mac).is_ok_and(|m| check.verify_slice(&m).is_ok());
        if !genuine || shown_at > now {
            return Some(SpamReason::NoTimeToken);
        }
        (now - shown_at < self.min_seconds).then_some(SpamReason::TooFast)
    }
}

pub use super::limits::{client_key, ClientKey, RateLimiter};

/// Confirmation emails per recipient address and per client address per day.
pub struct ConfirmationCaps {
    per_recipient: u32,
    per_client: u32,
    sent: Mutex<HashMap<String, (u64, u32)>>,
}

impl Default for ConfirmationCaps {
    fn default() -> Self {
        ConfirmationCaps {
            per_recipient: 3,
            per_client: 20,
            sent: Mutex::new(HashMap::new()),
        }
    }
}

impl ConfirmationCaps {
    /// Counts one confirmation to `recipient` asked for by `client`, or says why not.
    pub fn allow(
        &self,
        recipient: &str,
        client: Option<IpAddr>,
        now: u64,
    ) -> Result<(), &'static str> {
        let day = now / 86_400;
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|_, (d, _)| *d == day);
        let to_key = format!("to:{}", recipient.to_lowercase());
        let from_key = format!(
            "from:{}",
            client.map_or("unknown".into(), |ip| ip.to_string())
        );
        let count = |k: &str| sent.get(k).map_or(0, |(_, n)| *n);
        if count(&to_key) >= self.per_recipient {
            return Err("daily limit of confirmation emails to this address reached");
        }
        if client.is_some() && count(&from_key) >= self.per_client {
            return Err("daily limit of confirmation emails from this client reached");
        }
        for k in [to_key, from_key] {
            sent.entry(k).or_insert((day, 0)).1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_trap_accepts_a_genuine_slow_post_only() {
        let trap = TimeTrap::new(b"key".to_vec(), 3);
        let token = trap.token(1000);
        assert_eq!(trap.check(Some(&token), 1005), None);
        assert_eq!(trap.check(Some(&token), 1001), Some(SpamReason::TooFast));
        assert_eq!(trap.check(None, 1005), Some(SpamReason::NoTimeToken));
        let forged = format!("900.{}", token.split_once('.').unwrap().1);
        assert_eq!(
            trap.check(Some(&forged), 1005),
            Some(SpamReason::NoTimeToken)
        );
        assert_eq!(trap.check(Some("x.y"), 1005), Some(SpamReason::NoTimeToken));
        let other = TimeTrap::new(b"other".to_vec(), 3);
        assert_eq!(
            other.check(Some(&token), 1005),
            Some(SpamReason::NoTimeToken)
        );
        assert_eq!(
            TimeTrap::new(b"key".to_vec(), 0).check(None, 1),
            None,
            "0 turns it off"
        );
    }

    #[test]
    fn confirmation_caps_per_recipient_and_client() {
        let caps = ConfirmationCaps::default();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            caps.allow("Victim@x.example", ip, 10).unwrap();
        }
        assert!(caps.allow("victim@x.example", ip, 20).is_err());
        assert!(
            caps.allow("victim@x.example", ip, 86_400 + 5).is_ok(),
            "a new day"
        );
        for i in 0..19 {
            caps.allow(&format!("p{i}@x.example"), ip, 86_400 + 6)
                .unwrap();
        }
        assert!(caps.allow("another@x.example", ip, 86_400 + 7).is_err());
    }
}
