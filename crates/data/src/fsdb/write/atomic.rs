//! Atomic, durable file writes (§1.9) and the clean-up of what a crash
//! left behind.
//!
//! A file is written to a hidden temporary `.<name>.<16 hex>.tmp` in its
//! own directory, fsynced, renamed over the target, and the directory is
//! fsynced: a crash leaves the old file or the new one, never a torn one,
//! and readers (ours and Python's) never see a partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::STAGING_DIR;
use crate::DataError;

/// Temporaries older than this are left-overs of a crash.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Length of the random token of our temporary names (hex digits).
const TOKEN_LEN: usize = 16;

/// A random token for temporary names: 16 lowercase hex digits.
pub(crate) fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The hidden temporary name for `name`: `.<name>.<token>.tmp`.
pub(crate) fn temp_name(name: &str) -> String {
    format!(".{name}.{}.tmp", random_token())
}

/// Whether `name` is one of our temporaries: `.<anything>.<16 hex>.tmp`
/// (also the webcache's and the uploads' `.upload.<16 hex>.tmp`).
pub fn is_our_temporary(name: &str) -> bool {
    let Some(stem) = name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let Some((base, token)) = stem.rsplit_once('.') else {
        return false;
    };
    !base.is_empty()
        && token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes `bytes` to `dir/name` atomically: hidden temporary in `dir`,
/// fsync, rename over the target, fsync of `dir`. The temporary is removed
/// on failure. `dir` must exist.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, DataError> {
    let target = dir.join(name);
    let temp = dir.join(temp_name(name));
    let written = write_new_file(&temp, bytes).and_then(|()| fs::rename(&temp, &target));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(DataError::io(format!("Could not write {name}"), e));
    }
    sync_dir(dir);
    Ok(target)
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it.
pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Moves a complete temporary file (already fsynced by the caller) to
/// `target` in the same directory, then fsyncs the directory.
///
/// With `no_clobber`, an existing target is never replaced:
/// [`DataError::Conflict`]. This is a hard link followed by the removal of
/// the temporary, as `link(2)` fails when the target exists; on a
/// filesystem without hard links it falls back to a check then a rename
/// (the caller holds the Python lock of the file, so only a foreign
/// program that ignores the protocol could slip in between).
pub fn persist(temp: &Path, target: &Path, no_clobber: bool) -> Result<(), DataError> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let io_err = |e| DataError::io(format!("Could not store {name}"), e);
    let conflict = || DataError::Conflict(format!("A file named '{name}' already exists"));
    if no_clobber {
        match fs::hard_link(temp, target) {
            Ok(()) => {
                if let Err(e) = fs::remove_file(temp) {
                    // The data is in place; a left-over temporary is
                    // removed at the next start.
                    tracing::warn!(temp = %temp.display(), error = %e, "could not remove a temporary");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(conflict()),
            Err(e) if links_unsupported(&e) => {
                if fs::symlink_metadata(target).is_ok() {
                    return Err(conflict());
                }
                fs::rename(temp, target).map_err(io_err)?;
            }
            Err(e) => return Err(io_err(e)),
        }
    } else {
        fs::rename(temp, target).map_err(io_err)?;
    }
    if let Some(dir) = target.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// `link(2)` refused by the filesystem itself (EPERM on FAT/some FUSE,
/// EOPNOTSUPP/ENOSYS elsewhere).
fn links_unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    )
}

/// fsyncs a directory so that renames and unlinks in it are durable. Not
/// every filesystem can: failures are logged, not returned (the files
/// themselves are complete either way).
pub fn sync_dir(dir: &Path) {
    if let Err(error) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "could not fsync a directory");
    }
}

/// fsyncs every regular file and directory under `dir` (symlinks not
/// followed), deepest first: what an extraction wrote becomes durable
/// before the tree is renamed into place.
pub(crate) fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_tree(&entry.path())?;
        } else if kind.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// Removes what a crash left behind (§1.9), returning how many entries
/// were removed:
///
/// - our hidden temporaries (`.<name>.<16 hex>.tmp`) older than one hour
///   in every scan directory (flat or in a timelapse container), its
///   immediate subdirectories (filesets, `metadata/`, `webcache/`) and
///   `metadata/<fileset>/`, and in timelapse containers;
/// - every entry of `<root>/.plantdb-tmp/` older than one hour (staged
///   scans, uploaded archives).
///
/// Symlinks are never followed. Errors are logged and skipped.
pub fn remove_stale_temporaries(root: &Path) -> usize {
    let cutoff = SystemTime::now()
        .checked_sub(STALE_AFTER)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    for (_, dir) in visible_subdirs(root) {
        let is_container = dir.join(crate::fsdb::timelapse::MARKER_FILE).is_file();
        removed += clean_scan_dir(&dir, cutoff);
        if is_container {
            for (_, scan) in visible_subdirs(&dir) {
                removed += clean_scan_dir(&scan, cutoff);
            }
        }
    }
    let staging = root.join(STAGING_DIR);
    if let Ok(entries) = fs::read_dir(&staging) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !older_than(&meta, cutoff) {
                continue;
            }
            let outcome = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match outcome {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "could not remove a stale staging entry");
                }
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed temporaries left by an earlier crash");
    }
    removed
}

/// A scan directory (or container): itself, its visible subdirectories and
/// `metadata/<fileset>/`.
fn clean_scan_dir(dir: &Path, cutoff: SystemTime) -> usize {
    let mut removed = clean_dir(dir, cutoff);
    for (name, sub) in visible_subdirs(dir) {
        removed += clean_dir(&sub, cutoff);
        if name == "metadata" {
            for (_, fs_dir) in visible_subdirs(&sub) {
                removed += clean_dir(&fs_dir, cutoff);
            }
        }
    }
    removed
}

/// Removes our stale temporaries directly in `dir`.
fn clean_dir(dir: &Path, cutoff: SystemTime) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_our_temporary(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || !older_than(&meta, cutoff) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not remove a stale temporary");
            }
        }
    }
    removed
}

fn older_than(meta: &fs::Metadata, cutoff: SystemTime) -> bool {
    meta.modified().is_ok_and(|m| m < cutoff)
}

/// Non-hidden real subdirectories (symlinks not followed), with their names.
fn visible_subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let is_dir = e.file_type().ok()?.is_dir();
            (is_dir && !name.starts_with('.')).then(|| (name, e.path()))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names() {
        let name = temp_name("files.json");
        assert!(name.starts_with(".files.json.") && name.ends_with(".tmp"));
        assert!(is_our_temporary(&name));
        assert!(is_our_temporary(".upload.0123456789abcdef.tmp"));
        for other in [
            ".write_test.tmp",
            "files.json",
            ".x.0123456789ABCDEF.tmp",
            "..0123456789abcdef.tmp",
            ".x.0123456789abcde.tmp",
            "x.0123456789abcdef.tmp",
        ] {
            assert!(!is_our_temporary(other), "{other}");
        }
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "a.json", b"one").unwrap();
        write_atomic(dir.path(), "a.json", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("a.json")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn persist_no_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".upload.0123456789abcdef.tmp");
        fs::write(&temp, b"data").unwrap();
        let target = dir.path().join("a.txt");
        persist(&temp, &target, true).unwrap();
        assert!(!temp.exists());
        fs::write(&temp, b"other").unwrap();
        assert!(matches!(
            persist(&temp, &target, true),
            Err(DataError::Conflict(_))
        ));
        assert_eq!(fs::read(&target).unwrap(), b"data");
        persist(&temp, &target, false).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"other");
    }
}
