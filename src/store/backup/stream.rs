//! The backup stream's lines (header, entries, end) and the reader that checks them one by
//! one: see the layout in [`super`].

use std::collections::BTreeMap;
use std::io::BufRead;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::check::{self, Verdict};
use super::{BackupError, BACKUP_FORMAT};
use crate::store::SCHEMA_VERSION;

#[derive(Serialize, Deserialize)]
pub(super) struct Header {
    pub(super) kipekee_backup: u64,
    pub(super) schema_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) created_at: OffsetDateTime,
    #[serde(default)]
    pub(super) kipekee_version: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) tree: String,
    pub(super) key: String,
    pub(super) value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct End {
    pub(super) kipekee_backup_end: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Entry(Entry),
    End(End),
}

/// A backup stream read line by line, counting lines for error messages.
pub(super) struct Reader<R> {
    input: R,
    line: u64,
    buf: String,
    /// The header's, once read: records are checked against it.
    schema_version: u64,
}

impl<R: BufRead> Reader<R> {
    pub(super) fn new(input: R) -> Self {
        Reader {
            input,
            line: 0,
            buf: String::new(),
            schema_version: SCHEMA_VERSION,
        }
    }

    fn invalid(&self, message: impl Into<String>) -> BackupError {
        BackupError::Invalid {
            line: self.line,
            message: message.into(),
        }
    }

    /// The next line, `None` at the end of the stream.
    fn next_line(&mut self) -> Result<Option<&str>, BackupError> {
        self.buf.clear();
        if self.input.read_line(&mut self.buf)? == 0 {
            return Ok(None);
        }
        self.line += 1;
        Ok(Some(self.buf.trim_end_matches(['\n', '\r'])))
    }

    /// Checks the header line and returns the backup's schema version.
    pub(super) fn header(&mut self) -> Result<u64, BackupError> {
        let Some(line) = self.next_line()? else {
            return Err(BackupError::Invalid {
                line: 1,
                message: "the file is empty, not a kipekee backup".into(),
            });
        };
        let header: Header = serde_json::from_str(line)
            .map_err(|_| self.invalid("not a kipekee backup (no kipekee_backup header)"))?;
        if header.kipekee_backup != BACKUP_FORMAT {
            return Err(self.invalid(format!(
                "backup format {} is not one this binary reads ({BACKUP_FORMAT})",
                header.kipekee_backup
            )));
        }
        if header.schema_version > SCHEMA_VERSION {
            return Err(BackupError::NewerSchema {
                found: header.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        self.schema_version = header.schema_version;
        Ok(header.schema_version)
    }

    /// Checks every entry (`check::check`), hands those to restore to `each`, and
    /// checks the end line; returns the count per tree. A bad entry is refused naming its line.
    pub(super) fn entries(
        &mut self,
        mut each: impl FnMut(&str, &[u8], &[u8]) -> Result<(), BackupError>,
    ) -> Result<BTreeMap<String, u64>, BackupError> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        loop {
            let Some(line) = self.next_line()? else {
                return Err(BackupError::Truncated);
            };
            let parsed: Line =
                serde_json::from_str(line).map_err(|e| self.invalid(format!("{e}")))?;
            match parsed {
                Line::Entry(entry) => {
                    let key = BASE64
                        .decode(&entry.key)
                        .map_err(|e| self.invalid(format!("key is not base64: {e}")))?;
                    let value = BASE64
                        .decode(&entry.value)
                        .map_err(|e| self.invalid(format!("value is not base64: {e}")))?;
                    match check::check(self.schema_version, &entry.tree, &key, &value) {
                        Ok(Verdict::Restore) => each(&entry.tree, &key, &value)?,
                        Ok(Verdict::Skip) => {}
                        Err(message) => return Err(self.invalid(message)),
                    }
                    *counts.entry(entry.tree).or_default() += 1;
                }
                Line::End(end) => {
                    let found: u64 = counts.values().sum();
                    if end.kipekee_backup_end != found {
                        return Err(self.invalid(format!(
                            "the end line counts {} entries, the backup holds {found}",
                            end.kipekee_backup_end
                        )));
                    }
                    if self.next_line()?.is_some() {
                        return Err(self.invalid("lines after the end line"));
                    }
                    return Ok(counts);
                }
            }
        }
    }
}
