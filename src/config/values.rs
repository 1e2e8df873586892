//! How setting values are read: empty text as "not set", comma-separated lists, and the
//! Mailtrap sandbox inbox id as a number or as text.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A Mailtrap sandbox inbox id: digits, as shown in the inbox's URL in Mailtrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct InboxId(pub u64);

/// `MAILTRAP_INBOX_ID` as text (the environment, `mailtrap_inbox_id = "123456"`) or as a TOML
/// number (`mailtrap_inbox_id = 123456`); empty text means unset. Anything else (a negative or
/// fractional number, text that is not digits) is an error naming the value.
pub(super) fn inbox_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<InboxId>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<InboxId>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Mailtrap inbox id (digits)")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            InboxId::try_from(s.to_string())
                .map(Some)
                .map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(InboxId(n)))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            u64::try_from(n)
                .map(|n| Some(InboxId(n)))
                .map_err(|_| E::custom(format!("{n} is not a Mailtrap inbox id (digits)")))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Visitor)
        }
    }
    d.deserialize_any(Visitor)
}

impl TryFrom<String> for InboxId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.trim()
            .parse()
            .map(InboxId)
            .map_err(|_| format!("{s:?} is not a Mailtrap inbox id (digits)"))
    }
}

impl From<InboxId> for String {
    fn from(id: InboxId) -> String {
        id.0.to_string()
    }
}

impl fmt::Display for InboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Environment files often carry `ADMIN_EMAIL=`; an empty value means "not set".
pub(super) fn empty_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: fmt::Display,
{
    match Option::<String>::deserialize(d)? {
        Some(s) if !s.trim().is_empty() => T::try_from(s.trim().to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        _ => Ok(None),
    }
}
