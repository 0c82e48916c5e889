//! A PLY reader written for hostile input.
//!
//! Hand-written because no crate fits: `ply-rs` (last release 2020) and its
//! fork `ply-rs-bw` read every row into a map from property name to value
//! (an allocation per vertex, several times the file's size in memory), and
//! we need only a few properties, straight into `Vec<[f64; 3]>`. Here every
//! count from the header is checked against the bytes that remain before
//! anything is allocated, all reads are bounds-checked (a truncated file is
//! an error, never a panic), and binary values are decoded straight from
//! the read buffer. Files are read through a fixed 256 KiB buffer, never
//! whole: [`PlyVertices`] visits the vertices one at a time, so callers
//! that reduce a cloud (down-sampling, JSON) need memory for their output
//! only.
//!
//! Supported: `ascii`, `binary_little_endian`, `binary_big_endian`; every
//! numeric type under its old and new names; list properties; `comment` and
//! `obj_info` lines. Elements and properties that are not needed are skipped.

mod body;
mod header;

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::{Mesh, PointCloud};
use crate::DataError;
use body::{binary_row, decode, Body};
use header::{read_header, Element, Format, Kind, Scalar};

/// The read buffer of files: memory while reading, whatever their size.
const BUFFER: usize = 256 * 1024;

/// A point cloud from the bytes of a PLY file: `x y z` of the first `vertex`
/// element, plus `nx ny nz` and `red green blue` when all three are there.
pub fn parse_ply(data: &[u8]) -> Result<PointCloud, DataError> {
    PlyVertices::from_bytes(data)?.into_cloud()
}

/// The point cloud of a PLY file (see [`parse_ply`]), read through a
/// buffer: the file is never in memory, only the cloud.
pub fn read_ply(path: &Path) -> Result<PointCloud, DataError> {
    PlyVertices::open(path)?.into_cloud()
}

/// A triangle mesh from the bytes of a PLY file: vertices as in
/// [`parse_ply`], faces from the `face` element's `vertex_indices` (or
/// `vertex_index`) list, polygons fan-triangulated. No face element → no
/// triangles.
pub fn parse_ply_mesh(data: &[u8]) -> Result<Mesh, DataError> {
    mesh_from(data, data.len() as u64)
}

/// The mesh of a PLY file (see [`parse_ply_mesh`]), read through a buffer.
pub fn read_ply_mesh(path: &Path) -> Result<Mesh, DataError> {
    let (src, len) = open_file(path)?;
    mesh_from(src, len)
}

fn open_file(path: &Path) -> Result<(BufReader<File>, u64), DataError> {
    let cannot = |e| DataError::io("cannot read a PLY file", e);
    let file = File::open(path).map_err(cannot)?;
    let len = file.metadata().map_err(cannot)?.len();
    Ok((BufReader::with_capacity(BUFFER, file), len))
}

/// The header, and a cursor at the first body byte of a source of `len`
/// bytes in all.
fn start<R: BufRead>(mut src: R, len: u64) -> Result<(Vec<Element>, Body<R>), DataError> {
    let (header, header_len) = read_header(&mut src)?;
    let body = Body::new(src, len.saturating_sub(header_len), header.format);
    Ok((header.elements, body))
}

fn mesh_from<R: BufRead>(src: R, len: u64) -> Result<Mesh, DataError> {
    let (elements, mut body) = start(src, len)?;
    let vertex_count = elements
        .iter()
        .find(|e| e.name == "vertex")
        .map(|e| e.count)
        .ok_or_else(|| bad("no vertex element"))?;
    let wants_faces = elements.iter().any(|e| e.name == "face");
    let (mut vertices, mut triangles) = (None, None);
    for element in &elements {
        if element.name == "vertex" && vertices.is_none() {
            let layout = Layout::new(element, false, body.format())?;
            body.check_fits(element)?;
            let mut points = Vec::with_capacity(body.capacity(element));
            for _ in 0..element.count {
                points.push(layout.read(&mut body)?.point);
            }
            vertices = Some(points);
        } else if element.name == "face" && triangles.is_none() {
            triangles = Some(read_faces(&mut body, element, vertex_count)?);
        } else {
            body.skip(element)?;
        }
        if vertices.is_some() && (triangles.is_some() || !wants_faces) {
            break;
        }
    }
    Ok(Mesh {
        vertices: vertices.unwrap_or_default(),
        triangles: triangles.unwrap_or_default(),
    })
}

fn bad(reason: &str) -> DataError {
    DataError::invalid(format!("the file is not a readable PLY file: {reason}"))
}

fn truncated() -> DataError {
    bad("its data is truncated or malformed")
}

