//! Daily caps on the emails a form sends to the visitor's address, kept in the store so a
//! restart does not reset them (Round 2 contract, "Confirmation caps").
//! Days are UTC days; counters of past days are removed as new days begin.

use std::net::IpAddr;

use sled::transaction::ConflictableTransactionError;
use time::OffsetDateTime;

use super::{Result, Store, StoreError};
use crate::model::EmailAddress;

/// `KIPEKEE_CONFIRMATIONS_PER_ADDRESS` and `KIPEKEE_CONFIRMATIONS_PER_CLIENT`; 0 = no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapLimits {
    /// Emails a day to one (normalised) recipient address.
    pub per_address: u32,
    /// Emails a day asked for by one client address.
    pub per_client: u32,
}

/// Why a visitor email was not sent; shown as its `reason` in the JSON answer and the log.
pub const ADDRESS_CAPPED: &str = "daily limit of confirmation emails to this address reached";
pub const CLIENT_CAPPED: &str = "daily limit of confirmation emails from this client reached";

/// The mailbox an address reaches, as far as can be told without asking its provider: lower
/// case, `+tag` removed from the local part (`Jo+1@X.example` → `jo@x.example`).
pub fn normalized_address(email: &EmailAddress) -> String {
    let lower = email.as_str().to_lowercase();
    match lower.rsplit_once('@') {
        Some((local, domain)) => {
            let base = local.split_once('+').map_or(local, |(base, _)| base);
            let base = if base.is_empty() { local } else { base };
            format!("{base}@{domain}")
        }
        None => lower,
    }
}

fn day_prefix(day: u64) -> [u8; 8] {
    day.to_be_bytes()
}

fn counter_key(day: u64, key: &str) -> Vec<u8> {
    let mut k = day_prefix(day).to_vec();
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn read_count(v: Option<sled::IVec>) -> u32 {
    v.and_then(|v| Some(u32::from_be_bytes(v.as_ref().try_into().ok()?)))
        .unwrap_or(0)
}

impl Store {
    /// Counts one email to `recipient` asked for by `client` on `now`'s day, or returns the
    /// reason it is over a cap (nothing is counted then). Written at once; flushed with the
    /// delivery round that follows.
    pub fn count_confirmation(
        &self,
        recipient: &EmailAddress,
        client: Option<IpAddr>,
        limits: CapLimits,
        now: OffsetDateTime,
    ) -> Result<Result<(), &'static str>> {
        let day = u64::try_from(now.unix_timestamp() / 86_400).unwrap_or(0);
        for old in self.daykey_count.range(..day_prefix(day)).keys() {
            self.daykey_count.remove(old?)?;
        }
        let to_key = counter_key(day, &format!("to:{}", normalized_address(recipient)));
        let from_key = client.map(|ip| counter_key(day, &format!("from:{ip}")));
        let verdict = self.daykey_count.transaction(|tree| {
            let to = read_count(tree.get(&to_key)?);
            if limits.per_address > 0 && to >= limits.per_address {
                return Ok(Err(ADDRESS_CAPPED));
            }
            let from = match &from_key {
                Some(k) => Some((k, read_count(tree.get(k)?))),
                None => None,
            };
            if let Some((_, n)) = from {
                if limits.per_client > 0 && n >= limits.per_client {
                    return Ok(Err(CLIENT_CAPPED));
                }
            }
            tree.insert(to_key.as_slice(), &(to + 1).to_be_bytes())?;
            if let Some((k, n)) = from {
                tree.insert(k.as_slice(), &(n + 1).to_be_bytes())?;
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(Ok(()))
        })?;
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn addresses_are_normalised_before_counting() {
        assert_eq!(normalized_address(&addr("Jo+1@X.Example")), "jo@x.example");
        assert_eq!(
            normalized_address(&addr("+only@x.example")),
            "+only@x.example"
        );
    }

    #[test]
    fn caps_per_recipient_and_client_per_day_and_zero_turns_them_off() {
        let store = Store::temporary().unwrap();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        let limits = CapLimits {
            per_address: 3,
            per_client: 20,
        };
        let day1 = OffsetDateTime::from_unix_timestamp(20_000 * 86_400 + 10).unwrap();
        let day2 = day1 + time::Duration::days(1);
        for tag in ["", "+1", "+2"] {
            let a = addr(&format!("victim{tag}@x.example"));
            assert_eq!(
                store.count_confirmation(&a, ip, limits, day1).unwrap(),
                Ok(())
            );
        }
        let again = store.count_confirmation(&addr("Victim+3@x.example"), ip, limits, day1);
        assert_eq!(again.unwrap(), Err(ADDRESS_CAPPED));
        let next_day = store.count_confirmation(&addr("victim@x.example"), ip, limits, day2);
        assert_eq!(next_day.unwrap(), Ok(()), "a new day");
        for i in 0..19 {
            let a = addr(&format!("p{i}@x.example"));
            assert_eq!(
                store.count_confirmation(&a, ip, limits, day2).unwrap(),
                Ok(())
            );
        }
        let from_same_client = store.count_confirmation(&addr("q@x.example"), ip, limits, day2);
        assert_eq!(from_same_client.unwrap(), Err(CLIENT_CAPPED));
        let off = CapLimits {
            per_address: 0,
            per_client: 0,
        };
        for _ in 0..30 {
            let r = store.count_confirmation(&addr("victim@x.example"), ip, off, day2);
            assert_eq!(r.unwrap(), Ok(()));
        }
        assert!(
            store
                .daykey_count
                .range(..day_prefix(20_001))
                .next()
                .is_none(),
            "the first day's counters are gone"
        );
    }
}
