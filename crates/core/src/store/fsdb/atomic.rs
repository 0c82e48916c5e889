//! Reading and crash-safe writing of the JSON files.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::store::StoreError;

pub(super) fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(super) fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads a JSON file; `None` when it is missing or blank, which the Python
/// server treats as "nothing stored yet".
pub(super) fn read_json(path: &Path) -> Result<Option<Value>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| corrupt(path, format!("invalid JSON ({e})")))
}

/// Renders like Python's `json.dump(value, f, indent=2)`: 2-space indent and
/// `ensure_ascii`, so the file reads the same whatever the reader's locale.
pub(super) fn to_python_json(value: &Value) -> Result<String, serde_json::Error> {
    let pretty = serde_json::to_string_pretty(value)?;
    Ok(escape_non_ascii(&pretty))
}

/// Non-ASCII can only occur inside JSON strings, so escaping every such
/// character of the whole document is safe.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out
}

/// Replaces `path` with `contents` so that a crash leaves either the old or
/// the new file: temporary file in the same directory, fsync, rename, fsync
/// of the directory (the rename itself is only durable once that is done).
pub(super) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| io_error(&dir, e))?;
    tmp.write_all(contents)
        .map_err(|e| io_error(tmp.path(), e))?;
    keep_permissions(path, tmp.as_file())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_error(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| io_error(path, e.error))?;
    sync_dir(&dir)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The temporary file is created owner-only; an existing file keeps its mode
/// so that Python tools running as another user can still read it.
fn keep_permissions(target: &Path, tmp: &File) -> Result<(), StoreError> {
    match fs::metadata(target) {
        Ok(meta) => tmp
            .set_permissions(meta.permissions())
            .map_err(|e| io_error(target, e)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(target, e)),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// Windows cannot open a directory as a file; its renames are journaled.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_python_ensure_ascii() {
        let v = serde_json::json!({"n": "José 🌱", "l": []});
        let s = to_python_json(&v).unwrap();
        assert_eq!(
            s,
            "{\n  \"n\": \"Jos\\u00e9 \\ud83c\\udf31\",\n  \"l\": []\n}"
        );
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }
}
