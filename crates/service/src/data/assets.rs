//! Asset use-cases: image previews, point clouds, meshes, skeletons,
//! sequences and archives (data-api.md §7, §8.1).

use std::path::{Path, PathBuf};

use plantdb_auth_core::model::Permission;
use plantdb_data::archive::{self, ArchiveEntry};
use plantdb_data::fsdb::index::CachedScan;
use plantdb_data::fsdb::paths;
use plantdb_data::image::{self, ImageSize};
use plantdb_data::pointcloud::{self, CloudSize, Mesh, PlyVertices};
use plantdb_data::webcache::{self, CachedPreview, PreviewKind};
use plantdb_data::{ids, json, DataError};
use serde_json::Value;

use super::read::{fileset_of, unknown_file, ServedFile};
use super::{Access, DataService};
use crate::AuthError;

/// A generated preview: a cache file, or bytes when the cache is not writable.
#[derive(Debug)]
pub enum Preview {
    File(ServedFile),
    Bytes {
        bytes: Vec<u8>,
        name: String,
        content_type: &'static str,
    },
}

/// A point cloud or its coordinates.
#[derive(Debug)]
pub enum CloudAnswer {
    Ply(Preview),
    Coordinates(CoordinateSource),
}

/// Where the coordinates of a `coords=true` answer come from: a PLY file
/// whose header is already checked, read vertex by vertex while the answer
/// is written (an original cloud of millions of points never sits in
/// memory), or a preview held in memory.
pub enum CoordinateSource {
    File(PlyVertices),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for CoordinateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoordinateSource::File(_) => f.write_str("CoordinateSource::File"),
            CoordinateSource::Bytes(b) => write!(f, "CoordinateSource::Bytes({} bytes)", b.len()),
        }
    }
}

impl CoordinateSource {
    /// Writes `{"coordinates": [[x, y, z], ...]}` to `out`.
    pub fn write_json(self, out: &mut impl std::io::Write) -> Result<(), DataError> {
        match self {
            CoordinateSource::File(vertices) => {
                pointcloud::write_coordinates_json_vertices(vertices, out)
            }
            CoordinateSource::Bytes(bytes) => {
                pointcloud::write_coordinates_json_vertices(PlyVertices::from_bytes(&bytes)?, out)
            }
        }
    }
}

/// A mesh file or its vertices and triangles.
#[derive(Debug)]
pub enum MeshAnswer {
    Ply(ServedFile),
    Coordinates(Mesh),
}

/// Which point cloud `GET /assets/pointcloud/<scan>?type=` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudType {
    Default,
    GroundTruth,
}

/// The entries of a scan's zip archive, and its file name.
#[derive(Debug)]
pub struct ArchivePlan {
    pub entries: Vec<ArchiveEntry>,
    pub file_name: String,
}

fn task_file<'a>(
    scan: &'a CachedScan,
    task: &str,
) -> Result<(&'a str, &'a plantdb_data::fsdb::FileEntry), AuthError> {
    let fs = scan.data.task_fileset(task).ok_or_else(|| {
        AuthError::NotFound(format!(
            "Scan '{}' has no '{task}' fileset (run the pipeline's {task} task first)",
            scan.data.id()
        ))
    })?;
    let file = fs.file(task).ok_or_else(|| {
        AuthError::NotFound(format!(
            "Fileset '{}' of scan '{}' has no file '{task}'",
            fs.id,
            scan.data.id()
        ))
    })?;
    Ok((fs.id.as_str(), file))
}

fn preview_from(cached: CachedPreview, name: &str, content_type: &'static str) -> Preview {
    match cached {
        CachedPreview::File(path) => Preview::File(ServedFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_string()),
            path,
            content_type,
        }),
        CachedPreview::Bytes(bytes) => Preview::Bytes {
            bytes,
            name: name.to_string(),
            content_type,
        },
    }
}

fn is_ply(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".ply")
}

impl DataService {
    fn webcache_dir(scan: &CachedScan) -> PathBuf {
        scan.data.dir().join("webcache")
    }

