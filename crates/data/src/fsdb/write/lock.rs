//! plantdb-commons' lock protocol (`fsdb/lock.py`, data-api.md §1.7), so
//! that the server, the plant-3d-vision pipeline and the `fsdb_*` tools
//! never write the same scan, fileset or file at once.
//!
//! - Lock files live in `<root>/.locks/`: `<scan>.lock` (scan level; a
//!   timelapse uses its id at this level), `<scan>_<fs>.lock` (fileset),
//!   `<scan>_<fs>_<file>.lock` (file); levels are independent.
//! - Acquire: `open(O_CREAT|O_WRONLY|O_TRUNC)`, non-blocking `flock(2)`
//!   shared or exclusive, retried every 100 ms until a timeout (30 s by
//!   default) → [`DataError::Busy`]. Once locked, the descriptor's inode is
//!   compared with the path's: Python unlinks the file when it releases,
//!   so a waiter may have locked an unlinked inode; then it retries.
//! - A `.info` file beside the lock tells who holds it (JSON, indent 2:
//!   `resource_id`, `level`, `lock_type`, `user`, `timestamp`, `pid`,
//!   `thread_id`).
//! - Release ([`LockGuard`]'s `Drop`): the `.info` and `.lock` files are
//!   unlinked, then the lock is released and the file closed. Python
//!   unlocks before unlinking; unlinking first (only if the path is still
//!   our inode) means a waiter of ours that locked the old inode always
//!   notices it and retries, and Python waiters see the same as with
//!   Python's order: the lock is free. A shared lock's files are unlinked
//!   only by its last holder (Python unlinks them whoever releases, which
//!   lets an exclusive locker in beside remaining shared holders).
//!
//! Within this process, exclusive lockers of one file queue on a condition
//! variable instead of polling `flock` every 100 ms: many requests writing
//! one fileset are served in turn without sleeping.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use crate::ids::is_lookup_id;
use crate::json::{python_float_repr, to_python_json_unsorted_indent4};
use crate::DataError;

/// The directory of lock files under the root.
pub const LOCKS_DIR: &str = ".locks";

/// Python's default timeout (`LockManager.default_timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Python's pause between two attempts.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// The three levels of the protocol (Python's `LockLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockLevel {
    Scan,
    Fileset,
    File,
}

impl LockLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LockLevel::Scan => "scan",
            LockLevel::Fileset => "fileset",
            LockLevel::File => "file",
        }
    }
}

/// Python's `LockType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Shared,
    Exclusive,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Shared => "shared",
            LockKind::Exclusive => "exclusive",
        }
    }
}

