//! Secrets must never reach a log: one assertion for every test that reads one.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Panics, naming the secret and the line, when any of `secrets` appears in `log` as is,
/// percent-encoded (as a cookie or form value travels) or percent-decoded.
/// Secrets shorter than 8 characters are refused: a search for them proves nothing.
pub fn assert_no_secrets(log: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            secret.len() >= 8,
            "{secret:?} is too short to search a log for"
        );
        let encoded = percent_encode(secret);
        let decoded = percent_decode(secret);
        for form in [secret.to_string(), encoded, decoded] {
            if let Some(line) = log.lines().find(|l| l.contains(form.as_str())) {
                panic!("secret {secret:?} is in the log (as {form:?}):\n{line}");
            }
        }
    }
}

/// Everything but RFC 3986's unreserved characters, as a cookie or form value is encoded.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODED).to_string()
}

fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}
