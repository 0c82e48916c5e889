//! Point clouds and meshes (data-api.md §7.3, §7.4): reading PLY files,
//! open3d's voxel down-sampling for previews, the binary PLY that caches
//! them, and the `coords=true` JSON documents, streamed.

mod ply;
mod voxel;

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::path::Path;

use crate::webcache::push_python_float_repr;
use crate::DataError;

pub use ply::{parse_ply, parse_ply_mesh, read_ply, read_ply_mesh, PlyVertices, Vertex};
pub use voxel::voxel_down_sample_file;

/// The voxel size of `size=preview` (file units, mm in practice).
pub const PREVIEW_VOXEL_SIZE: f64 = 1.8;
const MIN_VOXEL: f64 = 0.01;
const MAX_VOXEL: f64 = 1000.0;

/// Points with optional per-point normals and colours (same lengths).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PointCloud {
    pub points: Vec<[f64; 3]>,
    pub normals: Option<Vec<[f64; 3]>>,
    pub colors: Option<Vec<[u8; 3]>>,
}

/// A triangle mesh; triangles index `vertices`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mesh {
    pub vertices: Vec<[f64; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

/// The `size` parameter of point-cloud routes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CloudSize {
    /// The original file.
    Orig,
    /// Down-sampled with [`PREVIEW_VOXEL_SIZE`].
    #[default]
    Preview,
    /// Down-sampled with this voxel size, finite and in 0.01..=1000.
    Voxel(f64),
}

impl CloudSize {
    /// `orig`; text Python's `float()` reads → [`CloudSize::Voxel`] (400
    /// when not finite or outside 0.01..=1000); anything else → preview,
    /// as in Python.
    pub fn parse(text: &str) -> Result<CloudSize, DataError> {
        if text == "orig" {
            return Ok(CloudSize::Orig);
        }
        match parse_python_float(text) {
            None => Ok(CloudSize::Preview),
            Some(v) if v.is_finite() && (MIN_VOXEL..=MAX_VOXEL).contains(&v) => {
                Ok(CloudSize::Voxel(v))
            }
            Some(_) => Err(DataError::invalid(
                "size must be 'orig', 'preview' or a voxel size from 0.01 to 1000",
            )),
        }
    }

    /// The `size` text of the cache file name: `preview`, or Python's
    /// `repr` of the voxel size (`2` → `2.0`).
    pub fn cache_text(&self) -> String {
        match self {
            CloudSize::Orig => "orig".to_owned(),
            CloudSize::Preview => "preview".to_owned(),
            CloudSize::Voxel(v) => crate::webcache::python_float_repr(*v),
        }
    }

    /// The voxel size to down-sample with, or `None` for the original.
    pub fn voxel_size(&self) -> Option<f64> {
        match self {
            CloudSize::Orig => None,
            CloudSize::Preview => Some(PREVIEW_VOXEL_SIZE),
            CloudSize::Voxel(v) => Some(*v),
        }
    }
}

/// What Python's `float(text)` accepts: Rust's float syntax (which has
/// `inf`, `nan`, `1e0`, `.5`) plus surrounding blanks and `_` between digits.
fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if !t.contains('_') {
        return t.parse().ok();
    }
    let b = t.as_bytes();
    let digit_at = |i: Option<usize>| i.and_then(|i| b.get(i)).is_some_and(u8::is_ascii_digit);
    let well_placed = b
        .iter()
        .enumerate()
        .all(|(i, c)| *c != b'_' || (digit_at(i.checked_sub(1)) && digit_at(Some(i + 1))));
    if well_placed {
        t.replace('_', "").parse().ok()
    } else {
        None
    }
}

/// The points of a PLY file (`x y z` only), read through a buffer: the
/// memory of the points, never of the file or of normals and colours. The
/// file is checked as [`read_ply`] checks it (normal and colour values
/// included), so both fail alike.
pub fn read_ply_points(path: &Path) -> Result<Vec<[f64; 3]>, DataError> {
    let mut vertices = PlyVertices::open(path)?;
    let mut points = Vec::with_capacity(vertices.capacity_hint());
    while let Some(v) = vertices.next_vertex()? {
        points.push(v.point);
    }
    Ok(points)
}

