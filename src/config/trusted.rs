//! `KIPEKEE_TRUSTED_PROXIES`: the peers whose client-address header is believed.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Addresses and CIDR ranges of reverse proxies (and CDNs) in front of Kipekee. Default:
/// loopback (`127.0.0.0/8,::1`), where the README's nginx and Caddy run.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list; each item an address (`10.0.0.7`, `::1`) or a range
    /// (`173.245.48.0/20`). Errors name the item that is neither.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_item)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the trusted proxies; an IPv4 peer seen on a dual-stack socket
    /// (`::ffff:127.0.0.1`) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

fn parse_item(item: &str) -> Result<IpNet, String> {
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{item:?} is not an IP address or a CIDR range like 10.0.0.0/8"))
}

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies::parse("127.0.0.0/8,::1").unwrap_or(TrustedProxies(Vec::new()))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(","))
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Comma-separated in the environment, a string or a list of strings in `Rocket.toml`.
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let list = match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => s,
            OneOrMany::Many(v) => v.join(","),
        };
        TrustedProxies::parse(&list).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_of_both_families() {
        let t = TrustedProxies::parse(" 10.0.0.7, 173.245.48.0/20 ,2001:db8::/32").unwrap();
        for ip in [
            "10.0.0.7",
            "173.245.63.255",
            "2001:db8::1",
            "::ffff:10.0.0.7",
        ] {
            assert!(t.contains(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.0.0.8", "173.245.64.0", "2001:db9::1", "127.0.0.1"] {
            assert!(!t.contains(ip.parse().unwrap()), "{ip}");
        }
        let err = TrustedProxies::parse("10.0.0.1, localhost").unwrap_err();
        assert!(err.contains("\"localhost\""), "{err}");
    }

    #[test]
    fn default_is_loopback() {
        let t = TrustedProxies::default();
        assert_eq!(t.to_string(), "127.0.0.0/8,::1/128");
        assert!(t.contains("127.0.0.1".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(!t.contains("192.168.1.1".parse().unwrap()));
    }
}
