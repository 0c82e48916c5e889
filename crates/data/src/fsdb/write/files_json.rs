//! Read-modify-write of a scan's `files.json` (§1.3, §1.9): under the
//! scan's in-process mutex, re-read from disk (retrying a torn Python
//! write), change only what the operation adds, write back atomically in
//! Python's layout. Everything else in the file is kept as it was.

use std::path::Path;

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::lock::{LockKind, LockResource};

use super::atomic::write_atomic;
use super::Writer;
use crate::fsdb::scan::read_json_retrying;
use crate::json::to_python_json_sorted;
use crate::DataError;

pub(crate) const FILES_JSON: &str = "files.json";

/// One file entry waiting to be added to `files.json`, and its outcome.
#[derive(Debug)]
pub(crate) struct PendingEntry {
    fileset: String,
    file_id: String,
    name: String,
    outcome: Mutex<Option<Result<(), DataError>>>,
}

/// The entries waiting for a scan's `files.json` (see [`Writer::add_file_entry`]).
#[derive(Debug, Default)]
pub(crate) struct PendingEntries(Mutex<Vec<Arc<PendingEntry>>>);

impl Writer {
    /// Adds `{"file": name, "id": file_id}` to the fileset's entry of the
    /// scan's `files.json`.
    ///
    /// Uploads into one scan arrive in parallel (the Plant Imager sends on
    /// four threads) and each `files.json` rewrite costs two fsyncs, so the
    /// entries are committed in groups: each caller queues its entry, and
    /// whoever holds the scan's mutex next writes every queued entry in one
    /// read-modify-write, under the Python locks of the filesets concerned,
    /// and hands each caller its own outcome (409 for an id listed
    /// meanwhile).
    pub(crate) fn add_file_entry(
        &self,
        scan_dir: &Path,
        scan_id: &str,
        fs_id: &str,
        file_id: &str,
        name: &str,
        user: &str,
    ) -> Result<(), DataError> {
        let mine = Arc::new(PendingEntry {
            fileset: fs_id.to_string(),
            file_id: file_id.to_string(),
            name: name.to_string(),
            outcome: Mutex::new(None),
        });
        let pending = self.pending_entries(scan_id);
        pending.0.lock().push(Arc::clone(&mine));
        let mutex = self.scan_mutex(scan_id);
        let _serialised = mutex.lock();
        if let Some(outcome) = mine.outcome.lock().take() {
            // Written by the group that held the mutex before us.
            return outcome;
        }
        let batch: Vec<Arc<PendingEntry>> = std::mem::take(&mut *pending.0.lock());
        let outcome = self.write_entries(scan_dir, scan_id, &batch, user);
        for entry in &batch {
            let result = match &outcome {
                Err(e) => Err(e.duplicate()),
                Ok(per_entry) => per_entry
                    .iter()
                    .find(|(e, _)| Arc::ptr_eq(e, entry))
                    .map(|(_, r)| r.as_ref().map(|_| ()).map_err(DataError::duplicate))
                    .unwrap_or(Ok(())),
            };
            *entry.outcome.lock() = Some(result);
        }
        let outcome = mine.outcome.lock().take();
        outcome.unwrap_or(Ok(()))
    }

