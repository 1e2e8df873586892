//! Who is on the other end: the one place that decides a request's client address, for rate
//! limits, confirmation caps, the login throttle, the request log and the stored submission.
//! Rules from DESIGN.md, Round 2 contract, "Client address behind proxies".

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use crate::config::AppConfig;
use crate::config::TrustedProxies;

/// What per-client limits count by: the client's address, an IPv6 address reduced to its
/// /64 (one subscriber's allocation, which costs an attacker nothing to rotate through).
/// The one place that decides it, so every limit changes together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(Option<IpAddr>);

impl ClientKey {
    /// A client whose address is unknown; also the bucket a full table shares.
    pub const UNKNOWN: ClientKey = ClientKey(None);
}

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

/// The visitor's address: the TCP peer, or, when the peer is a trusted proxy and
/// `ROCKET_IP_HEADER` names a header, the right-most address in that header that is not a
/// trusted proxy. `None` only for requests without a peer (Rocket's in-process test client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// Decided once per request and cached.
    pub fn of(req: &Request<'_>) -> ClientAddr {
        *req.local_cache(|| ClientAddr(decide(req)))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientAddr {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(ClientAddr::of(req))
    }
}

fn decide(req: &Request<'_>) -> Option<IpAddr> {
    let peer = req.remote().map(|r| r.ip().to_canonical());
    let Some(header) = req.rocket().config().ip_header.as_ref() else {
        return peer;
    };
    let default_trust = TrustedProxies::default();
    let trusted = req
        .rocket()
        .state::<AppConfig>()
        .map_or(&default_trust, |config| &config.trusted_proxies);
    if !peer.is_some_and(|p| trusted.contains(p)) {
        return peer;
    }
    let values: Vec<&str> = req.headers().get(header.as_str()).collect();
    if values.is_empty() {
        return peer;
    }
    match from_forwarded_list(&values, trusted) {
        Ok(ip) => Some(ip),
        Err(item) => {
            warn_unparsable(header.as_str(), &item);
            peer
        }
    }
}

/// The client in a forwarded list (`X-Forwarded-For: client, proxy1, proxy2`, possibly over
/// several header lines, oldest first): the right-most address that is not a trusted proxy,
/// or the left-most when every hop is trusted. Errors with the first item that is not an
/// address; the whole header is then disbelieved.
pub fn from_forwarded_list(values: &[&str], trusted: &TrustedProxies) -> Result<IpAddr, String> {
    let hops: Vec<IpAddr> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|item| parse_hop(item).ok_or_else(|| item.trim().to_string()))
        .collect::<Result<_, _>>()?;
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(**ip))
        .or(hops.first())
        .copied()
        .ok_or_else(String::new)
}

/// One hop: `203.0.113.5`, `203.0.113.5:4000`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, or RFC 7239's `for=...` (for `ROCKET_IP_HEADER=Forwarded`).
fn parse_hop(item: &str) -> Option<IpAddr> {
    let item = item.trim();
    let item = match item.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v)
    }) {
        Some(value) => value.trim().trim_matches('"'),
        None if item.contains('=') => return None,
        None => item,
    };
    let ip = item
        .parse::<IpAddr>()
        .ok()
        .or_else(|| item.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| item.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// Seconds since the epoch of the last warning: a broken proxy sends the same bad header on
/// every request, and one line a minute says as much as a line per request.
static LAST_WARNING: AtomicU64 = AtomicU64::new(0);

fn warn_unparsable(header: &str, item: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let item: String = item.chars().take(64).collect();
        tracing::warn!(
            header,
            item = %item.escape_debug(),
            "client-address header holds something that is not an address: using the proxy's \
             address instead (logged at most once a minute)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(values: &[&str], trusted: &str) -> Result<IpAddr, String> {
        from_forwarded_list(values, &TrustedProxies::parse(trusted).unwrap())
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let loopback = "127.0.0.0/8,::1";
        let cdn = "127.0.0.0/8,172.64.0.0/13";
        assert_eq!(
            client(&["198.51.100.22, 172.70.1.5"], cdn),
            Ok(ip("198.51.100.22"))
        );
        // Without the CDN trusted, the CDN's address is the client: nothing vouches for the rest.
        assert_eq!(
            client(&["198.51.100.22, 172.70.1.5"], loopback),
            Ok(ip("172.70.1.5"))
        );
        // A visitor-sent value in front of what the proxy appended is not believed.
        assert_eq!(
            client(&["6.6.6.6, 203.0.113.9"], loopback),
            Ok(ip("203.0.113.9"))
        );
        assert_eq!(
            client(&["6.6.6.6", "203.0.113.9"], loopback),
            Ok(ip("203.0.113.9"))
        );
        assert_eq!(
            client(&["127.0.0.2, 127.0.0.3"], loopback),
            Ok(ip("127.0.0.2"))
        );
    }

    #[test]
    fn ports_brackets_and_forwarded_syntax_are_stripped() {
        let t = "127.0.0.1";
        assert_eq!(client(&["203.0.113.52:40001"], t), Ok(ip("203.0.113.52")));
        assert_eq!(client(&["[2001:db8::1]:443"], t), Ok(ip("2001:db8::1")));
        assert_eq!(client(&["[2001:db8::1]"], t), Ok(ip("2001:db8::1")));
        assert_eq!(client(&["2001:db8::1"], t), Ok(ip("2001:db8::1")));
        assert_eq!(client(&["::ffff:198.51.100.1"], t), Ok(ip("198.51.100.1")));
        assert_eq!(
            client(
                &["for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\""],
                t
            ),
            Ok(ip("2001:db8:cafe::17"))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_item() {
        let t = "127.0.0.1";
        for bad in [
            "unknown",
            "203.0.113.5, ",
            "host.example",
            "by=10.0.0.1",
            "1.2.3.4.5",
            "",
        ] {
            assert!(client(&[bad], t).is_err(), "{bad:?} accepted");
        }
        assert_eq!(client(&["1.2.3.4, nope"], t), Err("nope".into()));
    }
}