/// A read error: the end of the file where data was promised is a
/// truncated file (400); anything else is the disk's fault (500).
fn read_error(e: io::Error) -> DataError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        truncated()
    } else {
        DataError::io("cannot read a PLY file", e)
    }
}

/// One vertex of a PLY file: normal and colour when the file has them (all
/// three components).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vertex {
    pub point: [f64; 3],
    pub normal: Option<[f64; 3]>,
    pub color: Option<[u8; 3]>,
}

/// The vertices of a PLY file, one at a time, in file order: what
/// [`parse_ply`] reads, with the same checks, in the memory of a read
/// buffer. Opening reads the header and checks the vertex count against
/// the file's size (a hostile count fails there, before anything is read);
/// a truncated or malformed row is an error when reached (`InvalidInput`).
///
/// Also an iterator of `Result<Vertex, DataError>`, which ends after the
/// first error.
pub struct PlyVertices<R = BufReader<File>> {
    body: Body<R>,
    layout: Layout,
    count: u64,
    left: u64,
    capacity: usize,
}

impl PlyVertices<BufReader<File>> {
    /// The vertices of the PLY file at `path`, read through a 256 KiB
    /// buffer.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let (src, len) = open_file(path)?;
        Self::new(src, len)
    }
}

impl<'a> PlyVertices<&'a [u8]> {
    /// The vertices of a PLY file in memory.
    pub fn from_bytes(data: &'a [u8]) -> Result<Self, DataError> {
        Self::new(data, data.len() as u64)
    }
}

impl<R: BufRead> PlyVertices<R> {
    /// `src` holds `len` bytes in all (header included).
    fn new(src: R, len: u64) -> Result<Self, DataError> {
        let (elements, mut body) = start(src, len)?;
        for element in &elements {
            if element.name == "vertex" {
                let layout = Layout::new(element, true, body.format())?;
                body.check_fits(element)?;
                let capacity = body.capacity(element);
                return Ok(PlyVertices {
                    body,
                    layout,
                    count: element.count,
                    left: element.count,
                    capacity,
                });
            }
            body.skip(element)?;
        }
        Err(bad("no vertex element"))
    }

    /// The number of vertices the header announces (checked against the
    /// file's size).
    pub fn vertex_count(&self) -> u64 {
        self.count
    }

    /// A safe capacity for the vertices: their count, at most what the
    /// bytes left can hold.
    pub(crate) fn capacity_hint(&self) -> usize {
        self.capacity
    }

    /// Whether vertices have a normal (`nx ny nz`).
    pub fn has_normals(&self) -> bool {
        self.layout.has_normals
    }

    /// Whether vertices have a colour (`red green blue`).
    pub fn has_colors(&self) -> bool {
        self.layout.has_colors
    }

    /// The next vertex, `None` after the last.
    pub fn next_vertex(&mut self) -> Result<Option<Vertex>, DataError> {
        if self.left == 0 {
            return Ok(None);
        }
        match self.layout.read(&mut self.body) {
            Ok(v) => {
                self.left -= 1;
                Ok(Some(v))
            }
            Err(e) => {
                self.left = 0;
                Err(e)
            }
        }
    }

    /// All the vertices as a [`PointCloud`].
    pub fn into_cloud(mut self) -> Result<PointCloud, DataError> {
        let (has_normals, has_colors) = (self.has_normals(), self.has_colors());
        let or_none = |wanted: bool| if wanted { self.capacity } else { 0 };
        let mut points = Vec::with_capacity(self.capacity);
        let mut normals = Vec::with_capacity(or_none(has_normals));
        let mut colors = Vec::with_capacity(or_none(has_colors));
        while let Some(v) = self.next_vertex()? {
            points.push(v.point);
            normals.extend(v.normal);
            colors.extend(v.color);
        }
        Ok(PointCloud {
            points,
            normals: has_normals.then_some(normals),
            colors: has_colors.then_some(colors),
        })
    }
}

impl<R: BufRead> Iterator for PlyVertices<R> {
    type Item = Result<Vertex, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_vertex().transpose()
    }
}

/// Where a vertex property goes.
#[derive(Clone, Copy)]
enum Slot {
    Point(usize, Scalar),
    Normal(usize, Scalar),
    Color(usize, Scalar),
    Skip(Kind),
}

/// How a vertex row is read: a slot per property, and for binary rows
/// without lists, the row size and each property's offset in it.
struct Layout {
    slots: Vec<Slot>,
    has_normals: bool,
    has_colors: bool,
    fixed: Option<FixedRow>,
}

struct FixedRow {
    len: usize,
    big: bool,
    offsets: Vec<usize>,
}

