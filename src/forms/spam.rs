//! Abuse controls of the public forms, as plain data structures with the clock passed in:
//! the signed time trap and the one spam verdict. The per-client rate limit is the web
//! layer's (`web::limits`); the daily caps on confirmation emails live in the store
//! (`store::caps`) so a restart does not reset them.

use hmac::{Hmac, Mac};

use sha2::Sha256;

use crate::model::{SpamReason, Verdict};

type HmacSha256 = Hmac<Sha256>;

/// How long a form page's `_t` stays valid: a post with an older one is held for review
/// (Round 2 contract, "stale form token"; issue 12 item 7).
pub const TOKEN_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

/// A hidden field `_t` = `<unix milliseconds>.<hmac>` on every form page; a post carrying it
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

    fn mac(&self, shown_at: &str) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(shown_at.as_bytes());
        mac
    }

    /// The token of a form shown at `now_ms` (unix milliseconds).
    pub fn token(&self, now_ms: u64) -> String {
        let shown = now_ms.to_string();
        let mac = hex::encode(self.mac(&shown).finalize().into_bytes());
        format!("{shown}.{mac}")
    }

    /// `None` when the post passes the trap (or the trap is off). `now_ms`: unix milliseconds.
    pub fn check(&self, token: Option<&str>, now_ms: u64) -> Option<SpamReason> {
        if self.min_seconds == 0 {
            return None;
        }
        let Some((shown, mac)) = token.and_then(|t| t.split_once('.')) else {
            return Some(SpamReason::NoTimeToken);
        };
        let Ok(mut shown_at) = shown.parse::<u64>() else {
            return Some(SpamReason::NoTimeToken);
        };
        let genuine = hex::decode(mac).is_ok_and(|m| self.mac(shown).verify_slice(&m).is_ok());
        // Tokens of pages rendered before the switch to milliseconds carry seconds.
        if shown_at < 100_000_000_000 {
            shown_at = shown_at.saturating_mul(1000);
        }
        if !genuine || shown_at > now_ms + 1000 {
            return Some(SpamReason::NoTimeToken);
        }
        let elapsed = now_ms.saturating_sub(shown_at);
        if elapsed > TOKEN_LIFETIME_MS {
            return Some(SpamReason::StaleTimeToken);
        }
        (elapsed < self.min_seconds.saturating_mul(1000)).then_some(SpamReason::TooFast)
    }
}

/// Everything the intake knows about a post when it judges it.
#[derive(Debug, Clone, Copy)]
pub struct Signals<'a> {
    /// The hidden honeypot field was filled in.
    pub honeypot: bool,
    /// The form page's signed time field `_t`, as posted.
    pub shown_at: Option<&'a str>,
    /// The post came from this server's own pages (or named no origin at all).
    pub same_origin: bool,
    /// The body is JSON (an API client, not a form page).
    pub json_body: bool,
}

/// The one spam verdict. The honeypot makes spam. The time trap rides on the form page, so it
/// only judges posts that could come from it: not a JSON body (an API client), not a
/// business's own site posting from an allowed origin; what it catches is held for review,
/// never dropped. `Accept` is the client's to choose and exempts nothing. `now_ms`: Unix
/// milliseconds.
pub fn judge(signals: &Signals<'_>, trap: &TimeTrap, now_ms: u64) -> Verdict {
    if signals.honeypot {
        return Verdict::Spam(SpamReason::Honeypot);
    }
    if !signals.same_origin || signals.json_body {
        return Verdict::Clean;
    }
    trap.check(signals.shown_at, now_ms)
        .map_or(Verdict::Clean, Verdict::Review)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 in unix milliseconds: tokens carry real times.
    const T0: u64 = 1_796_000_000_000;

    #[test]
    fn time_trap_accepts_a_genuine_slow_post_only() {
        let trap = TimeTrap::new(b"key".to_vec(), 1);
        let token = trap.token(T0);
        assert_eq!(
            trap.check(Some(&token), T0 + 1500),
            None,
            "1.5 s is a human"
        );
        assert_eq!(
            trap.check(Some(&token), T0 + 200),
            Some(SpamReason::TooFast)
        );
        assert_eq!(trap.check(None, T0 + 5000), Some(SpamReason::NoTimeToken));
        let forged = format!("{}.{}", T0 - 60_000, token.split_once('.').unwrap().1);
        assert_eq!(
            trap.check(Some(&forged), T0 + 5000),
            Some(SpamReason::NoTimeToken)
        );
        assert_eq!(trap.check(Some("x.y"), T0), Some(SpamReason::NoTimeToken));
        let other = TimeTrap::new(b"other".to_vec(), 1);
        assert_eq!(
            other.check(Some(&token), T0 + 5000),
            Some(SpamReason::NoTimeToken)
        );
        assert_eq!(
            TimeTrap::new(b"key".to_vec(), 0).check(None, 1),
            None,
            "0 turns it off"
        );
    }

    #[test]
    fn one_verdict_from_every_signal() {
        let trap = TimeTrap::new(b"key".to_vec(), 2);
        let token = trap.token(T0);
        let post = Signals {
            honeypot: false,
            shown_at: Some(&token),
            same_origin: true,
            json_body: false,
        };
        let at = |s: Signals<'_>, ms| judge(&s, &trap, ms);
        assert_eq!(at(post, T0 + 5000), Verdict::Clean);
        assert_eq!(at(post, T0 + 500), Verdict::Review(SpamReason::TooFast));
        let no_token = Signals {
            shown_at: None,
            ..post
        };
        assert_eq!(at(no_token, T0), Verdict::Review(SpamReason::NoTimeToken));
        for exempt in [
            Signals {
                same_origin: false,
                ..no_token
            },
            Signals {
                json_body: true,
                ..no_token
            },
        ] {
            assert_eq!(at(exempt, T0), Verdict::Clean, "{exempt:?}");
        }
        let bot = Signals {
            honeypot: true,
            json_body: true,
            ..post
        };
        assert_eq!(at(bot, T0 + 5000), Verdict::Spam(SpamReason::Honeypot));
    }

    #[test]
    fn a_token_lives_a_day() {
        let trap = TimeTrap::new(b"key".to_vec(), 1);
        let token = trap.token(T0);
        assert_eq!(trap.check(Some(&token), T0 + TOKEN_LIFETIME_MS), None);
        assert_eq!(
            trap.check(Some(&token), T0 + TOKEN_LIFETIME_MS + 1),
            Some(SpamReason::StaleTimeToken)
        );
        let seconds = format!("{}", T0 / 1000);
        let old_style = format!(
            "{seconds}.{}",
            hex::encode(trap.mac(&seconds).finalize().into_bytes())
        );
        assert_eq!(
            trap.check(Some(&old_style), T0 + 2000),
            None,
            "pre-upgrade pages still work"
        );
    }
}
