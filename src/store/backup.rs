//! Whole-store backup and restore as a JSON-lines stream. A backup walks every sled tree by name, so trees added
//! later are in it without a change here.
//!
//! Admin sessions are left out (`check::EXCLUDED_TREES`): the file alone must never be a
//! working login. The cookie key, the time-trap key and a generated password's hash (never
//! the password) are kept, so a restored server keeps its cookies and its password.
//!
//! sled 0.34 has no snapshots: a backup taken while the server writes may catch a submission
//! half-written (its record without its newest delivery, say). `kipekee backup` cannot run
//! beside the server (sled's lock refuses it); the admin panel's download runs inside the
//! server and accepts that small risk.
//!
//! The stream: a header line `{"kipekee_backup":1,"schema_version":N,"created_at":"…"}`, one
//! line per entry `{"tree":"…","key":"<base64>","value":"<base64>"}`, and an end line
//! `{"kipekee_backup_end":<entries>}` so that a cut-off file is refused instead of restored.

mod check;
mod stream;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use sled::Tree;
use time::OffsetDateTime;

use super::{codec, keys, Store, StoreError, Submission, SCHEMA_VERSION};
use crate::model::SubmissionId;
use check::EXCLUDED_TREES;
use stream::{End, Entry, Header, Reader};

/// Version of the stream layout, the header's `kipekee_backup`.
pub const BACKUP_FORMAT: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("backup: {0}")]
    Io(#[from] std::io::Error),
    #[error("backup line {line}: {message}")]
    Invalid { line: u64, message: String },
    #[error("the backup is incomplete: it ends without its end line (cut off while written?)")]
    Truncated,
    #[error("the backup has schema version {found}, newer than this binary's {supported}; restore it with a newer kipekee")]
    NewerSchema { found: u64, supported: u64 },
    #[error("the store already holds {submissions} submission(s) and {subscribers} subscriber(s); restoring would replace them (use --force to do so)")]
    NotEmpty {
        submissions: usize,
        subscribers: usize,
    },
    #[error(
        "{source}; the store now holds part of the backup: restore a complete one with --force"
    )]
    Partial { source: Box<BackupError> },
}

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Store(StoreError::Sled(e))
    }
}

/// What a backup holds: its schema version and the number of entries of each non-empty tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupStats {
    pub schema_version: u64,
    pub trees: BTreeMap<String, u64>,
}

impl BackupStats {
    pub fn entries(&self) -> u64 {
        self.trees.values().sum()
    }

    /// Entries of one tree (`submissions`, `files`, `deliveries`, `subscribers`, …).
    pub fn count(&self, tree: &str) -> u64 {
        self.trees.get(tree).copied().unwrap_or(0)
    }
}

impl Store {
    /// Writes every entry of every tree to `out` as a backup stream, then flushes `out`.
    pub fn backup_to<W: Write>(&self, mut out: W) -> Result<BackupStats, BackupError> {
        let schema_version = self.schema_version()?;
        let header = Header {
            kipekee_backup: BACKUP_FORMAT,
            schema_version,
            created_at: OffsetDateTime::now_utc(),
            kipekee_version: env!("CARGO_PKG_VERSION").into(),
        };
        write_line(&mut out, &header)?;
        let mut stats = BackupStats {
            schema_version,
            trees: BTreeMap::new(),
        };
        let mut names = self.db.tree_names();
        names.sort();
        for name in names {
            let tree_name = String::from_utf8(name.to_vec()).map_err(|_| {
                BackupError::Io(std::io::Error::other("a sled tree name is not UTF-8"))
            })?;
            if EXCLUDED_TREES.contains(&tree_name.as_str()) {
                continue;
            }
            for entry in self.db.open_tree(&name)?.iter() {
                let (key, value) = entry?;
                let entry = Entry {
                    tree: tree_name.clone(),
                    key: BASE64.encode(key),
                    value: BASE64.encode(value),
                };
                write_line(&mut out, &entry)?;
                *stats.trees.entry(tree_name.clone()).or_default() += 1;
            }
        }
        self.backup_files(&mut out, &mut stats)?;
        let end = End {
            kipekee_backup_end: stats.entries(),
        };
        write_line(&mut out, &end)?;
        out.flush()?;
        Ok(stats)
    }

    /// Reads a whole backup stream without touching any store: its header, every entry and
    /// its end line. Run it before `restore_into` when the backup can be read twice.
    pub fn verify_backup<R: BufRead>(input: R) -> Result<BackupStats, BackupError> {
        let mut reader = Reader::new(input);
        let schema_version = reader.header()?;
        let trees = reader.entries(|_, _, _| Ok(()))?;
        Ok(BackupStats {
            schema_version,
            trees,
        })
    }

