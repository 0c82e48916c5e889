//! The pipeline's outputs derived from the plant model: PLY point cloud and
//! mesh, curve skeleton, tree graph, angles and internodes, COLMAP files.

use std::f64::consts::TAU;

use rand::rngs::StdRng;
use serde_json::{json, Value};

use super::plant::{add, norm, perpendiculars, scale, sub, unit, Plant, Shape, V3};
use super::render::{Camera, Sample, FOCAL, HEIGHT, WIDTH};

/// Rounds to a micrometre, to keep the JSON short.
fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn point(p: V3) -> Value {
    json!([r3(p[0]), r3(p[1]), r3(p[2])])
}

/// A binary little-endian PLY of coloured points: float x y z, uchar rgb.
pub(super) fn point_cloud_ply(samples: &[Sample], rng: &mut StdRng) -> Vec<u8> {
    let header = format!(
        "ply\nformat binary_little_endian 1.0\ncomment plantdb-auth demo point cloud\n\
         element vertex {}\nproperty float x\nproperty float y\nproperty float z\n\
         property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n",
        samples.len()
    );
    let mut out = header.into_bytes();
    out.reserve(samples.len() * 15);
    for s in samples {
        // A reconstruction is never exact: a little noise.
        for c in s.p {
            let noisy = c + super::plant::normal(rng, 0.15);
            out.extend_from_slice(&(noisy as f32).to_le_bytes());
        }
        out.extend_from_slice(&s.color);
    }
    out
}

/// Vertices and triangles of the plant's surface.
#[derive(Default)]
struct Mesh {
    vertices: Vec<V3>,
    faces: Vec<[u32; 3]>,
}

impl Mesh {
    fn vertex(&mut self, p: V3) -> u32 {
        self.vertices.push(p);
        (self.vertices.len() - 1) as u32
    }

    /// Quads between consecutive rows of `width` vertices starting at `first`.
    fn grid(&mut self, first: u32, rows: usize, width: usize, closed: bool) {
        let w = width as u32;
        let cols = if closed { w } else { w - 1 };
        for r in 0..rows.saturating_sub(1) as u32 {
            for c in 0..cols {
                let a = first + r * w + c;
                let b = first + r * w + (c + 1) % w;
                let (d, e) = (a + w, b + w);
                self.faces.push([a, b, e]);
                self.faces.push([a, e, d]);
            }
        }
    }

    fn tube(&mut self, axis: &[V3], radius: f64, sides: usize) {
        let first = self.vertices.len() as u32;
        for (k, &p) in axis.iter().enumerate() {
            let next = axis.get(k + 1).copied().unwrap_or(p);
            let prev = if k > 0 { axis[k - 1] } else { p };
            let (n1, n2) = perpendiculars(unit(sub(next, prev)));
            for j in 0..sides {
                let a = TAU * j as f64 / sides as f64;
                self.vertex(add(
                    p,
                    scale(add(scale(n1, a.cos()), scale(n2, a.sin())), radius),
                ));
            }
        }
        self.grid(first, axis.len(), sides, true);
    }

    fn blade(&mut self, axis: &[V3], half_width: f64) {
        let first = self.vertices.len() as u32;
        let n = axis.len();
        for (k, &p) in axis.iter().enumerate() {
            let t = unit(sub(axis[(k + 1).min(n - 1)], axis[k.saturating_sub(1)]));
            let side = unit(super::plant::cross(t, [0.0, 0.0, 1.0]));
            let u = k as f64 / (n - 1).max(1) as f64;
            // Never quite zero: no degenerate triangles at the ends.
            let w = half_width * (std::f64::consts::PI * u).sin().powf(0.7).max(0.08);
            for v in [-1.0, 0.0, 1.0] {
                self.vertex(add(p, scale(side, v * w)));
            }
        }
        self.grid(first, n, 3, false);
    }