impl Layout {
    fn new(element: &Element, extras: bool, format: Format) -> Result<Layout, DataError> {
        let slots = vertex_slots(element, extras)?;
        let fixed = (format != Format::Ascii && !element.has_lists()).then(|| {
            let mut offsets = Vec::with_capacity(slots.len());
            let mut len = 0;
            for p in &element.properties {
                offsets.push(len);
                if let Kind::Scalar(t) = p.kind {
                    len += t.size();
                }
            }
            debug_assert_eq!(len, binary_row(element));
            FixedRow {
                len,
                big: format == Format::BinaryBe,
                offsets,
            }
        });
        Ok(Layout {
            has_normals: slots.iter().any(|s| matches!(s, Slot::Normal(..))),
            has_colors: slots.iter().any(|s| matches!(s, Slot::Color(..))),
            slots,
            fixed,
        })
    }

    fn read<R: BufRead>(&self, body: &mut Body<R>) -> Result<Vertex, DataError> {
        let (mut p, mut n, mut c) = ([0.0; 3], [0.0; 3], [0u8; 3]);
        // Binary rows of fixed size: decoded in place when the buffer holds
        // the whole row (all but one row per buffer fill).
        let in_place = match &self.fixed {
            Some(fixed) => match body.row(fixed.len)? {
                Some(row) => {
                    for (slot, &at) in self.slots.iter().zip(&fixed.offsets) {
                        let value = |t: Scalar| decode(&row[at..], t, fixed.big);
                        match *slot {
                            Slot::Point(axis, t) => p[axis] = value(t),
                            Slot::Normal(axis, t) => n[axis] = value(t),
                            Slot::Color(channel, t) => c[channel] = color_byte(value(t), t),
                            Slot::Skip(_) => {}
                        }
                    }
                    body.consume_row(fixed.len);
                    true
                }
                None => false,
            },
            None => false,
        };
        if !in_place {
            for slot in &self.slots {
                match *slot {
                    Slot::Point(axis, t) => p[axis] = body.value(t)?,
                    Slot::Normal(axis, t) => n[axis] = body.value(t)?,
                    Slot::Color(channel, t) => c[channel] = color_byte(body.value(t)?, t),
                    Slot::Skip(kind) => body.skip_property(kind)?,
                }
            }
        }
        Ok(Vertex {
            point: p,
            normal: self.has_normals.then_some(n),
            color: self.has_colors.then_some(c),
        })
    }
}

fn vertex_slots(element: &Element, extras: bool) -> Result<Vec<Slot>, DataError> {
    let mut slots: Vec<Slot> = element
        .properties
        .iter()
        .map(|p| Slot::Skip(p.kind))
        .collect();
    let find_all = |names: [&str; 3]| -> Option<[(usize, Scalar); 3]> {
        Some([
            element.scalar(names[0])?,
            element.scalar(names[1])?,
            element.scalar(names[2])?,
        ])
    };
    let mut assign = |found: [(usize, Scalar); 3], make: fn(usize, Scalar) -> Slot| {
        for (axis, (i, t)) in found.into_iter().enumerate() {
            slots[i] = make(axis, t);
        }
    };
    let xyz = find_all(["x", "y", "z"]).ok_or_else(|| bad("its vertices lack x, y or z"))?;
    assign(xyz, Slot::Point);
    if extras {
        if let Some(normals) = find_all(["nx", "ny", "nz"]) {
            assign(normals, Slot::Normal);
        }
        if let Some(colors) = find_all(["red", "green", "blue"]) {
            assign(colors, Slot::Color);
        }
    }
    Ok(slots)
}

/// Integer colours are 0..=255 (clamped); floating-point ones 0..=1.
fn color_byte(v: f64, t: Scalar) -> u8 {
    if t.is_float() {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    } else {
        v.clamp(0.0, 255.0) as u8
    }
}

/// Triangles of the face element; indices must name existing vertices.
fn read_faces<R: BufRead>(
    body: &mut Body<R>,
    element: &Element,
    vertex_count: u64,
) -> Result<Vec<[u32; 3]>, DataError> {
    let list = element.properties.iter().position(|p| {
        matches!(p.kind, Kind::List { .. })
            && (p.name == "vertex_indices" || p.name == "vertex_index")
    });
    let Some(list) = list else {
        body.skip(element)?;
        return Ok(Vec::new());
    };
    body.check_fits(element)?;
    let mut triangles = Vec::with_capacity(body.capacity(element));
    let mut face: Vec<u32> = Vec::new();
    for _ in 0..element.count {
        for (i, p) in element.properties.iter().enumerate() {
            match p.kind {
                Kind::List { count, item } if i == list => {
                    let n = body.list_len(count)?;
                    face.clear();
                    for _ in 0..n {
                        face.push(vertex_index(body.value(item)?, vertex_count)?);
                    }
                    fan(&face, &mut triangles);
                }
                kind => body.skip_property(kind)?,
            }
        }
    }
    Ok(triangles)
}

