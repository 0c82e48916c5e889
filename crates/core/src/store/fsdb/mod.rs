//! The FSDB store: `users.json` and `groups.json` at the root of a PlantDB
//! database, in exactly the Python server's format, so a database moves
//! between the two servers as-is.
//!
//! Our own state (the write lock, and whatever else the server keeps) lives
//! in `<root>/.plantdb-auth/`, out of the Python tools' way.

mod atomic;
mod fields;
mod group_record;
mod groups;
mod json_table;
mod lock;
mod table;
mod user_record;
mod users;

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::atomic::io_error;
use self::json_table::JsonTable;
use self::lock::DbLock;
use super::StoreError;

pub use self::groups::{FsdbGroupStore, GROUPS_FILE};
pub use self::lock::LOCK_FILE;
pub use self::users::{FsdbUserStore, USERS_FILE};

/// The empty file that marks a directory as a PlantDB database.
pub const MARKER_FILE: &str = "romidb";
/// Our private directory inside the database root.
pub const STATE_DIR: &str = ".plantdb-auth";

/// An open FSDB root: both stores, loaded, and the database's write lock.
#[derive(Debug)]
pub struct Fsdb {
    pub users: Arc<FsdbUserStore>,
    pub groups: Arc<FsdbGroupStore>,
    root: PathBuf,
    lock: Arc<DbLock>,
}

impl Fsdb {
    /// Opens an existing FSDB root (directory holding the `romidb` marker file): takes the advisory
    /// write lock, creates the state directory `<root>/.plantdb-auth/` (mode 0700) and loads both files.
    pub fn open(root: &Path) -> Result<Fsdb, StoreError> {
        if !is_fsdb_root(root) {
            return Err(StoreError::NotADatabase {
                path: root.display().to_string(),
            });
        }
        let state_dir = root.join(STATE_DIR);
        create_private_dir(&state_dir)?;
        let lock = Arc::new(DbLock::acquire(root, &state_dir)?);
        let users = JsonTable::open(root.join(USERS_FILE), Arc::clone(&lock))?;
        let groups = JsonTable::open(root.join(GROUPS_FILE), Arc::clone(&lock))?;
        Ok(Fsdb {
            users: Arc::new(FsdbUserStore::new(users)),
            groups: Arc::new(FsdbGroupStore::new(groups)),
            root: root.to_path_buf(),
            lock,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/.plantdb-auth`
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// The lock file, for messages telling the operator what holds the database.
    pub fn lock_path(&self) -> &Path {
        self.lock.path()
    }
}

pub fn is_fsdb_root(path: &Path) -> bool {
    path.is_dir() && path.join(MARKER_FILE).is_file()
}

/// Creates the directory (and parents) and the empty `romidb` marker if absent.
pub fn create_root(path: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(path).map_err(|e| io_error(path, e))?;
    let marker = path.join(MARKER_FILE);
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&marker)
        .map(drop)
        .map_err(|e| io_error(&marker, e))
}

/// Number of scans: subdirectories of root that contain a `metadata` subdirectory.
pub fn scan_count(root: &Path) -> Result<usize, StoreError> {
    let mut count = 0;
    for entry in fs::read_dir(root).map_err(|e| io_error(root, e))? {
        let entry = entry.map_err(|e| io_error(root, e))?;
        if entry.path().join("metadata").is_dir() {
            count += 1;
        }
    }
    Ok(count)
}

/// The state directory holds secrets (signing key, sessions): owner-only,
/// tightened even if it already existed with looser permissions.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(dir, e)),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, e))?;
    }
    Ok(())
}
