//! The in-memory index of the database, fresh without a restart (§1.9).
//!
//! - The root is re-listed on [`Index::refresh`] and, on listing routes, when
//!   the last listing is older than `relist_interval` (default 5 s). A lookup
//!   of an id the listing does not know re-lists at most once a second, so a
//!   scan created by another process is found at once and a flood of unknown
//!   ids costs little.
//! - Each scan's parsed state is cached with a [`Stamp`] of the files it was
//!   built from (mtime, size, inode); a request re-stats those few files and
//!   reloads only what changed. Values derived from a scan (the scan-info
//!   documents) live next to it and die with it.
//!
//! Every method does blocking file I/O: call them off the async workers.

use std::any::Any;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};

use super::layout::{self, Listing, ScanLocation};
use super::scan::{self, ScanData};
use crate::DataError;

#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Longest age of the root listing on listing routes.
    pub relist_interval: Duration,
    /// Shortest time between two re-listings caused by unknown ids.
    pub miss_relist_interval: Duration,
}

impl Default for IndexSettings {
    fn default() -> Self {
        IndexSettings {
            relist_interval: Duration::from_secs(5),
            miss_relist_interval: Duration::from_secs(1),
        }
    }
}

/// Identity of one file's content as far as `stat` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    exists: bool,
}

impl FileStamp {
    pub fn of(path: &Path) -> FileStamp {
        match fs::metadata(path) {
            Ok(m) => FileStamp {
                modified: m.modified().ok(),
                len: m.len(),
                inode: inode(&m),
                exists: true,
            },
            Err(_) => FileStamp::default(),
        }
    }
}

#[cfg(unix)]
fn inode(m: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &fs::Metadata) -> u64 {
    0
}

/// What a scan's cached state was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp([FileStamp; 6]);

impl Stamp {
    fn of(dir: &Path) -> Stamp {
        let meta = dir.join("metadata");
        Stamp([
            FileStamp::of(&dir.join("files.json")),
            FileStamp::of(&meta.join("metadata.json")),
            FileStamp::of(&meta.join("images.json")),
            FileStamp::of(&meta.join("images")),
            FileStamp::of(&dir.join("pipeline.toml")),
            FileStamp::of(&dir.join("measures.json")),
        ])
    }
}

/// A scan's cached state and what was derived from it.
pub struct CachedScan {
    stamp: Stamp,
    pub data: Arc<ScanData>,
    derived: Mutex<HashMap<&'static str, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for CachedScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedScan")
            .field("id", &self.data.id())
            .finish_non_exhaustive()
    }
}

