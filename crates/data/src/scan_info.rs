//! The scan-info document (data-api.md §5): what the web viewer's landing
//! page and scan page read, and what `GET /api/v1/scans/<id>` returns.
//!
//! One rule for both generations (§5.1 "ours"); only the URIs differ
//! (§5.2): the current generation points into `P/api/v1/...`, the viewer
//! generation into the 0.14 root routes without the prefix.

use std::path::Path;

use chrono::{DateTime, Local, NaiveDateTime};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Map, Value};

use crate::fsdb::{FileEntry, ScanData};
use crate::media_types::is_image_name;

/// Which route family the URIs of a document point into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// `/api/v1/...` (plantdb-server 0.17, plantdb-client).
    Current,
    /// The 0.14 root routes the web viewer calls.
    Viewer,
}

/// A computed document and its serialised form (listings concatenate the
/// bytes instead of re-serialising hundreds of documents per request).
#[derive(Debug, Clone)]
pub struct ScanInfo {
    pub doc: Value,
    pub json: Vec<u8>,
}

impl ScanInfo {
    fn new(doc: Value) -> ScanInfo {
        let json = serde_json::to_vec(&doc).unwrap_or_else(|_| b"null".to_vec());
        ScanInfo { doc, json }
    }

    pub fn is_error(&self) -> bool {
        self.doc.get("error").and_then(Value::as_bool) == Some(true)
    }
}

/// (task → uri key) for `filesUri` (§5.1).
const FILES_URI: &[(&str, &str)] = &[
    ("PointCloud", "pointCloud"),
    ("TriangleMesh", "mesh"),
    ("CurveSkeleton", "skeleton"),
    ("TreeGraph", "tree"),
];

/// Characters of a file name that must be escaped in a URI path segment
/// (the rest of the name is kept as is, like Python's URIs).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\');

/// A file name as a URI path segment.
fn seg(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

struct Uris<'a> {
    generation: Generation,
    /// `P/api/v1` for the current generation, `` for the viewer.
    base: String,
    scan: &'a str,
}

impl Uris<'_> {
    fn file_path(&self, rest: &str) -> String {
        match self.generation {
            Generation::Current => format!("{}/assets/files/{}/{rest}", self.base, self.scan),
            Generation::Viewer => format!("/files/{}/{rest}", self.scan),
        }
    }

    fn archive(&self) -> String {
        match self.generation {
            Generation::Current => format!("{}/assets/archive/{}", self.base, self.scan),
            Generation::Viewer => format!("/archive/{}", self.scan),
        }
    }

    fn image(&self, file: &FileEntry, size: &str) -> String {
        match self.generation {
            Generation::Current => format!(
                "{}/assets/image/{}/images/{}?size={size}",
                self.base,
                self.scan,
                seg(&file.id)
            ),
            // 0.14 pose URIs name the file; our /image resolves names too.
            Generation::Viewer => {
                format!(
                    "/image/{}/images/{}?size={size}",
                    self.scan,
                    seg(&file.file)
                )
            }
        }
    }

    fn thumbnail(&self, file: &FileEntry) -> String {
        match self.generation {
            Generation::Current => self.image(file, "thumb"),
            Generation::Viewer => {
                format!("/image/{}/images/{}?size=thumb", self.scan, seg(&file.id))
            }
        }
    }
}

/// Builds the document; `prefix` is the deployment prefix (`""` or `/plantdb`).
pub fn build(scan: &ScanData, generation: Generation, prefix: &str) -> ScanInfo {
    match try_build(scan, generation, prefix) {
        Ok(doc) => ScanInfo::new(doc),
        Err(reason) => {
            tracing::warn!(scan = %scan.id(), %reason, "scan info cannot be computed: degraded document");
            ScanInfo::new(degraded(scan.id()))
        }
    }
}

/// Python's template with `error: true` (§5.4).
pub fn degraded(id: &str) -> Value {
    json!({
        "id": id,
        "metadata": {"date": "01-01-00 00:00:00", "species": "N/A", "plant": "N/A",
            "environment": "N/A", "nbPhotos": 0, "files": {"metadata": null, "archive": null}},
        "thumbnailUri": "",
        "images": null,
        "tasks_fileset": null,
        "filesUri": {},
        "isVirtual": false,
        "hasColmap": false,
        "hasPointCloud": false,
        "hasTriangleMesh": false,
        "hasCurveSkeleton": false,
        "hasTreeGraph": false,
        "hasAnglesAndInternodes": false,
        "hasAutomatedMeasures": false,
        "hasManualMeasures": false,
        "hasSegmentation2D": false,
        "hasPcdGroundTruth": false,
        "hasPointCloudEvaluation": false,
        "hasSegmentedPointCloud": false,
        "hasSegmentedPcdEvaluation": false,
        "error": true,
    })
}

