//! The file-path routes (`/api/v1/assets/files/<path>`, 0.14 `/files/<path>`):
//! only files inside a served scan, no hidden component, no symlink escape
//! (data-api.md §3.3, D1). Root files (`users.json`, `groups.json`,
//! `romidb`, `.locks/`, `.plantdb-auth/`) can never be named.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use super::index::{CachedScan, Index};
use crate::DataError;

/// A file that may be served, and the scan it belongs to (for the
/// permission check).
#[derive(Debug)]
pub struct ResolvedFile {
    pub scan: Arc<CachedScan>,
    /// The real path (symlinks resolved), inside the scan's real directory.
    pub path: PathBuf,
    /// The last component of the requested path.
    pub name: String,
}

fn not_found() -> DataError {
    DataError::NotFound("No such file: give a path inside a scan, e.g. <scan_id>/files.json".into())
}

/// Resolves `<scan>/<rest>` or `<timelapse>/<scan>/<rest>`.
pub fn resolve(index: &Index, path: &str) -> Result<ResolvedFile, DataError> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.starts_with('.') || p.contains(['\\', '\0']))
    {
        return Err(not_found());
    }
    let (scan, rest) = match parts.as_slice() {
        [first, rest @ ..] if !rest.is_empty() => match index.scan(first) {
            Ok(scan) => (scan, rest),
            Err(DataError::NotFound(_)) => {
                // `<timelapse>/<scan>/...`
                let [second, rest @ ..] = rest else {
                    return Err(not_found());
                };
                if rest.is_empty() {
                    return Err(not_found());
                }
                let scan = index.scan(second).map_err(|_| not_found())?;
                if scan.data.location.timelapse.as_deref() != Some(*first) {
                    return Err(not_found());
                }
                (scan, rest)
            }
            Err(e) => return Err(e),
        },
        _ => return Err(not_found()),
    };
    let dir_real = fs::canonicalize(scan.data.dir()).map_err(|_| not_found())?;
    let mut candidate = scan.data.dir().to_path_buf();
    for part in rest {
        candidate.push(part);
    }
    let real = fs::canonicalize(&candidate).map_err(|_| not_found())?;
    if !real.starts_with(&dir_real) || !real.is_file() {
        return Err(not_found());
    }
    // A symlink inside the scan pointing at a hidden entry of the scan is
    // refused as well: every component of the real path below the scan must
    // be visible.
    if let Ok(inner) = real.strip_prefix(&dir_real) {
        if inner
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            return Err(not_found());
        }
    }
    let name = rest.last().map(|s| s.to_string()).unwrap_or_default();
    Ok(ResolvedFile {
        scan,
        path: real,
        name,
    })
}

/// The real path of a data file named by `files.json`, refused when it is a
/// symlink leading out of the scan.
pub fn data_file(scan: &CachedScan, fileset: &str, file: &str) -> Result<PathBuf, DataError> {
    let dir_real = fs::canonicalize(scan.data.dir())
        .map_err(|e| DataError::io(format!("scan '{}'", scan.data.id()), e))?;
    let real = fs::canonicalize(scan.data.dir().join(fileset).join(file)).map_err(|_| {
        DataError::NotFound(format!(
            "File '{file}' of fileset '{fileset}' is missing on disk"
        ))
    })?;
    if !real.starts_with(&dir_real) || !real.is_file() {
        return Err(DataError::NotFound(format!(
            "File '{file}' of fileset '{fileset}' is not inside its scan"
        )));
    }
    Ok(real)
}