/// What is locked. A timelapse is locked at scan level under its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockResource<'a> {
    Scan(&'a str),
    Timelapse(&'a str),
    Fileset(&'a str, &'a str),
    File(&'a str, &'a str, &'a str),
}

impl LockResource<'_> {
    pub fn level(&self) -> LockLevel {
        match self {
            LockResource::Scan(_) | LockResource::Timelapse(_) => LockLevel::Scan,
            LockResource::Fileset(..) => LockLevel::Fileset,
            LockResource::File(..) => LockLevel::File,
        }
    }

    /// Python's `resource_id`: `scan`, `scan/fs` or `scan/fs/file`.
    pub fn resource_id(&self) -> String {
        match self {
            LockResource::Scan(s) | LockResource::Timelapse(s) => (*s).to_string(),
            LockResource::Fileset(s, fs) => format!("{s}/{fs}"),
            LockResource::File(s, fs, f) => format!("{s}/{fs}/{f}"),
        }
    }

    /// The lock file's stem: `scan`, `scan_fs` or `scan_fs_file`.
    pub fn stem(&self) -> String {
        match self {
            LockResource::Scan(s) | LockResource::Timelapse(s) => (*s).to_string(),
            LockResource::Fileset(s, fs) => format!("{s}_{fs}"),
            LockResource::File(s, fs, f) => format!("{s}_{fs}_{f}"),
        }
    }

    /// The resource as a message names it.
    pub fn describe(&self) -> String {
        match self {
            LockResource::Scan(s) => format!("Scan '{s}'"),
            LockResource::Timelapse(t) => format!("Timelapse '{t}'"),
            LockResource::Fileset(s, fs) => format!("Fileset '{fs}' of scan '{s}'"),
            LockResource::File(s, fs, f) => format!("File '{f}' of fileset '{fs}' of scan '{s}'"),
        }
    }

    /// Every id must be a path-safe id: the stem becomes a file name.
    fn check(&self) -> Result<(), DataError> {
        let ids: &[&str] = match self {
            LockResource::Scan(s) | LockResource::Timelapse(s) => &[s],
            LockResource::Fileset(s, fs) => &[s, fs],
            LockResource::File(s, fs, f) => &[s, fs, f],
        };
        if ids.iter().all(|id| is_lookup_id(id)) {
            Ok(())
        } else {
            Err(DataError::invalid(
                "Invalid id: use letters, digits, '_', '-' and '.', not starting with '.'",
            ))
        }
    }
}

/// The lock protocol for one root: where lock files live and how long to
/// wait. Cheap to share; clones share the in-process queue.
#[derive(Debug, Clone)]
pub struct PythonLocks {
    dir: PathBuf,
    timeout: Duration,
    queue: Arc<InProcessQueue>,
}

/// Names of the lock files an exclusive guard of this process holds, and a
/// condition variable signalled at each release.
#[derive(Debug, Default)]
struct InProcessQueue {
    held: Mutex<HashSet<PathBuf>>,
    released: Condvar,
}

impl PythonLocks {
    /// The protocol under `root` (lock files in `<root>/.locks/`, created
    /// when first needed), with Python's 30 s timeout.
    pub fn new(root: &Path) -> PythonLocks {
        PythonLocks {
            dir: root.join(LOCKS_DIR),
            timeout: DEFAULT_TIMEOUT,
            queue: Arc::new(InProcessQueue::default()),
        }
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> PythonLocks {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Path of the lock file of `resource`.
    pub fn lock_path(&self, resource: &LockResource<'_>) -> PathBuf {
        self.dir.join(format!("{}.lock", resource.stem()))
    }

    /// Path of the `.info` file of `resource`.
    pub fn info_path(&self, resource: &LockResource<'_>) -> PathBuf {
        self.dir.join(format!("{}.info", resource.stem()))
    }

    /// Takes the lock, waiting up to the timeout. `user` is written to the
    /// `.info` file. Errors: [`DataError::Busy`] after the timeout, an
    /// invalid id, or an I/O error on `.locks/`.
    pub fn acquire(
        &self,
        resource: LockResource<'_>,
        kind: LockKind,
        user: &str,
    ) -> Result<LockGuard, DataError> {
        resource.check()?;
        let deadline = Instant::now() + self.timeout;
        let lock_path = self.lock_path(&resource);
        let slot = match kind {
            LockKind::Exclusive => Some(self.claim_slot(&lock_path, &resource, deadline)?),
            LockKind::Shared => None,
        };
        let file = self.lock_file(&lock_path, &resource, kind, deadline)?;
        let info_path = self.info_path(&resource);
        if let Err(error) = write_info(&info_path, &resource, kind, user) {
            // Only for people reading `.locks/`: the lock itself holds.
            tracing::warn!(lock = %resource.resource_id(), %error, "could not write a lock .info file");
        }
        Ok(LockGuard {
            file: Some(file),
            kind,
            lock_path,
            info_path,
            slot,
        })
    }

    /// Waits until no other guard of this process holds `lock_path`
    /// exclusively, then marks it held.
    fn claim_slot(
        &self,
        lock_path: &Path,
        resource: &LockResource<'_>,
        deadline: Instant,
    ) -> Result<Slot, DataError> {
        let mut held = self.queue.held.lock();
        while held.contains(lock_path) {
            if self
                .queue
                .released
                .wait_until(&mut held, deadline)
                .timed_out()
                && held.contains(lock_path)
            {
                return Err(DataError::Busy(format!(
                    "{} is being written by another request; try again",
                    resource.describe()
                )));
            }
        }
        held.insert(lock_path.to_path_buf());
        Ok(Slot {
            queue: Arc::clone(&self.queue),
            path: lock_path.to_path_buf(),
        })
    }

    /// Python's loop: open with `O_TRUNC`, try `flock`, sleep 100 ms.
    fn lock_file(
        &self,
        lock_path: &Path,
        resource: &LockResource<'_>,
        kind: LockKind,
        deadline: Instant,
    ) -> Result<File, DataError> {
        loop {
            let file = self.open_lock_file(lock_path)?;
            let attempt = match kind {
                LockKind::Exclusive => file.try_lock(),
                LockKind::Shared => file.try_lock_shared(),
            };
            match attempt {
                Ok(()) => {
                    if same_inode(&file, lock_path) {
                        return Ok(file);
                    }
                    // Locked an inode another process unlinked on release:
                    // drop it (which unlocks it) and lock the current file.
                    continue;
                }
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    return Err(DataError::io(
                        format!("Could not lock {}", resource.describe()),
                        e,
                    ))
                }
            }
            drop(file);
            let now = Instant::now();
            if now >= deadline {
                return Err(DataError::Busy(format!(
                    "{} is locked by another program (a pipeline or Python tool?); try again",
                    resource.describe()
                )));
            }
            std::thread::sleep(RETRY_INTERVAL.min(deadline - now));
        }
    }

    fn open_lock_file(&self, lock_path: &Path) -> Result<File, DataError> {
        let open = || {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(lock_path)
        };
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)
                    .map_err(|e| DataError::io("Could not create the lock directory", e))?;
                open()
            }
            other => other,
        };
        file.map_err(|e| DataError::io("Could not open a lock file", e))
    }
}

