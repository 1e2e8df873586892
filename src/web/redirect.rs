//! Where a post may send the browser afterwards (Formspree's `_next`): this site or an
//! allowed origin, decided by a WHATWG URL parser rather than by string prefixes, which
//! `/<TAB>/evil.example` got past (security review #7).

use url::{Position, Url};

/// `next` resolved against `public_base`, if it stays on `public_base`'s origin or on one
/// of `allowed` (origins such as `https://example.com`). A relative `next` comes back as a
/// path on this site (`/thanks?x=1`), an absolute one as the URL it parses to. Refused:
/// any control or whitespace character inside (browsers drop tabs and newlines, so the
/// value would not mean what it says), schemes other than http(s), other origins, and a
/// path that a browser would read as another host (`//…`).
pub fn safe_next(next: &str, public_base: &str, allowed: &[String]) -> Option<String> {
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
    allowed
        .iter()
        .filter_map(|o| Url::parse(o).ok())
        .any(|o| o.origin() == origin)
        .then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://shop.example";

    fn allowed() -> Vec<String> {
        vec!["https://www.shop.example".into()]
    }

    #[test]
    fn paths_on_this_site_and_allowed_origins_pass() {
        let ok = |next: &str| safe_next(next, BASE, &allowed());
        assert_eq!(ok("/thanks?x=1#top").as_deref(), Some("/thanks?x=1#top"));
        assert_eq!(ok("thanks").as_deref(), Some("/thanks"));
        assert_eq!(
            ok("https://www.shop.example/done").as_deref(),
            Some("https://www.shop.example/done")
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
        ] {
            let got = safe_next(next, BASE, &allowed());
            let resolved = got
                .as_deref()
                .map(|g| Url::parse(BASE).unwrap().join(g).unwrap());
            assert!(
                resolved
                    .as_ref()
                    .is_none_or(|u| u.host_str() == Some("shop.example")),
                "{next:?} → {got:?}"
            );
        }
        assert_eq!(
            safe_next("/%09/evil.example", BASE, &[]).as_deref(),
            Some("/%09/evil.example"),
            "an encoded tab stays a path segment on this site"
        );
    }
}
