//! What a scan's archive holds (data-api.md §8.1).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::DataError;

/// One file of an archive: its name inside the archive, where to read it
/// and what it looked like when listed (a change while archiving is an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// The name inside the archive, `/`-separated, e.g. `images/00000_rgb.jpg`.
    pub name: String,
    /// The file to read (a symlink's resolved target).
    pub path: PathBuf,
    /// The size when listed.
    pub size: u64,
    /// The modification time when listed (the entry's DOS time).
    pub modified: Option<SystemTime>,
}

/// Lists every regular file under `scan_dir`, sorted by name, except: any
/// path component starting with `.`, the top-level `webcache` tree, names
/// that are not UTF-8, and symlinks resolving outside the scan directory.
/// Symlinks to files inside are archived under the link's name; symlinked
/// directories are not descended into (as Python's `os.walk`), which also
/// rules out loops. `top_prefix` (the 0.14 route: the scan id) is prepended
/// to every name as `<prefix>/`.
pub fn scan_entries(
    scan_dir: &Path,
    top_prefix: Option<&str>,
) -> Result<Vec<ArchiveEntry>, DataError> {
    let root = fs::canonicalize(scan_dir)
        .map_err(|e| DataError::io("Could not open the scan directory", e))?;
    let prefix = top_prefix.map(|p| format!("{}/", p.trim_end_matches('/')));
    let mut entries = Vec::new();
    let mut pending = vec![(root.clone(), prefix.unwrap_or_default())];
    while let Some((dir, name_prefix)) = pending.pop() {
        let top_level = dir == root;
        let listing = fs::read_dir(&dir)
            .map_err(|e| DataError::io("Could not list the scan directory", e))?;
        for item in listing {
            let item = item.map_err(|e| DataError::io("Could not list the scan directory", e))?;
            let Some(file_name) = item.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(name = ?item.file_name(), "archive: skipping a non-UTF-8 file name");
                continue;
            };
            if file_name.starts_with('.') || (top_level && file_name == "webcache") {
                continue;
            }
            let name = format!("{name_prefix}{file_name}");
            let file_type = item
                .file_type()
                .map_err(|e| DataError::io("Could not list the scan directory", e))?;
            if file_type.is_dir() {
                pending.push((item.path(), format!("{name}/")));
            } else if file_type.is_file() {
                entries.push(entry(name, item.path())?);
            } else if file_type.is_symlink() {
                if let Some(target) = symlinked_file(&root, &item.path()) {
                    entries.push(entry(name, target)?);
                }
            }
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn entry(name: String, path: PathBuf) -> Result<ArchiveEntry, DataError> {
    let meta = fs::metadata(&path).map_err(|e| DataError::io("Could not read a scan file", e))?;
    Ok(ArchiveEntry {
        name,
        path,
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The resolved target of a symlink when it is a regular file inside `root`.
fn symlinked_file(root: &Path, link: &Path) -> Option<PathBuf> {
    let target = fs::canonicalize(link).ok()?;
    let inside = target.starts_with(root);
    let is_file = fs::metadata(&target).map(|m| m.is_file()).unwrap_or(false);
    if !inside {
        tracing::warn!("archive: skipping a symlink that leaves the scan directory");
    }
    (inside && is_file).then_some(target)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn names(entries: &[ArchiveEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    fn touch(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn lists_files_sorted_and_skips_hidden_and_webcache() {
        let dir = tempfile::tempdir().unwrap();
        let scan = dir.path().join("scan");
        touch(&scan.join("files.json"), b"{}");
        touch(&scan.join("images/00001_rgb.jpg"), b"b");
        touch(&scan.join("images/00000_rgb.jpg"), b"a");
        touch(&scan.join("metadata/images/00000_rgb.json"), b"{}");
        touch(&scan.join("webcache/abc.jpeg"), b"x");
        touch(&scan.join("images/webcache/kept.jpg"), b"k");
        touch(&scan.join(".hidden"), b"h");
        touch(&scan.join("images/.tmp.jpg"), b"h");
        touch(&scan.join(".git/config"), b"h");
        let entries = scan_entries(&scan, None).unwrap();
        assert_eq!(
            names(&entries),
            [
                "files.json",
                "images/00000_rgb.jpg",
                "images/00001_rgb.jpg",
                "images/webcache/kept.jpg",
                "metadata/images/00000_rgb.json",
            ]
        );
        assert_eq!(entries[1].size, 1);
    }

    #[test]
    fn prefixes_names_for_the_viewer_route() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("s/files.json"), b"{}");
        let entries = scan_entries(&dir.path().join("s"), Some("s")).unwrap();
        assert_eq!(names(&entries), ["s/files.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn follows_symlinks_only_inside_the_scan() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let scan = dir.path().join("scan");
        touch(&scan.join("a.txt"), b"a");
        touch(&dir.path().join("secret.txt"), b"s");
        touch(&scan.join("sub/b.txt"), b"b");
        symlink(scan.join("a.txt"), scan.join("inside.txt")).unwrap();
        symlink(dir.path().join("secret.txt"), scan.join("outside.txt")).unwrap();
        symlink(scan.join("sub"), scan.join("linked_dir")).unwrap();
        symlink(dir.path().join("nope"), scan.join("dangling")).unwrap();
        let entries = scan_entries(&scan, None).unwrap();
        assert_eq!(names(&entries), ["a.txt", "inside.txt", "sub/b.txt"]);
    }

    #[test]
    fn a_missing_scan_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = scan_entries(&dir.path().join("nope"), None).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(!err.to_string().contains('/'));
    }
}
