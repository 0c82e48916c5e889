//! The streaming point-cloud functions against the in-memory ones: same
//! bytes, same errors; and a memory benchmark (`#[ignore]`d).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use plantdb_data::pointcloud::{
    parse_ply, read_ply, read_ply_points, voxel_down_sample, voxel_down_sample_file,
    write_coordinates_json, write_coordinates_json_file, write_ply_binary, PlyVertices, PointCloud,
};
use plantdb_data::DataError;

/// A deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Enc {
    Ascii,
    Le,
    Be,
}

/// A PLY file of `rows` with these `(type, name)` properties of `vertex`,
/// and a `camera` element before it and a `face` element after it (both
/// to be skipped).
fn ply_file(enc: Enc, props: &[(&str, &str)], rows: &[Vec<f64>]) -> Vec<u8> {
    let format = match enc {
        Enc::Ascii => "ascii",
        Enc::Le => "binary_little_endian",
        Enc::Be => "binary_big_endian",
    };
    let mut out = format!(
        "ply\nformat {format} 1.0\ncomment generated\nelement camera 2\nproperty int id\n\
         property list uchar float v\nelement vertex {}\n",
        rows.len()
    );
    for (t, name) in props {
        out.push_str(&format!("property {t} {name}\n"));
    }
    out.push_str("element face 1\nproperty list uchar int vertex_indices\nend_header\n");
    let mut out = out.into_bytes();
    macro_rules! put {
        ($v:expr) => {
            match enc {
                Enc::Be => out.extend_from_slice(&$v.to_be_bytes()),
                _ => out.extend_from_slice(&$v.to_le_bytes()),
            }
        };
    }
    // camera: (7, [1.5, 2.5]) and (8, [])
    if enc == Enc::Ascii {
        out.extend_from_slice(b"7 2 1.5 2.5\n8 0\n");
    } else {
        put!(7i32);
        put!(2u8);
        put!(1.5f32);
        put!(2.5f32);
        put!(8i32);
        put!(0u8);
    }
    for row in rows {
        for (i, ((t, _), v)) in props.iter().zip(row).enumerate() {
            if enc == Enc::Ascii {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(format!("{v}").as_bytes());
                continue;
            }
            match *t {
                "double" => put!(*v),
                "float" => put!(*v as f32),
                "uchar" => put!(*v as u8),
                "short" => put!(*v as i16),
                "int" => put!(*v as i32),
                other => panic!("type {other}"),
            }
        }
        if enc == Enc::Ascii {
            out.push(b'\n');
        }
    }
    if enc == Enc::Ascii {
        out.extend_from_slice(b"3 0 1 2\n");
    } else {
        put!(3u8);
        for i in [0i32, 1, 2] {
            put!(i);
        }
    }
    out
}

/// A random cloud: coordinates of type `coord` (doubles, floats or shorts)
/// clustered so voxels gather several points, a few non-finite ones, an
/// `int` property in the middle, optional normals and colours.
fn random_file(
    rng: &mut Rng,
    enc: Enc,
    n: usize,
    coord: &str,
    normals: bool,
    colors: &str,
) -> Vec<u8> {
    let mut props = vec![
        (coord, "x"),
        (coord, "y"),
        ("int", "confidence"),
        (coord, "z"),
    ];
    if normals {
        props.extend([("float", "nx"), ("double", "ny"), ("float", "nz")]);
    }
    if !colors.is_empty() {
        props.extend([(colors, "red"), (colors, "green"), (colors, "blue")]);
    }
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let coordinate = |r: &mut Rng| {
                let v = match coord {
                    "short" => (r.next() % 40) as f64 - 20.0,
                    "float" => f64::from((r.unit() * 20.0 - 10.0) as f32),
                    _ => {
                        r.unit() * 20.0 - 10.0
                            + if r.next().is_multiple_of(3) {
                                1e-9
                            } else {
                                0.0
                            }
                    }
                };
                if coord != "short" && i % 97 == 5 && r.next().is_multiple_of(2) {
                    [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][(r.next() % 3) as usize]
                } else {
                    v
                }
            };
            let mut row = vec![
                coordinate(rng),
                coordinate(rng),
                (rng.next() % 1000) as f64,
                coordinate(rng),
            ];
            if normals {
                let n = [rng.unit() - 0.5, rng.unit() - 0.5, rng.unit() - 0.5];
                // Some zero normals: a voxel of them sums to zero.
                let zero = i.is_multiple_of(11);
                row.extend(n.map(|c| if zero { 0.0 } else { f64::from(c as f32) }));
            }
            match colors {
                "uchar" => row.extend([0, 1, 2].map(|_| (rng.next() % 256) as f64)),
                "float" => {
                    row.extend([0, 1, 2].map(|_| f64::from((rng.unit() * 1.2 - 0.1) as f32)))
                }
                _ => {}
            }
            row
        })
        .collect();
    ply_file(enc, &props, &rows)
}

