//! Metadata updates at the three levels (§9.5).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::atomic::write_atomic;
use super::lock::{LockKind, LockResource};
use super::{python_now, Writer, LOCK_USER};
use crate::fsdb::scan::read_json_retrying;
use crate::ids;
use crate::json::to_python_json_sorted;
use crate::DataError;

/// Whose metadata is updated. `dir` is the scan directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataTarget {
    /// `metadata/metadata.json`.
    Scan { dir: PathBuf, id: String },
    /// `metadata/<fs>.json`.
    Fileset {
        dir: PathBuf,
        scan_id: String,
        fs: String,
    },
    /// `metadata/<fs>/<file>.json`.
    File {
        dir: PathBuf,
        scan_id: String,
        fs: String,
        file: String,
    },
}

impl MetadataTarget {
    fn lock(&self) -> LockResource<'_> {
        match self {
            MetadataTarget::Scan { id, .. } => LockResource::Scan(id),
            MetadataTarget::Fileset { scan_id, fs, .. } => LockResource::Fileset(scan_id, fs),
            MetadataTarget::File {
                scan_id, fs, file, ..
            } => LockResource::File(scan_id, fs, file),
        }
    }

    /// The metadata file's directory and name.
    fn location(&self) -> Result<(PathBuf, String), DataError> {
        Ok(match self {
            MetadataTarget::Scan { dir, .. } => (dir.join("metadata"), "metadata.json".into()),
            MetadataTarget::Fileset { dir, fs, .. } => {
                ids::lookup("fileset", fs)?;
                (dir.join("metadata"), format!("{fs}.json"))
            }
            MetadataTarget::File { dir, fs, file, .. } => {
                ids::lookup("fileset", fs)?;
                ids::lookup("file", file)?;
                (dir.join("metadata").join(fs), format!("{file}.json"))
            }
        })
    }

    /// The directory that must exist for the update to make sense: the
    /// scan's, or the fileset's (a scan deleted meanwhile is not recreated
    /// as a bare `metadata/` directory).
    fn check_exists(&self) -> Result<(), DataError> {
        let (dir, missing) = match self {
            MetadataTarget::Scan { dir, id } => (dir.clone(), format!("Unknown scan id '{id}'")),
            MetadataTarget::Fileset {
                dir, scan_id, fs, ..
            }
            | MetadataTarget::File {
                dir, scan_id, fs, ..
            } => (
                dir.join(fs),
                format!("Unknown fileset '{fs}' in scan '{scan_id}'"),
            ),
        };
        if dir.is_dir() {
            Ok(())
        } else {
            Err(DataError::NotFound(missing))
        }
    }

    fn is_scan(&self) -> bool {
        matches!(self, MetadataTarget::Scan { .. })
    }

    fn describe(&self) -> String {
        self.lock().describe()
    }
}

/// What a scan-level update does with `owner` and `sharing`, decided by
/// the service (which checked permissions and that users and groups
/// exist). `None`: the stored value is kept whatever the patch says;
/// `Some`: the value is set. Ignored at fileset and file level, where
/// `owner` and `sharing` are always kept as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanMetadataPolicy {
    pub owner: Option<String>,
    pub sharing: Option<Vec<String>>,
}

/// Keys only the server sets, at every level.
const SERVER_MANAGED: [&str; 2] = ["created", "created_by"];

/// Keys a client never sets through the patch (scan level: through the
/// policy instead).
const ACCESS_KEYS: [&str; 2] = ["owner", "sharing"];

