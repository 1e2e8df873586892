//! Idempotency keys (`_idem`): scoped to the form, bound to the content, alive for a day
//! (Round 2 contract, "`_idem`").
//!
//! A key remembers every distinct content posted with it. The same key with the same fields
//! replays that submission's answer; with other fields (a back-button correction) it makes a
//! new submission marked as an edit of the first one still stored; a key whose submissions
//! were all deleted, or whose first use is more than `TTL` ago, is simply new.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use std::sync::atomic::Ordering;

use super::{NewSubmission, Result, Store};
use crate::model::SubmissionId;

/// How long a key binds its submissions, counted from its first use.
pub const TTL: Duration = Duration::hours(24);

/// Most contents one key remembers; older ones are forgotten first.
const MAX_ENTRIES: usize = 32;

/// The tree key: `form 0x00 key`, so one form's key never answers for another form.
pub(super) fn tree_key(form: &str, idem: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(form.len() + idem.len() + 1);
    k.extend_from_slice(form.as_bytes());
    k.push(0);
    k.extend_from_slice(idem.as_bytes());
    k
}

/// SHA-256 (hex) of what the visitor sent: the form's field values, their address and every
/// upload's field, name and content. Keys of a `BTreeMap` come sorted, so equal posts hash
/// equal whatever the order of their fields on the wire.
pub(super) fn content_hash(new: &NewSubmission) -> String {
    let uploads: Vec<_> = new
        .uploads
        .iter()
        .map(|u| (&u.field, &u.filename, &u.file.sha256))
        .collect();
    let canonical = serde_json::json!([new.form, new.fields, new.visitor_email, uploads]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// What a key has bound so far; stored as JSON under `tree_key`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Record {
    /// First use, unix seconds: the key expires `TTL` after it.
    pub created_at: i64,
    /// Oldest first.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Entry {
    pub hash: String,
    pub id: SubmissionId,
}

/// How a post with a key relates to what the key has bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Same content as this stored submission: answer with it.
    Replay(SubmissionId),
    /// New content under a live key: a new submission, an edit of this one.
    EditOf(SubmissionId),
    New,
}

impl Record {
    /// The record as stored, or `None` when absent, unreadable or expired at `now`.
    pub fn live(raw: Option<&[u8]>, now: OffsetDateTime) -> Option<Record> {
        let record: Record = serde_json::from_slice(raw?).ok()?;
        (now.unix_timestamp() - record.created_at < TTL.whole_seconds()).then_some(record)
    }

    /// Drops entries whose submission is gone (`exists` says which are still stored).
    pub fn retain_stored<E>(
        mut self,
        mut exists: impl FnMut(SubmissionId) -> Result<bool, E>,
    ) -> Result<Record, E> {
        let mut kept = Vec::with_capacity(self.entries.len());
        for e in self.entries {
            if exists(e.id)? {
                kept.push(e);
            }
        }
        self.entries = kept;
        Ok(self)
    }

    pub fn seen(&self, hash: &str) -> Seen {
        if let Some(e) = self.entries.iter().find(|e| e.hash == hash) {
            return Seen::Replay(e.id);
        }
        self.entries
            .first()
            .map_or(Seen::New, |e| Seen::EditOf(e.id))
    }

    /// The record after binding `hash` to `id`; a key without entries starts its day anew.
    pub fn with(mut self, hash: String, id: SubmissionId, now: OffsetDateTime) -> Record {
        if self.entries.is_empty() {
            self.created_at = now.unix_timestamp();
        }
        self.entries.push(Entry { hash, id });
        if self.entries.len() > MAX_ENTRIES {
            // Keep the original (what edits point at) and the newest.
            self.entries.remove(1);
        }
        self
    }
}

