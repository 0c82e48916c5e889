//! Assets (data-api.md §7, §8.1): image previews and their cache, point
//! clouds, meshes, skeletons, sequences, archives.

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

use crate::fixture::*;
use crate::helpers::*;

/// The scan and fileset ids of the spec's cache-name test vectors (§7.1).
const SCAN: &str = "arabidopsis_B2";
const PC: &str = "PointCloud_1_0_1_0_False_4ce2e46446";
const MESH: &str = "TriangleMesh_9_most_connected_t_open3d_00e095c359";
const SKEL: &str = "CurveSkeleton_out__TriangleMesh_6a92751c20";
const AAI: &str = "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b";

const POINTS: [[f64; 3]; 3] = [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [10.0, 0.0, 0.0]];
const SKELETON: &str = r#"{"points": [[0, 0, 0], [1, 2, 3]], "lines": [[0, 1]]}"#;
const SEQUENCE: &str =
    r#"{"angles": [1.5, 2.5], "internodes": [10, 20], "fruit_points": [[1, 2, 3]]}"#;

fn build(root: &Path) {
    let mut s = ScanFixture::new(root, SCAN);
    s.metadata(json!({}));
    s.rgb("00000_rgb", "00000_rgb.png", &png(300, 225));
    s.rgb("00001_rgb", "00001_rgb.png", &png(300, 225));
    s.rgb("portrait", "portrait.png", &png(61, 97));
    s.file("images", "notes", "notes.txt", b"not an image");
    s.file(PC, "PointCloud", "PointCloud.ply", &ply_points(&POINTS));
    s.file(
        MESH,
        "TriangleMesh",
        "TriangleMesh.ply",
        &ply_mesh(
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.5, 0.5, 1.0],
            ],
            &[&[0, 1, 2, 3], &[0, 1, 4]],
        ),
    );
    s.file(
        SKEL,
        "CurveSkeleton",
        "CurveSkeleton.json",
        SKELETON.as_bytes(),
    );
    s.file(
        AAI,
        "AnglesAndInternodes",
        "AnglesAndInternodes.json",
        SEQUENCE.as_bytes(),
    );
    s.finish();
    s.write(
        "measures.json",
        br#"{"angles": [9.0], "internodes": [8.0]}"#,
    );
    s.write(".hidden_file", b"x");
    s.write(".hidden_dir/x.txt", b"x");
    s.write("webcache/old.jpeg", b"x");
    s.write("sub/webcache/kept.txt", b"kept");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("romidb"), s.dir.join("link_out")).unwrap();

    // Ground truth only, manual measures without internodes.
    let mut g = ScanFixture::new(root, "gt_scan");
    g.metadata(json!({}));
    g.rgb("a", "a.png", &png(4, 4));
    g.file(
        "PointCloudGroundTruth__x",
        "PointCloudGroundTruth",
        "PointCloudGroundTruth.ply",
        &ply_points(&[[1.0, 2.0, 3.0]]),
    );
    g.file(
        AAI,
        "AnglesAndInternodes",
        "AnglesAndInternodes.json",
        br#"{"angles": [1.0]}"#,
    );
    g.finish();
    g.write("measures.json", br#"{"angles": [7.0]}"#);

    simple_scan(root, "bare", json!({}));
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

async fn image(app: &TestApp, query: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let r = app
        .get(&format!("/api/v1/assets/image/{SCAN}/{query}"))
        .await;
    assert_eq!(r.status(), 200, "{query}");
    let h = r.headers().clone();
    (h, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn image_previews_have_pillow_dimensions() {
    let app = app().await;
    for (query, dims) in [
        ("images/00000_rgb", (150, 113)),
        ("images/00000_rgb?size=thumb", (150, 113)),
        ("images/00000_rgb?size=large", (300, 225)),
        ("images/00001_rgb?size=64", (64, 48)),
        ("images/00001_rgb?size=0150", (150, 113)),
        ("images/00001_rgb?size=1", (1, 1)),
        ("images/00001_rgb?size=10000", (300, 225)),
        ("images/portrait?size=50", pillow_thumbnail(61, 97, 50)),
        ("images/portrait?size=thumb", (61, 97)),
    ] {
        let (h, bytes) = image(&app, query).await;
        assert_eq!(h["content-type"], "image/jpeg", "{query}");
        assert_eq!(h["x-content-encoding"], "binary", "{query}");
        assert_eq!(h["cache-control"], "no-cache", "{query}");
        assert_eq!(jpeg_size(&bytes), Some(dims), "{query}");
    }
    assert_eq!(pillow_thumbnail(61, 97, 50), (31, 50));
}

#[tokio::test]
async fn size_orig_is_the_original_file_with_its_type() {
    let app = app().await;
    let (h, bytes) = image(&app, "images/portrait?size=orig").await;
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(bytes, png(61, 97));
    assert_eq!(png_size(&bytes), Some((61, 97)));
    // 0.14 route: real content type too (P20).
    let r = app
        .get(&format!("/image/{SCAN}/images/portrait?size=orig"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn a_bad_size_is_400() {
    let app = app().await;
    for size in [
        "0",
        "-5",
        "%2B150",
        "1_500",
        "10001",
        "abc",
        "",
        "1.5",
        "%20150",
        "Thumb",
        "99999999999",
    ] {
        for route in ["/api/v1/assets/image", "/image"] {
            let (status, body) = app
                .get_json(&format!("{route}/{SCAN}/images/00000_rgb?size={size}"))
                .await;
            assert_eq!(status, 400, "{route} size={size}: {body}");
            assert_error(&body, "invalid_input");
        }
    }
    let (status, _) = app
        .get_json(&format!(
            "/api/v1/assets/image/{SCAN}/images/00000_rgb?size=thumb&size=large"
        ))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn not_an_image_is_400_and_unknown_ids_404() {
    let app = app().await;
    let (status, body) = app
        .get_json(&format!("/api/v1/assets/image/{SCAN}/images/notes"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_input");
    for path in [
        format!("/api/v1/assets/image/{SCAN}/images/nope"),
        format!("/api/v1/assets/image/{SCAN}/nope/00000_rgb"),
        "/api/v1/assets/image/nope/images/00000_rgb".to_string(),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_error(&body, "not_found");
    }
    assert!(
        !app.root.join("nope").exists(),
        "nothing created for an unknown scan"
    );
}

#[tokio::test]
async fn as_base64_answers_json() {
    let app = app().await;
    let (_, binary) = image(&app, "images/00000_rgb?size=thumb").await;
    for yes in ["true", "1", "yes", "True"] {
        let r = app
            .get(&format!(
                "/api/v1/assets/image/{SCAN}/images/00000_rgb?size=thumb&as_base64={yes}"
            ))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-content-encoding"], "base64");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["content-type"], "image/jpeg");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body["image"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, binary, "the cached preview, base64-encoded");
    }
    let r = app
        .get(&format!(
            "/api/v1/assets/image/{SCAN}/images/portrait?size=orig&as_base64=true"
        ))
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["content-type"], "image/png");
    let (_, binary) = image(&app, "images/00000_rgb?size=thumb&as_base64=false").await;
    assert_eq!(jpeg_size(&binary), Some((150, 113)));
    let (status, _) = app
        .get_json(&format!(
            "/api/v1/assets/image/{SCAN}/images/00000_rgb?as_base64=maybe"
        ))
        .await;
    assert_eq!(status, 400);
}

fn cache(app: &TestApp, name: &str) -> std::path::PathBuf {
    app.root.join(SCAN).join("webcache").join(name)
}

#[tokio::test]
async fn previews_are_cached_under_the_python_names() {
    let app = app().await;
    for (query, name) in [
        (
            "images/00000_rgb?size=thumb",
            "31d49ae2974ec50a0e02e3757197fe287b233971.jpeg",
        ),
        (
            "images/00001_rgb?size=large",
            "3c2c4f39084221a1ee432c166ef52877b3fc0074.jpeg",
        ),
        (
            "images/00001_rgb?size=64",
            "a59e1238637180abecfdfb75db2679bf89e09251.jpeg",
        ),
        (
            "images/00001_rgb?size=064",
            "a59e1238637180abecfdfb75db2679bf89e09251.jpeg",
        ),
    ] {
        let (_, bytes) = image(&app, query).await;
        let path = cache(&app, name);
        assert!(path.is_file(), "{query}: {name}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{query}");
    }
    for (query, name) in [
        ("", "b365d3074bd97f3fbb68a62adc71916948501548.ply"),
        (
            "?size=preview",
            "b365d3074bd97f3fbb68a62adc71916948501548.ply",
        ),
        ("?size=2", "e95d429a2be9d569aea693306387884e457534db.ply"),
        ("?size=2.0", "e95d429a2be9d569aea693306387884e457534db.ply"),
    ] {
        let r = app
            .get(&format!("/api/v1/assets/pointcloud/{SCAN}{query}"))
            .await;
        assert_eq!(r.status(), 200, "{query}");
        assert_eq!(
            r.headers()["content-disposition"],
            format!("inline; filename={name}").as_str()
        );
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            std::fs::read(cache(&app, name)).unwrap(),
            bytes.as_ref(),
            "{query}"
        );
    }
    // Only these five files (plus the stale one written by the fixture).
    let n = std::fs::read_dir(app.root.join(SCAN).join("webcache"))
        .unwrap()
        .count();
    assert_eq!(n, 6);
    // The cache can be read back through the file-path route.
    let r = app
        .get(&format!(
            "/api/v1/assets/files/{SCAN}/webcache/31d49ae2974ec50a0e02e3757197fe287b233971.jpeg"
        ))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_cached_preview_is_regenerated_when_the_source_is_newer() {
    let app = app().await;
    let (_, first) = image(&app, "images/00000_rgb?size=thumb").await;
    assert_eq!(jpeg_size(&first), Some((150, 113)));
    let source = app.root.join(SCAN).join("images/00000_rgb.png");
    std::fs::write(&source, png(225, 300)).unwrap();
    touch_by(&source, 10);
    let (_, second) = image(&app, "images/00000_rgb?size=thumb").await;
    assert_eq!(
        jpeg_size(&second),
        Some(pillow_thumbnail(225, 300, 150)),
        "regenerated"
    );
    let name = "31d49ae2974ec50a0e02e3757197fe287b233971.jpeg";
    assert_eq!(std::fs::read(cache(&app, name)).unwrap(), second);
    // An older cache file than an unchanged source is reused.
    let (_, third) = image(&app, "images/00000_rgb?size=thumb").await;
    assert_eq!(third, second);
}

#[tokio::test]
async fn a_cached_preview_answers_conditional_and_range_requests() {
    let app = app().await;
    let path = format!("/api/v1/assets/image/{SCAN}/images/00000_rgb?size=thumb");
    let r = app.get(&path).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let len = r.bytes().await.unwrap().len();
    let r = app.get_h(&path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), 304);
    let r = app.get_h(&path, &[("Range", "bytes=0-1")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-1/{len}").as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), [0xFF, 0xD8]);
}

/// The `(x, y, z)` rows of a binary little-endian PLY of doubles.
fn ply_rows(bytes: &[u8]) -> Vec<[f64; 3]> {
    let (head, n) = ply_header(bytes);
    assert!(head.contains("format binary_little_endian 1.0"), "{head}");
    for p in [
        "property double x",
        "property double y",
        "property double z",
    ] {
        assert!(head.contains(p), "{head}");
    }
    let per = head.lines().filter(|l| l.starts_with("property")).count() * 8;
    assert!(!head.contains("uchar"), "no colours in the fixture: {head}");
    let body = &bytes[bytes
        .windows(11)
        .position(|w| w == b"end_header\n")
        .unwrap()
        + 11..];
    assert_eq!(body.len(), n * per, "{head}");
    (0..n)
        .map(|i| {
            let f = |k: usize| {
                let at = i * per + k * 8;
                f64::from_le_bytes(body[at..at + 8].try_into().unwrap())
            };
            [f(0), f(1), f(2)]
        })
        .collect()
}

#[tokio::test]
async fn point_clouds_preview_voxel_orig_and_coordinates() {
    let app = app().await;
    for query in ["", "?size=preview", "?size=2", "?size=abc"] {
        let r = app
            .get(&format!("/api/v1/assets/pointcloud/{SCAN}{query}"))
            .await;
        assert_eq!(r.status(), 200, "{query}");
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        let rows = ply_rows(&r.bytes().await.unwrap());
        assert_eq!(rows, [[0.25, 0.0, 0.0], [10.0, 0.0, 0.0]], "{query}");
    }
    let r = app
        .get(&format!("/api/v1/assets/pointcloud/{SCAN}?size=0.1"))
        .await;
    assert_eq!(ply_rows(&r.bytes().await.unwrap()).len(), 3);
    let r = app
        .get(&format!("/api/v1/assets/pointcloud/{SCAN}?size=orig"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename=PointCloud.ply"
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        ply_points(&POINTS).as_slice()
    );

    let (status, body) = app
        .get_json(&format!("/api/v1/assets/pointcloud/{SCAN}?coords=true"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"coordinates": [[0.25, 0.0, 0.0], [10.0, 0.0, 0.0]]})
    );
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/assets/pointcloud/{SCAN}?coords=1&size=orig"
        ))
        .await;
    assert_eq!(body, json!({"coordinates": POINTS}));
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/assets/pointcloud/{SCAN}?coords=yes&size=2"
        ))
        .await;
    assert_eq!(body["coordinates"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn point_cloud_bad_sizes_are_400() {
    let app = app().await;
    for size in ["0.001", "0", "-1", "inf", "nan", "1001", "1e9"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/assets/pointcloud/{SCAN}?size={size}"))
            .await;
        assert_eq!(status, 400, "size={size}: {body}");
        assert_error(&body, "invalid_input");
    }
    let (status, _) = app
        .get_json(&format!("/api/v1/assets/pointcloud/{SCAN}?coords=maybe"))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn point_cloud_type_gt_selects_the_ground_truth() {
    let app = app().await;
    let (status, body) = app
        .get_json("/api/v1/assets/pointcloud/gt_scan?type=gt&coords=true&size=orig")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"coordinates": [[1.0, 2.0, 3.0]]}));
    let (status, body) = app.get_json("/api/v1/assets/pointcloud/gt_scan").await;
    assert_eq!(status, 404, "no PointCloud task: {body}");
    assert_error(&body, "not_found");
    let (status, body) = app
        .get_json(&format!("/api/v1/assets/pointcloud/{SCAN}?type=gt"))
        .await;
    assert_eq!(status, 404, "{body}");
    // Any other type is the default cloud.
    let r = app
        .get(&format!("/api/v1/assets/pointcloud/{SCAN}?type=default"))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn meshes_raw_and_coordinates() {
    let app = app().await;
    for query in ["", "?size=preview", "?size=whatever"] {
        let r = app.get(&format!("/api/v1/assets/mesh/{SCAN}{query}")).await;
        assert_eq!(r.status(), 200, "{query}");
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        let raw = std::fs::read(app.root.join(SCAN).join(MESH).join("TriangleMesh.ply")).unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_slice());
    }
    let r = app
        .get(&format!("/api/v1/assets/mesh/{SCAN}?coords=true"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.unwrap();
    let t = text.find("\"triangles\"").unwrap();
    let v = text.find("\"vertices\"").unwrap();
    assert!(t < v, "triangles first: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        json!({"triangles": [[0, 1, 2], [0, 2, 3], [0, 1, 4]],
               "vertices": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 1.0]]})
    );
    let (status, body) = app.get_json("/api/v1/assets/mesh/bare").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn skeleton_is_the_parsed_json() {
    let app = app().await;
    let (status, body) = app
        .get_json(&format!("/api/v1/assets/skeleton/{SCAN}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::from_str::<Value>(SKELETON).unwrap());
    let (status, body) = app.get_json("/api/v1/assets/skeleton/bare").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn sequences_with_types_and_manual_measures() {
    let app = app().await;
    let url = |q: &str| format!("/api/v1/assets/sequence/{SCAN}{q}");
    let mut whole: Value = serde_json::from_str(SEQUENCE).unwrap();
    whole["manual_angles"] = json!([9.0]);
    whole["manual_internodes"] = json!([8.0]);
    for q in ["", "?type=all", "?type=bogus"] {
        let (status, body) = app.get_json(&url(q)).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(body, whole, "{q}");
    }
    for (t, v) in [
        ("angles", json!([1.5, 2.5])),
        ("internodes", json!([10, 20])),
        ("fruit_points", json!([[1, 2, 3]])),
        ("manual_angles", json!([9.0])),
        ("manual_internodes", json!([8.0])),
    ] {
        let (status, body) = app.get_json(&url(&format!("?type={t}"))).await;
        assert_eq!(status, 200, "{t}");
        assert_eq!(body, v, "{t}");
    }
    // measures.json without internodes: that manual key is omitted.
    let (_, body) = app.get_json("/api/v1/assets/sequence/gt_scan").await;
    assert_eq!(body, json!({"angles": [1.0], "manual_angles": [7.0]}));
    for t in ["manual_internodes", "fruit_points", "internodes"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/assets/sequence/gt_scan?type={t}"))
            .await;
        assert_eq!(status, 404, "{t}: {body}");
        assert_error(&body, "not_found");
    }
    let (status, _) = app.get_json("/api/v1/assets/sequence/bare").await;
    assert_eq!(status, 404);
}

async fn zip(app: &TestApp, path: &str) -> Vec<ZipEntry> {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("inline; filename={SCAN}.zip").as_str()
    );
    assert_eq!(r.headers()["cache-control"], "no-cache");
    read_zip(&r.bytes().await.unwrap())
}

#[tokio::test]
async fn the_archive_holds_the_scan_files_relative_to_the_scan() {
    let app = app().await;
    // A cached preview must not be archived.
    image(&app, "images/00000_rgb?size=thumb").await;
    let entries = zip(&app, &format!("/api/v1/assets/archive/{SCAN}")).await;
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = vec![
        "files.json",
        "measures.json",
        "metadata/metadata.json",
        "metadata/images/00000_rgb.json",
        "metadata/images/00001_rgb.json",
        "metadata/images/portrait.json",
        "images/00000_rgb.png",
        "images/00001_rgb.png",
        "images/portrait.png",
        "images/notes.txt",
        "sub/webcache/kept.txt",
    ];
    expected.extend([
        "PointCloud_1_0_1_0_False_4ce2e46446/PointCloud.ply",
        "TriangleMesh_9_most_connected_t_open3d_00e095c359/TriangleMesh.ply",
        "CurveSkeleton_out__TriangleMesh_6a92751c20/CurveSkeleton.json",
        "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b/AnglesAndInternodes.json",
    ]);
    expected.sort_unstable();
    assert_eq!(names, expected);
    for e in &entries {
        assert_eq!(e.method, 0, "stored: {}", e.name);
        let on_disk = std::fs::read(app.root.join(SCAN).join(&e.name)).unwrap();
        assert_eq!(e.data, on_disk, "{}", e.name);
    }
}

#[tokio::test]
async fn the_viewer_archive_puts_entries_under_the_scan_id() {
    let app = app().await;
    let entries = zip(&app, &format!("/archive/{SCAN}")).await;
    assert!(!entries.is_empty());
    for e in &entries {
        assert!(e.name.starts_with(&format!("{SCAN}/")), "{}", e.name);
        let rel = &e.name[SCAN.len() + 1..];
        assert!(
            !rel.starts_with("webcache/") && !rel.contains("/."),
            "{}",
            e.name
        );
    }
    assert!(entries
        .iter()
        .any(|e| e.name == format!("{SCAN}/files.json")));
}

#[tokio::test]
async fn the_archive_can_be_listed_by_unzip() {
    let app = app().await;
    let r = app.get(&format!("/api/v1/assets/archive/{SCAN}")).await;
    let bytes = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.zip");
    std::fs::write(&file, &bytes).unwrap();
    let Ok(out) = std::process::Command::new("unzip")
        .arg("-t")
        .arg(&file)
        .output()
    else {
        return; // no unzip on this machine: read_zip covers the format
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn unknown_scans_are_404_json_on_every_asset_route() {
    let app = app().await;
    for path in [
        "/api/v1/assets/image/nope/images/a",
        "/api/v1/assets/image/nope/images/a?size=orig",
        "/api/v1/assets/pointcloud/nope",
        "/api/v1/assets/pointcloud/nope?coords=true",
        "/api/v1/assets/mesh/nope",
        "/api/v1/assets/mesh/nope?coords=true",
        "/api/v1/assets/skeleton/nope",
        "/api/v1/assets/sequence/nope",
        "/api/v1/assets/archive/nope",
        "/api/v1/assets/files/nope/files.json",
        "/image/nope/images/a",
        "/pointcloud/nope/fs/f",
        "/pcGroundTruth/nope/fs/f",
        "/mesh/nope/fs/f",
        "/skeleton/nope",
        "/sequence/nope",
        "/archive/nope",
        "/files/nope/files.json",
        "/scans/nope",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body: Value = r.json().await.unwrap();
        assert_error(&body, "not_found");
    }
    assert!(!app.root.join("nope").exists());
}

fn formats(root: &Path) {
    let mut s = ScanFixture::new(root, "formats");
    s.metadata(json!({}));
    let (w, h) = (40u32, 30u32);
    let n = (w * h) as usize;
    let grey: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
    let grey_alpha: Vec<u8> = (0..n).flat_map(|i| [(i % 256) as u8, 128]).collect();
    let rgba: Vec<u8> = (0..n).flat_map(|i| [(i % 256) as u8, 10, 20, 0]).collect();
    let grey16: Vec<u8> = (0..n)
        .flat_map(|i| ((i * 50) as u16).to_be_bytes())
        .collect();
    let rgb16: Vec<u8> = (0..n * 3)
        .flat_map(|i| ((i * 20) as u16).to_be_bytes())
        .collect();
    let indexed: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let palette = [255u8, 0, 0, 0, 255, 0, 0, 0, 255];
    for (id, bytes) in [
        ("grey", png_raw(w, h, 0, 8, &grey, None)),
        ("grey_alpha", png_raw(w, h, 4, 8, &grey_alpha, None)),
        ("rgba", png_raw(w, h, 6, 8, &rgba, None)),
        ("grey16", png_raw(w, h, 0, 16, &grey16, None)),
        ("rgb16", png_raw(w, h, 2, 16, &rgb16, None)),
        ("palette", png_raw(w, h, 3, 8, &indexed, Some(&palette))),
    ] {
        s.rgb(id, &format!("{id}.png"), &bytes);
    }
    s.rgb("tiff_rgb", "tiff_rgb.tif", &tiff(w, h, 3, 8));
    s.rgb("tiff_grey16", "tiff_grey16.tiff", &tiff(w, h, 1, 16));
    s.rgb("tiff_grey8", "tiff_grey8.tif", &tiff(w, h, 1, 8));
    s.rgb("truncated", "truncated.png", &png(40, 30)[..60]);
    s.finish();
}

#[tokio::test]
async fn previews_of_png_and_tiff_in_every_colour_layout() {
    let app = spawn_with(formats, &[]).await;
    for id in [
        "grey",
        "grey_alpha",
        "rgba",
        "grey16",
        "rgb16",
        "palette",
        "tiff_rgb",
        "tiff_grey16",
        "tiff_grey8",
    ] {
        for (size, dims) in [("thumb", (40, 30)), ("20", (20, 15))] {
            let r = app
                .get(&format!(
                    "/api/v1/assets/image/formats/images/{id}?size={size}"
                ))
                .await;
            assert_eq!(r.status(), 200, "{id} {size}");
            assert_eq!(r.headers()["content-type"], "image/jpeg", "{id}");
            let bytes = r.bytes().await.unwrap();
            assert_eq!(jpeg_size(&bytes), Some(dims), "{id} {size}");
        }
        let r = app
            .get(&format!(
                "/api/v1/assets/image/formats/images/{id}?size=orig"
            ))
            .await;
        let expected = if id.starts_with("tiff") {
            "image/tiff"
        } else {
            "image/png"
        };
        assert_eq!(r.headers()["content-type"], expected, "{id}");
    }
    let (status, body) = app
        .get_json("/api/v1/assets/image/formats/images/truncated")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_input");
}

#[tokio::test]
async fn previews_are_served_when_the_cache_cannot_be_written() {
    let app = spawn_with(
        |root| {
            let s = simple_scan(root, "s", json!({}));
            // A regular file where the cache directory would go.
            s.write("webcache", b"not a directory");
            s.write(
                "PointCloud_x/PointCloud.ply",
                &ply_points(&[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]),
            );
            let mut files: Value =
                serde_json::from_slice(&std::fs::read(s.dir.join("files.json")).unwrap()).unwrap();
            files["filesets"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": "PointCloud_x", "files": [{"id": "PointCloud", "file": "PointCloud.ply"}]}));
            std::fs::write(s.dir.join("files.json"), files.to_string()).unwrap();
        },
        &[],
    )
    .await;
    let r = app
        .get("/api/v1/assets/image/s/images/00000_rgb?size=4")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(jpeg_size(&r.bytes().await.unwrap()), Some((4, 3)));
    let r = app.get("/api/v1/assets/pointcloud/s").await;
    assert_eq!(r.status(), 200);
    let (_, n) = ply_header(&r.bytes().await.unwrap());
    assert_eq!(n, 1);
    let (status, body) = app.get_json("/api/v1/assets/pointcloud/s?coords=1").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"coordinates": [[0.05, 0.0, 0.0]]}));
}

#[tokio::test]
async fn a_timelapse_scan_caches_its_previews_in_its_own_directory() {
    let app = spawn_with(
        |root| {
            timelapse(root, "tl", &["tl_s"]);
            simple_scan(root, "tl/tl_s", json!({"timelapse": {"id": "tl"}}));
        },
        &[],
    )
    .await;
    let r = app.get("/api/v1/assets/image/tl_s/images/00000_rgb").await;
    assert_eq!(r.status(), 200);
    let cached: Vec<_> = std::fs::read_dir(app.root.join("tl/tl_s/webcache"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(cached.len(), 1);
    assert!(!app.root.join("tl_s").exists());
    let r = app.get("/api/v1/assets/archive/tl_s").await;
    assert_eq!(r.status(), 200);
    let names: Vec<String> = read_zip(&r.bytes().await.unwrap())
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(names.contains(&"files.json".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("webcache")),
        "{names:?}"
    );
}

/// A binary big-endian PLY with float normals and uchar colours.
fn ply_be_with_normals_and_colours(rows: &[([f32; 3], [f32; 3], [u8; 3])]) -> Vec<u8> {
    let mut out = format!(
        "ply\nformat binary_big_endian 1.0\ncomment test\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nproperty float nx\nproperty float ny\nproperty float nz\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n",
        rows.len()
    )
    .into_bytes();
    for (p, n, c) in rows {
        for v in p.iter().chain(n.iter()) {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(c);
    }
    out
}

#[tokio::test]
async fn down_sampling_averages_points_colours_and_normals() {
    let app = spawn_with(
        |root| {
            let mut s = ScanFixture::new(root, "s");
            s.metadata(json!({}));
            s.rgb("a", "a.png", &png(4, 4));
            s.file(
                "PointCloud_x",
                "PointCloud",
                "PointCloud.ply",
                &ply_be_with_normals_and_colours(&[
                    ([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0, 0, 0]),
                    ([0.5, 0.0, 0.0], [0.0, 1.0, 0.0], [100, 200, 50]),
                    ([10.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1, 2, 3]),
                ]),
            );
            s.finish();
        },
        &[],
    )
    .await;
    let (status, body) = app
        .get_json("/api/v1/assets/pointcloud/s?coords=true&size=orig")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"coordinates": [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [10.0, 0.0, 0.0]]})
    );
    let r = app.get("/api/v1/assets/pointcloud/s").await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    let (head, n) = ply_header(&bytes);
    assert_eq!(n, 2);
    let props: Vec<&str> = head.lines().filter(|l| l.starts_with("property")).collect();
    assert_eq!(
        props,
        [
            "property double x",
            "property double y",
            "property double z",
            "property double nx",
            "property double ny",
            "property double nz",
            "property uchar red",
            "property uchar green",
            "property uchar blue"
        ],
        "{head}"
    );
    let body = &bytes[bytes
        .windows(11)
        .position(|w| w == b"end_header\n")
        .unwrap()
        + 11..];
    assert_eq!(body.len(), 2 * (6 * 8 + 3));
    let d = |i: usize| f64::from_le_bytes(body[i * 8..i * 8 + 8].try_into().unwrap());
    let first: Vec<f64> = (0..6).map(d).collect();
    let h = std::f64::consts::FRAC_1_SQRT_2;
    for (got, want) in first.iter().zip([0.25, 0.0, 0.0, h, h, 0.0]) {
        assert!((got - want).abs() < 1e-6, "{first:?}");
    }
    assert_eq!(&body[48..51], &[50, 100, 25]);
}

#[tokio::test]
async fn meshes_with_vertex_index_and_binary_faces() {
    let mut ply = b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty double x\nproperty double y\nproperty double z\nelement face 1\nproperty list uchar uint vertex_index\nend_header\n".to_vec();
    for v in [
        [0.0f64, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 1.0, 0.0],
    ] {
        for c in v {
            ply.extend_from_slice(&c.to_le_bytes());
        }
    }
    ply.push(4);
    for i in [3u32, 2, 1, 0] {
        ply.extend_from_slice(&i.to_le_bytes());
    }
    let app = spawn_with(
        move |root| {
            let mut s = ScanFixture::new(root, "s");
            s.metadata(json!({}));
            s.rgb("a", "a.png", &png(4, 4));
            s.file("TriangleMesh_x", "TriangleMesh", "TriangleMesh.ply", &ply);
            s.finish();
        },
        &[],
    )
    .await;
    let (status, body) = app.get_json("/api/v1/assets/mesh/s?coords=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["triangles"], json!([[3, 2, 1], [3, 1, 0]]));
    assert_eq!(body["vertices"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn unreadable_pipeline_outputs() {
    let app = spawn_with(
        |root| {
            let mut s = ScanFixture::new(root, "s");
            s.metadata(json!({}));
            s.rgb("a", "a.png", &png(4, 4));
            s.file(
                "PointCloud_x",
                "PointCloud",
                "PointCloud.ply",
                b"not a ply at all",
            );
            s.file(
                "TriangleMesh_x",
                "TriangleMesh",
                "TriangleMesh.ply",
                b"ply\nformat ascii 1.0\nend_header\n",
            );
            s.file(
                "AnglesAndInternodes_x",
                "AnglesAndInternodes",
                "AnglesAndInternodes.json",
                br#"{"angles": [1]}"#,
            );
            s.finish();
            s.write("measures.json", b"{ torn");
        },
        &[],
    )
    .await;
    for path in [
        "/api/v1/assets/pointcloud/s",
        "/api/v1/assets/pointcloud/s?coords=true",
        "/api/v1/assets/pointcloud/s?coords=true&size=orig",
        "/api/v1/assets/mesh/s?coords=true",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_error(&body, "invalid_input");
    }
    // The raw file is still served as is.
    let r = app.get("/api/v1/assets/pointcloud/s?size=orig").await;
    assert_eq!(r.status(), 200);
    // measures.json that does not parse: no manual keys.
    let (status, body) = app.get_json("/api/v1/assets/sequence/s").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"angles": [1]}));
    let (_, d) = app.get_json("/api/v1/scans/s").await;
    assert_eq!(
        d["hasManualMeasures"], true,
        "an entry named measures.json exists"
    );
}