impl CachedScan {
    /// A value derived from this scan, computed once per version of it.
    pub fn derived<T, F>(&self, key: &'static str, make: F) -> Arc<T>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&ScanData) -> T,
    {
        if let Some(v) = self.derived.lock().get(key) {
            if let Ok(v) = v.clone().downcast::<T>() {
                return v;
            }
        }
        let value = Arc::new(make(&self.data));
        self.derived.lock().insert(key, value.clone());
        value
    }
}

/// A scan that failed to load: reported, not served.
#[derive(Debug, Clone)]
pub struct BrokenScan {
    pub id: String,
    pub reason: String,
}

struct ListingState {
    listing: Arc<Listing>,
    at: Instant,
}

pub struct Index {
    root: PathBuf,
    settings: IndexSettings,
    listing: RwLock<ListingState>,
    scans: Mutex<HashMap<String, Arc<CachedScan>>>,
    broken: Mutex<HashMap<String, (Stamp, String)>>,
    /// Serialises re-listings so that a burst of requests lists once.
    relisting: Mutex<()>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Lists the root once; scans are loaded lazily.
    pub fn open(root: &Path, settings: IndexSettings) -> Result<Index, DataError> {
        let root = super::check_root(root)?;
        let listing = layout::list(&root);
        tracing::info!(
            scans = listing.scans.len(),
            timelapses = listing.timelapses.len(),
            "database listed"
        );
        Ok(Index {
            root,
            settings,
            listing: RwLock::new(ListingState {
                listing: Arc::new(listing),
                at: Instant::now(),
            }),
            scans: Mutex::new(HashMap::new()),
            broken: Mutex::new(HashMap::new()),
            relisting: Mutex::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Re-lists the root if the listing is older than `max_age`.
    fn listing_younger_than(&self, max_age: Duration) -> Arc<Listing> {
        {
            let state = self.listing.read();
            if state.at.elapsed() <= max_age {
                return state.listing.clone();
            }
        }
        let _one = self.relisting.lock();
        {
            let state = self.listing.read();
            if state.at.elapsed() <= max_age {
                return state.listing.clone();
            }
        }
        let fresh = Arc::new(layout::list(&self.root));
        self.forget_removed(&fresh);
        let mut state = self.listing.write();
        state.listing = fresh.clone();
        state.at = Instant::now();
        fresh
    }

    fn forget_removed(&self, listing: &Listing) {
        self.scans.lock().retain(|id, cached| {
            listing
                .scans
                .get(id)
                .is_some_and(|loc| *loc == cached.data.location)
        });
        self.broken
            .lock()
            .retain(|id, _| listing.scans.contains_key(id));
    }

    /// The listing for a listing route (at most `relist_interval` old).
    pub fn listing(&self) -> Arc<Listing> {
        self.listing_younger_than(self.settings.relist_interval)
    }

    /// Re-lists now (`/refresh`) and drops every cached scan.
    pub fn refresh(&self) -> Arc<Listing> {
        let listing = self.listing_younger_than(Duration::ZERO);
        self.scans.lock().clear();
        self.broken.lock().clear();
        listing
    }

    /// Re-lists and reloads one scan (`/refresh?scan_id=`); `NotFound` if
    /// no such scan exists on disk.
    pub fn refresh_scan(&self, id: &str) -> Result<Arc<CachedScan>, DataError> {
        self.scans.lock().remove(id);
        self.broken.lock().remove(id);
        let listing = self.listing_younger_than(Duration::ZERO);
        let location = listing
            .scans
            .get(id)
            .ok_or_else(|| unknown_scan(id))?
            .clone();
        self.load(&location)
    }

    /// Where a scan lives; an unknown id re-lists at most once per
    /// `miss_relist_interval`.
    pub fn locate(&self, id: &str) -> Result<ScanLocation, DataError> {
        if let Some(loc) = self.listing.read().listing.scans.get(id) {
            if loc.dir.is_dir() {
                return Ok(loc.clone());
            }
        }
        let listing = self.listing_younger_than(self.settings.miss_relist_interval);
        listing
            .scans
            .get(id)
            .cloned()
            .ok_or_else(|| unknown_scan(id))
    }

    /// A scan, fresh from disk if any of its files changed.
    pub fn scan(&self, id: &str) -> Result<Arc<CachedScan>, DataError> {
        let location = self.locate(id)?;
        self.load(&location)
    }

    fn load(&self, location: &ScanLocation) -> Result<Arc<CachedScan>, DataError> {
        let stamp = Stamp::of(&location.dir);
        if let Some(cached) = self.scans.lock().get(&location.id) {
            if cached.stamp == stamp && cached.data.location == *location {
                return Ok(cached.clone());
            }
        }
        if let Some((broken_stamp, reason)) = self.broken.lock().get(&location.id) {
            if *broken_stamp == stamp {
                return Err(DataError::Corrupt(reason.clone()));
            }
        }
        match scan::load(location) {
            Ok(data) => {
                let cached = Arc::new(CachedScan {
                    stamp,
                    data: Arc::new(data),
                    derived: Mutex::new(HashMap::new()),
                });
                self.broken.lock().remove(&location.id);
                self.scans
                    .lock()
                    .insert(location.id.clone(), cached.clone());
                Ok(cached)
            }
            Err(DataError::Corrupt(reason)) => {
                // Python may be rewriting files.json in place: keep serving
                // the last good copy if there is one.
                if let Some(cached) = self.scans.lock().get(&location.id) {
                    if cached.data.location == *location {
                        tracing::warn!(scan = %location.id, %reason, "files.json unreadable: serving the last good copy");
                        return Ok(cached.clone());
                    }
                }
                tracing::warn!(scan = %location.id, %reason, "broken scan: not served until fixed");
                self.broken
                    .lock()
                    .insert(location.id.clone(), (stamp, reason.clone()));
                Err(DataError::Corrupt(reason))
            }
            Err(e) => Err(e),
        }
    }

    /// Every served scan that loads, in ascending id order, and the broken ones.
    pub fn all_scans(&self) -> (Vec<Arc<CachedScan>>, Vec<BrokenScan>) {
        let listing = self.listing();
        let mut ok = Vec::with_capacity(listing.scans.len());
        let mut broken = Vec::new();
        for location in listing.scans.values() {
            match self.load(location) {
                Ok(scan) => ok.push(scan),
                Err(DataError::NotFound(_)) => {}
                Err(e) => broken.push(BrokenScan {
                    id: location.id.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        (ok, broken)
    }

    /// Number of scans in the current listing (health).
    pub fn scan_count(&self) -> usize {
        self.listing.read().listing.scans.len()
    }

    /// Drops a scan's cache after we wrote to it.
    pub fn invalidate(&self, id: &str) {
        self.scans.lock().remove(id);
        self.broken.lock().remove(id);
    }

    /// Forces the next listing route to re-list (after creating a scan).
    pub fn mark_listing_stale(&self) {
        let mut state = self.listing.write();
        state.at = Instant::now()
            .checked_sub(self.settings.relist_interval + Duration::from_secs(1))
            .unwrap_or(state.at);
    }
}

pub fn unknown_scan(id: &str) -> DataError {
    DataError::NotFound(format!(
        "Unknown scan id '{}': list the scans with GET /api/v1/scans",
        crate::ids::printable(id)
    ))
}
