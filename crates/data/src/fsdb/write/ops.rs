//! Creating scans, filesets and timelapses, installing uploaded archives,
//! deleting timelapses (§1.5, §1.6, §8.2, §9.2).
//!
//! A new scan or timelapse is built complete in a staging directory under
//! `<root>/.plantdb-tmp/`, fsynced, then renamed into place in one step: a
//! crash leaves either nothing (the staging directory is removed at the
//! next start) or the whole thing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::atomic::{random_token, sync_dir, sync_tree, write_atomic, write_new_file};
use super::files_json::{fileset_entry, has_fileset, read_files_json, FILES_JSON};
use super::lock::{LockKind, LockResource};
use super::{
    creation_metadata, python_now, stamp_creation, Author, Writer, LOCK_USER, STAGING_DIR,
    TRASH_DIR,
};
use crate::fsdb::layout::RESERVED;
use crate::fsdb::scan::read_json_retrying;
use crate::fsdb::timelapse::MARKER_FILE;
use crate::ids;
use crate::json::{to_python_json_sorted, to_python_json_unsorted_indent4};
use crate::DataError;

/// A staging directory removed when dropped, unless it was moved into place.
struct Staging {
    path: PathBuf,
    installed: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.installed {
            if let Err(error) = fs::remove_dir_all(&self.path) {
                if error.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(dir = %self.path.display(), %error, "could not remove a staging directory");
                }
            }
        }
    }
}

impl Writer {
    /// `<root>/.plantdb-tmp/`, created if needed: where uploads are staged.
    pub fn tmp_dir(&self) -> Result<PathBuf, DataError> {
        let dir = self.root().join(STAGING_DIR);
        fs::create_dir_all(&dir)
            .map_err(|e| DataError::io("Could not create the staging directory", e))?;
        Ok(dir)
    }

