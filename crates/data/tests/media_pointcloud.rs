//! Point clouds and meshes through the public API: PLY in its three
//! encodings, down-sampling, the cached layout, the JSON documents, and
//! hostile files (which must give `InvalidInput`, never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plantdb_data::pointcloud::{
    parse_ply, parse_ply_mesh, read_ply, read_ply_mesh, voxel_down_sample, write_coordinates_json,
    write_mesh_json, write_ply_binary, CloudSize, Mesh, PointCloud,
};
use plantdb_data::DataError;

/// Three vertices with every kind of extra: an element before `vertex`, an
/// int and a list property inside it, an element after it.
const HEADER: &str = "ply\nformat {FORMAT} 1.0\ncomment made by hand\nobj_info test\n\
element camera 1\nproperty float f\nproperty list uchar int ids\n\
element vertex 3\nproperty float x\nproperty float y\nproperty double z\n\
property int confidence\nproperty list uint16 float32 extra\n\
property double nx\nproperty double ny\nproperty double nz\n\
property uchar red\nproperty uchar green\nproperty uchar blue\n\
element face 1\nproperty list uchar int vertex_indices\nend_header\n";

const ASCII_BODY: &str = "0.5 2 7 8\n\
1.5 -2.25 3 7 2 9.5 10.5 0 0 1 255 128 0\n\
0 0 0 -1 0 0 1 0 0 0 255\n\
4.5 5 6 1 1 1.25 1 0 0 10 20 30\n\
3 0 1 2\n";

