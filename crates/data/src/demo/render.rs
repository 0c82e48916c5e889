//! Surface samples of the plant, the cameras around it, and the images
//! they take: each sample is splatted with a depth buffer, which is enough
//! for thumbnails and for the viewer's camera overlay to line up.

use std::f64::consts::TAU;

use image::codecs::jpeg::JpegEncoder;
use image::ExtendedColorType;
use rand::rngs::StdRng;
use rand::Rng;

use super::plant::{add, cross, dot, norm, perpendiculars, scale, sub, unit, Part, Shape, V3};
use crate::DataError;

pub(super) const WIDTH: u32 = 640;
pub(super) const HEIGHT: u32 = 480;
pub(super) const FOCAL: f64 = 760.0;

/// A coloured surface point; `size` is the sampling spacing (mm). A
/// non-zero `normal` (outward) lets cameras behind the surface skip it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub p: V3,
    pub normal: V3,
    pub color: [u8; 3],
    pub size: f64,
}

/// Samples a part's surface about every `spacing` mm, shaded by a fixed light.
pub(super) fn sample_part(part: &Part, spacing: f64, rng: &mut StdRng, out: &mut Vec<Sample>) {
    let closed = !matches!(part.shape, Shape::Blade(_));
    let mut push = |p: V3, normal: V3, rng: &mut StdRng| {
        let light = unit([0.4, -0.3, 0.85]);
        let k = 0.62 + 0.38 * dot(normal, light).abs() + rng.random_range(-0.05..0.05);
        let color = part
            .color
            .map(|c| (f64::from(c) * k).clamp(0.0, 255.0) as u8);
        let normal = if closed { normal } else { [0.0; 3] };
        out.push(Sample {
            p,
            normal,
            color,
            size: spacing,
        });
    };
    match part.shape {
        Shape::Tube(r) => {
            for w in part.axis.windows(2) {
                let d = sub(w[1], w[0]);
                let (len, dir) = (norm(d), unit(d));
                let (n1, n2) = perpendiculars(dir);
                let along = (len / spacing).ceil().max(1.0) as usize;
                let around = (TAU * r / spacing).ceil().max(6.0) as usize;
                for i in 0..along {
                    let c = add(w[0], scale(dir, len * i as f64 / along as f64));
                    for j in 0..around {
                        let a = TAU * (j as f64 + rng.random_range(0.0..0.5)) / around as f64;
                        let n = add(scale(n1, a.cos()), scale(n2, a.sin()));
                        push(add(c, scale(n, r)), n, rng);
                    }
                }
            }
        }
        Shape::Blade(half_width) => {
            let length: f64 = part.axis.windows(2).map(|w| norm(sub(w[1], w[0]))).sum();
            let steps = (length / spacing).ceil().max(1.0) as usize;
            for i in 0..=steps {
                let u = i as f64 / steps as f64;
                let (p, t) = along_axis(&part.axis, u * length);
                let side = unit(cross(t, [0.0, 0.0, 1.0]));
                let up = unit(cross(side, t));
                let w = half_width * (std::f64::consts::PI * u).sin().powf(0.7);
                let across = (2.0 * w / spacing).ceil() as usize;
                for j in 0..=across {
                    let v = if across == 0 {
                        0.0
                    } else {
                        2.0 * j as f64 / across as f64 - 1.0
                    };
                    let q = add(add(p, scale(side, v * w)), scale(up, 0.18 * w * v * v));
                    push(q, up, rng);
                }
            }
        }
        Shape::Ball(r) => {
            let center = part.axis.first().copied().unwrap_or_default();
            let n = (4.0 * std::f64::consts::PI * r * r / (spacing * spacing))
                .ceil()
                .max(8.0) as usize;
            for i in 0..n {
                // A Fibonacci sphere: evenly spread directions.
                let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
                let a = i as f64 * 2.399_963;
                let s = (1.0 - z * z).sqrt();
                let normal = [s * a.cos(), s * a.sin(), z];
                push(add(center, scale(normal, r)), normal, rng);
            }
        }
    }
}

/// The point and unit tangent at arc length `s` along a polyline.
fn along_axis(axis: &[V3], mut s: f64) -> (V3, V3) {
    for w in axis.windows(2) {
        let d = sub(w[1], w[0]);
        let len = norm(d);
        if s <= len || len == 0.0 {
            return (add(w[0], scale(unit(d), s.min(len))), unit(d));
        }
        s -= len;
    }
    let last = axis.last().copied().unwrap_or_default();
    (last, [0.0, 0.0, 1.0])
}

/// A pose in COLMAP's convention: `x_cam = rotmat · x_world + tvec`
/// (camera x right, y down, z forward).
#[derive(Debug, Clone, Copy)]
pub(super) struct Camera {
    pub rotmat: [V3; 3],
    pub tvec: V3,
    pub eye: V3,
    /// Heading (degrees) and downward tilt (degrees), for `approximate_pose`.
    pub pan: f64,
    pub tilt: f64,
}

/// A camera at `eye` looking at `target`, with the world's z up.
pub(super) fn look_at(eye: V3, target: V3) -> Camera {
    let forward = unit(sub(target, eye));
    let right = unit(cross(forward, [0.0, 0.0, 1.0]));
    let down = cross(forward, right);
    let rotmat = [right, down, forward];
    let tvec = rotmat.map(|row| -dot(row, eye));
    Camera {
        rotmat,
        tvec,
        eye,
        pan: forward[1].atan2(forward[0]).to_degrees(),
        tilt: (-forward[2]).asin().to_degrees(),
    }
}

