//! The FSDB directory as the data API sees it (data-api.md §1).
//!
//! - [`layout`]: which directories are scans and timelapse containers;
//! - [`scan`]: one scan's `files.json` and metadata, loaded with Python's rules;
//! - [`index`]: the in-memory index, fresh without a restart: parsed files
//!   are cached by (mtime, size) and the root is re-listed at most every few
//!   seconds, so pipelines and Python tools can write next to us;
//! - [`paths`]: the file-path routes' safe resolution (no hidden component,
//!   no symlink escape);
//! - [`timelapse`]: `timelapse.json` containers.

pub mod index;
pub mod layout;
pub mod paths;
pub mod scan;
pub mod timelapse;
pub mod write;

use std::path::{Path, PathBuf};

pub use index::{Index, IndexSettings};
pub use layout::ScanLocation;
pub use scan::{FileEntry, Fileset, ScanData};

use crate::DataError;

/// Name of the empty marker file that makes a directory an FSDB root.
pub const MARKER: &str = "romidb";

/// Checks that `root` is an FSDB root (it holds the `romidb` marker).
pub fn check_root(root: &Path) -> Result<PathBuf, DataError> {
    let marker = root.join(MARKER);
    match std::fs::metadata(&marker) {
        Ok(m) if m.is_file() => Ok(root.to_path_buf()),
        Ok(_) | Err(_) => Err(DataError::NotFound(format!(
            "{} is not a PlantDB database: it has no '{MARKER}' marker file",
            root.display()
        ))),
    }
}