    fn ball(&mut self, center: V3, r: f64) {
        let first = self.vertices.len() as u32;
        for d in [
            [1.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, -1.0],
        ] {
            self.vertex(add(center, scale(d, r)));
        }
        for [a, b, c] in [
            [0, 2, 4],
            [2, 1, 4],
            [1, 3, 4],
            [3, 0, 4],
            [2, 0, 5],
            [1, 2, 5],
            [3, 1, 5],
            [0, 3, 5],
        ] {
            self.faces.push([first + a, first + b, first + c]);
        }
    }
}

/// A binary little-endian PLY mesh: float x y z, `list uchar int vertex_indices`.
pub(super) fn mesh_ply(plant: &Plant) -> Vec<u8> {
    let mut mesh = Mesh::default();
    for part in plant.parts() {
        match part.shape {
            Shape::Tube(r) => mesh.tube(&part.axis, r, if r > 2.0 { 12 } else { 6 }),
            Shape::Blade(w) => mesh.blade(&part.axis, w),
            Shape::Ball(r) => mesh.ball(part.axis.first().copied().unwrap_or_default(), r),
        }
    }
    let header = format!(
        "ply\nformat binary_little_endian 1.0\ncomment plantdb-auth demo mesh\n\
         element vertex {}\nproperty float x\nproperty float y\nproperty float z\n\
         element face {}\nproperty list uchar int vertex_indices\nend_header\n",
        mesh.vertices.len(),
        mesh.faces.len()
    );
    let mut out = header.into_bytes();
    for v in &mesh.vertices {
        for c in v {
            out.extend_from_slice(&(*c as f32).to_le_bytes());
        }
    }
    for f in &mesh.faces {
        out.push(3);
        for i in f {
            out.extend_from_slice(&(*i as i32).to_le_bytes());
        }
    }
    out
}

/// `{"points": [[x, y, z], ...], "lines": [[i, j], ...]}`: the stem and
/// each organ's main axis, attached at its node.
pub(super) fn skeleton(plant: &Plant) -> Value {
    let mut points: Vec<V3> = plant.stem.axis.clone();
    let mut lines: Vec<[usize; 2]> = (1..points.len()).map(|i| [i - 1, i]).collect();
    for organ in &plant.organs {
        let Some(main) = organ.parts.first() else {
            continue;
        };
        let mut prev = organ.node_index;
        for &p in main.axis.iter().skip(1) {
            points.push(p);
            lines.push([prev, points.len() - 1]);
            prev = points.len() - 1;
        }
    }
    json!({
        "points": points.into_iter().map(point).collect::<Vec<_>>(),
        "lines": lines,
    })
}

/// The automated measures (`AnglesAndInternodes.json`, with measurement
/// noise) and manual ones (`measures.json`) of the measured organs.
pub(super) fn angles_and_internodes(plant: &Plant, rng: &mut StdRng) -> (Value, Value) {
    let organs: Vec<_> = plant.measured().collect();
    let truth: Vec<(f64, f64)> = organs
        .windows(2)
        .map(|w| {
            (
                (w[1].azimuth - w[0].azimuth).rem_euclid(TAU),
                norm(sub(w[1].node, w[0].node)),
            )
        })
        .collect();
    let noisy = |x: f64, sigma: f64, rng: &mut StdRng| x + super::plant::normal(rng, sigma);
    let angles: Vec<f64> = truth
        .iter()
        .map(|t| r3(noisy(t.0, 0.06, rng).rem_euclid(TAU)))
        .collect();
    let internodes: Vec<f64> = truth
        .iter()
        .map(|t| r3(noisy(t.1, 0.6, rng).max(0.5)))
        .collect();
    let fruit_points: Vec<Value> = organs
        .iter()
        .filter_map(|o| o.parts.first())
        .map(|p| Value::Array(p.axis.iter().map(|&q| point(q)).collect()))
        .collect();
    let automated =
        json!({"angles": angles, "internodes": internodes, "fruit_points": fruit_points});
    let manual = json!({
        "angles": truth.iter().map(|t| (t.0 * 100.0).round() / 100.0).collect::<Vec<_>>(),
        "internodes": truth.iter().map(|t| (t.1 * 10.0).round() / 10.0).collect::<Vec<_>>(),
    });
    (automated, manual)
}

