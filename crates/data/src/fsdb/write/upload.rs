//! File uploads in two steps (§9.3), so that the bytes stream to disk
//! without any lock held: [`Writer::begin_upload`] opens a hidden temporary
//! in the fileset directory, the caller writes into it, and
//! [`Writer::commit_file`] puts it in place under the Python locks.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::atomic::{persist, random_token, sync_dir, write_atomic};
use super::files_json::{find_fileset, has_file, read_files_json};
use super::lock::{LockKind, LockResource};
use super::{creation_metadata, Author, Writer};
use crate::ids;
use crate::json::to_python_json_sorted;
use crate::DataError;

/// The extensions a file may be created with (Python's `VALID_FILE_EXT`,
/// in its order).
pub const VALID_FILE_EXTENSIONS: [&str; 9] = [
    ".jpg", ".jpeg", ".png", ".tif", ".txt", ".json", ".ply", ".yaml", ".toml",
];

/// The extension as stored: a leading `.` added when missing, lower-case;
/// it must be one of [`VALID_FILE_EXTENSIONS`] (Python compares
/// case-sensitively; we accept `JPG` and store `.jpg`).
pub fn normalize_extension(ext: &str) -> Result<String, DataError> {
    let dotted = if ext.starts_with('.') {
        ext.to_ascii_lowercase()
    } else {
        format!(".{}", ext.to_ascii_lowercase())
    };
    if VALID_FILE_EXTENSIONS.contains(&dotted.as_str()) {
        Ok(dotted)
    } else {
        Err(DataError::InvalidInput(format!(
            "Invalid file extension. Must be one of: {}",
            VALID_FILE_EXTENSIONS.join(", ")
        )))
    }
}

/// A file being uploaded: a hidden temporary `.upload.<random>.tmp` in the
/// fileset directory. Write the bytes into [`Upload::file`], then hand it
/// to [`Writer::commit_file`]. Dropped without a commit (or after a failed
/// one), the temporary is removed.
#[derive(Debug)]
pub struct Upload {
    file: File,
    path: PathBuf,
    fileset_dir: PathBuf,
}

impl Upload {
    /// The temporary file, to write the bytes into.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fileset directory the upload was opened in.
    pub fn fileset_dir(&self) -> &Path {
        &self.fileset_dir
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // After a commit the temporary is gone (linked into place, then
        // unlinked): only a left-over is removed here.
        if let Err(error) = fs::remove_file(&self.path) {
            if error.kind() != io::ErrorKind::NotFound {
                tracing::warn!(temp = %self.path.display(), %error, "could not remove an upload temporary");
            }
        }
    }
}

/// What a commit wrote so far, removed again if it fails.
#[derive(Default)]
struct Written(Vec<PathBuf>);

impl Written {
    fn roll_back(&self) {
        for path in self.0.iter().rev() {
            match fs::remove_file(path) {
                Ok(()) => {
                    if let Some(dir) = path.parent() {
                        sync_dir(dir);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "could not remove a file of a failed upload");
                }
            }
        }
    }
}

