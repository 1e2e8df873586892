//! The store's schema version and the steps that bring an older store up to it, run by
//! `Store::open` before anything reads a record. A store newer than the binary is refused
//! and left untouched.

use std::collections::BTreeMap;
use std::path::Path;

use super::migrate_ledger::rewrite_delivery;
use super::{codec, keys, Delivery, Result, Store, StoreError, Submission, SCHEMA_VERSION};
use crate::model::{EmailStatus, FailureKind};

/// A step brings the store from version `n` to `n + 1`; `STEPS[n]` is that step. Steps are
/// idempotent: one interrupted by a crash is run again, whole, at the next start.
type Step = (&'static str, fn(&Store) -> Result<()>);

const STEPS: [Step; SCHEMA_VERSION as usize] = [
    (
        "records rewritten in the current layout, indexes and reference counters rebuilt",
        v0_to_v1,
    ),
    ("failed deliveries given their failure kind", v1_to_v2),
    (
        "uploaded files moved out of sled to <data_dir>/files",
        super::migrate_files::v2_to_v3,
    ),
    (
        "rendered emails moved to deliveryid_body, every submission's state settled by the ledger",
        super::migrate_ledger::v3_to_v4,
    ),
];

impl Store {
    /// Brings the store to `SCHEMA_VERSION`, step by step, recording each version reached.
    pub(super) fn migrate(&self, dir: &Path) -> Result<()> {
        let found = match self.meta_u64("schema_version")? {
            Some(v) => v,
            // A store from before schema versions (version 0), unless it is new and empty.
            None if self.holds_records() => 0,
            None => SCHEMA_VERSION,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: dir.display().to_string(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (from, (what, step)) in STEPS.iter().enumerate().skip(found as usize) {
            tracing::info!(from, to = from + 1, data_dir = %dir.display(), "migrating the store: {what}");
            step(self)?;
            self.set_meta_u64("schema_version", from as u64 + 1)?;
            self.db.flush()?;
        }
        if self.meta_u64("schema_version")?.is_none() {
            self.set_meta_u64("schema_version", SCHEMA_VERSION)?;
        }
        Ok(())
    }

    fn holds_records(&self) -> bool {
        !(self.submissions.is_empty() && self.deliveries.is_empty() && self.subscribers.is_empty())
    }
}

/// Version 0 (before schema versions): records may lack the fields added since (status,
/// notes, test, files, spam, …) and the per-form, reference and delivery indexes may be
/// missing. Every record is rewritten through the current types (their serde defaults fill
/// the gaps), every index entry is put back, and each form's reference counter is moved past
/// the highest reference in use, so new references never repeat an old one.
fn v0_to_v1(store: &Store) -> Result<()> {
    let mut highest: BTreeMap<String, u64> = BTreeMap::new();
    for entry in store.submissions.iter() {
        let (key, raw) = entry?;
        let s: Submission = codec::decode("submissions", &raw)?;
        store.submissions.insert(&key, codec::encode(&s))?;
        store
            .formslug_submissionid
            .insert(keys::form_key(&s.form, s.id), &[])?;
        store
            .reference_submissionid
            .insert(s.reference.as_bytes(), &s.id.to_key())?;
        if let Some(n) = reference_number(&s.reference) {
            let top = highest.entry(s.form.clone()).or_default();
            *top = (*top).max(n);
        }
    }
    for (form, n) in highest {
        let key = format!("seq/{form}");
        if store.meta_u64(&key)?.is_none_or(|current| current < n) {
            store.set_meta_u64(&key, n)?;
        }
    }
    for entry in store.deliveries.iter() {
        let (key, raw) = entry?;
        let d: Delivery = codec::decode("deliveries", &raw)?;
        rewrite_delivery(store, &key, &raw, &d)?;
        store
            .submissionid_deliveryid
            .insert(keys::delivery_key(d.submission_id, d.id), &[])?;
    }
    Ok(())
}

/// Version 1 recorded a failure only as text. Each failed attempt gets its `FailureKind`,
/// read once from what version 1 wrote (its status code and the fixed wording of its
/// client's errors); from version 2 on no decision reads error text. The status is kept as
/// it was recorded.
fn v1_to_v2(store: &Store) -> Result<()> {
    for entry in store.deliveries.iter() {
        let (key, raw) = entry?;
        let mut d: Delivery = codec::decode("deliveries", &raw)?;
        if d.outcome.status != EmailStatus::Failed || d.outcome.failure.is_some() {
            continue;
        }
        d.outcome.failure = Some(legacy_failure_kind(
            d.outcome.http_status,
            d.outcome.error.as_deref().unwrap_or(""),
        ));
        rewrite_delivery(store, &key, &raw, &d)?;
    }
    Ok(())
}

fn legacy_failure_kind(http_status: Option<u16>, error: &str) -> FailureKind {
    match http_status {
        Some(200..=299) => FailureKind::Rejected,
        Some(status) => FailureKind::Http {
            status,
            mailtrap: !(error.ends_with("non-JSON answer") || error.ends_with("empty answer")),
        },
        None if error.starts_with("could not connect")
            || error.starts_with("could not resolve") =>
        {
            FailureKind::Connect
        }
        None if error.starts_with("could not render") => FailureKind::Render,
        None if error.starts_with("MAILTRAP_API_URL") => FailureKind::BadUrl,
        // "connection to Mailtrap failed or timed out", or anything else: may have arrived.
        None => FailureKind::TimeoutAfterSent,
    }
}

/// `1042` of `Q-1042`.
fn reference_number(reference: &str) -> Option<u64> {
    reference.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubmissionId;

    /// A record as the first releases wrote it: none of the fields added since.
    fn v0_submission(id: u64, reference: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("{id:016x}"),
            "form": "quote",
            "reference": reference,
            "created_at": "2024-05-01T09:30:00Z",
            "fields": { "full_name": "Asha", "email": "asha@example.com", "message": "Hi" },
            "visitor_email": "asha@example.com",
            "email_status": "sent"
        })
    }

    /// A pre-version store: two submissions, no index entries, no schema version.
    fn write_v0_store(dir: &Path) {
        let db = sled::open(dir).unwrap();
        let subs = db.open_tree("submissions").unwrap();
        for (id, reference) in [(1_000_001u64, "Q-1001"), (1_000_002, "Q-1007")] {
            let raw = serde_json::to_vec(&v0_submission(id, reference)).unwrap();
            subs.insert(id.to_be_bytes(), raw).unwrap();
        }
        db.flush().unwrap();
    }

    #[test]
    fn a_version_0_store_is_migrated_at_open() {
        let dir = tempfile::tempdir().unwrap();
        write_v0_store(dir.path());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let quotes = store.latest_submissions(Some("quote"), 10).unwrap();
        assert_eq!(quotes.len(), 2, "the per-form index was rebuilt");
        let s = store.submission_by_reference("Q-1007").unwrap().unwrap();
        assert_eq!(s.id, SubmissionId(1_000_002));
        assert_eq!((s.status.as_str(), s.test, s.spam), ("new", false, false));
        let raw = store.submissions.get(s.id.to_key()).unwrap().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(
            json["status"], "new",
            "the record is rewritten in the new layout"
        );
        assert_eq!(store.next_reference("quote", "Q").unwrap(), "Q-1008");
    }

    #[test]
    fn version_1_failures_get_their_kind_and_keep_their_status() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                Some(401),
                "HTTP 401: Unauthorized",
                FailureKind::Http {
                    status: 401,
                    mailtrap: true,
                },
            ),
            (
                Some(504),
                "HTTP 504: non-JSON answer",
                FailureKind::Http {
                    status: 504,
                    mailtrap: false,
                },
            ),
            (
                None,
                "could not connect to Mailtrap: refused",
                FailureKind::Connect,
            ),
            (
                None,
                "connection to Mailtrap failed or timed out: timed out",
                FailureKind::TimeoutAfterSent,
            ),
            (Some(200), "'from' is required", FailureKind::Rejected),
        ];
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", &1u64.to_be_bytes())
                .unwrap();
            let deliveries = db.open_tree("deliveries").unwrap();
            for (i, (http, error, _)) in cases.iter().enumerate() {
                let raw = serde_json::json!({
                    "id": format!("{:016x}", i + 1), "submission_id": format!("{:016x}", 1),
                    "kind": "admin", "to": "o@example.com", "subject": "s",
                    "started_at": "2026-11-01T09:30:00Z", "duration_ms": 5,
                    "status": "failed", "http_status": http, "error": error,
                });
                deliveries
                    .insert((i as u64 + 1).to_be_bytes(), raw.to_string().as_bytes())
                    .unwrap();
            }
            db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        for (i, (_, _, kind)) in cases.iter().enumerate() {
            let raw = store
                .deliveries
                .get((i as u64 + 1).to_be_bytes())
                .unwrap()
                .unwrap();
            let d: Delivery = codec::decode("deliveries", &raw).unwrap();
            assert_eq!(d.outcome.failure, Some(*kind), "{:?}", d.outcome.error);
            assert_eq!(d.outcome.status, EmailStatus::Failed);
        }
    }

    #[test]
    fn a_current_store_reopens_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let before: Submission = serde_json::from_value(v0_submission(7, "C-1001")).unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .submissions
                .insert(before.id.to_key(), codec::encode(&before))
                .unwrap();
            store.set_meta_u64("seq/quote", 1001).unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.submission(before.id).unwrap().unwrap(), before);
        // No step ran: the index a migration would have rebuilt is still empty.
        assert!(store.formslug_submissionid.is_empty());
    }

    #[test]
    fn an_empty_store_starts_at_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.meta_u64("schema_version").unwrap(),
            Some(SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_newer_store_is_refused_in_one_line_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("newer than this binary"), "{err}");
        let db = sled::open(dir.path()).unwrap();
        let version = db.open_tree("meta").unwrap().get("schema_version").unwrap();
        assert_eq!(
            version.unwrap().as_ref(),
            (SCHEMA_VERSION + 1).to_be_bytes()
        );
    }
}
