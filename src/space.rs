//! The free-space floor (`KIPEKEE_MIN_FREE_BYTES`): below it no new submission is read or
//! written, so a flood of posts cannot fill the disk the store lives on.

use std::path::PathBuf;

use thiserror::Error;

/// Why a post is refused for lack of disk space.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SpaceError {
    /// Free space on the data dir's file system is below the floor, in bytes.
    #[error("free disk space on the data directory is {free} bytes, below KIPEKEE_MIN_FREE_BYTES ({floor} bytes)")]
    BelowFloor { free: u64, floor: u64 },
    /// A write failed because the file system is full.
    #[error("the disk of the data directory is full")]
    WriteFailed,
}

/// Checks the free space of the file system holding `dir` against `floor`.
#[derive(Debug, Clone)]
pub struct DiskFloor {
    dir: PathBuf,
    floor: u64,
}

impl DiskFloor {
    /// `floor` in bytes; 0 turns the check off.
    pub fn new(dir: PathBuf, floor: u64) -> DiskFloor {
        DiskFloor { dir, floor }
    }

    /// Bytes an unprivileged process may still write there (`f_bavail × f_frsize`).
    ///
    /// # Errors
    /// `statvfs` failed (the directory is gone or unreadable).
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        let st = rustix::fs::statvfs(&self.dir)?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// `Ok` when there is room for new posts. A failed `statvfs` is logged and let through:
    /// the store's own writes will tell.
    ///
    /// # Errors
    /// `SpaceError::BelowFloor` with the free space and the floor.
    pub fn check(&self) -> Result<(), SpaceError> {
        if self.floor == 0 {
            return Ok(());
        }
        match self.free_bytes() {
            Ok(free) if free < self.floor => Err(SpaceError::BelowFloor {
                free,
                floor: self.floor,
            }),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "free disk space unknown: {e}");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_compared_with_the_real_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let free = DiskFloor::new(dir.path().into(), 0).free_bytes().unwrap();
        assert!(free > 0);
        assert_eq!(DiskFloor::new(dir.path().into(), 0).check(), Ok(()));
        assert_eq!(DiskFloor::new(dir.path().into(), 1).check(), Ok(()));
        let high = DiskFloor::new(dir.path().into(), u64::MAX / 2).check();
        assert!(matches!(high, Err(SpaceError::BelowFloor { floor, .. }) if floor == u64::MAX / 2));
    }
}
