//! Schema 3: uploaded files leave sled. Up to schema 2 a file's content was a value of the
//! `files` tree (key: submission id ++ field name); from 3 it is a file on disk
//! (`store::files`) and the record holds its SHA-256 and path.

use sha2::{Digest, Sha256};

use super::files::Files;
use super::{codec, Result, Store};
use crate::model::{Submission, SubmissionId};

/// The sled tree that held file contents up to schema 2.
pub(super) const OLD_TREE: &str = "files";

/// Writes every file of the old `files` tree to disk and completes its record, flushes,
/// then drops the tree. Run again whole after a crash: the tree goes last.
pub(super) fn v2_to_v3(store: &Store) -> Result<()> {
    let tree = store.db.open_tree(OLD_TREE)?;
    for entry in tree.iter() {
        let (key, content) = entry?;
        let Some(id) = SubmissionId::from_key(&key) else {
            continue;
        };
        let field = String::from_utf8_lossy(&key[8..]);
        let Some(raw) = store.submissions.get(id.to_key())? else {
            tracing::warn!(submission_id = %id, "a stored file without its submission is left out");
            continue;
        };
        let mut s: Submission = codec::decode("submissions", &raw)?;
        let Some(n) = s.files.iter().position(|f| f.field == field) else {
            continue;
        };
        let number = u32::try_from(n).unwrap_or(u32::MAX);
        store.files.write(id, number, &content)?;
        let file = &mut s.files[n];
        file.sha256 = hex::encode(Sha256::digest(&content));
        file.size = content.len() as u64;
        file.path = Files::record_path(id, number);
        store.submissions.insert(id.to_key(), codec::encode(&s))?;
    }
    store.db.flush()?;
    store.db.drop_tree(OLD_TREE)?;
    Ok(())
}

impl Store {
    /// Removes the files of submissions that are not in the store: the leftovers of a crash
    /// between moving a post's files in and storing its record, or in deleting one.
    pub(super) fn remove_orphan_files(&self) -> Result<()> {
        for id in self.files.submissions()? {
            if !self.submissions.contains_key(id.to_key())? {
                tracing::info!(submission_id = %id, "files without a submission removed");
                self.files.remove(id)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::SCHEMA_VERSION;

    const ID: u64 = 0x0006_1a2b_3c4d_5e6f;

    fn cv() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cv/cv.pdf"
        ))
        .unwrap()
    }

    /// A schema 2 store as the code before schema 3 wrote it (`insert_submissions`): the
    /// record's files described by field, name, type and size, the content in the `files`
    /// tree under the submission id followed by the field name.
    fn write_v2_store(dir: &Path) {
        let db = sled::open(dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &2u64.to_be_bytes())
            .unwrap();
        let record = serde_json::json!({
            "id": format!("{ID:016x}"), "form": "job", "reference": "J-1001",
            "created_at": "2026-11-01T09:30:00Z",
            "fields": { "full_name": "Amina", "email": "amina@example.com" },
            "files": [{ "field": "cv", "filename": "Amina CV.pdf",
                        "content_type": "application/pdf", "size": cv().len() }],
            "visitor_email": "amina@example.com", "email_status": "sent", "status": "new",
        });
        db.open_tree("submissions")
            .unwrap()
            .insert(ID.to_be_bytes(), record.to_string().as_bytes())
            .unwrap();
        let mut key = ID.to_be_bytes().to_vec();
        key.extend_from_slice(b"cv");
        let files = db.open_tree("files").unwrap();
        files.insert(key, cv()).unwrap();
        let mut stray = 99u64.to_be_bytes().to_vec();
        stray.extend_from_slice(b"cv");
        files.insert(stray, &b"no record"[..]).unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn files_of_a_schema_2_store_move_to_disk_with_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        write_v2_store(dir.path());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let id = SubmissionId(ID);
        let s = store.submission(id).unwrap().unwrap();
        let file = &s.files[0];
        assert_eq!(file.path, format!("files/{id}/0"));
        assert_eq!(file.sha256, hex::encode(Sha256::digest(cv())));
        let on_disk = dir.path().join("files").join(id.to_string()).join("0");
        assert_eq!(std::fs::read(&on_disk).unwrap(), cv());
        assert_eq!(store.file(id, "cv").unwrap().unwrap(), cv());
        assert!(
            !store
                .db
                .tree_names()
                .iter()
                .any(|n| n == OLD_TREE.as_bytes()),
            "the sled tree is gone"
        );
        drop(store);
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(again.file(id, "cv").unwrap().unwrap(), cv(), "reopened");
    }

    #[rocket::async_test]
    async fn files_without_a_submission_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .files
                .write(SubmissionId(5), 0, b"left by a crash")
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.files.submissions().unwrap().is_empty());
    }
}