    /// A new, empty, hidden directory `<root>/.plantdb-tmp/<random>/` to
    /// build a scan in (see [`Writer::install_archive`]). The caller removes
    /// it if it does not install it.
    pub fn staging_dir(&self) -> Result<PathBuf, DataError> {
        let parent = self.tmp_dir()?;
        loop {
            let dir = parent.join(random_token());
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(DataError::io("Could not create a staging directory", e)),
            }
        }
    }

    fn staging(&self) -> Result<Staging, DataError> {
        Ok(Staging {
            path: self.staging_dir()?,
            installed: false,
        })
    }

    /// 409 when `id` cannot be created at the root: a root entry of that
    /// name exists (scan, timelapse, `configs`, any file), the name is
    /// reserved, or a timelapse container holds a scan of that id.
    fn check_new_root_name(&self, id: &str, what: &str) -> Result<(), DataError> {
        let taken = RESERVED.contains(&id)
            || fs::symlink_metadata(self.root().join(id)).is_ok()
            || self.nested_scan_exists(id);
        if taken {
            Err(DataError::Conflict(format!("{what} '{id}' already exists")))
        } else {
            Ok(())
        }
    }

    /// Whether some timelapse container has an entry named `id`.
    fn nested_scan_exists(&self, id: &str) -> bool {
        let Ok(entries) = fs::read_dir(self.root()) else {
            return false;
        };
        entries.filter_map(Result::ok).any(|e| {
            let path = e.path();
            !e.file_name().to_string_lossy().starts_with('.')
                && path.join(MARKER_FILE).is_file()
                && fs::symlink_metadata(path.join(id)).is_ok()
        })
    }

    /// Creates scan `id` (§1.6, §9.2), flat or inside the existing
    /// timelapse container `timelapse`, and returns its directory.
    ///
    /// `metadata` gets `owner` = the author's username, `created` =
    /// `last_modified` = now, `created_by` = the author's full name; a
    /// `sharing` string becomes a one-element list; in a timelapse,
    /// `timelapse.id` is set. The caller validated `sharing` and the
    /// biological schema. `files.json` is `{"filesets": []}`. In a
    /// timelapse the marker's `scans` gets the id, `metadata.last_modified`
    /// = now and `owner` if it had none.
    ///
    /// Errors: a bad id (400); the id taken at the root or in any container
    /// (409); an unknown timelapse (404); a lock not obtained (503).
    pub fn create_scan(
        &self,
        id: &str,
        mut metadata: Map<String, Value>,
        author: &Author,
        timelapse: Option<&str>,
    ) -> Result<PathBuf, DataError> {
        ids::new_id("scan", id)?;
        if let Some(tl) = timelapse {
            ids::new_id("timelapse", tl)?;
        }
        self.check_new_root_name(id, "Scan")?;
        let parent = match timelapse {
            Some(tl) => {
                let container = self.root().join(tl);
                if !container.join(MARKER_FILE).is_file() {
                    return Err(DataError::NotFound(format!("Unknown timelapse id '{tl}'")));
                }
                container
            }
            None => self.root().to_path_buf(),
        };

        let _scan_lock = self.locks().acquire(
            LockResource::Scan(id),
            LockKind::Exclusive,
            &author.username,
        )?;
        let _timelapse_lock = match timelapse {
            Some(tl) => Some(self.locks().acquire(
                LockResource::Timelapse(tl),
                LockKind::Exclusive,
                &author.username,
            )?),
            None => None,
        };
        self.check_new_root_name(id, "Scan")?;

        metadata.insert("owner".into(), Value::String(author.username.clone()));
        stamp_creation(&mut metadata, author);
        if let Some(Value::String(group)) = metadata.get("sharing") {
            let list = Value::Array(vec![Value::String(group.clone())]);
            metadata.insert("sharing".into(), list);
        }
        if let Some(tl) = timelapse {
            set_timelapse_id(&mut metadata, tl);
        }

        let mut staging = self.staging()?;
        build_empty_scan(&staging.path, &metadata)
            .map_err(|e| DataError::io("Could not create the scan", e))?;
        let target = parent.join(id);
        install_dir(
            &staging.path,
            &target,
            &format!("Scan '{id}' already exists"),
        )?;
        staging.installed = true;
        sync_dir(&parent);

        if let Some(tl) = timelapse {
            if let Err(e) = register_in_timelapse(&parent, tl, id, &author.username) {
                // Undo: the scan must not exist without its container
                // knowing it (nor be half-registered).
                let undo = staging.path.clone();
                match fs::rename(&target, &undo) {
                    Ok(()) => {
                        staging.installed = false;
                        sync_dir(&parent);
                    }
                    Err(error) => {
                        tracing::error!(scan = %id, %error, "could not undo a scan creation")
                    }
                }
                return Err(e);
            }
        }
        Ok(target)
    }

    /// Creates fileset `fs_id` in the scan at `scan_dir` (§9.2): its
    /// directory, `metadata/<fs>.json` (`metadata` minus `owner`/`sharing`,
    /// plus `created`, `last_modified`, `created_by`) and its entry
    /// `{"files": [], "id"}` in `files.json`.
    ///
    /// Errors: a bad id (400); the fileset listed in `files.json` or its
    /// directory existing (409); a lock not obtained (503).
    pub fn create_fileset(
        &self,
        scan_dir: &Path,
        scan_id: &str,
        fs_id: &str,
        metadata: Map<String, Value>,
        author: &Author,
    ) -> Result<(), DataError> {
        ids::new_id("fileset", fs_id)?;
        let exists = || {
            DataError::Conflict(format!(
                "Fileset '{fs_id}' already exists in scan '{scan_id}'"
            ))
        };
        let _lock = self.locks().acquire(
            LockResource::Fileset(scan_id, fs_id),
            LockKind::Exclusive,
            &author.username,
        )?;
        let index = read_files_json(scan_dir, scan_id)?;
        let listed = index
            .get("filesets")
            .and_then(Value::as_array)
            .is_some_and(|list| has_fileset(list, fs_id));
        let fileset_dir = scan_dir.join(fs_id);
        if listed || fs::symlink_metadata(&fileset_dir).is_ok() {
            return Err(exists());
        }

        fs::create_dir(&fileset_dir).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => exists(),
            _ => DataError::io("Could not create the fileset directory", e),
        })?;
        let metadata_dir = scan_dir.join("metadata");
        let metadata_name = format!("{fs_id}.json");
        let outcome = (|| {
            fs::create_dir_all(&metadata_dir)
                .map_err(|e| DataError::io("Could not create the metadata directory", e))?;
            let metadata = creation_metadata(metadata, author);
            let text = to_python_json_sorted(&Value::Object(metadata));
            write_atomic(&metadata_dir, &metadata_name, text.as_bytes())?;
            self.update_files_json(scan_dir, scan_id, |filesets| {
                if has_fileset(filesets, fs_id) {
                    return Err(exists());
                }
                filesets.push(fileset_entry(fs_id));
                Ok(())
            })
        })();
        if let Err(e) = outcome {
            let _ = fs::remove_file(metadata_dir.join(&metadata_name));
            let _ = fs::remove_dir(&fileset_dir);
            sync_dir(scan_dir);
            return Err(e);
        }
        sync_dir(scan_dir);
        Ok(())
    }

    /// Creates timelapse `id` (§1.5, §9.2) and returns its marker:
    /// `{"id", "created_at": now, "owner": username, "scans": [],
    /// "metadata": metadata + last_modified}` (written unsorted, indent 4).
    ///
    /// Errors: a bad id (400); the id taken (409); a lock not obtained (503).
    pub fn create_timelapse(
        &self,
        id: &str,
        mut metadata: Map<String, Value>,
        author: &Author,
    ) -> Result<Map<String, Value>, DataError> {
        ids::new_id("timelapse", id)?;
        self.check_new_root_name(id, "Timelapse")?;
        let _lock = self.locks().acquire(
            LockResource::Timelapse(id),
            LockKind::Exclusive,
            &author.username,
        )?;
        self.check_new_root_name(id, "Timelapse")?;

        let now = python_now();
        metadata.insert("last_modified".into(), Value::String(now.clone()));
        let mut marker = Map::new();
        marker.insert("id".into(), Value::String(id.to_string()));
        marker.insert("created_at".into(), Value::String(now));
        marker.insert("owner".into(), Value::String(author.username.clone()));
        marker.insert("scans".into(), Value::Array(Vec::new()));
        marker.insert("metadata".into(), Value::Object(metadata));

        let mut staging = self.staging()?;
        let text = to_python_json_unsorted_indent4(&Value::Object(marker.clone()));
        write_new_file(&staging.path.join(MARKER_FILE), text.as_bytes())
            .map_err(|e| DataError::io("Could not create the timelapse", e))?;
        sync_dir(&staging.path);
        install_dir(
            &staging.path,
            &self.root().join(id),
            &format!("Timelapse '{id}' already exists"),
        )?;
        staging.installed = true;
        sync_dir(self.root());
        Ok(marker)
    }

    /// Deletes timelapse `id` by moving its container, in one rename, to
    /// `<root>/.trash/<UTC yyyymmddThhmmssZ>_<id>/` (Python uses the
    /// desktop trash).
    ///
    /// Errors: an unknown timelapse (404); subdirectories (scans) in the
    /// container and `recursive` false (409); a lock not obtained (503).
    pub fn delete_timelapse(&self, id: &str, recursive: bool) -> Result<(), DataError> {
        ids::lookup("timelapse", id)?;
        let container = self.root().join(id);
        let is_container = || {
            fs::symlink_metadata(&container).is_ok_and(|m| m.is_dir())
                && container.join(MARKER_FILE).is_file()
        };
        if !is_container() {
            return Err(DataError::NotFound(format!("Unknown timelapse id '{id}'")));
        }
        let _lock =
            self.locks()
                .acquire(LockResource::Timelapse(id), LockKind::Exclusive, LOCK_USER)?;
        if !is_container() {
            return Err(DataError::NotFound(format!("Unknown timelapse id '{id}'")));
        }
        let members = visible_subdir_count(&container)
            .map_err(|e| DataError::io("Could not list the timelapse", e))?;
        if members > 0 && !recursive {
            return Err(DataError::Conflict(format!(
                "Timelapse '{id}' is not empty. Delete with recursive=true to delete it and its {members} scan{}",
                if members == 1 { "" } else { "s" }
            )));
        }
        let trash = self.root().join(TRASH_DIR);
        fs::create_dir_all(&trash)
            .map_err(|e| DataError::io("Could not create the trash directory", e))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut target = trash.join(format!("{stamp}_{id}"));
        let mut n = 1;
        while fs::symlink_metadata(&target).is_ok() {
            n += 1;
            target = trash.join(format!("{stamp}_{id}-{n}"));
        }
        fs::rename(&container, &target)
            .map_err(|e| DataError::io("Could not move the timelapse to the trash", e))?;
        sync_dir(self.root());
        sync_dir(&trash);
        Ok(())
    }

    /// Installs an extracted archive (§8.2 steps 5-6): rewrites
    /// `metadata/metadata.json` of `staging` (keys of the archive kept, but
    /// `owner` = the uploader unless `keep_owner` lists the archive's owner
    /// (the uploader may manage users and it is an existing user);
    /// `sharing` filtered to `known_groups` (dropped when none is left);
    /// `timelapse` removed; `created`/`created_by` kept if present else
    /// set; `last_modified` = now), makes the tree durable and renames it to
    /// `<root>/<id>`. `staging` must be a directory of
    /// [`Writer::staging_dir`]; on error the caller removes it.
    ///
    /// Errors: a bad id (400); `metadata.json` not a JSON object (400); the
    /// id taken (409); a lock not obtained (503).
    pub fn install_archive(
        &self,
        staging: &Path,
        id: &str,
        author: &Author,
        keep_owner: Option<&[String]>,
        known_groups: &[String],
    ) -> Result<PathBuf, DataError> {
        ids::new_id("scan", id)?;
        self.check_new_root_name(id, "Scan")?;
        let metadata_dir = staging.join("metadata");
        let mut metadata = match read_json_retrying(&metadata_dir.join("metadata.json"))? {
            None => Map::new(),
            Some(Ok(Value::Object(map))) => map,
            Some(_) => {
                return Err(DataError::invalid(
                    "The archive's metadata/metadata.json is not a JSON object",
                ))
            }
        };
        archive_metadata(&mut metadata, author, keep_owner, known_groups);
        fs::create_dir_all(&metadata_dir)
            .map_err(|e| DataError::io("Could not write the scan metadata", e))?;
        let text = to_python_json_sorted(&Value::Object(metadata));
        write_atomic(&metadata_dir, "metadata.json", text.as_bytes())?;
        sync_tree(staging).map_err(|e| DataError::io("Could not store the archive", e))?;

        let _lock = self.locks().acquire(
            LockResource::Scan(id),
            LockKind::Exclusive,
            &author.username,
        )?;
        self.check_new_root_name(id, "Scan")?;
        let target = self.root().join(id);
        install_dir(staging, &target, &format!("Scan '{id}' already exists"))?;
        sync_dir(self.root());
        Ok(target)
    }
}

