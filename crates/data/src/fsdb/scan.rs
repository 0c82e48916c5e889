//! One scan on disk: `files.json` and the three metadata levels (§1.2-§1.4),
//! loaded with Python's rules plus ours (entries that are not plain file
//! names are dropped).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::layout::ScanLocation;
use crate::json::parse_lenient;
use crate::DataError;

/// One file of a fileset: its id and its file name inside the fileset directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub id: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fileset {
    pub id: String,
    pub files: Vec<FileEntry>,
}

impl Fileset {
    pub fn file(&self, id: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.id == id)
    }

    /// A file by id, or by its exact stored file name (0.14 URIs use names).
    pub fn file_by_id_or_name(&self, key: &str) -> Option<&FileEntry> {
        self.file(key)
            .or_else(|| self.files.iter().find(|f| f.file == key))
    }
}

/// A scan as loaded: what every route needs without touching the disk again.
#[derive(Debug, Clone)]
pub struct ScanData {
    pub location: ScanLocation,
    pub filesets: Vec<Fileset>,
    /// `metadata/metadata.json` (`{}` when missing or unreadable).
    pub metadata: Map<String, Value>,
    /// `metadata/metadata.json` exists but is not a JSON object: the scan's
    /// info is the degraded document.
    pub metadata_error: bool,
    /// `measures.json` exists in the scan directory.
    pub has_measures: bool,
    /// The scan directory's change time (`lstat`), for scans without a date.
    pub changed: Option<SystemTime>,
}

impl ScanData {
    pub fn id(&self) -> &str {
        &self.location.id
    }

    pub fn dir(&self) -> &Path {
        &self.location.dir
    }

    pub fn fileset(&self, id: &str) -> Option<&Fileset> {
        self.filesets.iter().find(|f| f.id == id)
    }

    /// Path of a file of a fileset (already checked to exist at load time).
    pub fn file_path(&self, fileset: &str, file: &FileEntry) -> PathBuf {
        self.location.dir.join(fileset).join(&file.file)
    }

    /// Task name → fileset id, in files.json order; a later fileset with the
    /// same task (its id up to the first `_`) wins (§5.1 `T`).
    pub fn task_map(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for fs in &self.filesets {
            let task = fs.id.split('_').next().unwrap_or(&fs.id).to_string();
            match out.iter_mut().find(|(t, _)| *t == task) {
                Some(slot) => slot.1 = fs.id.clone(),
                None => out.push((task, fs.id.clone())),
            }
        }
        out
    }

    /// The fileset mapped to `task`.
    pub fn task_fileset(&self, task: &str) -> Option<&Fileset> {
        let map = self.task_map();
        let id = map.iter().find(|(t, _)| t == task).map(|(_, id)| id)?;
        self.fileset(id)
    }

    /// `owner` of the metadata, if a string.
    pub fn owner(&self) -> Option<&str> {
        self.metadata.get("owner").and_then(Value::as_str)
    }

    /// `sharing` of the metadata: a string counts as a one-element list.
    pub fn sharing(&self) -> Vec<String> {
        match self.metadata.get("sharing") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Fileset metadata (`metadata/<fs>.json`), `{}` when missing.
    pub fn fileset_metadata(&self, fileset: &str) -> Result<Map<String, Value>, DataError> {
        let path = self
            .location
            .dir
            .join("metadata")
            .join(format!("{fileset}.json"));
        read_metadata_object(
            &path,
            &format!("fileset '{fileset}' of scan '{}'", self.id()),
        )
    }

    /// File metadata (`metadata/<fs>/<file>.json`), `{}` when missing.
    pub fn file_metadata(
        &self,
        fileset: &str,
        file: &str,
    ) -> Result<Map<String, Value>, DataError> {
        let path = self
            .location
            .dir
            .join("metadata")
            .join(fileset)
            .join(format!("{file}.json"));
        read_metadata_object(
            &path,
            &format!(
                "file '{file}' of fileset '{fileset}' of scan '{}'",
                self.id()
            ),
        )
    }
}

/// A plain, non-hidden file name: what `files.json` may point at.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Reads a JSON file that Python may be rewriting in place (not atomically):
/// a parse failure is retried 3 times 50 ms apart. `Ok(None)` when missing.
pub fn read_json_retrying(path: &Path) -> Result<Option<Result<Value, String>>, DataError> {
    let mut last = String::new();
    for attempt in 0..4 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DataError::io(format!("reading {}", path.display()), e)),
        };
        match parse_lenient(&bytes) {
            Ok(v) => return Ok(Some(Ok(v))),
            Err(e) => last = e,
        }
    }
    Ok(Some(Err(last)))
}