/// open3d's `voxel_down_sample`: origin = min bound − voxel/2, voxel index
/// = floor((p − origin) / voxel), one point per occupied voxel = the mean
/// of its points; colours averaged in 0..1 and written back as open3d
/// writes them (`round(clamp(c) × 255)`); normals summed then normalised
/// (a zero sum stays zero, as Eigen's `normalized`). Normals and colours
/// count only when there is one per point (open3d's `HasNormals`).
///
/// Ours: output ordered by voxel index (i, j, k); points with a non-finite
/// coordinate are left out; a voxel size that is not finite and positive
/// returns the cloud unchanged (callers validate through [`CloudSize`]).
pub fn voxel_down_sample(cloud: &PointCloud, voxel: f64) -> PointCloud {
    if !(voxel.is_finite() && voxel > 0.0) {
        return cloud.clone();
    }
    let n = cloud.points.len();
    let normals = cloud.normals.as_deref().filter(|v| v.len() == n && n > 0);
    let colors = cloud.colors.as_deref().filter(|v| v.len() == n && n > 0);
    let finite = |p: &&[f64; 3]| p.iter().all(|c| c.is_finite());
    let mut origin = [f64::INFINITY; 3];
    for p in cloud.points.iter().filter(finite) {
        for axis in 0..3 {
            origin[axis] = origin[axis].min(p[axis]);
        }
    }
    let origin = origin.map(|m| m - voxel * 0.5);

    // (voxel, point) pairs sorted: runs of one voxel, points in file order
    // (the order open3d sums them in), voxels in (i, j, k) order. Sorting
    // beats a hash map here and cannot be slowed by crafted collisions.
    let mut keyed: Vec<([i64; 3], usize)> = cloud
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| finite(p))
        // `as` saturates: absurd extents still give a well-defined index.
        .map(|(i, p)| {
            (
                [0, 1, 2].map(|a| ((p[a] - origin[a]) / voxel).floor() as i64),
                i,
            )
        })
        .collect();
    keyed.sort_unstable();

    let mut out = PointCloud::default();
    let mut out_normals = Vec::new();
    let mut out_colors = Vec::new();
    for run in keyed.chunk_by(|a, b| a.0 == b.0) {
        let count = run.len() as f64;
        let sum = |f: &dyn Fn(usize) -> [f64; 3]| {
            let mut total = [0.0; 3];
            for (_, i) in run {
                add(&mut total, &f(*i));
            }
            total
        };
        out.points
            .push(sum(&|i| cloud.points[i]).map(|s| s / count));
        if let Some(normals) = normals {
            // Eigen's `normalized()` of the sum; a zero sum stays zero.
            let total = sum(&|i| normals[i]);
            let norm = total.iter().map(|c| c * c).sum::<f64>().sqrt();
            out_normals.push(if norm > 0.0 {
                total.map(|c| c / norm)
            } else {
                total
            });
        }
        if let Some(colors) = colors {
            let total = sum(&|i| colors[i].map(|c| f64::from(c) / 255.0));
            out_colors.push(total.map(|s| ((s / count).clamp(0.0, 1.0) * 255.0).round() as u8));
        }
    }
    out.normals = normals.map(|_| out_normals);
    out.colors = colors.map(|_| out_colors);
    out
}

fn add(sum: &mut [f64; 3], v: &[f64; 3]) {
    for (s, x) in sum.iter_mut().zip(v) {
        *s += x;
    }
}

/// The cached preview's bytes, laid out as open3d's `write_point_cloud`:
/// binary little-endian, `double` coordinates and normals, `uchar` colours
/// (normals and colours only when there is one per point).
pub fn write_ply_binary(cloud: &PointCloud) -> Vec<u8> {
    let n = cloud.points.len();
    let normals = cloud.normals.as_deref().filter(|v| v.len() == n);
    let colors = cloud.colors.as_deref().filter(|v| v.len() == n);
    let mut header = format!(
        "ply\nformat binary_little_endian 1.0\ncomment Created by plantdb-data\n\
         element vertex {n}\nproperty double x\nproperty double y\nproperty double z\n"
    );
    if normals.is_some() {
        header.push_str("property double nx\nproperty double ny\nproperty double nz\n");
    }
    if colors.is_some() {
        header.push_str("property uchar red\nproperty uchar green\nproperty uchar blue\n");
    }
    header.push_str("end_header\n");
    let row = 24 + if normals.is_some() { 24 } else { 0 } + if colors.is_some() { 3 } else { 0 };
    let mut out = Vec::with_capacity(header.len() + n * row);
    out.extend_from_slice(header.as_bytes());
    for (i, p) in cloud.points.iter().enumerate() {
        let normal = normals.and_then(|v| v.get(i));
        for c in p.iter().chain(normal.into_iter().flatten()) {
            out.extend_from_slice(&c.to_le_bytes());
        }
        if let Some(rgb) = colors.and_then(|v| v.get(i)) {
            out.extend_from_slice(rgb);
        }
    }
    out
}