impl Store {
    /// Removes idempotency keys past their lifetime (and unreadable ones), at most once an
    /// hour: lookups ignore expired keys anyway, this only keeps the tree small.
    pub(super) fn prune_idempotency_keys(&self, now: OffsetDateTime) -> Result<()> {
        let now_secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let last = self.idem_pruned_at.load(Ordering::Relaxed);
        if now_secs < last + 3600
            || self
                .idem_pruned_at
                .compare_exchange(last, now_secs, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return Ok(());
        }
        for entry in self.formidem_record.iter() {
            let (k, v) = entry?;
            if Record::live(Some(&v), now).is_none() {
                self.formidem_record.remove(k)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[rocket::async_test]
    async fn idempotency_keys_are_per_form_bound_to_content_and_expire() {
        let store = Store::temporary().unwrap();
        let keyed = |form: &str, message: &str| {
            let mut n = NewSubmission::for_test(form, "Q", &[("message", message)]);
            n.idempotency_key = Some("k-1".into());
            n
        };
        let t0 = OffsetDateTime::now_utc();
        let at = |n, t| store.insert_submissions_at(vec![n], t);
        let first = at(keyed("quote", "two tents"), t0).await.unwrap().remove(0);
        match at(keyed("quote", "two tents"), t0).await {
            Err(StoreError::Duplicate(id)) => assert_eq!(id, first.id),
            other => panic!("expected a replay, got {other:?}"),
        }
        let edit = at(keyed("quote", "three tents"), t0)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(edit.edit_of, Some(first.id));
        assert!(matches!(
            at(keyed("quote", "three tents"), t0).await,
            Err(StoreError::Duplicate(id)) if id == edit.id
        ));
        let other_form = at(keyed("contact", "two tents"), t0)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            other_form.edit_of, None,
            "another form's key is another key"
        );

        store.delete_submission(other_form.id).await.unwrap();
        let after_delete = at(keyed("contact", "two tents"), t0)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(after_delete.edit_of, None);
        assert_ne!(after_delete.id, other_form.id);

        let next_day = t0 + TTL + time::Duration::seconds(1);
        let fresh = at(keyed("quote", "two tents"), next_day)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(fresh.edit_of, None, "an expired key is new");
        store.idem_pruned_at.store(0, Ordering::SeqCst);
        at(NewSubmission::for_test("quote", "Q", &[]), next_day + TTL)
            .await
            .unwrap();
        assert_eq!(store.formidem_record.len(), 0, "expired keys are pruned");
    }

    #[test]
    fn a_key_replays_the_same_content_and_marks_other_content_as_an_edit() {
        let now = OffsetDateTime::now_utc();
        let r = Record::default().with("a".into(), SubmissionId(1), now);
        assert_eq!(r.seen("a"), Seen::Replay(SubmissionId(1)));
        assert_eq!(r.seen("b"), Seen::EditOf(SubmissionId(1)));
        let r = r.with("b".into(), SubmissionId(2), now);
        assert_eq!(r.seen("b"), Seen::Replay(SubmissionId(2)));
        assert_eq!(
            r.seen("c"),
            Seen::EditOf(SubmissionId(1)),
            "edits point at the first"
        );
        let gone = r
            .clone()
            .retain_stored(|id| Ok::<_, ()>(id != SubmissionId(1)))
            .unwrap();
        assert_eq!(gone.seen("c"), Seen::EditOf(SubmissionId(2)));
        let none = r.retain_stored(|_| Ok::<_, ()>(false)).unwrap();
        assert_eq!(
            none.seen("a"),
            Seen::New,
            "a deleted submission's key is new"
        );
    }

    #[test]
    fn a_key_expires_a_day_after_its_first_use() {
        let first = OffsetDateTime::now_utc();
        let r = Record::default().with("a".into(), SubmissionId(1), first);
        let raw = serde_json::to_vec(&r).unwrap();
        assert!(Record::live(Some(&raw), first + Duration::hours(23)).is_some());
        assert!(Record::live(Some(&raw), first + TTL).is_none());
        assert!(Record::live(Some(b"\x00\x00\x00\x00\x00\x00\x00\x01"), first).is_none());
        assert_ne!(tree_key("quote", "k"), tree_key("contact", "k"));
    }
}