    /// Opens the store at `dir` (created if missing) and `restore_into` it.
    pub fn restore_from<R: BufRead>(
        dir: &Path,
        input: R,
        force: bool,
    ) -> Result<BackupStats, BackupError> {
        Store::open(dir)?.restore_into(input, force)
    }

    /// Refuses, unless `force`, to restore over a store holding any submission or subscriber.
    pub fn check_restorable(&self, force: bool) -> Result<(), BackupError> {
        let (submissions, subscribers) = (self.submissions.len(), self.subscribers.len());
        if force || submissions + subscribers == 0 {
            return Ok(());
        }
        Err(BackupError::NotEmpty {
            submissions,
            subscribers,
        })
    }

    /// Replaces every tree's content with the backup's, then flushes; refuses what
    /// `check_restorable` refuses and a backup of a newer schema. The stream is checked as
    /// it is written: if it turns out broken halfway the store holds part of it
    /// (`BackupError::Partial`), which is why the CLI runs `verify_backup` over a file first.
    pub fn restore_into<R: BufRead>(
        &self,
        input: R,
        force: bool,
    ) -> Result<BackupStats, BackupError> {
        self.check_restorable(force)?;
        let mut reader = Reader::new(input);
        let schema_version = reader.header()?;
        let partial = |source| BackupError::Partial {
            source: Box::new(source),
        };
        for name in self.db.tree_names() {
            self.db
                .open_tree(name)?
                .clear()
                .map_err(|e| partial(e.into()))?;
        }
        self.files.clear().map_err(|e| partial(e.into()))?;
        let files_on_disk = schema_version >= FILES_ON_DISK_SINCE;
        let mut trees: HashMap<String, Tree> = HashMap::new();
        let counts = reader
            .entries(|tree, key, value| {
                if tree == FILES && files_on_disk {
                    if let Some((id, n)) = file_entry_key(key) {
                        self.files.write(id, n, value)?;
                    }
                    return Ok(());
                }
                if !trees.contains_key(tree) {
                    trees.insert(tree.to_string(), self.db.open_tree(tree)?);
                }
                if let Some(t) = trees.get(tree) {
                    t.insert(key, value)?;
                }
                Ok(())
            })
            .map_err(partial)?;
        if schema_version == SCHEMA_VERSION {
            // A backup's trees are read one after the other: the claims are brought up to
            // the delivery log, and what was in flight when it was taken is `unknown` now.
            self.repair_claims().map_err(|e| partial(e.into()))?;
            self.settle_interrupted().map_err(|e| partial(e.into()))?;
        }
        self.db.flush().map_err(|e| partial(e.into()))?;
        Ok(BackupStats {
            schema_version,
            trees: counts,
        })
    }
}

/// The backup's name for uploaded files: the sled tree that held them up to schema 2, and
/// from schema 3 on ([`FILES_ON_DISK_SINCE`]) the files on disk, one entry each, keyed by
/// the submission id (8 bytes) followed by the file's number in ASCII digits.
const FILES: &str = "files";

/// The schema from which `files` entries are files on disk.
const FILES_ON_DISK_SINCE: u64 = 3;

/// The submission and number a `files` entry of a schema 3 backup names.
fn file_entry_key(key: &[u8]) -> Option<(SubmissionId, u32)> {
    let id = SubmissionId::from_key(key)?;
    let n = std::str::from_utf8(key.get(8..)?).ok()?;
    Some((id, super::files::Files::parse_number(n)?))
}

impl Store {
    /// One `files` entry per uploaded file on disk, its content base64-encoded as it is read
    /// (a file is never held whole).
    fn backup_files<W: Write>(
        &self,
        out: &mut W,
        stats: &mut BackupStats,
    ) -> Result<(), BackupError> {
        for entry in self.submissions.iter() {
            let (_, raw) = entry?;
            let s: Submission = codec::decode("submissions", &raw)?;
            for file in &s.files {
                let Some(path) = self.files.locate(s.id, file) else {
                    continue;
                };
                let Some(n) = super::files::Files::number_in(s.id, &file.path) else {
                    continue;
                };
                let mut content = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let key = keys::file_key(s.id, &n.to_string());
                write!(
                    out,
                    "{{\"tree\":\"{FILES}\",\"key\":\"{}\",\"value\":\"",
                    BASE64.encode(key)
                )?;
                {
                    let mut encoder = base64::write::EncoderWriter::new(&mut *out, &BASE64);
                    std::io::copy(&mut content, &mut encoder)?;
                    encoder.finish()?;
                }
                out.write_all(b"\"}\n")?;
                *stats.trees.entry(FILES.into()).or_default() += 1;
            }
        }
        Ok(())
    }
}

fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests;