/// The descriptor and the path name the same file (`fstat` vs `stat`).
#[cfg(unix)]
fn same_inode(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Python's `_write_lock_info`: `json.dump(info, f, indent=2)`.
fn write_info(
    path: &Path,
    resource: &LockResource<'_>,
    kind: LockKind,
    user: &str,
) -> io::Result<()> {
    let string = |s: &str| to_python_json_unsorted_indent4(&Value::String(s.to_string()));
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let text = format!(
        "{{\n  \"resource_id\": {},\n  \"level\": {},\n  \"lock_type\": {},\n  \"user\": {},\n  \"timestamp\": {},\n  \"pid\": {},\n  \"thread_id\": {}\n}}",
        string(&resource.resource_id()),
        string(resource.level().as_str()),
        string(kind.as_str()),
        string(user),
        python_float_repr(timestamp),
        std::process::id(),
        thread_id(),
    );
    let mut file = File::create(path)?;
    file.write_all(text.as_bytes())
}

/// The OS thread id (Python writes `threading.get_ident()`; only read by
/// people), from `/proc/thread-self`, else a number derived from Rust's.
fn thread_id() -> u64 {
    fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or_else(|| {
            let debug = format!("{:?}", std::thread::current().id());
            debug
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
}

/// A held lock; released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    file: Option<File>,
    kind: LockKind,
    lock_path: PathBuf,
    info_path: PathBuf,
    slot: Option<Slot>,
}

impl LockGuard {
    /// The lock file held.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // A shared lock may have other holders on the same inode: the
            // files are removed only by the last one, i.e. when the lock
            // can be turned exclusive (Python removes them anyway, and a
            // later exclusive locker then creates a new file beside the
            // shared holders' unlinked one).
            let sole_holder = match self.kind {
                LockKind::Exclusive => true,
                LockKind::Shared => file.try_lock().is_ok(),
            };
            if sole_holder && same_inode(&file, &self.lock_path) {
                for path in [&self.info_path, &self.lock_path] {
                    if let Err(error) = fs::remove_file(path) {
                        if error.kind() != io::ErrorKind::NotFound {
                            tracing::warn!(path = %path.display(), %error, "could not remove a lock file");
                        }
                    }
                }
            }
            if let Err(error) = file.unlock() {
                tracing::warn!(path = %self.lock_path.display(), %error, "could not unlock a lock file");
            }
            drop(file);
        }
        // The in-process slot (if any) is released after the file lock.
        self.slot.take();
    }
}

/// This process's claim on an exclusive lock file; released when dropped.
#[derive(Debug)]
struct Slot {
    queue: Arc<InProcessQueue>,
    path: PathBuf,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.queue.held.lock().remove(&self.path);
        self.queue.released.notify_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_python() {
        let locks = PythonLocks::new(Path::new("/db"));
        let file = LockResource::File("s", "fs", "f");
        assert_eq!(locks.lock_path(&file), Path::new("/db/.locks/s_fs_f.lock"));
        assert_eq!(locks.info_path(&file), Path::new("/db/.locks/s_fs_f.info"));
        assert_eq!(file.resource_id(), "s/fs/f");
        assert_eq!(
            locks.lock_path(&LockResource::Fileset("s", "fs")),
            Path::new("/db/.locks/s_fs.lock")
        );
        assert_eq!(
            locks.lock_path(&LockResource::Timelapse("tl")),
            Path::new("/db/.locks/tl.lock")
        );
    }

