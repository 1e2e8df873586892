//! Uploads on their way in: each file part is streamed to a file of its own under
//! `<data_dir>/tmp` (capped one byte over the upload limit), hashed as it is written and
//! recognised by reading the file (`sniff`), never held whole in memory. A `TempUpload`
//! removes its file when dropped unless the store has taken it (`persist`).

use std::io;
use std::path::{Path, PathBuf};

use rocket::tokio::fs::OpenOptions;
use rocket::tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use sha2::{Digest, Sha256};

pub use crate::forms::raw::Received;
use crate::model::random_token;
pub use crate::model::TempUpload;

/// The temp directory's name inside the data dir.
const DIR: &str = "tmp";

/// Bytes copied at a time from the request into the temp file.
const CHUNK: usize = 64 * 1024;

/// `<data_dir>/tmp`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

/// Creates `<data_dir>/tmp` (mode 0700) and removes the uploads a crash left in it
/// (`upload-*`). `upload::prepare` runs it at start, with the sweep of kept files.
///
/// # Errors
/// The directory cannot be created or listed.
pub fn prepare(data_dir: &Path) -> io::Result<()> {
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let left = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(UPLOAD_PREFIX));
        if left && path.is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Writes `bytes` as a new upload in `tmp_dir` (one the appliance makes itself, a test's).
///
/// # Errors
/// The file cannot be written.
pub async fn from_bytes(tmp_dir: &Path, bytes: &[u8]) -> io::Result<TempUpload> {
    match receive_into(tmp_dir, bytes, u64::MAX - 1).await? {
        Received::Whole(upload) => Ok(upload),
        Received::TooLarge => Err(io::Error::other("upload larger than u64")),
    }
}

/// Streams `part` into a fresh file under `<data_dir>/tmp`, reading at most `max + 1`
/// bytes and hashing them, then recognises the file if the part fitted in `max`. A part
/// over the limit leaves no file behind.
///
/// # Errors
/// Reading the part or writing the temp file failed (a dropped connection, a full disk).
pub async fn receive(
    data_dir: &Path,
    part: impl AsyncRead + Unpin,
    max: u64,
) -> io::Result<Received> {
    receive_into(&dir(data_dir), part, max).await
}

async fn receive_into(
    tmp_dir: &Path,
    part: impl AsyncRead + Unpin,
    max: u64,
) -> io::Result<Received> {
    let path = tmp_dir.join(format!("{UPLOAD_PREFIX}{}", random_token(20)));
    // Owned from the start: removed on any early return.
    let mut temp = TempUpload::at(path, 0, String::new(), None);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp.path())
        .await?;
    let mut part = part.take(max.saturating_add(1));
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    loop {
        let n = part.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n]).await?;
        written += n as u64;
    }
    file.flush().await?;
    drop(file);
    if written > max {
        return Ok(Received::TooLarge);
    }
    let path = temp.path().to_path_buf();
    temp.sniffed = rocket::tokio::task::spawn_blocking(move || super::sniff::sniff_file(&path))
        .await
        .unwrap_or(None);
    temp.size = written;
    temp.sha256 = hex::encode(hash.finalize());
    Ok(Received::Whole(temp))
}

/// The name every upload in progress starts with (a crash's leftovers are removed by it).
const UPLOAD_PREFIX: &str = "upload-";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FileType;

    #[rocket::async_test]
    async fn a_part_is_kept_only_when_it_fits_and_no_temp_file_stays() {
        let data = tempfile::tempdir().unwrap();
        prepare(data.path()).unwrap();
        let fits = receive(data.path(), &b"0123456789"[..], 10).await.unwrap();
        let Received::Whole(upload) = fits else {
            panic!("10 bytes fit in 10");
        };
        assert_eq!(upload.read().unwrap(), b"0123456789");
        assert_eq!(upload.size, 10);
        assert_eq!(upload.sha256, hex::encode(Sha256::digest(b"0123456789")));
        assert_eq!(upload.sniffed, None);
        drop(upload);
        let over = receive(data.path(), &b"0123456789A"[..], 10).await.unwrap();
        assert!(matches!(over, Received::TooLarge));
        assert_eq!(std::fs::read_dir(dir(data.path())).unwrap().count(), 0);
    }

    #[rocket::async_test]
    async fn a_real_document_is_recognised_from_its_file() {
        let data = tempfile::tempdir().unwrap();
        prepare(data.path()).unwrap();
        let pdf = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cv/cv.docx"
        ));
        let upload = from_bytes(&dir(data.path()), pdf).await.unwrap();
        assert_eq!(upload.sniffed, Some(FileType::Docx));
        let moved = upload.into_path();
        assert!(moved.exists(), "handed over, not removed");
    }

    #[test]
    fn prepare_removes_what_a_crash_left() {
        let data = tempfile::tempdir().unwrap();
        prepare(data.path()).unwrap();
        std::fs::write(dir(data.path()).join("upload-left"), b"x").unwrap();
        prepare(data.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir(data.path())).unwrap().count(), 0);
    }
}