/// §8.2 step 6 on the archive's scan metadata.
fn archive_metadata(
    metadata: &mut Map<String, Value>,
    author: &Author,
    keep_owner: Option<&[String]>,
    known_groups: &[String],
) {
    let keep = match (keep_owner, metadata.get("owner")) {
        (Some(users), Some(Value::String(owner))) => users.contains(owner),
        _ => false,
    };
    if !keep {
        metadata.insert("owner".into(), Value::String(author.username.clone()));
    }
    let sharing: Vec<Value> = match metadata.get("sharing") {
        Some(Value::String(g)) => vec![Value::String(g.clone())],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|g| {
        g.as_str()
            .is_some_and(|g| known_groups.iter().any(|k| k == g))
    })
    .collect();
    if sharing.is_empty() {
        metadata.remove("sharing");
    } else {
        metadata.insert("sharing".into(), Value::Array(sharing));
    }
    metadata.remove("timelapse");
    let now = python_now();
    if !metadata.contains_key("created") {
        metadata.insert("created".into(), Value::String(now.clone()));
    }
    if !metadata.contains_key("created_by") {
        metadata.insert("created_by".into(), Value::String(author.fullname.clone()));
    }
    metadata.insert("last_modified".into(), Value::String(now));
}

/// Sets `metadata.timelapse.id`, keeping the other `timelapse` keys.
fn set_timelapse_id(metadata: &mut Map<String, Value>, tl: &str) {
    let entry = metadata
        .entry("timelapse")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(map) = entry {
        map.insert("id".into(), Value::String(tl.to_string()));
    }
}