    /// `GET /assets/image/<scan>/<fs>/<file>?size=` (and 0.14 `/image`,
    /// where `file` may also be the stored file name).
    pub fn image(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        file: &str,
        size: ImageSize,
    ) -> Result<Preview, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let fileset = fileset_of(&scan, fs)?;
        if file.is_empty() || file.contains(['/', '\\', '\0']) {
            return Err(unknown_file(fs, file));
        }
        let entry = fileset
            .file_by_id_or_name(file)
            .ok_or_else(|| unknown_file(fs, file))?;
        let source = paths::data_file(&scan, fs, &entry.file)?;
        let Some(side) = size.max_side() else {
            return Ok(Preview::File(ServedFile::new(source, &entry.file)));
        };
        let name = webcache::cache_file_name(
            PreviewKind::Image,
            scan.data.id(),
            fs,
            &entry.id,
            &size.cache_text(),
        );
        let cached =
            webcache::cached_or_generate(&Self::webcache_dir(&scan), &name, &source, || {
                self.gate.run(|| image::render_preview_file(&source, side))
            })?;
        Ok(preview_from(cached.preview, &name, "image/jpeg"))
    }

    fn cloud_preview(
        &self,
        scan: &CachedScan,
        fs: &str,
        file_id: &str,
        source: &Path,
        size: CloudSize,
    ) -> Result<Preview, AuthError> {
        let voxel = match size {
            CloudSize::Orig => {
                let name = source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Ok(Preview::File(ServedFile::new(source.to_path_buf(), &name)));
            }
            other => other.voxel_size().unwrap_or(pointcloud::PREVIEW_VOXEL_SIZE),
        };
        let name = webcache::cache_file_name(
            PreviewKind::PointCloud,
            scan.data.id(),
            fs,
            file_id,
            &size.cache_text(),
        );
        let cached =
            webcache::cached_or_generate(&Self::webcache_dir(scan), &name, source, || {
                self.gate.run(|| {
                    // Streamed: memory for the preview, not the original.
                    let down = pointcloud::voxel_down_sample_file(source, voxel)?;
                    Ok::<_, DataError>(pointcloud::write_ply_binary(&down))
                })
            })?;
        Ok(preview_from(
            cached.preview,
            &name,
            "application/octet-stream",
        ))
    }

    fn cloud_answer(
        &self,
        scan: &CachedScan,
        fs: &str,
        file_id: &str,
        source: &Path,
        size: CloudSize,
        coords: bool,
    ) -> Result<CloudAnswer, AuthError> {
        let preview = self.cloud_preview(scan, fs, file_id, source, size)?;
        if !coords {
            return Ok(CloudAnswer::Ply(preview));
        }
        // The header is checked here, so a file that is no PLY is a clear
        // error rather than a cut answer; the points are read as they are
        // written out.
        let source = match preview {
            Preview::File(f) => CoordinateSource::File(PlyVertices::open(&f.path)?),
            Preview::Bytes { bytes, .. } => {
                PlyVertices::from_bytes(&bytes)?;
                CoordinateSource::Bytes(bytes)
            }
        };
        Ok(CloudAnswer::Coordinates(source))
    }

    /// `GET /assets/pointcloud/<scan>?type=&size=&coords=`.
    pub fn pointcloud(
        &self,
        access: &Access,
        scan: &str,
        kind: CloudType,
        size: CloudSize,
        coords: bool,
    ) -> Result<CloudAnswer, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let task = match kind {
            CloudType::Default => "PointCloud",
            CloudType::GroundTruth => "PointCloudGroundTruth",
        };
        let (fs, file) = task_file(&scan, task)?;
        let source = paths::data_file(&scan, fs, &file.file)?;
        self.cloud_answer(&scan, fs, &file.id, &source, size, coords)
    }

    /// 0.14 `/pointcloud/<scan>/<fs>/<file>` and `/pcGroundTruth/...`.
    pub fn pointcloud_file(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        file: &str,
        size: CloudSize,
    ) -> Result<Preview, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let fileset = fileset_of(&scan, fs)?;
        let entry = fileset
            .file_by_id_or_name(file)
            .ok_or_else(|| unknown_file(fs, file))?;
        if !is_ply(&entry.file) {
            return Err(AuthError::InvalidInput(format!(
                "File '{}' is not a point cloud (.ply)",
                entry.id
            )));
        }
        let source = paths::data_file(&scan, fs, &entry.file)?;
        self.cloud_preview(&scan, fs, &entry.id, &source, size)
    }

    /// `GET /assets/mesh/<scan>?coords=`: the raw `TriangleMesh` file.
    pub fn mesh(&self, access: &Access, scan: &str, coords: bool) -> Result<MeshAnswer, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let (fs, file) = task_file(&scan, "TriangleMesh")?;
        let source = paths::data_file(&scan, fs, &file.file)?;
        if coords {
            let mesh = self.gate.run(|| pointcloud::read_ply_mesh(&source))?;
            return Ok(MeshAnswer::Coordinates(mesh));
        }
        Ok(MeshAnswer::Ply(ServedFile::new(source, &file.file)))
    }

    /// 0.14 `/mesh/<scan>/<fs>/<file>`: the raw file, which must be a PLY.
    pub fn mesh_file(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        file: &str,
    ) -> Result<ServedFile, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let fileset = fileset_of(&scan, fs)?;
        let entry = fileset
            .file_by_id_or_name(file)
            .ok_or_else(|| unknown_file(fs, file))?;
        if !is_ply(&entry.file) {
            return Err(AuthError::InvalidInput(format!(
                "File '{}' is not a mesh (.ply)",
                entry.id
            )));
        }
        let source = paths::data_file(&scan, fs, &entry.file)?;
        Ok(ServedFile::new(source, &entry.file))
    }

    fn task_json(&self, scan: &CachedScan, task: &str) -> Result<Value, AuthError> {
        let (fs, file) = task_file(scan, task)?;
        let source = paths::data_file(scan, fs, &file.file)?;
        let bytes = std::fs::read(&source)
            .map_err(|e| DataError::io(format!("reading {}", source.display()), e))?;
        json::parse_lenient(&bytes).map_err(|e| {
            tracing::error!(scan = %scan.data.id(), task, error = %e, "task output is not valid JSON");
            AuthError::Internal(format!("{task} of scan '{}' is not valid JSON", scan.data.id()))
        })
    }

    /// `GET /assets/skeleton/<scan>`.
    pub fn skeleton(&self, access: &Access, scan: &str) -> Result<Value, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        self.task_json(&scan, "CurveSkeleton")
    }

    /// `GET /assets/sequence/<scan>?type=`.
    pub fn sequence(
        &self,
        access: &Access,
        scan: &str,
        kind: Option<&str>,
    ) -> Result<Value, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let mut value = self.task_json(&scan, "AnglesAndInternodes")?;
        if let Value::Object(map) = &mut value {
            if let Ok(Some(Value::Object(measures))) =
                json::read_json_file(&scan.data.dir().join("measures.json"))
            {
                for (from, to) in [
                    ("angles", "manual_angles"),
                    ("internodes", "manual_internodes"),
                ] {
                    if let Some(v) = measures.get(from) {
                        map.insert(to.into(), v.clone());
                    }
                }
            }
        }
        const KINDS: &[&str] = &[
            "angles",
            "internodes",
            "fruit_points",
            "manual_angles",
            "manual_internodes",
        ];
        match kind {
            Some(k) if KINDS.contains(&k) => value.get(k).cloned().ok_or_else(|| {
                AuthError::NotFound(format!(
                    "The sequence of scan '{}' has no '{k}'",
                    scan.data.id()
                ))
            }),
            _ => Ok(value),
        }
    }

    /// `GET /assets/archive/<scan>`: what to put in the zip. `top`: the
    /// 0.14 route puts every entry under `<scan_id>/`.
    pub fn archive(
        &self,
        access: &Access,
        scan: &str,
        top: bool,
    ) -> Result<ArchivePlan, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let id = scan.data.id().to_string();
        let entries = archive::scan_entries(scan.data.dir(), top.then_some(id.as_str()))?;
        Ok(ArchivePlan {
            entries,
            file_name: format!("{id}.zip"),
        })
    }
}

/// Checks a file key of the 0.14 routes (an id or a stored file name).
pub fn check_file_key(key: &str) -> Result<(), AuthError> {
    if key.is_empty() || key.starts_with('.') || key.contains(['/', '\\', '\0']) {
        return Err(AuthError::InvalidInput(format!(
            "Invalid file '{}'",
            ids::printable(key)
        )));
    }
    Ok(())
}