/// A JSON stand-in for plant-3d-vision's `TreeGraph.p` (a pickled networkx
/// graph, which only Python can read): the same tree as nodes and edges.
pub(super) fn tree_graph(plant: &Plant) -> Value {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (i, &p) in plant.stem.axis.iter().enumerate() {
        nodes.push(json!({"id": i, "type": "stem", "position": point(p)}));
        if i > 0 {
            edges.push([i - 1, i]);
        }
    }
    for (k, organ) in plant.organs.iter().enumerate() {
        let tip = organ
            .parts
            .first()
            .and_then(|p| p.axis.last())
            .copied()
            .unwrap_or(organ.node);
        let kind = if organ.measured { "organ" } else { "leaf" };
        nodes.push(json!({"id": nodes.len(), "type": kind, "organ": k, "position": point(tip)}));
        edges.push([organ.node_index, nodes.len() - 1]);
    }
    json!({
        "format": "plantdb-auth demo tree graph (JSON stand-in for TreeGraph.p, a pickled networkx graph)",
        "nodes": nodes,
        "edges": edges,
    })
}

/// The OPENCV camera model shared by every image.
pub(super) fn camera_model() -> Value {
    let (cx, cy) = (f64::from(WIDTH) / 2.0, f64::from(HEIGHT) / 2.0);
    json!({"id": 1, "model": "OPENCV", "width": WIDTH, "height": HEIGHT,
           "params": [FOCAL, FOCAL, cx, cy, 0.0, 0.0, 0.0, 0.0]})
}

/// An image's file metadata, as the pipeline leaves it.
pub(super) fn image_metadata(index: usize, camera: &Camera) -> Value {
    let c = camera;
    json!({
        "channel": "rgb",
        "shot_id": format!("{index:06}"),
        "approximate_pose": [r3(c.eye[0]), r3(c.eye[1]), r3(c.eye[2]), r3(c.pan), r3(c.tilt)],
        "colmap_camera": {
            "camera_model": camera_model(),
            "tvec": c.tvec.map(r3),
            "rotmat": c.rotmat.map(|row| row.map(|x| (x * 1e9).round() / 1e9)),
        },
    })
}

/// COLMAP's `cameras`, `images` and `points3D` as JSON (plant-3d-vision's
/// Colmap task outputs), `points3D` a sparse subset of the samples.
pub(super) fn colmap(cameras: &[Camera], names: &[String], samples: &[Sample]) -> [Value; 3] {
    let cams = json!({"1": camera_model()});
    let images: serde_json::Map<String, Value> = cameras
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (c, name))| {
            let id = i + 1;
            let doc = json!({"id": id, "qvec": c.qvec().map(|x| (x * 1e9).round() / 1e9),
                             "tvec": c.tvec.map(r3), "camera_id": 1, "name": name});
            (id.to_string(), doc)
        })
        .collect();
    let step = (samples.len() / 400).max(1);
    let points: serde_json::Map<String, Value> = samples
        .iter()
        .step_by(step)
        .enumerate()
        .map(|(i, s)| {
            let seen: Vec<usize> = cameras
                .iter()
                .enumerate()
                .filter(|(_, c)| c.project(s.p).is_some_and(|(u, v, _)| inside(u, v)))
                .map(|(k, _)| k + 1)
                .collect();
            let doc = json!({"id": i + 1, "xyz": point(s.p), "rgb": s.color, "error": 0.5, "image_ids": seen});
            ((i + 1).to_string(), doc)
        })
        .collect();
    [cams, Value::Object(images), Value::Object(points)]
}

fn inside(u: f64, v: f64) -> bool {
    (0.0..f64::from(WIDTH)).contains(&u) && (0.0..f64::from(HEIGHT)).contains(&v)
}
