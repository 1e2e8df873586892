//! A file that passed its checks while another field did not: kept for a while under a
//! random token that the form shown again carries in a hidden `_kept_<field>`, so that the
//! visitor does not have to choose it again.
//!
//! `<data_dir>/tmp/kept-<token>` holds the content, `kept-<token>.json` what it was: the
//! form and field it belongs to, its cleaned name, size, hash and type, and when it was
//! kept. A token is 32 random letters and digits (about 190 bits), used once, valid only for
//! its form and field and for [`KEEP_FOR`]; expired ones are removed by [`sweep`].

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::temp::{self, Received, TempUpload};
use super::FileType;
use crate::forms::{FieldKind, FormDef, RawFile, RawInput};
use crate::model::random_token;

/// How long a kept file waits for the corrected post.
pub const KEEP_FOR: Duration = Duration::hours(1);

/// Length of a token, in letters and digits.
const TOKEN_LEN: usize = 32;

const PREFIX: &str = "kept-";

/// The hidden field carrying the token of `field`'s kept file.
pub fn field_name(field: &str) -> String {
    format!("_kept_{field}")
}

#[derive(Serialize, Deserialize)]
struct Meta {
    form: String,
    field: String,
    filename: String,
    size: u64,
    sha256: String,
    sniffed: Option<FileType>,
    /// Unix seconds.
    kept_at: i64,
}

fn content_path(data_dir: &Path, token: &str) -> PathBuf {
    temp::dir(data_dir).join(format!("{PREFIX}{token}"))
}

fn meta_path(data_dir: &Path, token: &str) -> PathBuf {
    temp::dir(data_dir).join(format!("{PREFIX}{token}.json"))
}

/// Keeps `upload` (the file of `field` of `form`, named `filename`) and returns its token.
///
/// # Errors
/// The file cannot be renamed or its description written.
pub fn keep(
    data_dir: &Path,
    form: &str,
    field: &str,
    filename: &str,
    upload: TempUpload,
    now: OffsetDateTime,
) -> io::Result<String> {
    sweep(data_dir, now);
    let token = random_token(TOKEN_LEN);
    let meta = Meta {
        form: form.into(),
        field: field.into(),
        filename: filename.into(),
        size: upload.size,
        sha256: upload.sha256.clone(),
        sniffed: upload.sniffed,
        kept_at: now.unix_timestamp(),
    };
    // The description first: a sweep meanwhile never finds the content without it.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(meta_path(data_dir, &token))
        .and_then(|f| serde_json::to_writer(f, &meta).map_err(io::Error::other));
    let kept = written.and_then(|()| upload.rename(content_path(data_dir, &token)));
    let kept = match kept {
        Ok(kept) => kept,
        Err(e) => {
            let _ = std::fs::remove_file(meta_path(data_dir, &token));
            return Err(e);
        }
    };
    let _ = kept.into_path();
    Ok(token)
}

/// The file kept under `token` for `field` of `form`, with its cleaned name, if the token is
/// one, belongs to them and has not expired. The token is used up; the file is the caller's
/// (removed when dropped).
pub fn take(
    data_dir: &Path,
    token: &str,
    form: &str,
    field: &str,
    now: OffsetDateTime,
) -> Option<(String, TempUpload)> {
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let raw = std::fs::read(meta_path(data_dir, token)).ok()?;
    let meta: Meta = serde_json::from_slice(&raw).ok()?;
    if meta.form != form || meta.field != field {
        return None;
    }
    let _ = std::fs::remove_file(meta_path(data_dir, token));
    let upload = TempUpload::at(
        content_path(data_dir, token),
        meta.size,
        meta.sha256,
        meta.sniffed,
    );
    let age = now - OffsetDateTime::from_unix_timestamp(meta.kept_at).ok()?;
    (age <= KEEP_FOR && age >= Duration::ZERO).then_some((meta.filename, upload))
}