    /// One read-modify-write of `files.json` for a group of entries (the
    /// scan's mutex is held); the outcome of each entry.
    #[allow(clippy::type_complexity)]
    fn write_entries(
        &self,
        scan_dir: &Path,
        scan_id: &str,
        batch: &[Arc<PendingEntry>],
        user: &str,
    ) -> Result<Vec<(Arc<PendingEntry>, Result<(), DataError>)>, DataError> {
        let mut filesets: Vec<&str> = batch.iter().map(|e| e.fileset.as_str()).collect();
        filesets.sort_unstable();
        filesets.dedup();
        let mut _locks = Vec::with_capacity(filesets.len());
        for fs in &filesets {
            _locks.push(self.locks().acquire(
                LockResource::Fileset(scan_id, fs),
                LockKind::Exclusive,
                user,
            )?);
        }
        let mut index = read_files_json(scan_dir, scan_id)?;
        let list = index
            .get_mut("filesets")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| no_filesets_list(scan_id))?;
        let mut results = Vec::with_capacity(batch.len());
        let mut added = 0;
        for entry in batch {
            let result = match find_fileset(list, &entry.fileset) {
                None => Err(DataError::NotFound(format!(
                    "Unknown fileset '{}' in scan '{scan_id}'",
                    entry.fileset
                ))),
                Some(fs) if has_file(fs, &entry.file_id) => Err(DataError::Conflict(format!(
                    "File '{}' already exists in fileset '{}'",
                    entry.file_id, entry.fileset
                ))),
                Some(fs) => match fs
                    .as_object_mut()
                    .map(|o| o.entry("files").or_insert_with(|| Value::Array(Vec::new())))
                {
                    Some(Value::Array(files)) => {
                        files.push(file_entry(&entry.file_id, &entry.name));
                        added += 1;
                        Ok(())
                    }
                    _ => Err(DataError::Corrupt(format!(
                        "files.json of scan '{scan_id}': fileset '{}' has no 'files' list",
                        entry.fileset
                    ))),
                },
            };
            results.push((Arc::clone(entry), result));
        }
        if added > 0 {
            let text = to_python_json_sorted(&Value::Object(index));
            write_atomic(scan_dir, FILES_JSON, text.as_bytes())?;
        }
        Ok(results)
    }

    /// Runs `change` on the `filesets` list of the scan's `files.json`, as
    /// on disk now, and writes the result. Nothing is written when `change`
    /// fails.
    pub(crate) fn update_files_json<T>(
        &self,
        scan_dir: &Path,
        scan_id: &str,
        change: impl FnOnce(&mut Vec<Value>) -> Result<T, DataError>,
    ) -> Result<T, DataError> {
        let mutex = self.scan_mutex(scan_id);
        let _serialised = mutex.lock();
        let mut index = read_files_json(scan_dir, scan_id)?;
        let filesets = index
            .get_mut("filesets")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| no_filesets_list(scan_id))?;
        let out = change(filesets)?;
        let text = to_python_json_sorted(&Value::Object(index));
        write_atomic(scan_dir, FILES_JSON, text.as_bytes())?;
        Ok(out)
    }
}

/// The scan's `files.json` as an object, re-read from disk.
pub(crate) fn read_files_json(
    scan_dir: &Path,
    scan_id: &str,
) -> Result<Map<String, Value>, DataError> {
    match read_json_retrying(&scan_dir.join(FILES_JSON))? {
        None => Err(DataError::NotFound(format!(
            "Scan '{scan_id}' has no files.json"
        ))),
        Some(Err(e)) => Err(DataError::Corrupt(format!(
            "files.json of scan '{scan_id}' is not valid JSON ({e}); it was left unchanged"
        ))),
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(Ok(_)) => Err(no_filesets_list(scan_id)),
    }
}

fn no_filesets_list(scan_id: &str) -> DataError {
    DataError::Corrupt(format!(
        "files.json of scan '{scan_id}' has no 'filesets' list; it was left unchanged"
    ))
}

/// The fileset entry with `id`, if any.
pub(crate) fn find_fileset<'a>(filesets: &'a mut [Value], id: &str) -> Option<&'a mut Value> {
    filesets
        .iter_mut()
        .find(|fs| fs.get("id").and_then(Value::as_str) == Some(id))
}

/// Whether the list names a fileset `id`.
pub(crate) fn has_fileset(filesets: &[Value], id: &str) -> bool {
    filesets
        .iter()
        .any(|fs| fs.get("id").and_then(Value::as_str) == Some(id))
}

/// Whether the fileset entry names a file `id`.
pub(crate) fn has_file(fileset: &Value, id: &str) -> bool {
    fileset
        .get("files")
        .and_then(Value::as_array)
        .is_some_and(|files| {
            files
                .iter()
                .any(|f| f.get("id").and_then(Value::as_str) == Some(id))
        })
}

/// Python's fileset entry: `{"files": [], "id": id}`.
pub(crate) fn fileset_entry(id: &str) -> Value {
    let mut entry = Map::new();
    entry.insert("files".into(), Value::Array(Vec::new()));
    entry.insert("id".into(), Value::String(id.to_string()));
    Value::Object(entry)
}

/// Python's file entry: `{"file": name, "id": id}`.
pub(crate) fn file_entry(id: &str, name: &str) -> Value {
    let mut entry = Map::new();
    entry.insert("file".into(), Value::String(name.to_string()));
    entry.insert("id".into(), Value::String(id.to_string()));
    Value::Object(entry)
}
