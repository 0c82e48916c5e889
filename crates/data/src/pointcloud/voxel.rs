//! [`voxel_down_sample`](super::voxel_down_sample) of a file, streamed: the
//! memory of the occupied voxels, not of the points.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;

use super::{add, read_ply, PlyVertices, PointCloud, Vertex};
use crate::DataError;

/// [`voxel_down_sample`](super::voxel_down_sample) of the PLY file at
/// `path`, in memory proportional to the output: two passes over the file
/// through a read buffer, the first for the min bound, the second adding
/// each point to its voxel's running sums. The sums are in file order, the
/// order `voxel_down_sample` sums in: the result is bit-identical to
/// `voxel_down_sample(&read_ply(path)?, voxel)` (a test checks it). A voxel
/// size that is not finite and positive returns the whole cloud
/// ([`read_ply`]).
///
/// Memory: about 110 bytes an occupied voxel with normals and colours (the
/// voxel index, the sums, the hash slots), 60 without; the preview of a
/// plant is a few tens of thousands of voxels. The worst case, a voxel
/// size far below the point spacing, is one voxel a point, still less than
/// reading the cloud.
pub fn voxel_down_sample_file(path: &Path, voxel: f64) -> Result<PointCloud, DataError> {
    if !(voxel.is_finite() && voxel > 0.0) {
        return read_ply(path);
    }
    let mut origin = [f64::INFINITY; 3];
    let mut vertices = PlyVertices::open(path)?;
    while let Some(v) = vertices.next_vertex()? {
        if v.point.iter().all(|c| c.is_finite()) {
            for (min, c) in origin.iter_mut().zip(v.point) {
                *min = min.min(c);
            }
        }
    }
    let origin = origin.map(|m| m - voxel * 0.5);

    let mut vertices = PlyVertices::open(path)?;
    // Normals and colours count only when there is one per point and a
    // point at all (as in `voxel_down_sample`).
    let any = vertices.vertex_count() > 0;
    let mut sums = VoxelSums::new(vertices.has_normals() && any, vertices.has_colors() && any);
    while let Some(v) = vertices.next_vertex()? {
        let p = v.point;
        if p.iter().all(|c| c.is_finite()) {
            // `as` saturates: absurd extents still give a well-defined index.
            sums.add(
                [0, 1, 2].map(|a| ((p[a] - origin[a]) / voxel).floor() as i64),
                &v,
            )?;
        }
    }
    Ok(sums.into_cloud())
}

/// The occupied voxels in order of their first point: index and running
/// sums, a vector per quantity (normals and colours only when counted),
/// and a hash table from voxel index to place.
struct VoxelSums {
    keys: Vec<[i64; 3]>,
    counts: Vec<u64>,
    points: Vec<[f64; 3]>,
    normals: Option<Vec<[f64; 3]>>,
    colors: Option<Vec<[f64; 3]>>,
    table: PlaceTable,
}

impl VoxelSums {
    fn new(normals: bool, colors: bool) -> Self {
        VoxelSums {
            keys: Vec::new(),
            counts: Vec::new(),
            points: Vec::new(),
            normals: normals.then(Vec::new),
            colors: colors.then(Vec::new),
            table: PlaceTable::new(),
        }
    }

    fn add(&mut self, key: [i64; 3], v: &Vertex) -> Result<(), DataError> {
        let at = match self.table.find(key, &self.keys) {
            Ok(at) => at,
            Err(slot) => {
                let at = self.keys.len();
                let place = u32::try_from(at)
                    .ok()
                    .filter(|p| *p != EMPTY)
                    .ok_or_else(|| DataError::TooLarge("too many voxels".into()))?;
                self.table.slots[slot] = place;
                self.keys.push(key);
                self.counts.push(0);
                self.points.push([0.0; 3]);
                for sums in [&mut self.normals, &mut self.colors].into_iter().flatten() {
                    sums.push([0.0; 3]);
                }
                self.table.grow_if_full(&self.keys);
                at
            }
        };
        self.counts[at] += 1;
        add(&mut self.points[at], &v.point);
        if let (Some(sums), Some(normal)) = (&mut self.normals, v.normal) {
            add(&mut sums[at], &normal);
        }
        if let (Some(sums), Some(color)) = (&mut self.colors, v.color) {
            add(&mut sums[at], &color.map(|c| f64::from(c) / 255.0));
        }
        Ok(())
    }

    /// The means in voxel-index order, computed as `voxel_down_sample`
    /// computes them, in place where the types allow.
    fn into_cloud(self) -> PointCloud {
        let VoxelSums {
            keys,
            counts,
            mut points,
            normals,
            colors,
            table,
        } = self;
        drop(table);
        // Keys are distinct: the unstable sort is deterministic.
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by_key(|&i| keys[i as usize]);
        drop(keys);
        let colors = colors.map(|sums| {
            let means = sums.iter().zip(&counts).map(|(sum, &count)| {
                sum.map(|s| ((s / count as f64).clamp(0.0, 1.0) * 255.0).round() as u8)
            });
            in_order(&order, &means.collect::<Vec<_>>())
        });
        for (p, &count) in points.iter_mut().zip(&counts) {
            *p = p.map(|s| s / count as f64);
        }
        drop(counts);
        let points = in_order(&order, &points);
        let normals = normals.map(|mut sums| {
            for total in &mut sums {
                // Eigen's `normalized()` of the sum; a zero sum stays zero.
                let norm = total.iter().map(|c| c * c).sum::<f64>().sqrt();
                if norm > 0.0 {
                    *total = total.map(|c| c / norm);
                }
            }
            in_order(&order, &sums)
        });
        PointCloud {
            points,
            normals,
            colors,
        }
    }
}

fn in_order<T: Copy>(order: &[u32], values: &[T]) -> Vec<T> {
    order.iter().map(|&i| values[i as usize]).collect()
}

const EMPTY: u32 = u32::MAX;

/// Voxel index → place in `keys`: open addressing, linear probing, 4-byte
/// slots, at most half full (so 8 to 16 bytes a voxel). Hashed with std's
/// `RandomState` (SipHash-1-3 under a random key per table): crafted
/// coordinates cannot be aimed at one probe run, the expected probe count
/// stays constant. The keys live in `keys`, not in the table.
struct PlaceTable {
    slots: Vec<u32>,
    hasher: RandomState,
}

impl PlaceTable {
    fn new() -> Self {
        PlaceTable {
            slots: vec![EMPTY; 1024],
            hasher: RandomState::new(),
        }
    }

    fn start(&self, key: [i64; 3]) -> usize {
        // The slot count is a power of two: the low bits of the hash.
        self.hasher.hash_one(key) as usize & (self.slots.len() - 1)
    }

    /// `Ok(place)` of `key`, or `Err(slot)`: the empty slot to take.
    fn find(&self, key: [i64; 3], keys: &[[i64; 3]]) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.start(key);
        loop {
            match self.slots[slot] {
                EMPTY => return Err(slot),
                place if keys[place as usize] == key => return Ok(place as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Doubles the slots when half are taken, placing every key again.
    fn grow_if_full(&mut self, keys: &[[i64; 3]]) {
        if keys.len() * 2 <= self.slots.len() {
            return;
        }
        self.slots = vec![EMPTY; self.slots.len() * 2];
        let mask = self.slots.len() - 1;
        for (place, key) in keys.iter().enumerate() {
            let mut slot = self.start(*key);
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = place as u32;
        }
    }
}
