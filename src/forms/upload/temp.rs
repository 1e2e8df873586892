//! Uploads on their way in: each file part is streamed to a file of its own under
//! `<data_dir>/tmp`, capped one byte over the upload limit, read back whole only when it
//! fits, and removed whatever happens. Memory per upload stays near the file's size.

use std::io;
use std::path::{Path, PathBuf};

use rocket::tokio::fs::{self, OpenOptions};
use rocket::tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The temp directory's name inside the data dir.
const DIR: &str = "tmp";

/// `<data_dir>/tmp`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

/// Creates `<data_dir>/tmp` (mode 0700) and removes what a crash left in it.
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
        if path.is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// One file part, as far as it was read.
#[derive(Debug)]
pub enum Received {
    /// The whole part, at most the limit.
    Whole(Vec<u8>),
    /// The part is longer than the limit; nothing of it was kept.
    TooLarge,
}

/// Streams `part` into a fresh file under `<data_dir>/tmp`, reading at most `max + 1`
/// bytes, then reads the file back if the part fitted in `max`. The file is gone on return.
///
/// # Errors
/// Reading the part or writing the temp file failed (a dropped connection, a full disk).
pub async fn receive(
    data_dir: &Path,
    part: impl AsyncRead + Unpin,
    max: u64,
) -> io::Result<Received> {
    let temp = TempPath::new(data_dir);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp.0)
        .await?;
    let written = rocket::tokio::io::copy(&mut part.take(max.saturating_add(1)), &mut file).await?;
    file.flush().await?;
    drop(file);
    if written > max {
        return Ok(Received::TooLarge);
    }
    Ok(Received::Whole(fs::read(&temp.0).await?))
}

/// A path under the temp directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(data_dir: &Path) -> TempPath {
        use rand::Rng;
        let name: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(20)
            .map(char::from)
            .collect();
        TempPath(dir(data_dir).join(format!("upload-{name}")))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.0.display(), "temp upload not removed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn a_part_is_kept_only_when_it_fits_and_no_temp_file_stays() {
        let data = tempfile::tempdir().unwrap();
        prepare(data.path()).unwrap();
        let fits = receive(data.path(), &b"0123456789"[..], 10).await.unwrap();
        assert!(matches!(fits, Received::Whole(ref b) if b == b"0123456789"));
        let over = receive(data.path(), &b"0123456789A"[..], 10).await.unwrap();
        assert!(matches!(over, Received::TooLarge));
        assert_eq!(std::fs::read_dir(dir(data.path())).unwrap().count(), 0);
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