impl Writer {
    /// Opens the temporary an upload into fileset `fs_id` of the scan at
    /// `scan_dir` streams into. [`DataError::NotFound`] when the fileset
    /// directory does not exist.
    pub fn begin_upload(&self, scan_dir: &Path, fs_id: &str) -> Result<Upload, DataError> {
        ids::lookup("fileset", fs_id)?;
        let fileset_dir = scan_dir.join(fs_id);
        if !fileset_dir.is_dir() {
            return Err(DataError::NotFound(format!(
                "Fileset '{fs_id}' has no directory"
            )));
        }
        let path = fileset_dir.join(format!(".upload.{}.tmp", random_token()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| DataError::io("Could not create an upload temporary", e))?;
        Ok(Upload {
            file,
            path,
            fileset_dir,
        })
    }

    /// Puts an upload in place as file `file_id` of fileset `fs_id` and
    /// returns its file name `<file_id><ext>`.
    ///
    /// In order: `file_id` must be a new id (400) and `ext` valid (400);
    /// the upload is fsynced; under the exclusive Python locks of the
    /// fileset and the file, `file_id` must not be in `files.json` nor
    /// `<file_id><ext>` exist (409); the data file is linked into place
    /// without replacing anything; `metadata/<fs>/<file_id>.json` is written
    /// (`metadata` minus `owner`/`sharing`, plus `created`, `last_modified`,
    /// `created_by`); the entry `{"file", "id"}` is appended to the
    /// fileset in `files.json`. Any failure removes what this call wrote.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_file(
        &self,
        scan_dir: &Path,
        scan_id: &str,
        fs_id: &str,
        file_id: &str,
        ext: &str,
        upload: Upload,
        metadata: Map<String, Value>,
        author: &Author,
    ) -> Result<String, DataError> {
        ids::lookup("fileset", fs_id)?;
        ids::new_id("file", file_id)?;
        let ext = normalize_extension(ext)?;
        let fileset_dir = scan_dir.join(fs_id);
        if upload.fileset_dir != fileset_dir {
            return Err(DataError::invalid(format!(
                "The upload was not opened in fileset '{fs_id}'"
            )));
        }
        // The slow part (flushing a large upload) before any lock.
        upload
            .file
            .sync_all()
            .map_err(|e| DataError::io("Could not store the upload", e))?;

        // Only this file is locked while its bytes and metadata are put in
        // place (Python's `write_raw` holds the file lock); the fileset lock
        // is taken for the short files.json update alone, together with the
        // other uploads waiting for it (`add_file_entry`), so parallel
        // uploads into one fileset do not queue behind each other's fsyncs.
        let _file_lock = self.locks().acquire(
            LockResource::File(scan_id, fs_id, file_id),
            LockKind::Exclusive,
            &author.username,
        )?;

        let name = format!("{file_id}{ext}");
        check_file_is_new(scan_dir, scan_id, fs_id, file_id)?;
        let data_path = fileset_dir.join(&name);
        if fs::symlink_metadata(&data_path).is_ok() {
            // Not in files.json while we hold the file lock: the leftover
            // of a write interrupted by a crash (ours place the data file
            // first; Python's list the entry first). Nothing references it,
            // so the retry replaces it.
            tracing::warn!(scan = %scan_id, fileset = %fs_id, file = %name,
                "removing an unreferenced data file left by an interrupted upload");
            fs::remove_file(&data_path)
                .map_err(|e| DataError::io("Could not remove an unreferenced data file", e))?;
        }

        let mut written = Written::default();
        let outcome = (|| {
            persist(&upload.path, &data_path, true).map_err(|e| match e {
                DataError::Conflict(_) => file_exists(fs_id, file_id),
                other => other,
            })?;
            written.0.push(data_path.clone());

            let metadata_dir = scan_dir.join("metadata").join(fs_id);
            fs::create_dir_all(&metadata_dir)
                .map_err(|e| DataError::io("Could not create a metadata directory", e))?;
            let metadata = creation_metadata(metadata, author);
            let text = to_python_json_sorted(&Value::Object(metadata));
            let metadata_name = format!("{file_id}.json");
            written.0.push(metadata_dir.join(&metadata_name));
            write_atomic(&metadata_dir, &metadata_name, text.as_bytes())?;

            self.add_file_entry(scan_dir, scan_id, fs_id, file_id, &name, &author.username)
        })();
        if let Err(e) = outcome {
            written.roll_back();
            return Err(e);
        }
        Ok(name)
    }
}

/// 409 if `file_id` is listed in the fileset (404 if the fileset is not).
fn check_file_is_new(
    scan_dir: &Path,
    scan_id: &str,
    fs_id: &str,
    file_id: &str,
) -> Result<(), DataError> {
    let mut index = read_files_json(scan_dir, scan_id)?;
    let filesets = index
        .get_mut("filesets")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| fileset_not_listed(scan_id, fs_id))?;
    let fileset =
        find_fileset(filesets, fs_id).ok_or_else(|| fileset_not_listed(scan_id, fs_id))?;
    if has_file(fileset, file_id) {
        return Err(file_exists(fs_id, file_id));
    }
    Ok(())
}

fn file_exists(fs_id: &str, file_id: &str) -> DataError {
    DataError::Conflict(format!(
        "File '{file_id}' already exists in fileset '{fs_id}'"
    ))
}

fn fileset_not_listed(scan_id: &str, fs_id: &str) -> DataError {
    DataError::NotFound(format!("Unknown fileset '{fs_id}' in scan '{scan_id}'"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(normalize_extension("jpg").unwrap(), ".jpg");
        assert_eq!(normalize_extension(".PLY").unwrap(), ".ply");
        assert_eq!(normalize_extension("Toml").unwrap(), ".toml");
        for bad in ["", ".", "exe", ".tiff", "..jpg", " jpg"] {
            let err = normalize_extension(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                "Invalid file extension. Must be one of: .jpg, .jpeg, .png, .tif, .txt, .json, .ply, .yaml, .toml"
            );
        }
    }
}
