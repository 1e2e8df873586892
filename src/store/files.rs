//! Uploaded files on disk, beside sled: `<data_dir>/files/<submission id>/<n>`, `n` the
//! file's place in the submission's `files`. A file arrives by a rename of its temp upload
//! (same file system; its content fsync'd first, the directory after), so it is either whole
//! or absent. Records hold only what describes it (`StoredFile`: name, type, size, SHA-256,
//! path); the path is checked against the submission's id before any use, so a record cannot
//! point anywhere else.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::Upload;
use crate::model::{StoredFile, SubmissionId};

/// The directory's name inside the data dir, and the first part of every record's path.
const DIR: &str = "files";

/// Most files one submission holds (far more than any form has file fields).
const MAX_PER_SUBMISSION: u32 = 1000;

/// Where a store keeps its files. Cheap to clone.
#[derive(Clone)]
pub(super) struct Files {
    root: PathBuf,
    /// A temporary store's directory, removed with the last clone.
    _temporary: Option<Arc<Scratch>>,
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Files {
    /// `<data_dir>/files`, created (mode 0700) when missing.
    pub fn open(data_dir: &Path) -> io::Result<Files> {
        let root = data_dir.join(DIR);
        create_private_dir(&root)?;
        Ok(Files {
            root,
            _temporary: None,
        })
    }

    /// A directory of its own under the system's temp dir, removed when the store goes.
    pub fn temporary() -> io::Result<Files> {
        let base =
            std::env::temp_dir().join(format!("kipekee-store-{}", crate::model::random_token(20)));
        create_private_dir(&base)?;
        let mut files = Files::open(&base)?;
        files._temporary = Some(Arc::new(Scratch(base)));
        Ok(files)
    }

    fn dir_of(&self, id: SubmissionId) -> PathBuf {
        self.root.join(id.to_string())
    }

    /// The record's path of file `n` of submission `id`: `files/<id>/<n>`.
    pub fn record_path(id: SubmissionId, n: u32) -> String {
        format!("{DIR}/{id}/{n}")
    }

    /// `n` of a record's path, if it is the path of a file of `id` and nothing else.
    pub fn number_in(id: SubmissionId, path: &str) -> Option<u32> {
        Files::parse_number(path.strip_prefix(&format!("{DIR}/{id}/"))?)
    }

    /// A file's number written in plain decimal digits, below [`MAX_PER_SUBMISSION`].
    pub fn parse_number(n: &str) -> Option<u32> {
        if n.is_empty() || n.len() > 4 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok().filter(|n| *n < MAX_PER_SUBMISSION)
    }

    /// Where the file a record describes is, when its path is one of `id`'s.
    pub fn locate(&self, id: SubmissionId, file: &StoredFile) -> Option<PathBuf> {
        let n = Files::number_in(id, &file.path)?;
        Some(self.dir_of(id).join(n.to_string()))
    }

    /// Moves each upload into `<root>/<id>/<n>` and describes it. The content is fsync'd
    /// before the rename, the directories after it.
    ///
    /// # Errors
    /// A file could not be synced or moved; what was moved so far is removed.
    pub fn put(&self, id: SubmissionId, uploads: Vec<Upload>) -> io::Result<Vec<StoredFile>> {
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.dir_of(id);
        let moved = (|| {
            create_private_dir(&dir)?;
            let mut stored = Vec::with_capacity(uploads.len());
            for (n, u) in (0u32..).zip(uploads) {
                std::fs::File::open(u.file.path())?.sync_all()?;
                let to = dir.join(n.to_string());
                let from = u.file.path().to_path_buf();
                if let Err(e) = std::fs::rename(&from, &to) {
                    if e.kind() != io::ErrorKind::CrossesDevices {
                        return Err(e);
                    }
                    copy_synced(&from, &to)?;
                }
                stored.push(StoredFile {
                    field: u.field,
                    filename: u.filename,
                    content_type: u.file_type.mime().into(),
                    size: u.file.size,
                    sha256: u.file.sha256.clone(),
                    path: Files::record_path(id, n),
                });
                // Moved: the temp upload must not remove anything now (a copy's source goes).
                let left = u.file.into_path();
                if left.exists() {
                    let _ = std::fs::remove_file(left);
                }
            }
            sync_dir(&dir)?;
            sync_dir(&self.root)?;
            Ok(stored)
        })();
        if moved.is_err() {
            let _ = self.remove(id);
        }
        moved
    }

    /// Writes file `n` of `id` from bytes (a migration, a restore): a temp name, fsync,
    /// rename, fsync of the directory.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, id: SubmissionId, n: u32, bytes: &[u8]) -> io::Result<PathBuf> {
        let dir = self.dir_of(id);
        create_private_dir(&dir)?;
        let to = dir.join(n.to_string());
        let part = dir.join(format!("{n}.part"));
        let mut f = private_file(&part)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&part, &to)?;
        sync_dir(&dir)?;
        Ok(to)
    }

    /// Removes every file of `id`; nothing to remove is fine.
    ///
    /// # Errors
    /// The directory exists and cannot be removed.
    pub fn remove(&self, id: SubmissionId) -> io::Result<()> {
        match std::fs::remove_dir_all(self.dir_of(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The submissions that have a directory here, in no particular order; entries that are
    /// not a submission id are skipped.
    pub fn submissions(&self) -> io::Result<Vec<SubmissionId>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let name = entry?.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.parse().ok()) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Removes every file (a restore replaces them all).
    ///
    /// # Errors
    /// A directory cannot be removed.
    pub fn clear(&self) -> io::Result<()> {
        for id in self.submissions()? {
            self.remove(id)?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    let mut out = private_file(to)?;
    io::copy(&mut std::fs::File::open(from)?, &mut out)?;
    out.sync_all()
}

/// fsync of a directory: a rename or a new entry in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_path_names_a_file_of_its_own_submission_only() {
        let id = SubmissionId(0x0006_1a2b_3c4d_5e6f);
        let path = Files::record_path(id, 2);
        assert_eq!(path, "files/00061a2b3c4d5e6f/2");
        assert_eq!(Files::number_in(id, &path), Some(2));
        for other in [
            "files/00061a2b3c4d5e6f/../../meta",
            "files/00061a2b3c4d5e6f/",
            "files/00061a2b3c4d5e6f/2/x",
            "files/0000000000000001/2",
            "/etc/passwd",
            "files/00061a2b3c4d5e6f/+2",
        ] {
            assert_eq!(Files::number_in(id, other), None, "{other}");
        }
    }

    #[test]
    fn written_files_are_whole_and_removed_with_their_submission() {
        let files = Files::temporary().unwrap();
        let id = SubmissionId(7);
        let at = files.write(id, 0, b"%PDF-1.7").unwrap();
        assert_eq!(std::fs::read(&at).unwrap(), b"%PDF-1.7");
        assert_eq!(files.submissions().unwrap(), [id]);
        files.remove(id).unwrap();
        files.remove(id).unwrap();
        assert!(!at.exists());
        assert!(files.submissions().unwrap().is_empty());
    }
}
