//! Timelapse containers: `<root>/<tl>/timelapse.json` (§1.5).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::scan::read_json_retrying;
use crate::DataError;

/// The file that makes a root subdirectory a timelapse container.
pub const MARKER_FILE: &str = "timelapse.json";

/// The marker's content (`{}` when unreadable, logged).
pub fn read_marker(dir: &Path, id: &str) -> Result<Map<String, Value>, DataError> {
    match read_json_retrying(&dir.join(MARKER_FILE))? {
        None => Err(DataError::NotFound(format!("Unknown timelapse id '{id}'"))),
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(Ok(_)) | Some(Err(_)) => {
            tracing::warn!(timelapse = %id, "timelapse.json is not a JSON object");
            Ok(Map::new())
        }
    }
}

/// The HTTP shape (Python's `to_dict`): `scans` is the marker's list,
/// `counts.scans` the number of served scans whose metadata names the
/// timelapse.
pub fn to_document(id: &str, marker: &Map<String, Value>, member_count: usize) -> Value {
    let get = |k: &str| marker.get(k).cloned().unwrap_or(Value::Null);
    let scans = match marker.get("scans") {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ => Value::Array(Vec::new()),
    };
    let metadata = match marker.get("metadata") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    };
    json!({
        "id": id,
        "created_at": get("created_at"),
        "owner": get("owner"),
        "scans": scans,
        "metadata": metadata,
        "counts": {"scans": member_count},
    })
}
