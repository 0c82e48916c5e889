//! The data use-cases (data-api.md): scans, filesets, files, metadata,
//! previews, point clouds, archives and timelapses, over the FSDB index of
//! `plantdb-data`, with the permission checks of contract.md §1.
//!
//! Every function here is synchronous and may touch the disk: adapters run
//! them off the async workers (the HTTP server runs each request's
//! use-case as one blocking job). CPU-heavy previews additionally pass a
//! [`PreviewGate`], so a burst of cold previews cannot take every core.
//!
//! - [`access`]: who is reading or writing, resolved once per request;
//! - [`read`]: listings, scan info, metadata, files;
//! - [`assets`]: images, point clouds, meshes, skeletons, sequences, archives;
//! - [`write`]: scans, filesets, files, metadata, timelapses, archive uploads.

pub mod access;
pub mod assets;
mod gate;
pub mod read;
pub mod write;

use std::path::{Path, PathBuf};

use plantdb_data::fsdb::write::Writer;
use plantdb_data::fsdb::{Index, IndexSettings};

pub use access::{data_access, Access};
pub use gate::PreviewGate;

use crate::AuthError;

/// Settings of the data API.
#[derive(Debug, Clone)]
pub struct DataSettings {
    /// Deployment prefix (`""` or `/plantdb`), in the URIs of the current generation.
    pub url_prefix: String,
    pub index: IndexSettings,
    /// Previews (images, point clouds) generated at once.
    pub preview_workers: usize,
    /// How long a lock of the Python lock protocol is waited for (503 after).
    pub lock_timeout: std::time::Duration,
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings {
            url_prefix: String::new(),
            index: IndexSettings::default(),
            preview_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            lock_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The data side of a PlantDB database.
#[derive(Debug)]
pub struct DataService {
    index: Index,
    writer: Writer,
    settings: DataSettings,
    gate: PreviewGate,
}

impl DataService {
    /// Opens the database at `root` (it must hold the `romidb` marker).
    pub fn open(root: &Path, settings: DataSettings) -> Result<DataService, AuthError> {
        let index = Index::open(root, settings.index.clone())?;
        let removed = plantdb_data::fsdb::write::remove_stale_temporaries(index.root());
        if removed > 0 {
            tracing::info!(
                removed,
                "stale temporary files of interrupted writes removed"
            );
        }
        let writer = Writer::new(index.root())?.with_lock_timeout(settings.lock_timeout);
        Ok(DataService {
            writer,
            gate: PreviewGate::new(settings.preview_workers.max(1)),
            index,
            settings,
        })
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn root(&self) -> PathBuf {
        self.index.root().to_path_buf()
    }

    pub fn url_prefix(&self) -> &str {
        &self.settings.url_prefix
    }

    /// Number of served scans (health): listed and loadable, broken ones left out.
    pub fn served_scan_count(&self) -> usize {
        self.index.all_scans().0.len()
    }
}
