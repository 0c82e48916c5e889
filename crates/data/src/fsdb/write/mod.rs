//! The storage side of writes (data-api.md §1.6, §1.7, §1.9, §8.2, §9).
//!
//! The service layer above authenticates, checks permissions and validates
//! what only it can (users, groups); this module puts bytes on disk so that
//! the Python tools working on the same directory keep working:
//!
//! - [`atomic`]: every file is written to a hidden temporary in its
//!   directory, fsynced and renamed into place; temporaries a crash left
//!   behind are removed by [`remove_stale_temporaries`] at start;
//! - [`lock`]: plantdb-commons' lock protocol (`<root>/.locks/`), so that a
//!   pipeline and the server never write the same scan at once;
//! - [`Writer`]: the operations (create a scan, a fileset, a file, a
//!   timelapse; update metadata; install an uploaded archive; delete a
//!   timelapse). Each one either completes or leaves nothing behind; new
//!   directories are built under `<root>/.plantdb-tmp/` and renamed into
//!   place in one step;
//! - [`validate_biological_metadata`]: Python's MIAPPE type check (§9.4).
//!
//! Every method does blocking file I/O: call them off the async workers.

pub mod atomic;
mod files_json;
pub mod lock;
mod metadata;
mod ops;
mod schema;
mod upload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Map, Value};

pub use atomic::{persist, remove_stale_temporaries, write_atomic};
pub use lock::{LockGuard, LockKind, LockLevel, LockResource, PythonLocks};
pub use metadata::{MetadataTarget, ScanMetadataPolicy};
pub use schema::validate_biological_metadata;
pub use upload::{normalize_extension, Upload, VALID_FILE_EXTENSIONS};

use crate::DataError;

/// Hidden directory of the root where new scans and timelapses are built,
/// and where uploads are staged, before they are renamed into place.
pub const STAGING_DIR: &str = ".plantdb-tmp";

/// Hidden directory of the root where deleted timelapses are moved.
pub const TRASH_DIR: &str = ".trash";

/// The user named in the lock `.info` files of operations that have no
/// author (metadata updates, deletions).
pub const LOCK_USER: &str = "plantdb-auth";

/// Who creates something: `owner` gets the username, `created_by` the full
/// name (§1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub username: String,
    pub fullname: String,
}

/// The write side of one database root.
///
/// Holds the lock protocol's settings and one in-process mutex per scan
/// around every read-modify-write of its `files.json` (§1.9). One `Writer`
/// per root, shared by every request (it is `Send + Sync`).
#[derive(Debug)]
pub struct Writer {
    root: PathBuf,
    locks: PythonLocks,
    files_json: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// File entries waiting for their scan's `files.json` (group commit).
    pending: Mutex<HashMap<String, Arc<files_json::PendingEntries>>>,
}

/// Entries of the per-scan mutex table above which unused ones are dropped.
const MUTEX_TABLE_PRUNE: usize = 1024;

impl Writer {
    /// A writer for the database at `root` (which must hold the `romidb`
    /// marker), with the Python default lock timeout of 30 s.
    ///
    /// Cheap: it does not walk the database. Call
    /// [`remove_stale_temporaries`] once at start as well.
    pub fn new(root: &Path) -> Result<Writer, DataError> {
        let root = super::check_root(root)?;
        Ok(Writer {
            locks: PythonLocks::new(&root),
            root,
            files_json: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Sets how long a Python lock is waited for before [`DataError::Busy`].
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Writer {
        self.locks = self.locks.with_timeout(timeout);
        self
    }

    /// The database root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lock protocol as this writer uses it.
    pub fn locks(&self) -> &PythonLocks {
        &self.locks
    }

    /// The in-process mutex serialising `files.json` updates of one scan.
    fn scan_mutex(&self, scan_id: &str) -> Arc<Mutex<()>> {
        let mut table = self.files_json.lock();
        if table.len() > MUTEX_TABLE_PRUNE {
            table.retain(|_, m| Arc::strong_count(m) > 1);
        }
        Arc::clone(table.entry(scan_id.to_string()).or_default())
    }

    /// The queue of file entries waiting for one scan's `files.json`.
    fn pending_entries(&self, scan_id: &str) -> Arc<files_json::PendingEntries> {
        let mut table = self.pending.lock();
        if table.len() > MUTEX_TABLE_PRUNE {
            table.retain(|_, q| Arc::strong_count(q) > 1);
        }
        Arc::clone(table.entry(scan_id.to_string()).or_default())
    }
}

/// Now as Python's `datetime.now().isoformat()`: naive local time,
/// microseconds omitted when zero (`2026-12-02T15:45:37.053313`).
pub fn python_now() -> String {
    python_iso(chrono::Local::now().naive_local())
}

/// Python's `datetime.isoformat()` of a naive time.
pub fn python_iso(t: chrono::NaiveDateTime) -> String {
    use chrono::Timelike;
    let micros = t.nanosecond() / 1_000 % 1_000_000;
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        base.to_string()
    } else {
        format!("{base}.{micros:06}")
    }
}

/// `metadata` minus the keys a client may not set at fileset and file level
/// (`owner`, `sharing`) nor at any level (`created`, `created_by`), plus the
/// creation keys (§1.6).
fn creation_metadata(mut metadata: Map<String, Value>, author: &Author) -> Map<String, Value> {
    for key in ["owner", "sharing"] {
        metadata.remove(key);
    }
    stamp_creation(&mut metadata, author);
    metadata
}

/// Sets `created` = `last_modified` = now and `created_by`.
fn stamp_creation(metadata: &mut Map<String, Value>, author: &Author) {
    let now = python_now();
    metadata.insert("created".into(), Value::String(now.clone()));
    metadata.insert("last_modified".into(), Value::String(now));
    metadata.insert("created_by".into(), Value::String(author.fullname.clone()));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn python_iso_format() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_micro_opt(15, 45, 37, 53_313)
            .unwrap();
        assert_eq!(python_iso(t), "2026-12-02T15:45:37.053313");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(python_iso(t), "2026-01-02T03:04:05");
        let now = python_now();
        assert!(now.len() == 19 || now.len() == 26, "{now}");
    }
}
