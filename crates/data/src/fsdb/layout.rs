//! Discovery: which subdirectories of the root are scans (§1.1).
//!
//! A candidate is a non-hidden immediate subdirectory (symlinks followed only
//! when they stay inside the root). A candidate with a regular file
//! `timelapse.json` is a container whose own non-hidden subdirectories are
//! candidates. A candidate is a scan when it has a `metadata/` directory and
//! a `files.json`; whether that file parses is checked when the scan is
//! loaded, so a broken scan is skipped and reported without failing the rest.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::ids::is_lookup_id;

/// Directory names that are never scans (pipeline configurations).
pub const RESERVED: &[&str] = &["configs"];

/// Where one scan lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLocation {
    pub id: String,
    pub dir: PathBuf,
    /// The container this scan was found in, if any.
    pub timelapse: Option<String>,
}

/// What a listing of the root found.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    /// Served scans by id.
    pub scans: BTreeMap<String, ScanLocation>,
    /// Timelapse containers by id, with their directory.
    pub timelapses: BTreeMap<String, PathBuf>,
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// A directory entry that is a directory, following a symlink only when it
/// resolves inside `root_real`.
fn is_dir_inside(path: &Path, root_real: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => true,
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(real) => real.starts_with(root_real) && real.is_dir(),
            Err(_) => false,
        },
        _ => false,
    }
}

/// Has the shape of a scan: `metadata/` and `files.json`.
pub fn looks_like_scan(dir: &Path) -> bool {
    dir.join("metadata").is_dir() && dir.join("files.json").is_file()
}

fn sorted_subdirs(dir: &Path, root_real: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "cannot list directory");
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if is_hidden(&name) || RESERVED.contains(&name.as_str()) {
                return None;
            }
            let path = e.path();
            is_dir_inside(&path, root_real).then_some((name, path))
        })
        .collect();
    out.sort();
    out
}

/// Lists the root. Flat scans win over scans in containers; among
/// containers, byte order of the container id decides. Duplicates and ids
/// no route could reach are logged and left out.
pub fn list(root: &Path) -> Listing {
    let root_real = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut listing = Listing::default();
    let mut nested: Vec<ScanLocation> = Vec::new();
    for (name, path) in sorted_subdirs(root, &root_real) {
        if path.join(crate::fsdb::timelapse::MARKER_FILE).is_file() {
            listing.timelapses.insert(name.clone(), path.clone());
            for (scan, scan_dir) in sorted_subdirs(&path, &root_real) {
                if looks_like_scan(&scan_dir) {
                    nested.push(ScanLocation {
                        id: scan,
                        dir: scan_dir,
                        timelapse: Some(name.clone()),
                    });
                }
            }
            continue;
        }
        if !looks_like_scan(&path) {
            tracing::debug!(candidate = %name, "not a scan (no metadata/ or files.json): skipped");
            continue;
        }
        if !is_lookup_id(&name) {
            tracing::warn!(candidate = %name, "scan directory name is not a valid id: not served");
            continue;
        }
        listing.scans.insert(
            name.clone(),
            ScanLocation {
                id: name,
                dir: path,
                timelapse: None,
            },
        );
    }
    for location in nested {
        if !is_lookup_id(&location.id) {
            tracing::warn!(candidate = %location.id, "scan directory name is not a valid id: not served");
            continue;
        }
        if let Some(existing) = listing.scans.get(&location.id) {
            tracing::warn!(
                scan = %location.id,
                kept = %existing.dir.display(),
                ignored = %location.dir.display(),
                "duplicate scan id: only the first is served"
            );
            continue;
        }
        listing.scans.insert(location.id.clone(), location);
    }
    listing
}