/// A new scan's files in `dir`: `metadata/metadata.json`, `files.json`.
fn build_empty_scan(dir: &Path, metadata: &Map<String, Value>) -> io::Result<()> {
    let metadata_dir = dir.join("metadata");
    fs::create_dir(&metadata_dir)?;
    let text = to_python_json_sorted(&Value::Object(metadata.clone()));
    write_new_file(&metadata_dir.join("metadata.json"), text.as_bytes())?;
    let mut index = Map::new();
    index.insert("filesets".into(), Value::Array(Vec::new()));
    let text = to_python_json_sorted(&Value::Object(index));
    write_new_file(&dir.join(FILES_JSON), text.as_bytes())?;
    sync_dir(&metadata_dir);
    sync_dir(dir);
    Ok(())
}

/// Renames the directory `from` to `to`. An existing `to` is a conflict:
/// checked first, and a non-empty directory or a file there makes the
/// rename fail. (Only an empty directory appearing between the check and
/// the rename would be replaced, which loses nothing.)
fn install_dir(from: &Path, to: &Path, conflict: &str) -> Result<(), DataError> {
    if fs::symlink_metadata(to).is_ok() {
        return Err(DataError::Conflict(conflict.to_string()));
    }
    fs::rename(from, to).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists
        | io::ErrorKind::DirectoryNotEmpty
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory => DataError::Conflict(conflict.to_string()),
        _ => DataError::io("Could not move a new directory into place", e),
    })
}

