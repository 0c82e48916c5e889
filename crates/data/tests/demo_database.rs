//! The demo database: complete, consistent, readable scans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;

use plantdb_data::demo::write_demo_database;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Checks a PLY header: magic, format, the elements' counts and that the
/// binary body has exactly the size the header implies (fixed-size rows;
/// faces are triangles). Returns (vertices, faces).
fn check_ply(bytes: &[u8], vertex_row: usize) -> (usize, usize) {
    let end = bytes
        .windows(11)
        .position(|w| w == b"end_header\n")
        .unwrap()
        + 11;
    let header = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = header.lines();
    assert_eq!(lines.next(), Some("ply"));
    assert_eq!(lines.next(), Some("format binary_little_endian 1.0"));
    let count = |element: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("element {element} ")))
            .map_or(0, |n| n.parse::<usize>().unwrap())
    };
    let (vertices, faces) = (count("vertex"), count("face"));
    for axis in ["x", "y", "z"] {
        assert!(header.contains(&format!("property float {axis}\n")));
    }
    if faces > 0 {
        assert!(header.contains("property list uchar int vertex_indices\n"));
    }
    assert_eq!(bytes.len() - end, vertices * vertex_row + faces * 13);
    (vertices, faces)
}

#[test]
fn writes_complete_scans_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let started = std::time::Instant::now();
    let created = write_demo_database(&root).unwrap();
    eprintln!("demo database written in {:?}", started.elapsed());
    assert_eq!(
        created,
        ["demo_arabidopsis_1", "demo_arabidopsis_2", "demo_tomato_1"]
    );
    assert!(root.join("romidb").is_file());
    let hidden: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .collect();
    assert!(hidden.is_empty(), "staging directories left behind");

    for id in &created {
        check_scan(&root.join(id));
    }
    assert!(root.join("demo_arabidopsis_1/measures.json").is_file());

    // A second run creates nothing and leaves an existing scan alone.
    fs::remove_dir_all(root.join("demo_tomato_1")).unwrap();
    assert_eq!(write_demo_database(&root).unwrap(), ["demo_tomato_1"]);
    assert!(write_demo_database(&root).unwrap().is_empty());
}

fn check_scan(scan: &Path) {
    let files = read_json(&scan.join("files.json"));
    let text = fs::read_to_string(scan.join("files.json")).unwrap();
    assert!(text.starts_with("{\n    \"filesets\": [\n        {\n            \"files\": ["));
    let filesets = files["filesets"].as_array().unwrap();
    let ids: Vec<&str> = filesets.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], "images");
    assert_eq!(ids.len(), 7);
    for fileset in filesets {
        let fs_id = fileset["id"].as_str().unwrap();
        assert!(
            scan.join(format!("metadata/{fs_id}.json")).is_file(),
            "{fs_id}"
        );
        for file in fileset["files"].as_array().unwrap() {
            let name = file["file"].as_str().unwrap();
            assert!(scan.join(fs_id).join(name).is_file(), "{fs_id}/{name}");
        }
    }
    let metadata = read_json(&scan.join("metadata/metadata.json"));
    assert!(metadata.get("owner").is_none());
    let date = metadata["acquisition_date"].as_str().unwrap();
    assert_eq!(date.matches(' ').count(), 1);
    assert!(metadata["biologicalMaterial"]["organism"]["species"].is_string());
    assert!(metadata["study"]["growthFacility"]["name"].is_string());
    let n_points = metadata["ScanPath"]["kwargs"]["n_points"].as_u64().unwrap();
    let pipeline: toml::Table = fs::read_to_string(scan.join("pipeline.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pipeline["Voxels"]["bounding_box"]["z"].is_array());

    let images = filesets[0]["files"].as_array().unwrap();
    assert_eq!(images.len() as u64, n_points);
    for (i, file) in images.iter().enumerate() {
        let id = file["id"].as_str().unwrap();
        assert_eq!(id, format!("{i:05}_rgb"));
        assert_eq!(file["file"], format!("{id}.jpg"));
        let meta = read_json(&scan.join(format!("metadata/images/{id}.json")));
        assert_eq!(meta["channel"], "rgb");
        assert_eq!(meta["colmap_camera"]["camera_model"]["model"], "OPENCV");
        assert_eq!(meta["colmap_camera"]["rotmat"].as_array().unwrap().len(), 3);
        assert_eq!(meta["colmap_camera"]["tvec"].as_array().unwrap().len(), 3);
    }
    let first = image::open(scan.join("images/00000_rgb.jpg")).unwrap();
    assert_eq!((first.width(), first.height()), (640, 480));

    let ply = |fs_prefix: &str, name: &str| {
        let fs_id = ids.iter().find(|i| i.starts_with(fs_prefix)).unwrap();
        fs::read(scan.join(fs_id).join(name)).unwrap()
    };
    let (points, _) = check_ply(&ply("PointCloud_", "PointCloud.ply"), 15);
    assert!((10_000..100_000).contains(&points), "{points} points");
    let (vertices, faces) = check_ply(&ply("TriangleMesh_", "TriangleMesh.ply"), 12);
    assert!(vertices > 100 && faces > 100);

    let skeleton_fs = ids
        .iter()
        .find(|i| i.starts_with("CurveSkeleton_"))
        .unwrap();
    let skeleton = read_json(&scan.join(skeleton_fs).join("CurveSkeleton.json"));
    let n = skeleton["points"].as_array().unwrap().len() as u64;
    for line in skeleton["lines"].as_array().unwrap() {
        assert!(line
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.as_u64().unwrap() < n));
    }
    let angles_fs = ids
        .iter()
        .find(|i| i.starts_with("AnglesAndInternodes_"))
        .unwrap();
    let angles = read_json(&scan.join(angles_fs).join("AnglesAndInternodes.json"));
    let a = angles["angles"].as_array().unwrap();
    assert_eq!(a.len(), angles["internodes"].as_array().unwrap().len());
    assert_eq!(
        a.len() + 1,
        angles["fruit_points"].as_array().unwrap().len()
    );
    assert!(a
        .iter()
        .all(|x| (0.0..std::f64::consts::TAU).contains(&x.as_f64().unwrap())));
}