fn expected() -> PointCloud {
    PointCloud {
        points: vec![[1.5, -2.25, 3.0], [0.0, 0.0, 0.0], [4.5, 5.0, 6.0]],
        normals: Some(vec![[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
        colors: Some(vec![[255, 128, 0], [0, 0, 255], [10, 20, 30]]),
    }
}

fn header(format: &str) -> Vec<u8> {
    HEADER.replace("{FORMAT}", format).into_bytes()
}

/// x and y (float), z, confidence, the `extra` list, normal, colour.
type Row = ([f32; 2], f64, i32, &'static [f32], [f64; 3], [u8; 3]);

/// The body of `ASCII_BODY` in binary, little- or big-endian.
fn binary(big: bool) -> Vec<u8> {
    let mut out = header(if big {
        "binary_big_endian"
    } else {
        "binary_little_endian"
    });
    macro_rules! put {
        ($v:expr) => {
            if big {
                out.extend_from_slice(&$v.to_be_bytes())
            } else {
                out.extend_from_slice(&$v.to_le_bytes())
            }
        };
    }
    // camera: f, ids (2 items)
    put!(0.5f32);
    put!(2u8);
    put!(7i32);
    put!(8i32);
    let rows: [Row; 3] = [
        (
            [1.5, -2.25],
            3.0,
            7,
            &[9.5, 10.5],
            [0.0, 0.0, 1.0],
            [255, 128, 0],
        ),
        ([0.0, 0.0], 0.0, -1, &[], [0.0, 1.0, 0.0], [0, 0, 255]),
        ([4.5, 5.0], 6.0, 1, &[1.25], [1.0, 0.0, 0.0], [10, 20, 30]),
    ];
    for (xy, z, conf, extra, n, c) in rows {
        put!(xy[0]);
        put!(xy[1]);
        put!(z);
        put!(conf);
        put!(extra.len() as u16);
        for e in extra {
            put!(*e);
        }
        for v in n {
            put!(v);
        }
        out.extend_from_slice(&c);
    }
    put!(3u8);
    for i in [0i32, 1, 2] {
        put!(i);
    }
    out
}

fn ascii() -> Vec<u8> {
    let mut out = header("ascii");
    out.extend_from_slice(ASCII_BODY.as_bytes());
    out
}

fn invalid(result: Result<impl std::fmt::Debug, DataError>) -> String {
    match result {
        Err(DataError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn three_encodings_read_alike() {
    assert_eq!(parse_ply(&ascii()).unwrap(), expected());
    assert_eq!(parse_ply(&binary(false)).unwrap(), expected());
    assert_eq!(parse_ply(&binary(true)).unwrap(), expected());
    // CRLF header lines are fine too.
    let crlf = String::from_utf8(ascii()).unwrap().replace('\n', "\r\n");
    assert_eq!(parse_ply(crlf.as_bytes()).unwrap(), expected());
}

#[test]
fn binary_round_trip_and_layout() {
    let cloud = expected();
    let bytes = write_ply_binary(&cloud);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with(
        "ply\nformat binary_little_endian 1.0\ncomment Created by plantdb-data\n\
         element vertex 3\nproperty double x\nproperty double y\nproperty double z\n\
         property double nx\nproperty double ny\nproperty double nz\n\
         property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    ));
    assert_eq!(parse_ply(&bytes).unwrap(), cloud);

    let bare = PointCloud {
        points: cloud.points.clone(),
        ..Default::default()
    };
    let bytes = write_ply_binary(&bare);
    let text = String::from_utf8_lossy(&bytes);
    assert!(!String::from_utf8_lossy(&bytes).contains("nx"));
    let body_start = text.find("end_header\n").unwrap() + "end_header\n".len();
    assert_eq!(bytes.len() - body_start, 3 * 24, "three doubles a point");
    assert_eq!(parse_ply(&bytes).unwrap(), bare);
    assert_eq!(
        parse_ply(&write_ply_binary(&PointCloud::default())).unwrap(),
        PointCloud::default()
    );
}

#[test]
fn files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("PointCloud.ply");
    std::fs::write(&path, binary(true)).unwrap();
    assert_eq!(read_ply(&path).unwrap(), expected());
    assert_eq!(read_ply_mesh(&path).unwrap().triangles, vec![[0, 1, 2]]);
    assert!(matches!(
        read_ply(&dir.path().join("missing.ply")),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn float_colours_and_partial_extras() {
    let ply = "ply\nformat ascii 1.0\nelement vertex 2\nproperty double x\nproperty double y\n\
               property double z\nproperty float red\nproperty float green\nproperty float blue\n\
               property float nx\nproperty float ny\nend_header\n\
               1 2 3 1.0 0.5 0 0 1\n4 5 6 2.0 -1 0.25 1 0\n";
    let cloud = parse_ply(ply.as_bytes()).unwrap();
    assert_eq!(cloud.colors, Some(vec![[255, 128, 0], [255, 0, 64]]));
    assert_eq!(cloud.normals, None, "nz missing: no normals");
    assert_eq!(cloud.points, vec![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
}

#[test]
fn down_sampling_by_hand() {
    let cloud = PointCloud {
        points: vec![
            [0.0, 0.0, 0.0],
            [0.4, 0.2, 0.0],
            [1.0, 0.0, 0.0],
            [3.0, 3.0, 3.0],
        ],
        normals: Some(vec![
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 2.0],
            [0.0; 3],
        ]),
        colors: Some(vec![[255, 0, 0], [0, 0, 255], [1, 2, 3], [9, 9, 9]]),
    };
    // origin = -0.5: voxels (0,0,0) ← p0, p1; (1,0,0) ← p2; (3,3,3) ← p3.
    let down = voxel_down_sample(&cloud, 1.0);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    assert_eq!(down.points.len(), 3);
    let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(down.points[0], [0.2, 0.1, 0.0]), "{:?}", down.points);
    assert_eq!(down.points[1], [1.0, 0.0, 0.0]);
    assert_eq!(down.points[2], [3.0, 3.0, 3.0]);
    let normals = down.normals.unwrap();
    assert!(close(normals[0], [h, h, 0.0]));
    assert_eq!(normals[1], [0.0, 0.0, 1.0]);
    assert_eq!(normals[2], [0.0, 0.0, 0.0], "a zero sum stays zero");
    // (1 + 0) / 2 × 255 = 127.5 → 128 (open3d rounds half away from zero).
    assert_eq!(
        down.colors.unwrap(),
        vec![[128, 0, 128], [1, 2, 3], [9, 9, 9]]
    );
}

#[test]
fn down_sampling_order_and_edge_cases() {
    let cloud = PointCloud {
        points: vec![
            [5.0, 0.0, 0.0],
            [0.0, 5.0, 0.0],
            [f64::NAN, 0.0, 0.0],
            [-1.0, -1.0, -1.0],
        ],
        normals: Some(vec![[0.0; 3]]), // not one per point: ignored
        colors: None,
    };
    let down = voxel_down_sample(&cloud, 2.0);
    // origin (-2, -2, -2): indices (3,1,1), (1,3,1), (0,0,0); NaN left out.
    assert_eq!(
        down.points,
        vec![[-1.0, -1.0, -1.0], [0.0, 5.0, 0.0], [5.0, 0.0, 0.0]]
    );
    assert_eq!(down.normals, None);
    assert_eq!(
        voxel_down_sample(&PointCloud::default(), 1.8),
        PointCloud::default()
    );
    let finite = PointCloud {
        points: vec![[1.0, 2.0, 3.0]],
        ..Default::default()
    };
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(voxel_down_sample(&finite, bad), finite, "unchanged");
    }
    // Huge extents do not overflow.
    let far = PointCloud {
        points: vec![[-1e300, 0.0, 0.0], [1e300, 0.0, 0.0]],
        ..Default::default()
    };
    assert_eq!(voxel_down_sample(&far, 0.01).points.len(), 2);
}

#[test]
fn cloud_sizes() {
    assert_eq!(CloudSize::parse("orig").unwrap(), CloudSize::Orig);
    assert_eq!(CloudSize::parse("preview").unwrap(), CloudSize::Preview);
    for other in ["", "big", "Orig", "1.8mm", "1__0", "_1", "0x10"] {
        assert_eq!(
            CloudSize::parse(other).unwrap(),
            CloudSize::Preview,
            "{other}"
        );
    }
    for (text, v) in [
        ("2", 2.0),
        ("1e0", 1.0),
        (" 0.5 ", 0.5),
        ("1_0", 10.0),
        (".01", 0.01),
        ("1000", 1000.0),
        ("+3.", 3.0),
    ] {
        assert_eq!(
            CloudSize::parse(text).unwrap(),
            CloudSize::Voxel(v),
            "{text}"
        );
    }
    for out_of_range in [
        "0",
        "0.009",
        "1000.5",
        "-1",
        "inf",
        "-Infinity",
        "nan",
        "1e400",
    ] {
        invalid(CloudSize::parse(out_of_range));
    }
    assert_eq!(CloudSize::parse("2").unwrap().cache_text(), "2.0");
    assert_eq!(CloudSize::parse("1.8").unwrap().cache_text(), "1.8");
    assert_eq!(CloudSize::Preview.cache_text(), "preview");
    assert_eq!(CloudSize::Preview.voxel_size(), Some(1.8));
    assert_eq!(CloudSize::Orig.voxel_size(), None);
    assert_eq!(CloudSize::default(), CloudSize::Preview);
}

#[test]
fn mesh_faces_fan_out() {
    let ply = "ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nproperty float y\n\
               property float z\nelement face 3\nproperty uchar flags\n\
               property list uchar uint vertex_index\nend_header\n\
               0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 2 0\n\
               7 3 0 1 2\n7 5 0 1 2 4 3\n0 2 0 1\n";
    let mesh = parse_ply_mesh(ply.as_bytes()).unwrap();
    assert_eq!(mesh.vertices.len(), 5);
    assert_eq!(
        mesh.triangles,
        vec![[0, 1, 2], [0, 1, 2], [0, 2, 4], [0, 4, 3]],
        "a pentagon gives three, a segment none"
    );

    let out_of_range = ply.replace("7 3 0 1 2", "7 3 0 1 5");
    assert!(invalid(parse_ply_mesh(out_of_range.as_bytes())).contains("vertex"));
    let negative = ply.replace("7 3 0 1 2", "7 3 0 -1 2");
    invalid(parse_ply_mesh(negative.as_bytes()));

    let cloud_only = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n\
                      property float y\nproperty float z\nend_header\n1 2 3\n";
    let mesh = parse_ply_mesh(cloud_only.as_bytes()).unwrap();
    assert_eq!((mesh.vertices.len(), mesh.triangles.len()), (1, 0));
}

#[test]
fn json_documents() {
    let cloud = PointCloud {
        points: vec![[1.0, 0.1, -2.5], [0.00001, 1e16, f64::NAN]],
        ..Default::default()
    };
    let mut out = Vec::new();
    write_coordinates_json(&cloud, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"coordinates": [[1.0, 0.1, -2.5], [1e-05, 1e+16, null]]}"#
    );
    let mut out = Vec::new();
    write_coordinates_json(&PointCloud::default(), &mut out).unwrap();
    assert_eq!(out, br#"{"coordinates": []}"#);

    let mesh = Mesh {
        vertices: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, 0.0]],
        triangles: vec![[0, 1, 2]],
    };
    let mut out = Vec::new();
    write_mesh_json(&mesh, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"triangles": [[0, 1, 2]], "vertices": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, 0.0]]}"#
    );
}

#[test]
fn large_json_is_valid_and_complete() {
    let cloud = PointCloud {
        points: (0..20_000)
            .map(|i| [i as f64 * 0.25, -(i as f64), 1.0 / (i as f64 + 1.0)])
            .collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    write_coordinates_json(&cloud, &mut out).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let coords = value["coordinates"].as_array().unwrap();
    assert_eq!(coords.len(), 20_000);
    for (got, want) in coords.iter().zip(&cloud.points) {
        let got: Vec<f64> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got, want.to_vec(), "floats round-trip exactly");
    }
}

#[test]
fn hostile_headers() {
    let cases: &[&[u8]] = &[
        b"",
        b"ply",
        b"plyx\nformat ascii 1.0\nend_header\n",
        b"PLY\nformat ascii 1.0\nend_header\n",
        b"ply\nend_header\n",
        b"ply\nformat ascii 2.0\nend_header\n",
        b"ply\nformat binary 1.0\nend_header\n",
        b"ply\nformat ascii 1.0\nproperty float x\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex -1\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex 99999999999999999999999\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float128 x\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty list float int x\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float\nend_header\n",
        b"ply\nformat ascii 1.0\nbogus line\nend_header\n",
        b"ply\nformat ascii 1.0\nelement face 0\nend_header\n",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n",
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n\
          property list uchar float z\nend_header\n1 2 1 3\n",
    ];
    for case in cases {
        invalid(parse_ply(case));
        invalid(parse_ply_mesh(case));
    }
    // A header that never ends, however long.
    let mut endless = b"ply\nformat ascii 1.0\n".to_vec();
    endless.extend(std::iter::repeat_n(b"comment padding padding\n".as_slice(), 60_000).flatten());
    assert!(invalid(parse_ply(&endless)).contains("too long"));
}

#[test]
fn hostile_counts_and_truncation() {
    let head = |format: &str, count: &str| {
        format!(
            "ply\nformat {format} 1.0\nelement vertex {count}\nproperty float x\n\
             property float y\nproperty float z\nend_header\n"
        )
        .into_bytes()
    };
    for format in ["ascii", "binary_little_endian", "binary_big_endian"] {
        // Billions of vertices announced, twelve bytes given: fails at once.
        let mut huge = head(format, "18446744073709551615");
        huge.extend_from_slice(&[0; 12]);
        invalid(parse_ply(&huge));
        let mut big = head(format, "4000000000");
        big.extend_from_slice(b"1 2 3\n");
        invalid(parse_ply(&big));
    }
    // Every truncation of a valid binary file is refused, never a panic.
    for whole in [binary(false), binary(true), ascii()] {
        let body_start = whole.len() - 150.min(whole.len());
        for cut in body_start..whole.len() - 1 {
            let _ = parse_ply(&whole[..cut]);
            let _ = parse_ply_mesh(&whole[..cut]);
        }
    }
    let whole = binary(false);
    let vertex_end = whole.len() - 13; // the face element is 13 bytes
    for cut in [vertex_end - 1, vertex_end - 40] {
        invalid(parse_ply(&whole[..cut]));
    }
    invalid(parse_ply_mesh(&whole[..whole.len() - 1]));
    // A list claiming 4 billion items in a short file.
    let mut list = b"ply\nformat binary_little_endian 1.0\nelement junk 1\n\
        property list uint uchar v\nelement vertex 1\nproperty uchar x\nproperty uchar y\n\
        property uchar z\nend_header\n"
        .to_vec();
    list.extend_from_slice(&u32::MAX.to_le_bytes());
    list.extend_from_slice(&[1, 2, 3]);
    invalid(parse_ply(&list));
}

#[test]
fn empty_elements_with_huge_counts_are_skipped_at_once() {
    let ply = "ply\nformat binary_little_endian 1.0\nelement nothing 18446744073709551615\n\
               element vertex 1\nproperty uchar x\nproperty uchar y\nproperty uchar z\n\
               end_header\n\x01\x02\x03";
    let cloud = parse_ply(ply.as_bytes()).unwrap();
    assert_eq!(cloud.points, vec![[1.0, 2.0, 3.0]]);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_ply(&bytes);
            let _ = parse_ply_mesh(&bytes);
        }

        #[test]
        fn random_bodies_never_panic(
            big in any::<bool>(),
            body in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut file = header(if big { "binary_big_endian" } else { "binary_little_endian" });
            file.extend_from_slice(&body);
            let _ = parse_ply(&file);
            let _ = parse_ply_mesh(&file);
        }

        #[test]
        fn flipped_bytes_never_panic(index in any::<prop::sample::Index>(), value in any::<u8>()) {
            for mut file in [binary(false), ascii()] {
                let i = index.index(file.len());
                file[i] = value;
                let _ = parse_ply(&file);
                let _ = parse_ply_mesh(&file);
            }
        }
    }
}