/// `v[k1][k2]...`, where a missing or non-object level counts as `{}`.
fn dig<'a>(m: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (last, levels) = path.split_last()?;
    let mut cur = m;
    for level in levels {
        cur = cur.get(*level)?.as_object()?;
    }
    cur.get(*last)
}

/// 0.17 key first, then the 0.14 `object.*` key, then `"N/A"` (§5.1, P11).
fn bio(m: &Map<String, Value>, current: &[&str], legacy: &str) -> Value {
    dig(m, current)
        .or_else(|| dig(m, &["object", legacy]))
        .cloned()
        .unwrap_or_else(|| Value::String("N/A".into()))
}

fn scan_date(scan: &ScanData) -> String {
    if let Some(Value::String(text)) = scan.metadata.get("acquisition_date") {
        if text.matches(' ').count() == 1 {
            return text.clone();
        }
        // ISO form (P19): `YYYY-MM-DDTHH:MM:SS[...]`.
        if let Some(prefix) = text.get(..19) {
            if NaiveDateTime::parse_from_str(prefix, "%Y-%m-%dT%H:%M:%S").is_ok() {
                return prefix.replacen('T', " ", 1);
            }
        }
    }
    let changed = scan.changed.unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let local: DateTime<Local> = changed.into();
    local.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A JSON number shifted by `delta`, ints staying ints (Python's `x - 150`).
fn shifted(v: &Value, delta: i64) -> Option<Value> {
    if let Some(i) = v.as_i64() {
        return i.checked_add(delta).map(Value::from);
    }
    let f = v.as_f64()?;
    serde_json::Number::from_f64(f + delta as f64).map(Value::Number)
}

fn pipeline_min_z(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("pipeline.toml")).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let z = doc
        .get("Voxels")?
        .get("bounding_box")?
        .get("z")?
        .as_array()?;
    let mut best: Option<Value> = None;
    let mut best_f = f64::INFINITY;
    for item in z {
        let (value, f) = match item {
            toml::Value::Integer(i) => (Value::from(*i), *i as f64),
            toml::Value::Float(f) => (serde_json::Number::from_f64(*f).map(Value::Number)?, *f),
            _ => return None,
        };
        if f < best_f {
            best_f = f;
            best = Some(value);
        }
    }
    best
}

fn workspace(scan: &ScanData) -> Value {
    let m = &scan.metadata;
    let ws = if m.contains_key("ScanPath") {
        let center = |k: &str| dig(m, &["ScanPath", "kwargs", k]).filter(|v| v.is_number());
        let (x, y) = match (center("center_x"), center("center_y")) {
            (Some(x), Some(y)) => (x.clone(), y.clone()),
            _ => (Value::from(375), Value::from(375)),
        };
        let z = pipeline_min_z(scan.dir()).unwrap_or_else(|| Value::from(-500));
        let range = |v: &Value| match (shifted(v, -150), shifted(v, 150)) {
            (Some(a), Some(b)) => Value::Array(vec![a, b]),
            _ => Value::Null,
        };
        json!({"x": range(&x), "y": range(&y), "z": range(&z)})
    } else if let Some(w) = m.get("workspace") {
        w.clone()
    } else {
        scan.fileset_metadata("images")
            .ok()
            .and_then(|fm| fm.get("workspace").cloned())
            .unwrap_or(Value::Null)
    };
    // The viewer draws any truthy workspace: `{}` would crash it (P14).
    match ws {
        Value::Object(ref o) if o.is_empty() => Value::Null,
        other => other,
    }
}

fn try_build(scan: &ScanData, generation: Generation, prefix: &str) -> Result<Value, String> {
    if scan.metadata_error {
        return Err("metadata.json is not a JSON object".into());
    }
    let id = scan.id();
    let images = scan
        .fileset("images")
        .ok_or("the scan has no 'images' fileset")?;
    let first = images
        .files
        .first()
        .ok_or("the 'images' fileset is empty")?;
    let uris = Uris {
        generation,
        base: format!("{}/api/v1", prefix.trim_end_matches('/')),
        scan: id,
    };
    let tasks = scan.task_map();
    let mut tasks_fileset = Map::new();
    for (task, fs) in &tasks {
        tasks_fileset.insert(task.clone(), Value::String(fs.clone()));
    }
    // File metadata of every image: `channel` selects the RGB ones.
    let mut rgb: Vec<(&FileEntry, Map<String, Value>)> = Vec::new();
    let mut first_meta = Map::new();
    for (i, file) in images.files.iter().enumerate() {
        let meta = scan.file_metadata("images", &file.id).unwrap_or_default();
        if i == 0 {
            first_meta = meta.clone();
        }
        if meta.get("channel").and_then(Value::as_str) == Some("rgb") {
            rgb.push((file, meta));
        }
    }
    let has = |task: &str, file: &str| -> Option<(&str, &FileEntry)> {
        let fs_id = tasks.iter().find(|(t, _)| t == task).map(|(_, f)| f)?;
        let fs = scan.fileset(fs_id)?;
        fs.file(file).map(|f| (fs.id.as_str(), f))
    };
    let m = &scan.metadata;
    // The viewer's scan page uses this link without a null check: always a
    // string there (a 404 when the file is missing).
    let metadata_uri = if generation == Generation::Viewer
        || scan.dir().join("metadata").join("metadata.json").is_file()
    {
        Value::String(uris.file_path("metadata/metadata.json"))
    } else {
        Value::Null
    };
    let thumb_file = if is_image_name(&first.file) {
        Some(first)
    } else {
        images.files.iter().find(|f| is_image_name(&f.file))
    };
    let mut files_uri = Map::new();
    for (task, key) in FILES_URI {
        if let Some((fs, f)) = has(task, task) {
            files_uri.insert(
                (*key).into(),
                Value::String(uris.file_path(&format!("{fs}/{}", seg(&f.file)))),
            );
        }
    }
    if let Some((fs, f)) = has("PointCloudGroundTruth", "PointCloudGroundTruth") {
        files_uri.insert(
            "pcdGroundTruth".into(),
            Value::String(uris.file_path(&format!("{fs}/{}", seg(&f.file)))),
        );
    }
    if generation == Generation::Viewer {
        // The viewer dereferences these unconditionally (§13.2): a URI of
        // the same route that answers 404 stands for a missing one.
        for key in ["pointCloud", "mesh", "pcdGroundTruth"] {
            if !files_uri.contains_key(key) {
                files_uri.insert(
                    key.into(),
                    Value::String(uris.file_path(&format!("none/{key}.ply"))),
                );
            }
        }
    }
    let flag = |task: &str, file: &str| Value::Bool(has(task, file).is_some());
    let camera = match first_meta.get("colmap_camera") {
        Some(Value::Object(cam)) if !cam.is_empty() => {
            let poses: Vec<Value> = rgb
                .iter()
                .filter_map(|(file, meta)| {
                    let cam = meta.get("colmap_camera")?.as_object()?;
                    Some(json!({
                        "id": file.id,
                        "tvec": cam.get("tvec")?,
                        "rotmat": cam.get("rotmat")?,
                        "photoUri": uris.image(file, "orig"),
                        "thumbnailUri": uris.image(file, "thumb"),
                    }))
                })
                .collect();
            let mut c = Map::new();
            if let Some(model) = cam.get("camera_model") {
                c.insert("model".into(), model.clone());
            }
            c.insert("poses".into(), Value::Array(poses));
            Value::Object(c)
        }
        _ => json!({"poses": []}),
    };
    let aai = flag("AnglesAndInternodes", "AnglesAndInternodes");
    let mut doc = json!({
        "id": id,
        "metadata": {
            "date": scan_date(scan),
            "species": bio(m, &["biologicalMaterial", "organism", "species"], "species"),
            "plant": bio(m, &["biologicalMaterial", "biologicalMaterialId"], "plant_id"),
            "environment": bio(m, &["study", "growthFacility", "name"], "environment"),
            "nbPhotos": rgb.len(),
            "files": {"metadata": metadata_uri, "archive": uris.archive()},
        },
        "thumbnailUri": thumb_file.map(|f| uris.thumbnail(f)).unwrap_or_default(),
        "images": rgb.iter().map(|(f, _)| f.file.clone()).collect::<Vec<_>>(),
        "tasks_fileset": tasks_fileset,
        "filesUri": files_uri,
        "isVirtual": tasks.iter().any(|(t, _)| t == "VirtualPlant"),
        "hasColmap": flag("Colmap", "cameras"),
        "hasPointCloud": flag("PointCloud", "PointCloud"),
        "hasTriangleMesh": flag("TriangleMesh", "TriangleMesh"),
        "hasCurveSkeleton": flag("CurveSkeleton", "CurveSkeleton"),
        "hasTreeGraph": flag("TreeGraph", "TreeGraph"),
        "hasAnglesAndInternodes": aai.clone(),
        "hasAutomatedMeasures": aai,
        "hasManualMeasures": scan.has_measures,
        "hasSegmentation2D": false,
        "hasPcdGroundTruth": flag("PointCloudGroundTruth", "PointCloudGroundTruth"),
        "hasPointCloudEvaluation": flag("PointCloudEvaluation", "PointCloudEvaluation"),
        "hasSegmentedPointCloud": flag("SegmentedPointCloud", "SegmentedPointCloud"),
        "hasSegmentedPcdEvaluation": flag("SegmentedPointCloudEvaluation", "SegmentedPointCloudEvaluation"),
        "error": false,
        "workspace": workspace(scan),
        "camera": camera,
    });
    if generation == Generation::Viewer {
        // Top-level keys the viewer fetches unconditionally (§13.2).
        if let Value::Object(m) = &mut doc {
            m.insert("skeleton".into(), Value::String(format!("/skeleton/{id}")));
            m.insert("angles".into(), Value::String(format!("/sequence/{id}")));
        }
    }
    Ok(doc)
}