/// Python's `_register_scan_in_timelapse`: appends `scan_id` to the
/// marker's `scans`, sets `metadata.last_modified` and `owner` if null,
/// keeps every other key in place, writes it back unsorted (indent 4).
fn register_in_timelapse(
    container: &Path,
    tl: &str,
    scan_id: &str,
    owner: &str,
) -> Result<(), DataError> {
    let mut marker = match read_json_retrying(&container.join(MARKER_FILE))? {
        Some(Ok(Value::Object(map))) => map,
        None => return Err(DataError::NotFound(format!("Unknown timelapse id '{tl}'"))),
        Some(_) => {
            return Err(DataError::Corrupt(format!(
                "timelapse.json of timelapse '{tl}' is not a JSON object; it was left unchanged"
            )))
        }
    };
    let id = Value::String(scan_id.to_string());
    match marker.get_mut("scans") {
        Some(Value::Array(scans)) => {
            if !scans.contains(&id) {
                scans.push(id);
            }
        }
        _ => {
            marker.insert("scans".into(), Value::Array(vec![id]));
        }
    }
    let metadata = marker
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(map) = metadata {
        map.insert("last_modified".into(), Value::String(python_now()));
    }
    if marker.get("owner").is_none_or(Value::is_null) {
        marker.insert("owner".into(), Value::String(owner.to_string()));
    }
    let text = to_python_json_unsorted_indent4(&Value::Object(marker));
    write_atomic(container, MARKER_FILE, text.as_bytes())?;
    Ok(())
}

/// Non-hidden subdirectories of `dir` (Python counts these as member scans).
fn visible_subdir_count(dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            n += 1;
        }
    }
    Ok(n)
}