fn vertex_index(v: f64, vertex_count: u64) -> Result<u32, DataError> {
    if v >= 0.0 && v.fract() == 0.0 && v < vertex_count as f64 && v <= f64::from(u32::MAX) {
        Ok(v as u32)
    } else {
        Err(bad("a face names a vertex that does not exist"))
    }
}

/// (v0, v_i, v_i+1): open3d's ear clipping gives the same triangles for
/// convex polygons, the faces meshing tools write. Faces of fewer than three
/// vertices add nothing, as in open3d.
fn fan(face: &[u32], out: &mut Vec<[u32; 3]>) {
    if let Some((&first, rest)) = face.split_first() {
        out.extend(rest.windows(2).map(|w| [first, w[0], w[1]]));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Files of every encoding, with skipped elements, lists and a face
    /// element, read through buffers of 1 to 64 bytes: every value and
    /// token straddles a refill somewhere; results equal reading from one
    /// slice.
    #[test]
    fn tiny_buffers_read_alike() {
        let header = |format: &str| {
            format!(
                "ply\nformat {format} 1.0\nelement junk 2\nproperty list uchar short l\n\
                 property double d\nelement vertex 5\nproperty float x\nproperty short y\n\
                 property double z\nproperty int skip\nproperty float nx\nproperty float ny\n\
                 property float nz\nproperty uchar red\nproperty uchar green\n\
                 property uchar blue\nelement face 2\nproperty list uchar int vertex_indices\n\
                 end_header\n"
            )
            .into_bytes()
        };
        let mut files = Vec::new();
        let mut ascii = header("ascii");
        ascii.extend_from_slice(
            b"2 7 8 1.5\n0 -0.25\n1.5 -2 3e0 7 0 0 1 255 128 0\n  0 0 0 -1 0 1 0 0 0 255\n\
              4.5 5 6 1 1 0 0 10 20 30\n-1e-300 32767 1e300 0 0.5 0.5 0.5 1 2 3\n\
              7 8 9 10 0 0 0 4 5 6\n3 0 1 2\n4 1 2 3 4\n",
        );
        files.push(ascii);
        for format in ["binary_little_endian", "binary_big_endian"] {
            let mut f = header(format);
            // junk: a 2-list and a double, then an empty list and a double
            f.extend_from_slice(&[2, 0, 7, 0, 8]);
            f.extend_from_slice(&[0x3f; 8]);
            f.push(0);
            f.extend_from_slice(&[0x40; 8]);
            // 5 rows of 4 + 2 + 8 + 4 + 12 + 3 bytes, then faces
            f.extend((0..5 * 33).map(|i: u32| (i * 113 % 256) as u8));
            // two triangles (0, 0, 0): the same bytes in both byte orders
            for _ in 0..2 {
                f.push(3);
                f.extend_from_slice(&[0; 12]);
            }
            files.push(f);
        }
        for file in files {
            let len = file.len() as u64;
            let whole = parse_ply(&file).unwrap();
            let mesh = parse_ply_mesh(&file).unwrap();
            for cap in 1..=64 {
                let src = BufReader::with_capacity(cap, file.as_slice());
                let cloud = PlyVertices::new(src, len).unwrap().into_cloud().unwrap();
                let bits = |c: &PointCloud| -> Vec<u64> {
                    c.points.iter().flatten().map(|v| v.to_bits()).collect()
                };
                assert_eq!(bits(&cloud), bits(&whole), "buffer {cap}");
                assert_eq!(cloud.normals, whole.normals, "buffer {cap}");
                assert_eq!(cloud.colors, whole.colors, "buffer {cap}");
                let src = BufReader::with_capacity(cap, file.as_slice());
                assert_eq!(mesh_from(src, len).unwrap().triangles, mesh.triangles);
                // Truncated files fail alike whatever the buffer.
                for cut in [file.len() - 20, file.len() - 41] {
                    let part = &file[..cut];
                    let src = BufReader::with_capacity(cap, part);
                    let got = PlyVertices::new(src, cut as u64).and_then(PlyVertices::into_cloud);
                    let want = parse_ply(part);
                    assert_eq!(
                        got.map_err(|e| e.to_string()).map(|c| c.colors),
                        want.map_err(|e| e.to_string()).map(|c| c.colors),
                        "buffer {cap}, cut {cut}"
                    );
                }
            }
        }
    }

    /// A token longer than the limit is refused instead of growing a buffer.
    #[test]
    fn endless_ascii_token() {
        let mut file = b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n\
                         property float y\nproperty float z\nend_header\n"
            .to_vec();
        file.extend(std::iter::repeat_n(b'1', 100_000));
        file.extend_from_slice(b" 2 3\n");
        assert!(matches!(parse_ply(&file), Err(DataError::InvalidInput(_))));
    }
}