/// Exact equality, NaN and the sign of zero included.
fn same_bits(a: &PointCloud, b: &PointCloud) -> bool {
    let bits =
        |v: &[[f64; 3]]| -> Vec<[u64; 3]> { v.iter().map(|p| p.map(f64::to_bits)).collect() };
    bits(&a.points) == bits(&b.points)
        && a.normals.as_deref().map(bits) == b.normals.as_deref().map(bits)
        && a.colors == b.colors
}

fn cases() -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(0x5eed);
    let mut cases = Vec::new();
    for enc in [Enc::Ascii, Enc::Le, Enc::Be] {
        for (coord, normals, colors) in [
            ("double", true, "uchar"),
            ("double", false, ""),
            ("float", true, ""),
            ("float", false, "float"),
            ("short", true, "uchar"),
        ] {
            // Bigger than the 256 KiB buffer: rows straddle buffer fills.
            for n in [0, 1, 7, 3000, 12_000] {
                let name = format!("{coord} normals={normals} colours={colors:?} n={n}");
                let bytes = random_file(&mut rng, enc, n, coord, normals, colors);
                cases.push((name, bytes));
            }
        }
    }
    // Only non-finite points, with normals and colours.
    let props = [
        ("double", "x"),
        ("double", "y"),
        ("double", "z"),
        ("double", "nx"),
        ("double", "ny"),
        ("double", "nz"),
        ("uchar", "red"),
        ("uchar", "green"),
        ("uchar", "blue"),
    ];
    let rows = vec![vec![f64::NAN, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 3.0]; 3];
    cases.push(("non-finite".into(), ply_file(Enc::Le, &props, &rows)));
    cases
}

#[test]
fn file_down_sampling_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.ply");
    let mut checked = 0;
    for (name, bytes) in cases() {
        std::fs::write(&path, &bytes).unwrap();
        let cloud = read_ply(&path).unwrap();
        assert!(
            same_bits(&cloud, &parse_ply(&bytes).unwrap()),
            "{name}: file = bytes"
        );
        for voxel in [1.8, 0.5, 3.0, 0.01, 1000.0] {
            let want = voxel_down_sample(&cloud, voxel);
            let got = voxel_down_sample_file(&path, voxel).unwrap();
            assert!(same_bits(&got, &want), "{name}, voxel {voxel}");
            checked += got.points.len();
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let unchanged = voxel_down_sample_file(&path, bad).unwrap();
            assert!(same_bits(&unchanged, &cloud), "{name}: unchanged");
        }
    }
    assert!(
        checked > 100_000,
        "the clouds gather into many voxels: {checked}"
    );
}

#[test]
fn file_down_sampling_merges_voxels() {
    // Most voxels hold several points, so the summation order matters.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.ply");
    let mut rng = Rng(3);
    std::fs::write(
        &path,
        random_file(&mut rng, Enc::Le, 12_000, "double", true, "uchar"),
    )
    .unwrap();
    let down = voxel_down_sample_file(&path, 1.8).unwrap();
    assert!(down.points.len() < 2000, "{}", down.points.len());
    assert!(same_bits(
        &down,
        &voxel_down_sample(&read_ply(&path).unwrap(), 1.8)
    ));
}

#[test]
fn file_coordinates_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.ply");
    for (name, bytes) in cases() {
        std::fs::write(&path, &bytes).unwrap();
        let cloud = read_ply(&path).unwrap();
        let mut want = Vec::new();
        write_coordinates_json(&cloud, &mut want).unwrap();
        let mut got = Vec::new();
        write_coordinates_json_file(&path, &mut got).unwrap();
        assert!(got == want, "{name}");
        let points = PointCloud {
            points: read_ply_points(&path).unwrap(),
            ..Default::default()
        };
        let bare = PointCloud {
            points: cloud.points.clone(),
            ..Default::default()
        };
        assert!(same_bits(&points, &bare), "{name}");
        let vertices = PlyVertices::open(&path).unwrap();
        assert_eq!(vertices.vertex_count(), cloud.points.len() as u64);
        assert_eq!(vertices.has_normals(), cloud.normals.is_some(), "{name}");
        assert_eq!(vertices.has_colors(), cloud.colors.is_some(), "{name}");
        let streamed: Vec<_> = vertices.map(|v| v.unwrap()).collect();
        assert_eq!(streamed.len(), cloud.points.len());
        for (i, v) in streamed.iter().enumerate() {
            assert_eq!(v.point.map(f64::to_bits), cloud.points[i].map(f64::to_bits));
            assert_eq!(v.normal, cloud.normals.as_ref().map(|n| n[i]));
            assert_eq!(v.color, cloud.colors.as_ref().map(|c| c[i]));
        }
    }
}