/// `{"coordinates": [[x, y, z], ...]}`, streamed to `out` in chunks.
///
/// Numbers are written as Python's `json` writes floats (`repr`: `1.0`,
/// `0.1`, `1e-05`), which serde_json (ryu: `1e-5`) does not; non-finite
/// values become `null` (Python would write the invalid `NaN`).
pub fn write_coordinates_json(cloud: &PointCloud, out: &mut impl Write) -> io::Result<()> {
    let mut json = JsonChunks::new(out);
    json.push("{\"coordinates\": ")?;
    json.triples(&cloud.points, |buf, v| push_json_float(buf, *v))?;
    json.push("}")?;
    json.finish()
}

/// [`write_coordinates_json`] of the PLY file at `path`, streamed from the
/// file: the same bytes, in the memory of a read buffer and a 64 KiB write
/// buffer. The header and the vertex count are checked before anything is
/// written (a truncated binary file fails there); a malformed ASCII row
/// fails when reached, after the rows before it were written. To answer
/// header errors before committing to a response, open the file with
/// [`PlyVertices::open`] and call [`write_coordinates_json_vertices`].
pub fn write_coordinates_json_file(path: &Path, out: &mut impl Write) -> Result<(), DataError> {
    write_coordinates_json_vertices(PlyVertices::open(path)?, out)
}

/// [`write_coordinates_json`] of the vertices still to read. Errors of
/// `out` are [`DataError::Io`].
pub fn write_coordinates_json_vertices<R: BufRead>(
    mut vertices: PlyVertices<R>,
    out: &mut impl Write,
) -> Result<(), DataError> {
    let written = |e| DataError::io("cannot write point-cloud coordinates", e);
    let mut json = JsonChunks::new(out);
    json.push("{\"coordinates\": [").map_err(written)?;
    let mut first = true;
    while let Some(v) = vertices.next_vertex()? {
        json.row(first, &v.point, |buf, v| push_json_float(buf, *v))
            .map_err(written)?;
        first = false;
    }
    json.push("]}").map_err(written)?;
    json.finish().map_err(written)
}

/// `{"triangles": [[i, j, k], ...], "vertices": [[x, y, z], ...]}`, keys
/// sorted as Flask sorts them.
pub fn write_mesh_json(mesh: &Mesh, out: &mut impl Write) -> io::Result<()> {
    let mut json = JsonChunks::new(out);
    json.push("{\"triangles\": ")?;
    json.triples(&mesh.triangles, |buf, i| {
        let _ = write!(buf, "{i}");
    })?;
    json.push(", \"vertices\": ")?;
    json.triples(&mesh.vertices, |buf, v| push_json_float(buf, *v))?;
    json.push("}")?;
    json.finish()
}

fn push_json_float(buf: &mut String, v: f64) {
    if v.is_finite() {
        push_python_float_repr(buf, v);
    } else {
        buf.push_str("null");
    }
}

/// Text gathered in a buffer and written out every 64 KiB.
struct JsonChunks<'a, W: Write> {
    out: &'a mut W,
    buf: String,
}

impl<'a, W: Write> JsonChunks<'a, W> {
    const CHUNK: usize = 64 * 1024;

    fn new(out: &'a mut W) -> Self {
        JsonChunks {
            out,
            buf: String::with_capacity(Self::CHUNK + 256),
        }
    }

    fn push(&mut self, text: &str) -> io::Result<()> {
        self.buf.push_str(text);
        self.flush_full()
    }

    fn flush_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::CHUNK {
            self.out.write_all(self.buf.as_bytes())?;
            self.buf.clear();
        }
        Ok(())
    }

    /// `[[a, b, c], ...]` in Python's `json.dumps` layout.
    fn triples<T>(&mut self, rows: &[[T; 3]], item: impl Fn(&mut String, &T)) -> io::Result<()> {
        self.buf.push('[');
        for (i, row) in rows.iter().enumerate() {
            self.row(i == 0, row, &item)?;
        }
        self.buf.push(']');
        Ok(())
    }

    /// One `[a, b, c]` of an array, after `, ` unless `first`.
    fn row<T>(
        &mut self,
        first: bool,
        row: &[T; 3],
        item: impl Fn(&mut String, &T),
    ) -> io::Result<()> {
        self.buf.push_str(if first { "[" } else { ", [" });
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                self.buf.push_str(", ");
            }
            item(&mut self.buf, v);
        }
        self.buf.push(']');
        self.flush_full()
    }

    fn finish(self) -> io::Result<()> {
        self.out.write_all(self.buf.as_bytes())?;
        self.out.flush()
    }
}
