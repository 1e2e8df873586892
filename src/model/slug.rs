//! A form's slug: its key under `[default.forms]` and the `<slug>` of `/f/<slug>`, checked
//! once when read so that it is safe in a path, a file name and a metrics label.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// At most 40 lowercase ASCII letters, digits and dashes (`quote`, `safari-2027`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FormSlug(String);

/// A text that is not a form slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("form slug {0:?}: must be lowercase letters, digits and dashes, at most 40")]
pub struct InvalidSlug(String);

impl FormSlug {
    /// The longest slug accepted.
    pub const MAX_LEN: usize = 40;

    pub fn parse(text: &str) -> Result<FormSlug, InvalidSlug> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(FormSlug(text.to_string()))
        } else {
            Err(InvalidSlug(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FormSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lets a map keyed by slugs be read with a route's `&str` (`forms["quote"]`).
impl Borrow<str> for FormSlug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for FormSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<FormSlug> for String {
    fn from(slug: FormSlug) -> String {
        slug.0
    }
}

impl TryFrom<String> for FormSlug {
    type Error = InvalidSlug;
    fn try_from(text: String) -> Result<Self, InvalidSlug> {
        FormSlug::parse(&text)
    }
}

impl<'a> rocket::request::FromParam<'a> for FormSlug {
    type Error = InvalidSlug;
    fn from_param(param: &'a str) -> Result<Self, InvalidSlug> {
        FormSlug::parse(param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_short_lowercase_letters_digits_and_dashes() {
        for good in ["quote", "safari-2027", "a", &"x".repeat(40)] {
            assert_eq!(FormSlug::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Quote", "safari_2027", "../etc", "ü", &"x".repeat(41)] {
            assert!(FormSlug::parse(bad).is_err(), "{bad:?}");
        }
        let said = FormSlug::parse("Book Now").unwrap_err().to_string();
        assert!(
            said.contains("\"Book Now\"") && said.contains("dashes"),
            "{said}"
        );
    }
}
