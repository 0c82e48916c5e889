//! Python's structure check of an uploaded scan archive, `is_valid_archive`
//! in plantdb-server `services/assets.py` (data-api.md §8.2 steps 1-3),
//! reproduced quirks included so that both servers accept the same archives.

use std::collections::BTreeSet;

use crate::DataError;

/// What the structure check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLayout {
    /// The single top-level directory holding the scan, with its trailing
    /// `/` (e.g. `"my_scan/"`), stripped on extraction; `None` when the scan
    /// is at the top of the archive.
    pub top_dir: Option<String>,
}

/// Runs the check over every member name of the archive (directory entries
/// end in `/`).
pub fn check_structure<S: AsRef<str>>(names: &[S]) -> Result<ArchiveLayout, DataError> {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    let mut top_level = level_dirs(&names, 1, 0);
    let mut top_dir = None;
    if top_level.len() == 1 {
        let top = top_level.iter().next().cloned().unwrap_or_default();
        top_level = names
            .iter()
            .filter(|n| slashes(n) == 2 && n.ends_with('/'))
            .map(|n| n.replace(top.as_str(), ""))
            .collect();
        top_level.extend(level_dirs(&names, 2, 1));
        top_dir = Some(top);
    }
    let prefix = top_dir.as_deref().unwrap_or("");
    let mut problems = Vec::new();
    for dir in ["images/", "metadata/"] {
        if !top_level.contains(dir) {
            problems.push(format!("no `{dir}` directory"));
        }
    }
    if !names.contains(&format!("{prefix}files.json").as_str()) {
        problems.push("no `files.json` file".to_string());
    }
    if !names.iter().all(|n| depth_ok(n)) {
        problems.push("entries nested too deep".to_string());
    }
    if problems.is_empty() {
        Ok(ArchiveLayout { top_dir })
    } else {
        Err(DataError::InvalidInput(format!(
            "Invalid scan dataset archive structure ({}): expected `images/` and `metadata/` \
             directories and a `files.json` file at the top of the archive, or inside a single \
             top-level directory, with files at most at `<fileset>/<file>` or \
             `metadata/<fileset>/<file>.json`",
            problems.join(", ")
        )))
    }
}

fn slashes(name: &str) -> usize {
    name.matches('/').count()
}

/// Python's two set comprehensions for one level: the explicit directory
/// entries with `count` slashes (only at the top level, `component == 0`),
/// plus component `component` + `/` of every name with `count` slashes.
fn level_dirs(names: &[&str], count: usize, component: usize) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for name in names.iter().filter(|n| slashes(n) == count) {
        if component == 0 && name.ends_with('/') {
            dirs.insert((*name).to_string());
        }
        let part = name.split('/').nth(component).unwrap_or("");
        // Python skips an empty first component (names starting with `/`);
        // one level down the condition on the parent is always true.
        if component > 0 || !part.is_empty() {
            dirs.insert(format!("{part}/"));
        }
    }
    dirs
}

/// A name containing `metadata` (anywhere) may have 3 slashes, others 2.
fn depth_ok(name: &str) -> bool {
    let max = if name.contains("metadata") { 3 } else { 2 };
    slashes(name) <= max
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const FLAT: &[&str] = &[
        "files.json",
        "images/00000_rgb.jpg",
        "metadata/metadata.json",
        "metadata/images/00000_rgb.json",
    ];

    #[test]
    fn a_flat_archive_passes_without_top_directory() {
        assert_eq!(check_structure(FLAT).unwrap().top_dir, None);
    }

    #[test]
    fn python_docstring_example_passes() {
        let names = [
            "images/",
            "images/test1.jpg",
            "metadata/",
            "metadata/data.json",
            "files.json",
        ];
        assert_eq!(check_structure(&names).unwrap().top_dir, None);
    }

    #[test]
    fn one_top_directory_is_found_with_or_without_its_entry() {
        let nested: Vec<String> = FLAT.iter().map(|n| format!("scan/{n}")).collect();
        let found = check_structure(&nested).unwrap();
        assert_eq!(found.top_dir.as_deref(), Some("scan/"));
        let mut explicit = vec!["scan/".to_string()];
        explicit.extend(nested);
        assert_eq!(
            check_structure(&explicit).unwrap().top_dir.as_deref(),
            Some("scan/")
        );
    }

    #[test]
    fn missing_parts_are_named() {
        // (A lone `images/` would itself be taken for the top directory.)
        let err = check_structure(&["images/a.jpg", "other/b", "files.json"]).unwrap_err();
        let DataError::InvalidInput(msg) = err else {
            panic!()
        };
        assert!(msg.contains("no `metadata/` directory"), "{msg}");
        assert!(!msg.contains("no `images/`"), "{msg}");
        let err = check_structure(&["scan/images/a.jpg", "scan/metadata/m.json"]).unwrap_err();
        assert!(err.to_string().contains("no `files.json` file"));
    }

    #[test]
    fn depth_is_limited_except_under_metadata() {
        let mut names = FLAT.to_vec();
        names.push("images/a/b/deep.jpg");
        assert!(check_structure(&names).is_err());
        let mut names = FLAT.to_vec();
        names.push("metadata/a/b/c/d.json");
        assert!(check_structure(&names).is_err());
        let mut names = FLAT.to_vec();
        names.push("metadata/a/b/c.json");
        names.push("images/a/b.jpg");
        assert!(check_structure(&names).is_ok());
    }

    #[test]
    fn a_second_top_level_directory_means_no_top_directory() {
        let mut names: Vec<String> = FLAT.iter().map(|n| format!("scan/{n}")).collect();
        // Python only looks at names with one slash for the top level.
        names.push("__MACOSX/scan/._files.json".into());
        assert!(check_structure(&names).is_ok());
        names.push("__MACOSX/._scan".into());
        assert!(check_structure(&names).is_err());
    }
}