/// A metadata file: missing → `{}`; unreadable JSON → `{}` and a log line
/// (as Python); not an object → an error for this request only.
fn read_metadata_object(path: &Path, what: &str) -> Result<Map<String, Value>, DataError> {
    match read_json_retrying(path)? {
        None => Ok(Map::new()),
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(Ok(_)) => Err(DataError::Corrupt(format!(
            "The metadata of {what} is not a JSON object"
        ))),
        Some(Err(e)) => {
            tracing::warn!(file = %path.display(), error = %e, "invalid metadata JSON: read as {{}}");
            Ok(Map::new())
        }
    }
}

/// Loads a scan. `Err(Corrupt)` when `files.json` is not a valid index:
/// the scan is then skipped from listings and reported.
pub fn load(location: &ScanLocation) -> Result<ScanData, DataError> {
    let dir = &location.dir;
    let files_json = dir.join("files.json");
    let index = match read_json_retrying(&files_json)? {
        None => {
            return Err(DataError::NotFound(format!(
                "Scan '{}' has no files.json",
                location.id
            )))
        }
        Some(Err(e)) => {
            return Err(DataError::Corrupt(format!(
                "files.json of scan '{}' is not valid JSON ({e})",
                location.id
            )))
        }
        Some(Ok(v)) => v,
    };
    let filesets = parse_files_json(&index, dir).ok_or_else(|| {
        DataError::Corrupt(format!(
            "files.json of scan '{}' has no 'filesets' list",
            location.id
        ))
    })?;
    let (metadata, metadata_error) =
        match read_json_retrying(&dir.join("metadata").join("metadata.json"))? {
            None => (Map::new(), false),
            Some(Ok(Value::Object(map))) => (map, false),
            Some(Ok(_)) => {
                tracing::warn!(scan = %location.id, "metadata.json is not a JSON object");
                (Map::new(), true)
            }
            Some(Err(e)) => {
                tracing::warn!(scan = %location.id, error = %e, "metadata.json is not valid JSON");
                (Map::new(), true)
            }
        };
    if let Some(Value::Object(tl)) = metadata.get("timelapse") {
        let named = tl.get("id").and_then(Value::as_str);
        if named != location.timelapse.as_deref()
            && (named.is_some() || location.timelapse.is_some())
        {
            tracing::debug!(scan = %location.id, found_in = ?location.timelapse, metadata = ?named,
                "timelapse of the metadata differs from where the scan was found; the directory wins");
        }
    }
    let has_measures = fs::symlink_metadata(dir.join("measures.json")).is_ok();
    let changed = fs::symlink_metadata(dir).ok().map(|m| change_time(&m));
    Ok(ScanData {
        location: location.clone(),
        filesets,
        metadata,
        metadata_error,
        has_measures,
        changed,
    })
}

#[cfg(unix)]
fn change_time(m: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let secs = m.ctime();
    let nanos = u32::try_from(m.ctime_nsec()).unwrap_or(0);
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(secs.unsigned_abs(), nanos)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

#[cfg(not(unix))]
fn change_time(m: &fs::Metadata) -> SystemTime {
    m.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// `files.json` → filesets, dropping (with a log line) a fileset whose
/// directory is missing, an entry without `id` or `file`, an entry whose
/// `file` is not a plain name, and an entry whose file is missing.
/// `None` when there is no `filesets` list.
pub fn parse_files_json(index: &Value, dir: &Path) -> Option<Vec<Fileset>> {
    let list = index.get("filesets")?.as_array()?;
    let mut out = Vec::with_capacity(list.len());
    for fs_value in list {
        let Some(fs_id) = fs_value.get("id").and_then(Value::as_str) else {
            tracing::warn!(scan = %dir.display(), "files.json: a fileset without an id was dropped");
            continue;
        };
        if !is_plain_file_name(fs_id) {
            tracing::warn!(scan = %dir.display(), fileset = %fs_id, "files.json: fileset id is not a plain name: dropped");
            continue;
        }
        let fs_dir = dir.join(fs_id);
        if !fs_dir.is_dir() {
            tracing::debug!(scan = %dir.display(), fileset = %fs_id, "files.json: fileset directory missing: dropped");
            continue;
        }
        let mut files = Vec::new();
        for entry in fs_value
            .get("files")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let id = entry.get("id").and_then(Value::as_str);
            let file = entry.get("file").and_then(Value::as_str);
            let (Some(id), Some(file)) = (id, file) else {
                continue;
            };
            if !is_plain_file_name(file) {
                tracing::warn!(scan = %dir.display(), fileset = %fs_id, file = %file,
                    "files.json: file name is not a plain name: dropped");
                continue;
            }
            if !fs_dir.join(file).is_file() {
                tracing::debug!(scan = %dir.display(), fileset = %fs_id, file = %file, "files.json: file missing: dropped");
                continue;
            }
            files.push(FileEntry {
                id: id.to_string(),
                file: file.to_string(),
            });
        }
        out.push(Fileset {
            id: fs_id.to_string(),
            files,
        });
    }
    Some(out)
}