    #[test]
    fn acquire_writes_info_and_release_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let locks = PythonLocks::new(dir.path());
        let guard = locks
            .acquire(
                LockResource::Fileset("s", "fs"),
                LockKind::Exclusive,
                "alice",
            )
            .unwrap();
        let info: Value =
            serde_json::from_slice(&fs::read(dir.path().join(".locks/s_fs.info")).unwrap())
                .unwrap();
        assert_eq!(info["resource_id"], "s/fs");
        assert_eq!(info["level"], "fileset");
        assert_eq!(info["lock_type"], "exclusive");
        assert_eq!(info["user"], "alice");
        assert_eq!(info["pid"], std::process::id());
        assert!(info["timestamp"].is_f64());
        assert!(guard.lock_path().exists());
        drop(guard);
        assert!(!dir.path().join(".locks/s_fs.lock").exists());
        assert!(!dir.path().join(".locks/s_fs.info").exists());
    }

    #[test]
    fn exclusive_excludes_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let locks = PythonLocks::new(dir.path()).with_timeout(Duration::from_millis(250));
        let held = locks
            .acquire(LockResource::Scan("s"), LockKind::Exclusive, "a")
            .unwrap();
        // Another handle (own queue) polls flock and times out.
        let other = PythonLocks::new(dir.path()).with_timeout(Duration::from_millis(250));
        let start = Instant::now();
        let err = other
            .acquire(LockResource::Scan("s"), LockKind::Shared, "b")
            .unwrap_err();
        assert!(matches!(err, DataError::Busy(_)), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(240));
        // The same handle queues in process, and times out too.
        assert!(matches!(
            locks.acquire(LockResource::Scan("s"), LockKind::Exclusive, "c"),
            Err(DataError::Busy(_))
        ));
        // Other levels are independent.
        let _fileset = other
            .acquire(LockResource::Fileset("s", "fs"), LockKind::Exclusive, "b")
            .unwrap();
        drop(held);
        let _again = other
            .acquire(LockResource::Scan("s"), LockKind::Exclusive, "b")
            .unwrap();
    }

    #[test]
    fn shared_locks_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let locks = PythonLocks::new(dir.path()).with_timeout(Duration::from_millis(100));
        let a = locks
            .acquire(LockResource::Scan("s"), LockKind::Shared, "a")
            .unwrap();
        let b = locks
            .acquire(LockResource::Scan("s"), LockKind::Shared, "b")
            .unwrap();
        assert!(matches!(
            locks.acquire(LockResource::Scan("s"), LockKind::Exclusive, "c"),
            Err(DataError::Busy(_))
        ));
        // The first to leave keeps the file: `b` still holds it.
        drop(a);
        assert!(b.lock_path().exists());
        assert!(matches!(
            locks.acquire(LockResource::Scan("s"), LockKind::Exclusive, "c"),
            Err(DataError::Busy(_))
        ));
        drop(b);
        assert!(!dir.path().join(".locks/s.lock").exists());
        drop(
            locks
                .acquire(LockResource::Scan("s"), LockKind::Exclusive, "c")
                .unwrap(),
        );
    }

    #[test]
    fn in_process_waiters_are_served_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let locks = PythonLocks::new(dir.path()).with_timeout(Duration::from_secs(10));
        let counter = Arc::new(Mutex::new((0u32, 0u32)));
        std::thread::scope(|scope| {
            for _ in 0..16 {
                let locks = locks.clone();
                let counter = Arc::clone(&counter);
                scope.spawn(move || {
                    let _g = locks
                        .acquire(LockResource::Scan("s"), LockKind::Exclusive, "t")
                        .unwrap();
                    {
                        let mut c = counter.lock();
                        c.0 += 1;
                        c.1 = c.1.max(c.0);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    counter.lock().0 -= 1;
                });
            }
        });
        assert_eq!(counter.lock().1, 1);
    }

    #[test]
    fn bad_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let locks = PythonLocks::new(dir.path());
        assert!(matches!(
            locks.acquire(LockResource::Scan("../x"), LockKind::Exclusive, "a"),
            Err(DataError::InvalidInput(_))
        ));
    }
}
