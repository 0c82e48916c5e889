//! A procedural plant: a stem, organs along it (siliques or compound
//! leaves), an Arabidopsis rosette, flowers. Everything else (images,
//! point cloud, mesh, skeleton, measures) is derived from this one model,
//! so the demo files agree with each other.

use std::f64::consts::{PI, TAU};

use rand::rngs::StdRng;
use rand::Rng;

/// A point or vector in millimetres, in the scanner's (COLMAP) frame.
pub(super) type V3 = [f64; 3];

pub(super) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub(super) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(super) fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

pub(super) fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(super) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(super) fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

pub(super) fn unit(a: V3) -> V3 {
    let n = norm(a);
    if n > 0.0 {
        scale(a, 1.0 / n)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// Two unit vectors perpendicular to `dir` and to each other.
pub(super) fn perpendiculars(dir: V3) -> (V3, V3) {
    let helper = if dir[2].abs() < 0.9 {
        [0.0, 0.0, 1.0]
    } else {
        [1.0, 0.0, 0.0]
    };
    let n1 = unit(cross(dir, helper));
    (n1, cross(dir, n1))
}

/// The golden angle, the ideal divergence of successive organs.
const GOLDEN: f64 = 137.5 * PI / 180.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Species {
    Arabidopsis,
    Tomato,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    /// A cylinder of this radius around the axis.
    Tube(f64),
    /// A flat leaf blade of this greatest half-width along the axis.
    Blade(f64),
    /// A sphere of this radius at the axis' first point.
    Ball(f64),
}

/// One surface of the plant: an axis polyline and a shape around it.
#[derive(Debug, Clone)]
pub(super) struct Part {
    pub axis: Vec<V3>,
    pub shape: Shape,
    pub color: [u8; 3],
}

/// An organ attached to the stem; `parts[0]` is its main axis.
#[derive(Debug, Clone)]
pub(super) struct Organ {
    pub node: V3,
    /// The closest point of the stem polyline.
    pub node_index: usize,
    /// Unwrapped azimuth (radians), increasing along the stem.
    pub azimuth: f64,
    /// Part of the phyllotaxis measured by `AnglesAndInternodes`.
    pub measured: bool,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(super) struct Plant {
    pub stem: Part,
    pub organs: Vec<Organ>,
    /// Flowers and other parts not attached to a node.
    pub extras: Vec<Part>,
}

impl Plant {
    /// Every surface of the plant.
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        std::iter::once(&self.stem)
            .chain(self.organs.iter().flat_map(|o| o.parts.iter()))
            .chain(self.extras.iter())
    }

    /// The measured organs, bottom to top.
    pub fn measured(&self) -> impl Iterator<Item = &Organ> {
        self.organs.iter().filter(|o| o.measured)
    }
}

/// A normally distributed value (Box-Muller).
pub(super) fn normal(rng: &mut StdRng, sigma: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    sigma * (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A polyline of `steps` segments from `start`, heading at `azimuth`, its
/// elevation going from `e0` to `e1` (radians above the horizontal).
fn curve(start: V3, azimuth: f64, e0: f64, e1: f64, length: f64, steps: usize) -> Vec<V3> {
    let mut points = vec![start];
    let mut p = start;
    for k in 0..steps {
        let e = e0 + (e1 - e0) * (k as f64 + 0.5) / steps as f64;
        let dir = [e.cos() * azimuth.cos(), e.cos() * azimuth.sin(), e.sin()];
        p = add(p, scale(dir, length / steps as f64));
        points.push(p);
    }
    points
}

/// Grows a plant of `species` standing at `base` (the soil surface).
pub(super) fn grow(species: Species, base: V3, rng: &mut StdRng) -> Plant {
    match species {
        Species::Arabidopsis => arabidopsis(base, rng),
        Species::Tomato => tomato(base, rng),
    }
}

fn stem(base: V3, height: f64, radius: f64, color: [u8; 3], rng: &mut StdRng) -> Part {
    let lean = [rng.random_range(-6.0..6.0), rng.random_range(-6.0..6.0)];
    let wobble = rng.random_range(0.0..TAU);
    let steps = 28;
    let axis = (0..=steps)
        .map(|k| {
            let t = k as f64 / steps as f64;
            let w = 1.5 * (t * 9.0 + wobble).sin() * t;
            [
                base[0] + lean[0] * t * t + w,
                base[1] + lean[1] * t * t,
                base[2] + height * t,
            ]
        })
        .collect();
    Part {
        axis,
        shape: Shape::Tube(radius),
        color,
    }
}

/// Node heights above the base: random internodes scaled to `[first, last]`.
fn node_heights(n: usize, first: f64, last: f64, rng: &mut StdRng) -> Vec<f64> {
    let gaps: Vec<f64> = (1..n).map(|_| rng.random_range(0.6..1.4)).collect();
    let total: f64 = gaps.iter().sum();
    let mut h = first;
    let mut heights = vec![first];
    for g in gaps {
        h += g / total * (last - first);
        heights.push(h);
    }
    heights
}

/// The stem point closest to height `h` above the base, and its index.
fn node_on(stem: &Part, h: f64) -> (V3, usize) {
    let base = stem.axis[0][2];
    let index = stem
        .axis
        .iter()
        .enumerate()
        .min_by(|a, b| {
            let da = (a.1[2] - base - h).abs();
            let db = (b.1[2] - base - h).abs();
            da.total_cmp(&db)
        })
        .map(|(i, _)| i)
        .unwrap_or(0);
    (stem.axis[index], index)
}

fn arabidopsis(base: V3, rng: &mut StdRng) -> Plant {
    let height = rng.random_range(130.0..148.0);
    let stem = stem(base, height, 1.3, [88, 138, 58], rng);
    let mut organs = Vec::new();
    let mut azimuth = rng.random_range(0.0..TAU);
    for i in 0..9 {
        azimuth += GOLDEN + normal(rng, 0.12);
        let length = 24.0 + 16.0 * (1.0 - i as f64 / 9.0).sqrt() + rng.random_range(-3.0..3.0);
        let start = add(base, [0.0, 0.0, 1.5]);
        let petiole = curve(start, azimuth, 0.45, 0.25, length * 0.3, 3);
        let blade_start = *petiole.last().unwrap_or(&start);
        let blade = curve(blade_start, azimuth, 0.25, -0.2, length * 0.7, 8);
        organs.push(Organ {
            node: start,
            node_index: 0,
            azimuth,
            measured: false,
            parts: vec![
                Part {
                    axis: petiole,
                    shape: Shape::Tube(0.8),
                    color: [52, 112, 44],
                },
                Part {
                    axis: blade,
                    shape: Shape::Blade(rng.random_range(5.5..7.5)),
                    color: [46, 108, 40],
                },
            ],
        });
    }
    let n = rng.random_range(9..=11);
    let heights = node_heights(n, 42.0, height - 14.0, rng);
    azimuth = rng.random_range(0.0..TAU);
    for h in heights {
        azimuth += GOLDEN + normal(rng, 0.2);
        let (node, node_index) = node_on(&stem, h);
        let length = rng.random_range(12.0..17.0);
        let axis = curve(node, azimuth, 0.8, 1.15, length, 6);
        organs.push(Organ {
            node,
            node_index,
            azimuth,
            measured: true,
            parts: vec![Part {
                axis,
                shape: Shape::Tube(0.85),
                color: [128, 172, 78],
            }],
        });
    }
    let top = *stem.axis.last().unwrap_or(&base);
    let extras = (0..6)
        .map(|k| {
            let a = k as f64 * GOLDEN;
            let center = add(top, [3.0 * a.cos(), 3.0 * a.sin(), 1.0 + (k % 3) as f64]);
            Part {
                axis: vec![center],
                shape: Shape::Ball(1.6),
                color: [238, 236, 210],
            }
        })
        .collect();
    Plant {
        stem,
        organs,
        extras,
    }
}

fn tomato(base: V3, rng: &mut StdRng) -> Plant {
    let height = rng.random_range(138.0..155.0);
    let stem = stem(base, height, 2.8, [78, 126, 52], rng);
    let n = 7;
    let heights = node_heights(n, 16.0, height - 10.0, rng);
    let mut organs = Vec::new();
    let mut azimuth = rng.random_range(0.0..TAU);
    for (i, h) in heights.into_iter().enumerate() {
        azimuth += GOLDEN + normal(rng, 0.2);
        let (node, node_index) = node_on(&stem, h);
        let size = 1.0 - 0.45 * i as f64 / (n - 1) as f64;
        organs.push(Organ {
            node,
            node_index,
            azimuth,
            measured: true,
            parts: compound_leaf(node, azimuth, size, rng),
        });
    }
    // The apical bud closes the top of the stem.
    let top = *stem.axis.last().unwrap_or(&base);
    let bud = Part {
        axis: vec![top],
        shape: Shape::Ball(3.2),
        color: [96, 140, 60],
    };
    Plant {
        stem,
        organs,
        extras: vec![bud],
    }
}

/// A rachis with three pairs of leaflets and a terminal one.
fn compound_leaf(node: V3, azimuth: f64, size: f64, rng: &mut StdRng) -> Vec<Part> {
    let leaflet_color = [50, 118, 44];
    let rachis = curve(node, azimuth, 0.75, -0.2, 62.0 * size, 8);
    let mut parts = Vec::new();
    for (k, &at) in [2usize, 4, 6].iter().enumerate() {
        let start = rachis[at];
        for side in [-1.0, 1.0] {
            let a = azimuth + side * rng.random_range(0.9..1.3);
            let length = (15.0 + 3.0 * k as f64) * size;
            let axis = curve(start, a, 0.1, -0.25, length, 5);
            parts.push(Part {
                axis,
                shape: Shape::Blade(6.5 * size + 1.5),
                color: leaflet_color,
            });
        }
    }
    let tip = *rachis.last().unwrap_or(&node);
    let terminal = curve(tip, azimuth, -0.2, -0.45, 22.0 * size, 5);
    parts.insert(
        0,
        Part {
            axis: rachis,
            shape: Shape::Tube(1.1),
            color: [84, 132, 54],
        },
    );
    parts.push(Part {
        axis: terminal,
        shape: Shape::Blade(7.5 * size + 1.5),
        color: leaflet_color,
    });
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plants_are_deterministic_and_stand_on_their_base() {
        for species in [Species::Arabidopsis, Species::Tomato] {
            let a = grow(
                species,
                [375.0, 350.0, -298.0],
                &mut StdRng::seed_from_u64(7),
            );
            let b = grow(
                species,
                [375.0, 350.0, -298.0],
                &mut StdRng::seed_from_u64(7),
            );
            assert_eq!(a.stem.axis, b.stem.axis);
            assert_eq!(a.stem.axis[0], [375.0, 350.0, -298.0]);
            assert!(a.measured().count() >= 7);
            for part in a.parts() {
                for p in &part.axis {
                    assert!(p[2] >= -300.0 && p[2] < -130.0, "{species:?} {p:?}");
                }
            }
        }
    }
}
