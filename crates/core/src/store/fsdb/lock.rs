//! The advisory write lock on an FSDB root.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::atomic::io_error;
use crate::store::StoreError;

pub const LOCK_FILE: &str = "lock";

/// Holds `flock(2)` on the lock file until dropped (closing the file
/// releases it, even if the process dies).
#[derive(Debug)]
pub(super) struct DbLock {
    _file: File,
    path: PathBuf,
}

impl DbLock {
    /// Two writers on the same users.json would lose each other's updates,
    /// so a second opener (another process, or this one) is refused.
    pub(super) fn acquire(root: &Path, state_dir: &Path) -> Result<DbLock, StoreError> {
        let path = state_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: root.display().to_string(),
                    lock: path.display().to_string(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io_error(&path, e)),
        }
        // Truncating only once we hold the lock keeps the holder's pid readable
        // for whoever is refused.
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(|e| io_error(&path, e))?;
        Ok(DbLock { _file: file, path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}
