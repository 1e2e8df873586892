//! The embedded sled store: submissions, their files and delivery attempts, subscribers and
//! generated secrets. Every write that a visitor is told about is flushed before returning.

pub mod backup;
mod caps;
mod claims;
mod codec;
mod events;
mod files;
mod flush;
mod idem;
mod keys;
mod migrate;
mod migrate_files;
mod migrate_ledger;
pub mod private;
mod queries;
mod reading;
mod retries;
mod sessions;
mod settle;
mod submissions;
mod subscribers;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngCore;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Db, Tree};
use time::OffsetDateTime;

pub use caps::{normalized_address, CapLimits};
pub use claims::Claim;
pub use events::{Applied, IncomingEvent};
pub use queries::{DeliveryFilter, FormCounts, Page, SubmissionFilter};
pub use reading::{NewerPage, Position};
pub use retries::RetryJob;
pub use sessions::{Idle, Session};
pub use subscribers::Signup;

use crate::model::{Delivery, DeliveryId, NewSubmission, Submission, SubmissionId};

/// Version of the record layout; bumped with a migration step in `migrate.rs`.
pub const SCHEMA_VERSION: u64 = 4;

/// First number of every form's reference sequence, so references look like `Q-1001`.
pub(super) const FIRST_REFERENCE: u64 = 1001;

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
    /// `deliveryid_body`: delivery id → the email as rendered (`EmailBody`, JSON), written
    /// with its delivery record and read only to show it
    deliveryid_body: Tree,
    /// `bounced_deliveryid`: delivery id → () for each bounce or rejection that still stands
    /// (no later attempt at the same email went through), kept by `settle`
    bounced_deliveryid: Tree,
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
    /// `test_submissionid`: submission id → () for each one made by "test this form", so the
    /// dashboard's counts leave them out without reading records (`queries::form_counts`)
    test_submissionid: Tree,
    last_id: Arc<AtomicU64>,
    /// Group commit: concurrent writers share one fsync.
    flusher: Arc<flush::Flusher>,
    /// The retry queue (see `retries`).
    retries: Tree,
    /// `claims`: `submission id ++ kind` → the email's latest attempt (8 bytes) and whether
    /// it is still in flight (1 byte): the one owner of each email (see `claims`).
    claims: Tree,
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
            deliveryid_body: db.open_tree("deliveryid_body")?,
            bounced_deliveryid: db.open_tree("bounced_deliveryid")?,
            subscribers: db.open_tree("subscribers")?,
            token_email: db.open_tree("token_email")?,
            meta: db.open_tree("meta")?,
            sessions: db.open_tree("sessions")?,
            formidem_record: db.open_tree("formidem_record")?,
            idem_pruned_at: Arc::default(),
            daykey_count: db.open_tree("daykey_count")?,
            review_submissionid: db.open_tree("review_submissionid")?,
            unread_formslug_submissionid: db.open_tree("unread_formslug_submissionid")?,
            test_submissionid: db.open_tree("test_submissionid")?,
            retries: db.open_tree("retries")?,
            claims: db.open_tree("claims")?,
            messageid_deliveryid: db.open_tree("messageid_deliveryid")?,
            webhook_events: db.open_tree("webhook_events")?,
            events_pruned_at: Arc::default(),
            last_id: Arc::new(AtomicU64::new(0)),
            flusher: Arc::default(),
            db,
        };
        store.migrate(dir)?;
        store.remove_orphan_files()?;
        store.index_tests()?;
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
        // Before anything can send: what a killed run left with Mailtrap is `unknown`.
        store.settle_interrupted()?;
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
mod tests;
