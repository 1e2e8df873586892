//! Which sites may post to the forms: `KIPEKEE_ALLOWED_ORIGINS`, parsed once into WHATWG URL
//! origins (scheme, host, port; RFC 6454), so that `https://Shop.example`,
//! `https://shop.example:443` and `https://shop.example/` are one origin everywhere: in the
//! CORS answer, the origin check of a post and the `_next` redirect.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::{Origin, Position, Url};

/// The origins allowed to post cross-site, in the order configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Vec<Origin>);

impl Origins {
    /// Parses each item as an http(s) origin; an item with a path, a query or another scheme
    /// is refused, naming it.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Origins, String> {
        let mut origins = Vec::new();
        for item in items {
            let item = item.as_ref().trim();
            if item.is_empty() {
                continue;
            }
            let origin = parse_origin(item)
                .ok_or_else(|| format!("{item:?} is not an origin like https://example.com"))?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Origins(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The origins as browsers write them (`https://shop.example`), for the settings page.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Origin::ascii_serialization).collect()
    }

    /// Whether an `Origin` header names an allowed site.
    pub fn allows(&self, header: &str) -> bool {
        parse_origin(header).is_some_and(|o| self.0.contains(&o))
    }

    /// Whether an `Origin` header names this server itself: its public URL, or the `Host` it
    /// was reached by over http or https.
    pub fn is_self(header: &str, public_base: &str, host: &str) -> bool {
        let Some(origin) = parse_origin(header) else {
            return false;
        };
        let public = Url::parse(public_base).ok().map(|u| u.origin());
        public.as_ref() == Some(&origin)
            || ["http", "https"]
                .iter()
                .filter_map(|scheme| parse_origin(&format!("{scheme}://{host}")))
                .any(|o| o == origin)
    }

    /// Formspree's `_next` resolved against `public_base`, if it stays on this site or an
    /// allowed origin. A relative `next` comes back as a path on this site (`/thanks?x=1`),
    /// an absolute one as the URL it parses to. Refused: any control or whitespace character
    /// inside (browsers drop tabs and newlines, so the value would not mean what it says),
    /// schemes other than http(s), other origins, and a path that a browser would read as
    /// another host (`//…`). Decided by a WHATWG URL parser, never by string prefixes.
    pub fn safe_next(&self, next: &str, public_base: &str) -> Option<String> {
        let next = next.trim_matches(' ');
        if next.is_empty() || next.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let base = Url::parse(&format!("{}/", public_base.trim_end_matches('/'))).ok()?;
        let target = base.join(next).ok()?;
        if !matches!(target.scheme(), "http" | "https") {
            return None;
        }
        let origin = target.origin();
        if origin == base.origin() {
            if Url::parse(next).is_ok() {
                return Some(target.to_string());
            }
            let local = &target[Position::BeforePath..];
            return (local.starts_with('/') && !local.starts_with("//")).then(|| local.to_string());
        }
        self.0.contains(&origin).then(|| target.to_string())
    }
}

/// An http(s) origin with nothing after it but an optional `/`.
fn parse_origin(text: &str) -> Option<Origin> {
    let url = Url::parse(text.trim()).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !text.trim().ends_with("//");
    bare.then(|| url.origin())
}

impl Serialize for Origins {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_strings().serialize(s)
    }
}

/// Comma-separated in the environment, a list in TOML.
impl<'de> Deserialize<'de> for Origins {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Origins, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let items: Vec<String> = match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => s.split(',').map(str::to_string).collect(),
            OneOrMany::Many(v) => v,
        };
        Origins::parse(&items).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://shop.example";

    fn allowed() -> Origins {
        Origins::parse(&["https://www.shop.example"]).unwrap()
    }

    #[test]
    fn one_origin_however_it_is_written() {
        let o = Origins::parse(&["https://Shop.Example:443/", " http://b.example:80 "]).unwrap();
        assert_eq!(o.to_strings(), ["https://shop.example", "http://b.example"]);
        for header in [
            "https://shop.example",
            "https://SHOP.example",
            "https://shop.example:443",
        ] {
            assert!(o.allows(header), "{header}");
        }
        assert!(o.allows("http://b.example"));
        for header in [
            "http://shop.example",
            "https://shop.example:8443",
            "https://shop.example.evil",
            "null",
            "",
            "https://shop.example/path",
        ] {
            assert!(!o.allows(header), "{header}");
        }
    }

    #[test]
    fn what_is_not_an_origin_is_refused_by_name() {
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/forms",
            "https://u@shop.example",
        ] {
            let e = Origins::parse(&[bad]).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn this_server_is_itself_by_public_url_or_host() {
        assert!(Origins::is_self("https://Shop.example:443", BASE, "x"));
        assert!(Origins::is_self(
            "http://127.0.0.1:8000",
            BASE,
            "127.0.0.1:8000"
        ));
        assert!(!Origins::is_self(
            "https://evil.example",
            BASE,
            "127.0.0.1:8000"
        ));
    }

    #[test]
    fn paths_on_this_site_and_allowed_origins_pass() {
        let ok = |next: &str| allowed().safe_next(next, BASE);
        assert_eq!(ok("/thanks?x=1#top").as_deref(), Some("/thanks?x=1#top"));
        assert_eq!(ok("thanks").as_deref(), Some("/thanks"));
        assert_eq!(
            ok("https://www.shop.example/done").as_deref(),
            Some("https://www.shop.example/done")
        );
        assert_eq!(
            ok("https://WWW.shop.example:443/done").as_deref(),
            Some("https://www.shop.example/done"),
            "the same origin as the CORS check sees it"
        );
        assert_eq!(
            ok("https://shop.example/a").as_deref(),
            Some("https://shop.example/a")
        );
    }

    #[test]
    fn hostile_values_never_leave_the_allowed_origins() {
        for next in [
            "/\t/evil.example",
            "/\n/evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "\\\\evil.example",
            "/.//evil.example",
            "https://evil.example",
            "https://shop.example.evil.example/",
            "https://shop.example@evil.example/",
            "http://www.shop.example/",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            " //evil.example",
            "/\u{3000}/evil.example",
            "https:evil.example",
            "",
        ] {
            let got = allowed().safe_next(next, BASE);
            let resolved = got
                .as_deref()
                .map(|g| Url::parse(BASE).unwrap().join(g).unwrap());
            assert!(
                resolved
                    .as_ref()
                    .is_none_or(|u| u.host_str() == Some("shop.example")),
                "{next:?} -> {got:?}"
            );
        }
        assert_eq!(
            Origins::default()
                .safe_next("/%09/evil.example", BASE)
                .as_deref(),
            Some("/%09/evil.example"),
            "an encoded tab stays a path segment on this site"
        );
    }
}