impl Camera {
    /// Pixel coordinates and depth of a world point, if in front of the camera.
    pub fn project(&self, p: V3) -> Option<(f64, f64, f64)> {
        let c = add(self.rotmat.map(|row| dot(row, p)), self.tvec);
        (c[2] > 1.0).then(|| {
            let u = FOCAL * c[0] / c[2] + f64::from(WIDTH) / 2.0;
            let v = FOCAL * c[1] / c[2] + f64::from(HEIGHT) / 2.0;
            (u, v, c[2])
        })
    }

    /// The unit quaternion `[w, x, y, z]` of `rotmat` (COLMAP's `qvec`).
    pub fn qvec(&self) -> [f64; 4] {
        let m = self.rotmat;
        let trace = m[0][0] + m[1][1] + m[2][2];
        let q = if trace > 0.0 {
            let s = 0.5 / (trace + 1.0).sqrt();
            [
                0.25 / s,
                (m[2][1] - m[1][2]) * s,
                (m[0][2] - m[2][0]) * s,
                (m[1][0] - m[0][1]) * s,
            ]
        } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
            let s = 2.0 * (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt();
            [
                (m[2][1] - m[1][2]) / s,
                0.25 * s,
                (m[0][1] + m[1][0]) / s,
                (m[0][2] + m[2][0]) / s,
            ]
        } else if m[1][1] > m[2][2] {
            let s = 2.0 * (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt();
            [
                (m[0][2] - m[2][0]) / s,
                (m[0][1] + m[1][0]) / s,
                0.25 * s,
                (m[1][2] + m[2][1]) / s,
            ]
        } else {
            let s = 2.0 * (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt();
            [
                (m[1][0] - m[0][1]) / s,
                (m[0][2] + m[2][0]) / s,
                (m[1][2] + m[2][1]) / s,
                0.25 * s,
            ]
        };
        if q[0] < 0.0 {
            q.map(|x| -x)
        } else {
            q
        }
    }
}

/// Renders the samples seen by `camera` over a neutral backdrop, as a JPEG.
pub(super) fn render_jpeg(samples: &[Sample], camera: &Camera) -> Result<Vec<u8>, DataError> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut rgb = vec![0u8; w * h * 3];
    for (y, row) in rgb.chunks_exact_mut(w * 3).enumerate() {
        let t = y as f64 / h as f64;
        let shade = [212.0 - 50.0 * t, 214.0 - 48.0 * t, 218.0 - 42.0 * t].map(|c| c as u8);
        for px in row.chunks_exact_mut(3) {
            px.copy_from_slice(&shade);
        }
    }
    let mut depth = vec![f64::INFINITY; w * h];
    for s in samples {
        if dot(s.normal, sub(camera.eye, s.p)) < 0.0 {
            continue;
        }
        let Some((u, v, z)) = camera.project(s.p) else {
            continue;
        };
        let r = (FOCAL * s.size * 0.8 / z).max(0.9);
        let clip = |a: f64, max: usize| a.clamp(0.0, max as f64 - 1.0) as usize;
        for y in clip(v - r, h)..=clip(v + r, h) {
            let dy = y as f64 + 0.5 - v;
            for x in clip(u - r, w)..=clip(u + r, w) {
                let dx = x as f64 + 0.5 - u;
                let i = y * w + x;
                if dx * dx + dy * dy <= r * r && z < depth[i] {
                    depth[i] = z;
                    rgb[i * 3..i * 3 + 3].copy_from_slice(&s.color);
                }
            }
        }
    }
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 88)
        .encode(&rgb, WIDTH, HEIGHT, ExtendedColorType::Rgb8)
        .map_err(|e| {
            tracing::error!(error = %e, "demo: JPEG encoding failed");
            DataError::Corrupt("A demo image could not be encoded".into())
        })?;
    Ok(jpeg)
}

/// Renders one image per camera, on a few threads (rendering is pure).
pub(super) fn render_all(
    samples: &[Sample],
    cameras: &[Camera],
) -> Result<Vec<Vec<u8>>, DataError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let per_worker = cameras.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cameras
            .chunks(per_worker)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| render_jpeg(samples, c))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut images = Vec::with_capacity(cameras.len());
        for handle in handles {
            let rendered = handle
                .join()
                .map_err(|_| DataError::Corrupt("A demo image could not be rendered".into()))?;
            for image in rendered {
                images.push(image?);
            }
        }
        Ok(images)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_sees_its_target_at_the_image_centre() {
        let target = [375.0, 350.0, -250.0];
        let cam = look_at([725.0, 350.0, -170.0], target);
        let (u, v, z) = cam.project(target).unwrap();
        assert!((u - 320.0).abs() < 1e-9 && (v - 240.0).abs() < 1e-9);
        assert!((z - norm(sub(target, cam.eye))).abs() < 1e-9);
        // Up in the world is up in the image.
        let (_, v_up, _) = cam.project(add(target, [0.0, 0.0, 10.0])).unwrap();
        assert!(v_up < v);
        let q = cam.qvec();
        assert!((q.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
