//! Ids of submissions and delivery attempts: microseconds since the Unix epoch, shown as
//! 16 hex digits, stored as 8 big-endian bytes so that sled's key order is time order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! time_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(pub u64);

        impl $name {
            pub fn to_key(self) -> [u8; 8] {
                self.0.to_be_bytes()
            }

            pub fn from_key(key: &[u8]) -> Option<Self> {
                Some($name(u64::from_be_bytes(key.get(..8)?.try_into().ok()?)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                if s.len() != 16 {
                    return Err(format!("{s:?} is not a {}", stringify!($name)));
                }
                u64::from_str_radix(s, 16)
                    .map($name)
                    .map_err(|_| format!("{s:?} is not a {}", stringify!($name)))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl<'a> rocket::request::FromParam<'a> for $name {
            type Error = String;
            fn from_param(param: &'a str) -> Result<Self, String> {
                param.parse()
            }
        }
    };
}

time_id!(
    /// A submission: microseconds since the Unix epoch, made unique and increasing.
    SubmissionId
);
time_id!(
    /// One delivery attempt of one email, same scheme as `SubmissionId`.
    DeliveryId
);

/// `len` random ASCII letters and digits from the thread's OS-seeded generator: names of
/// temporary files and unguessable tokens (about 5.95 bits each).
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