/// Fills each file field of `def` that the post left empty with the file kept under the
/// token of its `_kept_<field>` value, when that token is good (see [`take`]). A field
/// that carries a new file drops the kept one.
pub fn restore(
    data_dir: &Path,
    form: &str,
    def: &FormDef,
    input: &mut RawInput,
    now: OffsetDateTime,
) {
    for f in def.fields.iter().filter(|f| f.kind == FieldKind::File) {
        let hidden = field_name(&f.name);
        let Some(token) = input
            .values
            .iter()
            .find(|(k, _)| *k == hidden)
            .map(|(_, v)| v)
        else {
            continue;
        };
        let taken = take(data_dir, token, form, &f.name, now);
        if input
            .files
            .iter()
            .any(|r| r.field == f.name && r.is_present())
        {
            // Another file was chosen: it replaces the kept one, which goes now.
            continue;
        }
        if let Some((filename, upload)) = taken {
            input.files.retain(|r| r.field != f.name);
            input.files.push(RawFile {
                field: f.name.clone(),
                filename: Some(filename),
                content: Received::Whole(upload),
            });
        }
    }
}

/// Removes kept files older than [`KEEP_FOR`] (by the time their description says, else by
/// the file's own time) and contents whose description is gone.
pub fn sweep(data_dir: &Path, now: OffsetDateTime) {
    let Ok(entries) = std::fs::read_dir(temp::dir(data_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(token) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let token = token.trim_end_matches(".json");
        let kept_at = std::fs::read(meta_path(data_dir, token))
            .ok()
            .and_then(|raw| serde_json::from_slice::<Meta>(&raw).ok())
            .and_then(|m| OffsetDateTime::from_unix_timestamp(m.kept_at).ok());
        let expired = kept_at.is_none_or(|at| now - at > KEEP_FOR);
        if expired {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kept_cv(data: &Path, now: OffsetDateTime) -> String {
        std::fs::create_dir_all(temp::dir(data)).unwrap();
        let pdf = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cv/cv.pdf"
        ));
        let upload = crate::forms::temp::from_bytes(&temp::dir(data), pdf)
            .await
            .unwrap();
        keep(data, "job", "cv", "cv.pdf", upload, now).unwrap()
    }

    fn files(data: &Path) -> usize {
        std::fs::read_dir(temp::dir(data)).unwrap().count()
    }

    #[rocket::async_test]
    async fn a_kept_file_is_taken_once_by_its_own_form_and_field() {
        let data = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let token = kept_cv(data.path(), now).await;
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(take(data.path(), &token, "quote", "cv", now).is_none());
        assert!(take(data.path(), &token, "job", "photo", now).is_none());
        assert!(take(data.path(), "../../etc/passwd", "job", "cv", now).is_none());
        let (name, upload) = take(data.path(), &token, "job", "cv", now).unwrap();
        assert_eq!(name, "cv.pdf");
        assert_eq!(upload.sniffed, Some(FileType::Pdf));
        assert_eq!(upload.read().unwrap().len() as u64, upload.size);
        assert!(
            take(data.path(), &token, "job", "cv", now).is_none(),
            "used up"
        );
        drop(upload);
        assert_eq!(files(data.path()), 0, "nothing left once dropped");
    }

    #[rocket::async_test]
    async fn a_kept_file_expires_and_is_swept() {
        let data = tempfile::tempdir().unwrap();
        let then = OffsetDateTime::now_utc() - Duration::minutes(61);
        let token = kept_cv(data.path(), then).await;
        assert_eq!(files(data.path()), 2, "the content and its description");
        let now = OffsetDateTime::now_utc();
        sweep(data.path(), now);
        assert_eq!(files(data.path()), 0, "an hour and more: swept");
        assert!(take(data.path(), &token, "job", "cv", now).is_none());
        let fresh = kept_cv(data.path(), now).await;
        sweep(data.path(), now);
        assert_eq!(files(data.path()), 2, "a fresh one stays");
        assert!(take(data.path(), &fresh, "job", "cv", now).is_some());
    }

    #[rocket::async_test]
    async fn an_expired_token_is_refused_even_before_a_sweep() {
        let data = tempfile::tempdir().unwrap();
        let then = OffsetDateTime::now_utc();
        let token = kept_cv(data.path(), then).await;
        let late = then + KEEP_FOR + Duration::seconds(1);
        assert!(take(data.path(), &token, "job", "cv", late).is_none());
        assert_eq!(files(data.path()), 0);
    }
}
