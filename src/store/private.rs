//! The data directory's permissions: it holds visitors' personal data, the cookie key and
//! the password hash, so it is the owner's alone (0700, files 0600).

use std::path::Path;

/// Sets the process umask to 0077, so that whatever the process creates later (sled's
/// snapshots and blobs, backups) is the owner's alone, as the systemd unit's `UMask=0077`
/// does for packaged installs.
pub fn owner_only_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (and its parents) if missing, as 0700. `Ok(true)` when it was created.
pub fn create_dir(dir: &Path) -> std::io::Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)?;
    Ok(true)
}

/// Makes everything directly in `dir` the owner's alone: files 0600, directories 0700.
/// Run on a store just created, whose files sled made under the process umask.
pub fn restrict_contents(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let mode = if entry.file_type()?.is_dir() {
            0o700
        } else {
            0o600
        };
        set_mode(&entry.path(), mode)?;
    }
    Ok(())
}

/// One line per entry (the directory itself and what is directly in it) that other users
/// may read or enter, e.g. `/var/lib/kipekee is mode 755`. Empty when all is private or
/// the directory does not exist yet.
pub fn wide_modes(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    for path in std::iter::once(dir.to_path_buf()).chain(entries) {
        if let Some(mode) = mode(&path).filter(|m| m & 0o077 != 0) {
            found.push(format!("{} is mode {:o}", path.display(), mode & 0o777));
        }
    }
    found
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn mode(_: &Path) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_private_and_a_wide_one_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        assert!(create_dir(&dir).unwrap());
        assert!(!create_dir(&dir).unwrap());
        std::fs::write(dir.join("db"), b"x").unwrap();
        set_mode(&dir.join("db"), 0o644).unwrap();
        assert_eq!(wide_modes(&dir).len(), 1, "{:?}", wide_modes(&dir));
        restrict_contents(&dir).unwrap();
        assert!(wide_modes(&dir).is_empty());
        set_mode(&dir, 0o755).unwrap();
        let found = wide_modes(&dir);
        assert_eq!(found, [format!("{} is mode 755", dir.display())]);
    }
}