impl Writer {
    /// Updates a metadata object (§9.5) under the level's exclusive Python
    /// lock, and returns the whole stored object.
    ///
    /// - `created`, `created_by` of the patch are ignored (stored ones kept);
    /// - `owner`, `sharing` of the patch are ignored; at scan level the
    ///   `policy` sets them;
    /// - scan level: `timelapse.id` cannot be added, changed or removed
    ///   (kept as stored); other `timelapse` keys are editable;
    /// - `replace` false: shallow merge (each top-level key replaces the
    ///   stored one); true: the patch replaces the object, the protected
    ///   keys above are kept;
    /// - `last_modified` = now.
    ///
    /// [`DataError::NotFound`] when the scan (or fileset) directory is
    /// gone. A stored file that is not a JSON object is refused
    /// ([`DataError::Corrupt`]) unless `replace` is true. The biological
    /// schema check ([`super::validate_biological_metadata`]) is the
    /// caller's.
    pub fn update_metadata(
        &self,
        target: MetadataTarget,
        mut patch: Map<String, Value>,
        replace: bool,
        policy: ScanMetadataPolicy,
    ) -> Result<Map<String, Value>, DataError> {
        let (dir, name) = target.location()?;
        let _lock = self
            .locks()
            .acquire(target.lock(), LockKind::Exclusive, LOCK_USER)?;
        target.check_exists()?;
        let stored = read_stored(&dir.join(&name), replace, &target)?;

        for key in SERVER_MANAGED.iter().chain(ACCESS_KEYS.iter()) {
            patch.remove(*key);
        }
        let stored_timelapse_id = stored_timelapse_id(&stored);
        if target.is_scan() {
            protect_timelapse_id(&mut patch, stored_timelapse_id.as_ref());
        }

        let mut updated = if replace {
            let mut kept = Map::new();
            for key in SERVER_MANAGED.iter().chain(ACCESS_KEYS.iter()) {
                if let Some(v) = stored.get(*key) {
                    kept.insert((*key).to_string(), v.clone());
                }
            }
            if let (true, Some(id), false) = (
                target.is_scan(),
                stored_timelapse_id.as_ref(),
                patch.contains_key("timelapse"),
            ) {
                let mut timelapse = Map::new();
                timelapse.insert("id".into(), id.clone());
                kept.insert("timelapse".into(), Value::Object(timelapse));
            }
            kept.extend(patch);
            kept
        } else {
            let mut merged = stored;
            merged.extend(patch);
            merged
        };
        if target.is_scan() {
            if let Some(owner) = policy.owner {
                updated.insert("owner".into(), Value::String(owner));
            }
            if let Some(sharing) = policy.sharing {
                updated.insert(
                    "sharing".into(),
                    Value::Array(sharing.into_iter().map(Value::String).collect()),
                );
            }
        }
        updated.insert("last_modified".into(), Value::String(python_now()));

        fs::create_dir_all(&dir)
            .map_err(|e| DataError::io("Could not create a metadata directory", e))?;
        let text = to_python_json_sorted(&Value::Object(updated.clone()));
        write_atomic(&dir, &name, text.as_bytes())?;
        Ok(updated)
    }
}

/// The stored object: missing → `{}`; not an object → an error, or `{}`
/// when it is about to be replaced anyway.
fn read_stored(
    path: &Path,
    replace: bool,
    target: &MetadataTarget,
) -> Result<Map<String, Value>, DataError> {
    match read_json_retrying(path)? {
        None => Ok(Map::new()),
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(_) if replace => {
            tracing::warn!(file = %path.display(), "stored metadata is not a JSON object: replaced");
            Ok(Map::new())
        }
        Some(_) => Err(DataError::Corrupt(format!(
            "The stored metadata of {} is not a JSON object; send it whole with \"replace\": true",
            target.describe().to_lowercase_first()
        ))),
    }
}

/// `timelapse.id` of stored scan metadata, if any (any non-null value).
fn stored_timelapse_id(stored: &Map<String, Value>) -> Option<Value> {
    stored
        .get("timelapse")
        .and_then(Value::as_object)
        .and_then(|tl| tl.get("id"))
        .filter(|id| !id.is_null())
        .cloned()
}

/// Makes the patch's `timelapse` carry the stored `timelapse.id` (or none):
/// an object gets the stored id (or loses its own); a non-object value is
/// dropped when the scan belongs to a timelapse.
fn protect_timelapse_id(patch: &mut Map<String, Value>, stored_id: Option<&Value>) {
    match (patch.get_mut("timelapse"), stored_id) {
        (Some(Value::Object(tl)), Some(id)) => {
            tl.insert("id".into(), id.clone());
        }
        (Some(Value::Object(tl)), None) => {
            tl.remove("id");
        }
        (Some(_), Some(_)) => {
            patch.remove("timelapse");
        }
        (Some(_), None) | (None, _) => {}
    }
}

/// "Scan 'x'" → "scan 'x'" inside a sentence.
trait LowercaseFirst {
    fn to_lowercase_first(&self) -> String;
}

impl LowercaseFirst for String {
    fn to_lowercase_first(&self) -> String {
        let mut chars = self.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}
