//! The business's contact details shown in the footer of the visitor's emails:
//! `KIPEKEE_BUSINESS_ADDRESS`, `KIPEKEE_BUSINESS_PHONE`, `KIPEKEE_BUSINESS_WEBSITE`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number as people write it (`+255 22 211 0000`), with its `tel:` link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts digits, spaces and `+ - ( ) .`, with 5 to 17 digits (E.164 allows 15, and a
    /// local number may add a trunk or extension digit or two).
    pub fn parse(s: &str) -> Result<Phone, String> {
        let s = s.trim();
        let digits = s.chars().filter(char::is_ascii_digit).count();
        if !(5..=17).contains(&digits)
            || !s
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(format!(
                "{s:?} is not a phone number (digits, spaces and + - ( ) only)"
            ));
        }
        Ok(Phone(s.to_string()))
    }

    /// `tel:+255222110000` (RFC 3966, [`crate::model::tel_uri`]).
    pub fn href(&self) -> String {
        crate::model::tel_uri(&self.0).unwrap_or_else(|| "tel:".into())
    }
}

impl TryFrom<String> for Phone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The business's website: an absolute `https://` (or `http://`) URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Website(url::Url);

impl Website {
    pub fn parse(s: &str) -> Result<Website, String> {
        let invalid = || format!("{s:?} is not a website address like https://shop.example");
        let url = url::Url::parse(s.trim()).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(invalid());
        }
        Ok(Website(url))
    }

    pub fn href(&self) -> &str {
        self.0.as_str()
    }

    /// `shop.example/tours`: the address without scheme and trailing slash, as people say it.
    pub fn label(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        let host = host.strip_prefix("www.").unwrap_or(host);
        format!("{host}{}", self.0.path().trim_end_matches('/'))
    }
}

impl TryFrom<String> for Website {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Website::parse(&s)
    }
}

impl From<Website> for String {
    fn from(w: Website) -> String {
        w.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_link_with_their_digits_and_websites_read_short() {
        let p = Phone::parse(" +255 (22) 211-0000 ").unwrap();
        assert_eq!(p.href(), "tel:+255222110000");
        assert_eq!(p.to_string(), "+255 (22) 211-0000");
        assert_eq!(
            Phone::parse("0712 345 678").unwrap().href(),
            "tel:0712345678"
        );
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("12").is_err());
        let w = Website::parse("https://www.mbugani.example/safaris/").unwrap();
        assert_eq!(w.label(), "mbugani.example/safaris");
        assert_eq!(w.href(), "https://www.mbugani.example/safaris/");
        assert!(Website::parse("javascript:alert(1)").is_err());
        assert!(Website::parse("mbugani.example").is_err());
    }
}
