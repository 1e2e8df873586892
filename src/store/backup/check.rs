//! What a backup's records must be before any of them reaches a store: every record of a
//! known tree decodes as its type, and admin sessions are never part of a backup, in either
//! direction.

use serde::de::DeserializeOwned;

use crate::model::{Delivery, EmailBody, Submission, Subscriber};
use crate::store::{RetryJob, Store, SCHEMA_VERSION};

/// Trees a backup leaves out and a restore skips: a live session (id and CSRF token) with
/// the cookie key would let the file alone act as a logged-in admin.
pub(super) const EXCLUDED_TREES: &[&str] = &["sessions"];

/// What to do with one entry of a backup.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Restore,
    /// An excluded tree's entry, from a backup made before it was excluded.
    Skip,
}

/// Checks one entry of a backup of `schema_version`. Records of the current schema decode
/// as their type; older ones (which the migrations upgrade at open) must be JSON objects.
/// Trees this binary does not know (indexes, raw files, trees of later features) are kept
/// as they are. The error says what is wrong, without the value.
pub(super) fn check(
    schema_version: u64,
    tree: &str,
    key: &[u8],
    value: &[u8],
) -> Result<Verdict, String> {
    if EXCLUDED_TREES.contains(&tree) {
        return Ok(Verdict::Skip);
    }
    let current = schema_version == SCHEMA_VERSION;
    match tree {
        "submissions" if current => submission(value),
        "submissions" => record::<Submission>(current, tree, value),
        "files" if schema_version >= 3 && super::file_entry_key(key).is_none() => {
            Err("a file's key is not a submission id followed by the file's number".into())
        }
        "deliveries" => record::<Delivery>(current, tree, value),
        "deliveryid_body" => record::<EmailBody>(current, tree, value),
        "subscribers" => record::<Subscriber>(current, tree, value),
        "retries" => record::<RetryJob>(current, tree, value),
        "claims" if !Store::is_claim_entry(key, value) => {
            Err("a claim (claims) is not a delivery id and an in-flight flag".into())
        }
        "formidem_record" => record::<crate::store::idem::Record>(current, tree, value),
        "daykey_count" if value.len() != 4 => {
            Err("a confirmation counter (daykey_count) is not 4 bytes".into())
        }
        "meta" => meta(key, value),
        _ => Ok(()),
    }
    .map(|()| Verdict::Restore)
}

fn record<T: DeserializeOwned>(current: bool, tree: &str, value: &[u8]) -> Result<(), String> {
    let unreadable = |e: serde_json::Error| format!("a record of {tree} cannot be read: {e}");
    if current {
        serde_json::from_slice::<T>(value)
            .map(|_| ())
            .map_err(unreadable)
    } else {
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(value)
            .map(|_| ())
            .map_err(unreadable)
    }
}

/// A submission of the current schema: it decodes, and each of its files is in its own
/// directory (`files/<its id>/<n>`), so a restored record can never point elsewhere.
fn submission(value: &[u8]) -> Result<(), String> {
    let s: Submission = serde_json::from_slice(value)
        .map_err(|e| format!("a record of submissions cannot be read: {e}"))?;
    if s.files.iter().any(|f| {
        !f.path.is_empty() && crate::store::files::Files::number_in(s.id, &f.path).is_none()
    }) {
        return Err(format!(
            "submission {} names a file outside files/{}/",
            s.id, s.id
        ));
    }
    Ok(())
}

fn meta(key: &[u8], value: &[u8]) -> Result<(), String> {
    match key {
        b"schema_version" if value.len() != 8 => Err("meta schema_version is not 8 bytes".into()),
        b"admin_password_hash" => std::str::from_utf8(value)
            .ok()
            .filter(|phc| argon2::PasswordHash::new(phc).is_ok())
            .map(|_| ())
            .ok_or_else(|| "meta admin_password_hash is not an argon2 PHC string".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_the_current_schema_must_decode() {
        let bad = br#"{"not":"a submission"}"#;
        let err = check(SCHEMA_VERSION, "submissions", b"k", bad).unwrap_err();
        assert!(err.contains("submissions"), "{err}");
        assert!(
            !err.contains("a submission"),
            "no value in the message: {err}"
        );
        assert!(check(SCHEMA_VERSION - 1, "submissions", b"k", bad).is_ok());
        assert!(check(SCHEMA_VERSION - 1, "submissions", b"k", b"[1]").is_err());
        assert!(check(SCHEMA_VERSION, "formidem_record", b"k", b"{}").is_err());
        assert!(check(SCHEMA_VERSION, "daykey_count", b"k", &7u32.to_be_bytes()).is_ok());
        assert!(check(SCHEMA_VERSION, "daykey_count", b"k", b"seven").is_err());
        let mut claim = 7u64.to_be_bytes().to_vec();
        claim.push(1);
        assert!(check(SCHEMA_VERSION, "claims", b"\0\0\0\0\0\0\0\x07admin", &claim).is_ok());
        assert!(check(SCHEMA_VERSION, "claims", b"k", &claim).is_err());
        claim[8] = 2;
        assert!(check(SCHEMA_VERSION, "claims", b"\0\0\0\0\0\0\0\x07admin", &claim).is_err());
        assert_eq!(
            check(SCHEMA_VERSION, "sessions", b"s", b"junk"),
            Ok(Verdict::Skip)
        );
        assert!(check(SCHEMA_VERSION, "meta", b"admin_password_hash", b"pwned").is_err());
        assert!(
            check(2, "files", b"k", b"\xff\x00").is_ok(),
            "sled's values up to schema 2"
        );
        let mut key = 7u64.to_be_bytes().to_vec();
        key.extend_from_slice(b"0");
        assert!(check(SCHEMA_VERSION, "files", &key, b"\xff\x00").is_ok());
        let err = check(SCHEMA_VERSION, "files", b"k", b"x").unwrap_err();
        assert!(err.contains("file's key"), "{err}");
        let outside = serde_json::json!({
            "id": "0000000000000007", "form": "job", "reference": "J-1",
            "created_at": "2026-11-01T09:30:00Z", "fields": {}, "visitor_email": null,
            "email_status": "sent",
            "files": [{ "field": "cv", "filename": "cv.pdf", "content_type": "application/pdf",
                        "size": 1, "sha256": "", "path": "files/0000000000000007/../../meta" }],
        });
        let err = check(
            SCHEMA_VERSION,
            "submissions",
            b"k",
            outside.to_string().as_bytes(),
        )
        .unwrap_err();
        assert!(err.contains("outside files/"), "{err}");
    }
}
