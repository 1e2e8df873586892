//! Where a login returns to: `GET /admin/login?next=/admin/…` (Round 2 contract, "Owners in
//! their language and time"). Only a path of this server under `/admin` is accepted, so the
//! parameter can never send the owner to another site (an "open redirect").

use url::Url;

/// A stand-in origin to resolve `next` against; a value that leaves it is refused.
const BASE: &str = "http://kipekee.invalid/";

/// An admin path with its query (`/admin/submissions/17`, `/admin/submissions?form=quote`),
/// checked to stay on this server and under `/admin`, outside the login and logout pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPath(String);

impl AdminPath {
    /// `None` for anything but a plain absolute path under `/admin`: schemes, `//host`,
    /// backslashes, control characters and spaces, `..` segments (also percent-encoded),
    /// and the login and logout pages themselves.
    pub fn parse(raw: &str) -> Option<AdminPath> {
        if !raw.starts_with("/admin")
            || raw.contains("//")
            || raw.contains('\\')
            || raw.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        let lower = raw.to_ascii_lowercase();
        if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
            return None;
        }
        let base = Url::parse(BASE).ok()?;
        let url = base.join(raw).ok()?;
        if url.origin() != base.origin() || url.fragment().is_some() {
            return None;
        }
        let path = url.path();
        if path != "/admin" && !path.starts_with("/admin/") {
            return None;
        }
        if path.starts_with("/admin/login") || path.starts_with("/admin/logout") {
            return None;
        }
        // `..` would have been folded away by the join: refuse a path that changed.
        if !raw.starts_with(path) {
            return None;
        }
        Some(AdminPath(match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `/admin/login?next=…` with this path percent-encoded.
    pub fn login_url(&self) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect();
        format!("/admin/login?next={encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_paths_with_queries_are_kept() {
        for ok in [
            "/admin",
            "/admin/",
            "/admin/submissions/17",
            "/admin/submissions?form=quote&q=Zo%C3%AB",
        ] {
            assert_eq!(
                AdminPath::parse(ok).map(|p| p.0),
                Some(ok.to_string()),
                "{ok}"
            );
        }
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            "",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/\\evil.example",
            "/admin\\..\\..\\evil",
            "/admin/../evil",
            "/admin/%2e%2e/evil",
            "/admin/%2F%2Fevil.example",
            "/admin/\r\nSet-Cookie: x=1",
            "/admin/\t/x",
            "/admin/ x",
            "/administrator",
            "/adminevil",
            "javascript:alert(1)",
            "/admin/login",
            "/admin/login?next=/admin",
            "/admin/logout",
            "/admin/x#frag",
            "/public/form",
        ] {
            assert_eq!(AdminPath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn login_url_encodes_the_path() {
        let p = AdminPath::parse("/admin/submissions?form=quote&status=new").unwrap();
        assert_eq!(
            p.login_url(),
            "/admin/login?next=%2Fadmin%2Fsubmissions%3Fform%3Dquote%26status%3Dnew"
        );
    }
}