fn invalid<T: std::fmt::Debug>(result: Result<T, DataError>) -> String {
    match result {
        Err(DataError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn streaming_fails_as_reading_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.ply");
    let mut rng = Rng(9);
    for enc in [Enc::Ascii, Enc::Le, Enc::Be] {
        let whole = random_file(&mut rng, enc, 50, "double", true, "uchar");
        let header_end = whole
            .windows(11)
            .position(|w| w == b"end_header\n")
            .unwrap()
            + 11;
        // Every cut of the body, and bytes of the header.
        for cut in (0..header_end).step_by(37).chain(header_end..whole.len()) {
            let part = &whole[..cut];
            std::fs::write(&path, part).unwrap();
            let want = parse_ply(part).map_err(|e| e.to_string());
            let got = read_ply(&path).map_err(|e| e.to_string());
            match (&got, &want) {
                (Ok(a), Ok(b)) => assert!(same_bits(a, b), "{cut}"),
                _ => assert_eq!(got.err(), want.clone().err(), "{cut}"),
            }
            if let Err(message) = want {
                assert_eq!(invalid(voxel_down_sample_file(&path, 1.8)), message);
                assert_eq!(invalid(read_ply_points(&path)), message);
                let mut sink = Vec::new();
                assert_eq!(
                    invalid(write_coordinates_json_file(&path, &mut sink)),
                    message
                );
            }
        }
    }
    // A hostile count fails at once, before any row is read.
    std::fs::write(
        &path,
        "ply\nformat binary_little_endian 1.0\nelement vertex 18446744073709551615\n\
         property float x\nproperty float y\nproperty float z\nend_header\n0123456789ab",
    )
    .unwrap();
    invalid(PlyVertices::open(&path).map(|_| ()));
    invalid(voxel_down_sample_file(&path, 1.8));
    let missing = dir.path().join("missing.ply");
    assert!(matches!(
        voxel_down_sample_file(&missing, 1.8),
        Err(DataError::Io { .. })
    ));
    assert!(matches!(
        write_coordinates_json_file(&missing, &mut Vec::new()),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn a_down_sampled_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.ply");
    let mut rng = Rng(11);
    std::fs::write(
        &path,
        random_file(&mut rng, Enc::Be, 5000, "float", true, "uchar"),
    )
    .unwrap();
    let down = voxel_down_sample_file(&path, 1.8).unwrap();
    let cache = dir.path().join("preview.ply");
    std::fs::write(&cache, write_ply_binary(&down)).unwrap();
    assert!(same_bits(&read_ply(&cache).unwrap(), &down));
}

/// `n` points on plant-like surfaces (a stem and leaves, in mm), written as
/// open3d writes them: binary little-endian, double x y z and normals,
/// uchar colours. Written through a small buffer: the file never sits in
/// memory.
fn write_plant_cloud(path: &Path, n: usize, seed: u64) {
    let mut rng = Rng(seed | 1);
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    write!(
        out,
        "ply\nformat binary_little_endian 1.0\ncomment synthetic plant\n\
         element vertex {n}\nproperty double x\nproperty double y\nproperty double z\n\
         property double nx\nproperty double ny\nproperty double nz\n\
         property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    .unwrap();
    for _ in 0..n {
        let (p, normal) = if rng.unit() < 0.3 {
            // The stem: a cylinder of radius 4, 400 high.
            let a = rng.unit() * std::f64::consts::TAU;
            let z = rng.unit() * 400.0;
            ([4.0 * a.cos(), 4.0 * a.sin(), z], [a.cos(), a.sin(), 0.0])
        } else {
            // One of 12 leaves: a tilted 80 × 30 rectangle.
            let leaf = (rng.next() % 12) as f64;
            let a = leaf * 2.4;
            let (u, v) = (rng.unit() * 80.0, rng.unit() * 30.0 - 15.0);
            let z0 = 30.0 + leaf * 30.0;
            let p = [
                (4.0 + u) * a.cos() - v * a.sin(),
                (4.0 + u) * a.sin() + v * a.cos(),
                z0 + u * 0.3,
            ];
            (p, [-0.3 * a.cos(), -0.3 * a.sin(), 1.0])
        };
        for c in p.iter().chain(&normal) {
            out.write_all(&c.to_le_bytes()).unwrap();
        }
        let green = 100 + (rng.next() % 120) as u8;
        out.write_all(&[30, green, 20]).unwrap();
    }
    out.flush().unwrap();
}

/// VmHWM (peak RSS) and VmRSS in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs `job` with the peak RSS reset; prints its time and how far the
/// peak rose above the RSS at the start.
/// `PC_BENCH_ONLY=<text>`: only the runs whose label contains it (one
/// per process gives the cleanest peaks).
fn bench<T>(label: &str, job: impl FnOnce() -> T) -> Option<T> {
    if std::env::var("PC_BENCH_ONLY").is_ok_and(|only| !label.contains(&only)) {
        return None;
    }
    let reset = reset_peak();
    let (peak0, rss0) = memory();
    let start = Instant::now();
    let out = job();
    let elapsed = start.elapsed();
    let (peak1, _) = memory();
    println!(
        "{label}: {:.2} s; VmHWM {peak0} → {peak1} KiB: +{:.1} MiB over the RSS of {rss0} KiB{}",
        elapsed.as_secs_f64(),
        (peak1.saturating_sub(rss0)) as f64 / 1024.0,
        if reset { "" } else { " (peak not reset)" }
    );
    Some(out)
}

fn bench_points() -> usize {
    std::env::var("PC_BENCH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

/// Peak RSS and time of down-sampling a 2-million-point cloud
/// (`PC_BENCH_POINTS` to change) as open3d writes them (102 MB). Run alone:
/// `cargo test --release -p plantdb-data --test pointcloud_stream -- --ignored --nocapture --test-threads=1`.
#[test]
#[ignore = "a benchmark: writes a 100 MB file"]
fn memory_of_downsampling_two_million_points() {
    let n = bench_points();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PointCloud.ply");
    write_plant_cloud(&path, n, 42);
    let size = std::fs::metadata(&path).unwrap().len();
    println!("{n} points, file {:.1} MiB", size as f64 / 1048576.0);
    let streamed = bench("preview, streamed (voxel_down_sample_file)", || {
        let down = voxel_down_sample_file(&path, 1.8).unwrap();
        let bytes = write_ply_binary(&down);
        (down, bytes.len())
    });
    let in_memory = bench("preview, in memory (read_ply + voxel_down_sample)", || {
        let cloud = read_ply(&path).unwrap();
        let down = voxel_down_sample(&cloud, 1.8);
        drop(cloud);
        let bytes = write_ply_binary(&down);
        (down, bytes.len())
    });
    // The worst case: `size=0.01`, about one voxel a point.
    let fine = bench("fine voxel 0.01, streamed", || {
        voxel_down_sample_file(&path, 0.01).unwrap().points.len()
    });
    let fine_in_memory = bench("fine voxel 0.01, in memory", || {
        let cloud = read_ply(&path).unwrap();
        voxel_down_sample(&cloud, 0.01).points.len()
    });
    if let Some(voxels) = fine.or(fine_in_memory) {
        println!("→ {voxels} voxels of 0.01");
    }
    if let Some((down, len)) = &streamed {
        println!("→ {} points, {len} bytes of preview", down.points.len());
    }
    if let (Some(a), Some(b)) = (&streamed, &in_memory) {
        assert!(same_bits(&a.0, &b.0));
    }
}

/// Peak RSS and time of `coords=true` on the original 2-million-point cloud
/// (JSON written to a sink).
#[test]
#[ignore = "a benchmark: writes a 100 MB file"]
fn memory_of_coordinates_of_two_million_points() {
    let n = bench_points();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PointCloud.ply");
    write_plant_cloud(&path, n, 7);
    bench("coords, streamed (write_coordinates_json_file)", || {
        write_coordinates_json_file(&path, &mut std::io::sink()).unwrap();
    });
    bench(
        "coords, points only (read_ply_points + write_coordinates_json)",
        || {
            let cloud = PointCloud {
                points: read_ply_points(&path).unwrap(),
                ..Default::default()
            };
            write_coordinates_json(&cloud, &mut std::io::sink()).unwrap();
        },
    );
    bench(
        "coords, whole cloud (read_ply + write_coordinates_json)",
        || {
            let cloud = read_ply(&path).unwrap();
            write_coordinates_json(&cloud, &mut std::io::sink()).unwrap();
        },
    );
}
