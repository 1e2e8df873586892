//! Addresses and secrets: values checked once when read, then trusted everywhere.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A syntactically valid email address with no characters that could break a header.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        let invalid = || format!("{s:?} is not a valid email address");
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        let plain = |c: char| !c.is_control() && !c.is_whitespace() && !"<>()[]\\,;:\"".contains(c);
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(plain)
            || local.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !email_address::EmailAddress::is_valid(s)
        {
            return Err(invalid());
        }
        Ok(EmailAddress(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as Mailtrap accepts it (ASCII only): the domain in its punycode form
    /// (`anna@bücher.example` → `anna@xn--bcher-kva.example`, IDNA/UTS 46 via the `idna`
    /// crate). `None` when the local part is not ASCII (no ASCII form exists) or the
    /// domain is not a valid international name.
    pub fn to_ascii(&self) -> Option<String> {
        let (local, domain) = self.0.rsplit_once('@')?;
        if !local.is_ascii() {
            return None;
        }
        if domain.is_ascii() {
            return Some(self.0.clone());
        }
        let ascii = idna::domain_to_ascii(domain).ok()?;
        Some(format!("{local}@{ascii}"))
    }

    /// The address lowercased, for lookups where `A@x.com` and `a@x.com` are one person.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a `mailto:` part.
const MAILTO_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The one `mailto:` rule (RFC 6068): the address's local part and domain, and the subject
/// if any, percent-encoded, so nothing a visitor typed can add a header (`?bcc=`), a body or
/// a second recipient to the link.
pub fn mailto_uri(address: &EmailAddress, subject: Option<&str>) -> String {
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, MAILTO_PART).to_string();
    let to = address.as_str().rsplit_once('@').map_or_else(
        || encode(address.as_str()),
        |(local, domain)| format!("{}@{}", encode(local), encode(domain)),
    );
    match subject {
        Some(subject) => format!("mailto:{to}?subject={}", encode(subject)),
        None => format!("mailto:{to}"),
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An address with an optional display name: `Name <addr>` or `addr`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mailbox {
    pub name: Option<String>,
    pub email: EmailAddress,
}

impl Mailbox {
    pub fn parse(input: &str) -> Result<Mailbox, String> {
        let s = input.trim();
        match (s.find('<'), s.strip_suffix('>')) {
            (Some(open), Some(rest)) => {
                let name = s[..open].trim().trim_matches('"').trim();
                let email = EmailAddress::parse(&rest[open + 1..])?;
                Ok(Mailbox::new(name, email))
            }
            (None, None) => Ok(Mailbox {
                name: None,
                email: EmailAddress::parse(s)?,
            }),
            _ => Err(format!("{s:?} is not `Name <address>` or `address`")),
        }
    }

    /// A mailbox whose display name is cleaned of anything that cannot sit in a header.
    pub fn new(name: &str, email: EmailAddress) -> Mailbox {
        let name = super::single_line(name, 100);
        Mailbox {
            name: (!name.is_empty()).then_some(name),
            email,
        }
    }
}

impl TryFrom<String> for Mailbox {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Mailbox::parse(&s)
    }
}

impl From<Mailbox> for String {
    fn from(m: Mailbox) -> String {
        m.to_string()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.email),
            None => write!(f, "{}", self.email),
        }
    }
}

/// A value that must never reach a log, a page or an error message.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailto_rule_for_the_owner_email_and_the_admin_reply() {
        let plain = EmailAddress::parse("zoe@visitor.example").unwrap();
        assert_eq!(mailto_uri(&plain, None), "mailto:zoe@visitor.example");
        assert_eq!(
            mailto_uri(&plain, Some("Q-1001 & more")),
            "mailto:zoe@visitor.example?subject=Q-1001%20%26%20more"
        );
        let hostile = EmailAddress::parse("a?bcc=eve%40evil.example&body=x@evil.example").unwrap();
        let uri = mailto_uri(&hostile, Some("C-1"));
        assert_eq!(uri.matches('?').count(), 1, "{uri}");
        assert!(!uri.contains("&body") && !uri.contains("bcc="), "{uri}");
    }

    #[test]
    fn mailbox_parses_both_forms() {
        let m = Mailbox::parse("Shop <hi@shop.example>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Shop"));
        assert_eq!(m.email.as_str(), "hi@shop.example");
        assert!(Mailbox::parse("hi@shop.example").unwrap().name.is_none());
        assert!(Mailbox::parse("Shop <not-an-address>").is_err());
        assert!(Mailbox::parse("Shop hi@shop.example>").is_err());
    }

    #[test]
    fn email_address_rejects_header_breakers() {
        for bad in [
            "a@b",
            "a b@c.com",
            "a@b.com\r\nBcc: x@y.com",
            "<a@b.com>",
            "@b.com",
            "a@.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(EmailAddress::parse("jane.doe+quotes@mail.example.co.tz").is_ok());
    }

    #[test]
    fn international_domains_have_an_ascii_form_and_local_parts_do_not() {
        let anna = EmailAddress::parse("anna@bücher.example").unwrap();
        assert_eq!(
            anna.to_ascii().as_deref(),
            Some("anna@xn--bcher-kva.example")
        );
        let plain = EmailAddress::parse("jo@shop.example").unwrap();
        assert_eq!(plain.to_ascii().as_deref(), Some("jo@shop.example"));
        if let Ok(local) = EmailAddress::parse("jösef@shop.example") {
            assert_eq!(local.to_ascii(), None);
        }
    }
}
