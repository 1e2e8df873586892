//! The embedded sled store: submissions, their files and delivery attempts, subscribers and
//! generated secrets. Every write that a visitor is told about is flushed before returning.

pub mod backup;
mod backup_check;
mod caps;
mod codec;
mod events;
mod files;
mod flush;
mod idem;
mod keys;
mod migrate;
mod migrate_files;
pub mod private;
mod queries;
mod reading;
mod retries;
mod sessions;
mod subscribers;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngCore;
use rocket::tokio::task::spawn_blocking;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Db, Transactional, Tree};
use time::OffsetDateTime;

pub use caps::{normalized_address, CapLimits};
pub use events::{Applied, IncomingEvent};
pub use queries::{DeliveryFilter, FormCounts, Page, SubmissionFilter};
pub use reading::{NewerPage, Position};
pub use retries::RetryJob;
pub use sessions::Session;
pub use subscribers::Signup;

use crate::model::{
    Delivery, DeliveryId, EmailStatus, NewSubmission, StoredFile, Submission, SubmissionId,
};

/// Version of the record layout; bumped with a migration step in `migrate.rs`.
pub const SCHEMA_VERSION: u64 = 3;

/// First number of every form's reference sequence, so references look like `Q-1001`.
const FIRST_REFERENCE: u64 = 1001;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another kipekee process (stop the server first)")]
    Locked { path: String },
    #[error("the store at {path} has schema version {found}, newer than this binary's {supported}; use a newer kipekee")]
    NewerSchema {
        path: String,
        found: u64,
        supported: u64,
    },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A post carried an idempotency key already used with the same content by this submission.
    #[error("duplicate of submission {0}")]
    Duplicate(SubmissionId),
    #[error("store: uploaded files: {0}")]
    Files(#[from] std::io::Error),
    #[error("store: unreadable record in {tree}: {source}")]
    Corrupt {
        tree: &'static str,
        source: serde_json::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// Cheap to clone: every field is a handle onto the same database.
#[derive(Clone)]
pub struct Store {
    db: Db,
    submissions: Tree,
    /// `formslug_submissionid`: `slug 0x00 id` → ()
    formslug_submissionid: Tree,
    /// `reference_submissionid`: `Q-1042` → id
    reference_submissionid: Tree,
    /// Uploaded files, on disk beside sled (`files`).
    files: files::Files,
    deliveries: Tree,
    /// `submissionid_deliveryid`: 16 bytes → ()
    submissionid_deliveryid: Tree,
    subscribers: Tree,
    /// `token_email`: confirm or unsubscribe token → normalized email
    token_email: Tree,
    meta: Tree,
    /// Admin sessions: session id → `Session`.
    sessions: Tree,
    /// `formidem_record`: `form 0x00 _idem` → what the key bound (`idem::Record`, JSON)
    formidem_record: Tree,
    /// When expired idempotency keys were last pruned, unix seconds.
    idem_pruned_at: Arc<AtomicU64>,
    /// `daykey_count`: `day (u64 BE) 0x00 to:|from: key` → confirmations counted (`caps`)
    daykey_count: Tree,
    /// `review_submissionid`: submission id → () for each submission awaiting review
    review_submissionid: Tree,
    /// `unread_formslug_submissionid`: `slug 0x00 id` → () while the owner has not opened it
    unread_formslug_submissionid: Tree,
    last_id: Arc<AtomicU64>,
    /// Group commit: concurrent writers share one fsync.
    flusher: Arc<flush::Flusher>,
    /// The retry queue (see `retries`).
    retries: Tree,
    /// `messageid_deliveryid`: a Mailtrap message id → the delivery id (8 bytes)
    messageid_deliveryid: Tree,
    /// `webhook_events`: a Mailtrap `event_id` → when it was applied (unix seconds, 8 bytes)
    webhook_events: Tree,
    /// When old event ids were last pruned, unix seconds.
    events_pruned_at: Arc<AtomicU64>,
}

/// sled's page cache when nothing else is configured: 64 MiB, small enough for a 1 GiB
/// server next to a proxy; a form appliance's working set is far smaller.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl Store {
    /// Opens the store in `dir` with the default cache ([`DEFAULT_CACHE_BYTES`]).
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the store in `dir` with a page cache of `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Store> {
        // sled releases its file lock from a background thread shortly after the last handle
        // of a closed store is dropped, so a lock is only reported once it has held a while.
        let mut waited = 0;
        loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .open()
            {
                Ok(db) => return Store::from_db(db, dir, files::Files::open(dir)?),
                Err(sled::Error::Io(io)) if io.to_string().contains("lock") => {
                    if waited >= 1000 {
                        return Err(StoreError::Locked {
                            path: dir.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                    waited += 25;
                }
                Err(other) => return Err(StoreError::Sled(other)),
            }
        }
    }

    /// A store in a temporary directory that disappears when dropped (tests, benches).
    pub fn temporary() -> Result<Store> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(DEFAULT_CACHE_BYTES)
            .open()?;
        Store::from_db(db, Path::new("(temporary)"), files::Files::temporary()?)
    }

    fn from_db(db: Db, dir: &Path, files: files::Files) -> Result<Store> {
        let store = Store {
            submissions: db.open_tree("submissions")?,
            formslug_submissionid: db.open_tree("formslug_submissionid")?,
            reference_submissionid: db.open_tree("reference_submissionid")?,
            files,
            deliveries: db.open_tree("deliveries")?,
            submissionid_deliveryid: db.open_tree("submissionid_deliveryid")?,
            subscribers: db.open_tree("subscribers")?,
            token_email: db.open_tree("token_email")?,
            meta: db.open_tree("meta")?,
            sessions: db.open_tree("sessions")?,
            formidem_record: db.open_tree("formidem_record")?,
            idem_pruned_at: Arc::default(),
            daykey_count: db.open_tree("daykey_count")?,
            review_submissionid: db.open_tree("review_submissionid")?,
            unread_formslug_submissionid: db.open_tree("unread_formslug_submissionid")?,
            retries: db.open_tree("retries")?,
            messageid_deliveryid: db.open_tree("messageid_deliveryid")?,
            webhook_events: db.open_tree("webhook_events")?,
            events_pruned_at: Arc::default(),
            last_id: Arc::new(AtomicU64::new(0)),
            flusher: Arc::default(),
            db,
        };
        store.migrate(dir)?;
        store.remove_orphan_files()?;
        // Global, never-expiring idempotency keys of earlier releases; `formidem_record`
        // replaces them (keys are per form now, so none of them could match).
        store.db.drop_tree("idempotency_submissionid")?;
        store.prune_webhook_events(OffsetDateTime::now_utc(), true)?;
        let newest = [&store.submissions, &store.deliveries]
            .iter()
            .filter_map(|t| t.last().ok().flatten())
            .filter_map(|(k, _)| keys::trailing_id(&k))
            .max()
            .unwrap_or(0);
        store.last_id.store(newest, Ordering::SeqCst);
        Ok(store)
    }

    pub fn schema_version(&self) -> Result<u64> {
        Ok(self.meta_u64("schema_version")?.unwrap_or(0))
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .meta
            .get(key)?
            .and_then(|v| Some(u64::from_be_bytes(v.as_ref().try_into().ok()?))))
    }

    fn set_meta_u64(&self, key: &str, v: u64) -> Result<()> {
        self.meta.insert(key, &v.to_be_bytes())?;
        Ok(())
    }

    /// The value of a generated secret, created (32 random bytes) and flushed on first use.
    pub fn secret(&self, name: &str) -> Result<Vec<u8>> {
        let key = format!("secret/{name}");
        if let Some(v) = self.meta.get(&key)? {
            return Ok(v.to_vec());
        }
        let mut bytes = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let stored =
            match self
                .meta
                .compare_and_swap(&key, None as Option<&[u8]>, Some(bytes.as_slice()))?
            {
                Ok(()) => bytes,
                Err(race) => race.current.map(|v| v.to_vec()).unwrap_or(bytes),
            };
        self.db.flush()?;
        Ok(stored)
    }

    /// A delivery id for an email about to be sent, so the message can carry it (Mailtrap's
    /// `custom_variables`); [`Store::record_deliveries`] keeps it.
    pub fn new_delivery_id(&self) -> DeliveryId {
        DeliveryId(self.next_id())
    }

    /// A unique id, increasing, close to the current time in microseconds.
    fn next_id(&self) -> u64 {
        let now =
            u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0);
        let mut last = self.last_id.load(Ordering::SeqCst);
        loop {
            let id = now.max(last + 1);
            match self
                .last_id
                .compare_exchange(last, id, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return id,
                Err(current) => last = current,
            }
        }
    }

    fn next_reference(&self, form: &str, prefix: &str) -> Result<String> {
        let n = self
            .meta
            .update_and_fetch(format!("seq/{form}"), |old| {
                let next = old
                    .and_then(|v| v.try_into().ok())
                    .map_or(FIRST_REFERENCE, |b| u64::from_be_bytes(b) + 1);
                Some(next.to_be_bytes().to_vec())
            })?
            .and_then(|v| Some(u64::from_be_bytes(v.as_ref().try_into().ok()?)))
            .unwrap_or(FIRST_REFERENCE);
        Ok(format!("{prefix}-{n}"))
    }

    /// Writes the submission, its index entries and its files in one transaction, then
    /// flushes to disk: when this returns, the submission survives `kill -9`.
    pub async fn insert_submission(&self, new: NewSubmission) -> Result<Submission> {
        let mut stored = self.insert_submissions(vec![new]).await?;
        Ok(stored.remove(0))
    }

    /// Many submissions (an import, a benchmark's fixture) with one flush at the end.
    /// A post whose `_idem` already bound the same content fails with `Duplicate(first)`.
    pub async fn insert_submissions(&self, batch: Vec<NewSubmission>) -> Result<Vec<Submission>> {
        self.insert_submissions_at(batch, OffsetDateTime::now_utc())
            .await
    }

    /// `insert_submissions` with the clock passed in (idempotency keys expire by it).
    pub(crate) async fn insert_submissions_at(
        &self,
        batch: Vec<NewSubmission>,
        now: OffsetDateTime,
    ) -> Result<Vec<Submission>> {
        self.prune_idempotency_keys(now)?;
        let mut stored = Vec::with_capacity(batch.len());
        for new in batch {
            let idem = new
                .idempotency_key
                .as_ref()
                .map(|k| (idem::tree_key(&new.form, k), idem::content_hash(&new)));
            if let Some((key, hash)) = &idem {
                // Checked first so a replay does not use up a reference number.
                let record = idem::Record::live(self.formidem_record.get(key)?.as_deref(), now)
                    .map(|r| r.retain_stored(|id| self.submissions.contains_key(id.to_key())))
                    .transpose()?;
                if let Some(idem::Seen::Replay(first)) = record.map(|r| r.seen(hash)) {
                    return Err(StoreError::Duplicate(first));
                }
            }
            let id = SubmissionId(self.next_id());
            let reference = self.next_reference(&new.form, &new.reference_prefix)?;
            let (mut submission, uploads) = new.into_record(id, reference);
            let files = self.files.clone();
            submission.files = spawn_blocking(move || files.put(id, uploads))
                .await
                .map_err(std::io::Error::other)??;
            let edit_of = (
                &self.submissions,
                &self.formslug_submissionid,
                &self.reference_submissionid,
                &self.formidem_record,
                &self.review_submissionid,
                &self.unread_formslug_submissionid,
            )
                .transaction(|(subs, by_form, by_ref, idem_tree, review, unread)| {
                    let mut record = submission.clone();
                    if let Some((key, hash)) = &idem {
                        // Checked again inside the transaction: two racing posts, one winner.
                        let bound = idem::Record::live(idem_tree.get(key)?.as_deref(), now)
                            .unwrap_or_default()
                            .retain_stored(|id| subs.get(id.to_key()).map(|v| v.is_some()))?;
                        match bound.seen(hash) {
                            idem::Seen::Replay(first) => {
                                return Err(abort(StoreError::Duplicate(first)))
                            }
                            idem::Seen::EditOf(first) => record.edit_of = Some(first),
                            idem::Seen::New => {}
                        }
                        let bound = bound.with(hash.clone(), id, now);
                        idem_tree.insert(key.as_slice(), codec::encode(&bound))?;
                    }
                    subs.insert(&id.to_key(), codec::encode(&record))?;
                    by_form.insert(keys::form_key(&record.form, id), &[])?;
                    by_ref.insert(record.reference.as_bytes(), &id.to_key())?;
                    if record.review.is_some() {
                        review.insert(&id.to_key(), &[])?;
                    }
                    if Store::unread_on_insert(&record) {
                        unread.insert(keys::form_key(&record.form, id), &[])?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(record.edit_of)
                });
            let edit_of = match edit_of {
                Ok(edit_of) => edit_of,
                Err(e) => {
                    // Not stored (a racing duplicate, a sled error): its files go too.
                    self.files.remove(id)?;
                    return Err(e.into());
                }
            };
            submission.edit_of = edit_of;
            stored.push(submission);
        }
        self.flusher.flush(&self.db).await?;
        Ok(stored)
    }

    pub fn submission(&self, id: SubmissionId) -> Result<Option<Submission>> {
        self.submissions
            .get(id.to_key())?
            .map(|v| codec::decode("submissions", &v))
            .transpose()
    }

    pub fn submission_by_reference(&self, reference: &str) -> Result<Option<Submission>> {
        match self.reference_submissionid.get(reference.as_bytes())? {
            Some(id) => match SubmissionId::from_key(&id) {
                Some(id) => self.submission(id),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Newest first, at most `limit`, optionally of one form (through the per-form index).
    pub fn latest_submissions(&self, form: Option<&str>, limit: usize) -> Result<Vec<Submission>> {
        let ids: Box<dyn Iterator<Item = sled::Result<u64>>> = match form {
            Some(slug) => Box::new(
                self.formslug_submissionid
                    .scan_prefix(keys::form_prefix(slug))
                    .rev()
                    .map(|r| r.map(|(k, _)| keys::trailing_id(&k).unwrap_or(0))),
            ),
            None => Box::new(
                self.submissions
                    .iter()
                    .rev()
                    .map(|r| r.map(|(k, _)| keys::trailing_id(&k).unwrap_or(0))),
            ),
        };
        let mut out = Vec::new();
        for id in ids.take(limit) {
            if let Some(s) = self.submission(SubmissionId(id?))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    pub fn count_submissions(&self) -> usize {
        self.submissions.len()
    }

    /// The file of `field` of submission `id`: what describes it and where it is on disk.
    /// `None` when the submission, the field's file or its content is missing.
    pub fn file_on_disk(
        &self,
        id: SubmissionId,
        field: &str,
    ) -> Result<Option<(StoredFile, std::path::PathBuf)>> {
        let Some(s) = self.submission(id)? else {
            return Ok(None);
        };
        let Some(meta) = s.files.into_iter().find(|f| f.field == field) else {
            return Ok(None);
        };
        Ok(self
            .files
            .locate(id, &meta)
            .filter(|p| p.is_file())
            .map(|p| (meta, p)))
    }

    /// The content of `field`'s file of submission `id`, read whole (tests, the CLI's
    /// checks; downloads and emails read it from [`Store::file_on_disk`] as they go).
    pub fn file(&self, id: SubmissionId, field: &str) -> Result<Option<Vec<u8>>> {
        match self.file_on_disk(id, field)? {
            Some((_, path)) => Ok(Some(std::fs::read(path)?)),
            None => Ok(None),
        }
    }

    /// Logs a round of delivery attempts (keeping ids given by [`Store::new_delivery_id`]) and sets the submission's summary status, flushed.
    pub async fn record_deliveries(
        &self,
        submission: SubmissionId,
        attempts: Vec<Delivery>,
        status: EmailStatus,
    ) -> Result<Vec<Delivery>> {
        let attempts: Vec<Delivery> = attempts
            .into_iter()
            .map(|d| Delivery {
                id: if d.id.0 == 0 {
                    DeliveryId(self.next_id())
                } else {
                    d.id
                },
                submission_id: submission,
                ..d
            })
            .collect();
        (
            &self.submissions,
            &self.deliveries,
            &self.submissionid_deliveryid,
            &self.messageid_deliveryid,
        )
            .transaction(|(subs, deliveries, index, messages)| {
                for d in &attempts {
                    deliveries.insert(&d.id.to_key(), codec::encode(d))?;
                    index.insert(&keys::delivery_key(submission, d.id), &[])?;
                    for m in &d.outcome.message_ids {
                        messages.insert(m.as_bytes(), &d.id.to_key())?;
                    }
                }
                if let Some(raw) = subs.get(submission.to_key())? {
                    let mut s: Submission = codec::decode("submissions", &raw).map_err(abort)?;
                    s.email_status = status;
                    subs.insert(&submission.to_key(), codec::encode(&s))?;
                }
                Ok(())
            })?;
        self.flusher.flush(&self.db).await?;
        Ok(attempts)
    }

    /// Every attempt for one submission, oldest first.
    pub fn deliveries_of(&self, submission: SubmissionId) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for entry in self
            .submissionid_deliveryid
            .scan_prefix(submission.to_key())
        {
            let (k, _) = entry?;
            let Some(id) = keys::trailing_id(&k) else {
                continue;
            };
            if let Some(v) = self.deliveries.get(DeliveryId(id).to_key())? {
                out.push(codec::decode("deliveries", &v)?);
            }
        }
        Ok(out)
    }

    /// Store health for `/healthz`: the meta tree answers and holds a schema version.
    pub fn check(&self) -> Result<u64> {
        self.schema_version()
    }

    pub async fn flush(&self) -> Result<()> {
        self.flusher.flush(&self.db).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn new_sub(form: &str, prefix: &str) -> NewSubmission {
        NewSubmission::for_test(form, prefix, &[("email", "a@example.com")])
    }

    #[rocket::async_test]
    async fn submissions_get_increasing_ids_and_per_form_references() {
        let store = Store::temporary().unwrap();
        let a = store
            .insert_submission(new_sub("quote", "Q"))
            .await
            .unwrap();
        let b = store
            .insert_submission(new_sub("quote", "Q"))
            .await
            .unwrap();
        let c = store
            .insert_submission(new_sub("contact", "C"))
            .await
            .unwrap();
        assert!(a.id < b.id && b.id < c.id);
        assert_eq!(
            (a.reference.as_str(), b.reference.as_str()),
            ("Q-1001", "Q-1002")
        );
        assert_eq!(c.reference, "C-1001");
        let quotes = store.latest_submissions(Some("quote"), 10).unwrap();
        assert_eq!(
            quotes.iter().map(|s| s.id).collect::<Vec<_>>(),
            [b.id, a.id]
        );
        assert_eq!(
            store.submission_by_reference("C-1001").unwrap().unwrap().id,
            c.id
        );
        assert_eq!(store.latest_submissions(None, 2).unwrap().len(), 2);
    }

    #[rocket::async_test]
    async fn deliveries_link_to_their_submission_and_set_its_status() {
        let store = Store::temporary().unwrap();
        let s = store
            .insert_submission(new_sub("quote", "Q"))
            .await
            .unwrap();
        assert_eq!(s.email_status, EmailStatus::Pending);
        let attempt = Delivery::planned("admin", Some("o@example.com"), "subj");
        let saved = store
            .record_deliveries(s.id, vec![attempt.clone(), attempt], EmailStatus::Failed)
            .await
            .unwrap();
        let log = store.deliveries_of(s.id).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].id, saved[0].id);
        assert_eq!(log[0].submission_id, s.id);
        assert_eq!(
            store.submission(s.id).unwrap().unwrap().email_status,
            EmailStatus::Failed
        );
    }

    #[test]
    fn a_newer_schema_is_refused_and_secrets_persist() {
        let dir = tempfile::tempdir().unwrap();
        let secret = {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            let s = store.secret("cookie").unwrap();
            assert_eq!(store.secret("cookie").unwrap(), s);
            store
                .set_meta_u64("schema_version", SCHEMA_VERSION + 1)
                .unwrap();
            store.db.flush().unwrap();
            s
        };
        let err = Store::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("newer than this binary"), "{err}");
        {
            let store = reopen_raw(dir.path());
            let meta = store.open_tree("meta").unwrap();
            meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())
                .unwrap();
            store.flush().unwrap();
        }
        assert_eq!(
            Store::open(dir.path()).unwrap().secret("cookie").unwrap(),
            secret
        );
    }

    fn reopen_raw(dir: &Path) -> sled::Db {
        for _ in 0..100 {
            if let Ok(db) = sled::open(dir) {
                return db;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        sled::open(dir).unwrap()
    }

    #[test]
    fn a_second_process_style_open_says_the_store_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        // sled takes an exclusive file lock; a second open, even in-process, is refused.
        match Store::open(dir.path()) {
            Err(StoreError::Locked { path }) => assert_eq!(path, dir.path().display().to_string()),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a second open of a held store succeeded"),
        }
    }
}
