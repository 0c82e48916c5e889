//! The scan-info document (data-api.md §5): keys and values for a
//! hand-built scan, the degraded document, and every URI resolving.

use std::path::Path;

use serde_json::{json, Value};

use crate::fixture::*;
use crate::helpers::*;

const PC: &str = "PointCloud_1_0_1_0_False_4ce2e46446";
const MESH: &str = "TriangleMesh_9_most_connected_t_open3d_00e095c359";
const SKEL: &str = "CurveSkeleton_out__TriangleMesh_6a92751c20";
const TREE: &str = "TreeGraph__False_CurveSkeleton_c304a2cc71";
const AAI: &str = "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b";
const GT: &str = "PointCloudGroundTruth__abc";

fn colmap(tx: f64) -> Value {
    json!({"camera_model": {"model": "OPENCV", "width": 8, "height": 6, "params": [1.0, 1.0, 4.0, 3.0]},
           "tvec": [tx, 0.0, 1.0], "rotmat": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]})
}

/// A complete scan with every pipeline output, 0.17 metadata keys.
pub fn full_scan(root: &Path, rel: &str) {
    let mut s = ScanFixture::new(root, rel);
    s.metadata(json!({
        "acquisition_date": "2024-03-04 10:00:00",
        "biologicalMaterial": {"biologicalMaterialId": "plant-3",
                               "organism": {"species": "Arabidopsis thaliana"}},
        "study": {"growthFacility": {"name": "Lyon indoor"}},
        "object": {"species": "ignored (0.17 key wins)", "plant_id": "ignored", "environment": "ignored"},
        "ScanPath": {"class_name": "Circle", "kwargs": {"center_x": 370, "center_y": 380}},
    }));
    s.write(
        "pipeline.toml",
        b"[Voxels]\ntype = \"carving\"\nbounding_box = { x = [0, 1], y = [0, 1], z = [-300, -500, 100] }\n",
    );
    s.rgb("00000_rgb", "00000_rgb.png", &png(8, 6));
    s.file_metadata(
        "images",
        "00000_rgb",
        json!({"channel": "rgb", "colmap_camera": colmap(1.0)}),
    );
    // Not RGB: neither in `images` nor counted.
    s.file("images", "00000_mask", "00000_mask.png", &png(8, 6));
    s.file_metadata("images", "00000_mask", json!({"channel": "segmentation"}));
    s.rgb("00001_rgb", "00001_rgb.png", &png(8, 6));
    s.file_metadata(
        "images",
        "00001_rgb",
        json!({"channel": "rgb", "colmap_camera": colmap(2.0)}),
    );
    // An RGB image whose pose lacks tvec: left out of the poses.
    s.rgb("00002_rgb", "00002_rgb.png", &png(8, 6));
    s.file_metadata(
        "images",
        "00002_rgb",
        json!({"channel": "rgb", "colmap_camera": {"rotmat": []}}),
    );
    s.file("Colmap__True_None_0", "cameras", "cameras.json", b"{}");
    // An older PointCloud fileset: the later one with the same task wins.
    s.file(
        "PointCloud_old",
        "PointCloud",
        "PointCloud.ply",
        &ply_points(&[[0.0; 3]]),
    );
    s.file(
        PC,
        "PointCloud",
        "PointCloud.ply",
        &ply_points(&[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
    );
    s.file(
        MESH,
        "TriangleMesh",
        "TriangleMesh.ply",
        &ply_mesh(&[[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], &[&[0, 1, 2]]),
    );
    s.file(
        SKEL,
        "CurveSkeleton",
        "CurveSkeleton.json",
        br#"{"points": [[0, 0, 0], [1, 1, 1]], "lines": [[0, 1]]}"#,
    );
    s.file(TREE, "TreeGraph", "TreeGraph.p", b"\x80\x04pickle");
    s.file(
        AAI,
        "AnglesAndInternodes",
        "AnglesAndInternodes.json",
        br#"{"angles": [1.5, 2.5], "internodes": [10, 20], "fruit_points": []}"#,
    );
    s.file(
        GT,
        "PointCloudGroundTruth",
        "PointCloudGroundTruth.ply",
        &ply_points(&[[0.0; 3]]),
    );
    // The file id must be the task name for the flag.
    s.file("SegmentedPointCloud__x", "other", "other.json", b"{}");
    s.json(
        "measures.json",
        &json!({"angles": [1.0], "internodes": [2.0]}),
    );
    s.finish();
}

/// 0.14 metadata keys (`object.*`), `workspace` in the metadata, no Colmap.
fn legacy_scan(root: &Path, rel: &str) {
    let mut s = ScanFixture::new(root, rel);
    s.metadata(json!({
        "acquisition_date": "2019-06-01T08:30:15.123456",
        "object": {"species": "Solanum lycopersicum", "plant_id": "p7", "environment": "greenhouse"},
        "workspace": {"x": [0, 10], "y": [0, 20], "z": [0, 30]},
    }));
    s.rgb("img_0", "img_0.png", &png(8, 6));
    s.finish();
}

fn build(root: &Path) {
    full_scan(root, "full");
    legacy_scan(root, "legacy");
    // Workspace from the images fileset metadata.
    let s = simple_scan(root, "ws_fileset", json!({"acquisition_date": "no-date"}));
    s.fileset_metadata(
        "images",
        json!({"workspace": {"x": [1, 2], "y": [3, 4], "z": [5, 6]}}),
    );
    // Nothing known: null workspace; odd date (two spaces): ctime rule.
    simple_scan(root, "bare", json!({"acquisition_date": "2024 03 04"}));
    // Non-object levels count as missing.
    simple_scan(
        root,
        "odd_levels",
        json!({"biologicalMaterial": "text", "study": {"growthFacility": null},
               "object": {"species": "from object"}, "acquisition_date": 20240304}),
    );
    // ScanPath without center: x and y default to 375; no pipeline.toml: z -500.
    simple_scan(
        root,
        "scanpath_default",
        json!({"ScanPath": {"kwargs": {"center_x": 1}}}),
    );
    // First images file is not an image: thumbnail from the first image.
    let mut s = ScanFixture::new(root, "first_not_image");
    s.metadata(json!({}));
    s.file("images", "notes", "notes.txt", b"hello");
    s.rgb("pic", "pic.png", &png(8, 6));
    s.finish();
    // Degraded: no images fileset, or an empty one.
    let mut s = ScanFixture::new(root, "no_images");
    s.metadata(json!({}));
    s.file("other", "f", "f.json", b"{}");
    s.finish();
    let mut s = ScanFixture::new(root, "empty_images");
    s.metadata(json!({}));
    s.fileset("images");
    s.finish();
    // Timelapse scans.
    timelapse(root, "tl", &["tl_0"]);
    let rel = "tl/tl_0";
    full_scan(root, rel);
    let mut md: Value = serde_json::from_slice(
        &std::fs::read(root.join(rel).join("metadata/metadata.json")).unwrap(),
    )
    .unwrap();
    md["timelapse"] = json!({"id": "tl", "index": 0});
    std::fs::write(
        root.join(rel).join("metadata/metadata.json"),
        md.to_string(),
    )
    .unwrap();
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

async fn doc(app: &TestApp, id: &str) -> Value {
    let (status, doc) = app.get_json(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(status, 200, "{id}: {doc}");
    doc
}

#[tokio::test]
async fn the_document_of_a_complete_scan() {
    let app = app().await;
    let d = doc(&app, "full").await;
    let b = "/api/v1/assets";
    assert_eq!(d["id"], "full");
    assert_eq!(
        d["metadata"],
        json!({"date": "2024-03-04 10:00:00", "species": "Arabidopsis thaliana", "plant": "plant-3",
               "environment": "Lyon indoor", "nbPhotos": 3,
               "files": {"metadata": format!("{b}/files/full/metadata/metadata.json"),
                         "archive": format!("{b}/archive/full")}})
    );
    assert_eq!(
        d["thumbnailUri"],
        format!("{b}/image/full/images/00000_rgb?size=thumb")
    );
    assert_eq!(
        d["images"],
        json!(["00000_rgb.png", "00001_rgb.png", "00002_rgb.png"])
    );
    assert_eq!(
        d["tasks_fileset"],
        json!({"images": "images", "Colmap": "Colmap__True_None_0", "PointCloud": PC,
               "TriangleMesh": MESH, "CurveSkeleton": SKEL, "TreeGraph": TREE,
               "AnglesAndInternodes": AAI, "PointCloudGroundTruth": GT,
               "SegmentedPointCloud": "SegmentedPointCloud__x"})
    );
    assert_eq!(
        d["filesUri"],
        json!({"pointCloud": format!("{b}/files/full/{PC}/PointCloud.ply"),
               "mesh": format!("{b}/files/full/{MESH}/TriangleMesh.ply"),
               "skeleton": format!("{b}/files/full/{SKEL}/CurveSkeleton.json"),
               "tree": format!("{b}/files/full/{TREE}/TreeGraph.p"),
               "pcdGroundTruth": format!("{b}/files/full/{GT}/PointCloudGroundTruth.ply")})
    );
    for (key, value) in [
        ("isVirtual", false),
        ("hasColmap", true),
        ("hasPointCloud", true),
        ("hasTriangleMesh", true),
        ("hasCurveSkeleton", true),
        ("hasTreeGraph", true),
        ("hasAnglesAndInternodes", true),
        ("hasAutomatedMeasures", true),
        ("hasManualMeasures", true),
        ("hasSegmentation2D", false),
        ("hasPcdGroundTruth", true),
        ("hasPointCloudEvaluation", false),
        ("hasSegmentedPointCloud", false),
        ("hasSegmentedPcdEvaluation", false),
        ("error", false),
    ] {
        assert_eq!(d[key], value, "{key}");
    }
    // x, y from ScanPath, z from the smallest bounding_box z (ints stay ints).
    assert_eq!(
        d["workspace"],
        json!({"x": [220, 520], "y": [230, 530], "z": [-650, -350]})
    );
    let pose = |id: &str, tx: f64| {
        json!({"id": id, "tvec": [tx, 0.0, 1.0],
               "rotmat": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
               "photoUri": format!("{b}/image/full/images/{id}?size=orig"),
               "thumbnailUri": format!("{b}/image/full/images/{id}?size=thumb")})
    };
    assert_eq!(
        d["camera"],
        json!({"model": colmap(0.0)["camera_model"],
               "poses": [pose("00000_rgb", 1.0), pose("00001_rgb", 2.0)]})
    );
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "metadata",
            "thumbnailUri",
            "images",
            "tasks_fileset",
            "filesUri",
            "isVirtual",
            "hasColmap",
            "hasPointCloud",
            "hasTriangleMesh",
            "hasCurveSkeleton",
            "hasTreeGraph",
            "hasAnglesAndInternodes",
            "hasAutomatedMeasures",
            "hasManualMeasures",
            "hasSegmentation2D",
            "hasPcdGroundTruth",
            "hasPointCloudEvaluation",
            "hasSegmentedPointCloud",
            "hasSegmentedPcdEvaluation",
            "error",
            "workspace",
            "camera"
        ],
        "Python's key order"
    );
}

#[tokio::test]
async fn legacy_object_keys_iso_dates_and_metadata_workspace() {
    let app = app().await;
    let d = doc(&app, "legacy").await;
    assert_eq!(d["metadata"]["date"], "2019-06-01 08:30:15");
    assert_eq!(d["metadata"]["species"], "Solanum lycopersicum");
    assert_eq!(d["metadata"]["plant"], "p7");
    assert_eq!(d["metadata"]["environment"], "greenhouse");
    assert_eq!(d["metadata"]["nbPhotos"], 1);
    assert_eq!(
        d["workspace"],
        json!({"x": [0, 10], "y": [0, 20], "z": [0, 30]})
    );
    assert_eq!(d["camera"], json!({"poses": []}), "no Colmap: empty poses");
    assert_eq!(d["filesUri"], json!({}));
    assert_eq!(d["hasManualMeasures"], false);
    assert_eq!(d["hasColmap"], false);
    assert_eq!(d["images"], json!(["img_0.png"]));
}

fn is_local_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test]
async fn workspace_fallbacks_and_odd_values() {
    let app = app().await;
    let d = doc(&app, "ws_fileset").await;
    assert_eq!(
        d["workspace"],
        json!({"x": [1, 2], "y": [3, 4], "z": [5, 6]})
    );
    let date = d["metadata"]["date"].as_str().unwrap();
    assert!(is_local_datetime(date), "ctime rule: {date}");

    let d = doc(&app, "bare").await;
    assert_eq!(d["workspace"], Value::Null, "unknown workspace is null");
    assert!(is_local_datetime(d["metadata"]["date"].as_str().unwrap()));
    for k in ["species", "plant", "environment"] {
        assert_eq!(d["metadata"][k], "N/A", "{k}");
    }

    let d = doc(&app, "odd_levels").await;
    assert_eq!(d["error"], false, "{d}");
    assert_eq!(d["metadata"]["species"], "from object");
    assert_eq!(d["metadata"]["plant"], "N/A");
    assert_eq!(d["metadata"]["environment"], "N/A");
    assert!(is_local_datetime(d["metadata"]["date"].as_str().unwrap()));

    let d = doc(&app, "scanpath_default").await;
    assert_eq!(
        d["workspace"],
        json!({"x": [225, 525], "y": [225, 525], "z": [-650, -350]})
    );
}

#[tokio::test]
async fn the_thumbnail_is_the_first_image_file() {
    let app = app().await;
    let d = doc(&app, "first_not_image").await;
    assert_eq!(d["error"], false, "{d}");
    assert_eq!(
        d["thumbnailUri"],
        "/api/v1/assets/image/first_not_image/images/pic?size=thumb"
    );
    assert_eq!(
        app.get(d["thumbnailUri"].as_str().unwrap()).await.status(),
        200
    );
}

fn degraded(id: &str) -> Value {
    json!({
        "id": id,
        "metadata": {"date": "01-01-00 00:00:00", "species": "N/A", "plant": "N/A",
            "environment": "N/A", "nbPhotos": 0, "files": {"metadata": null, "archive": null}},
        "thumbnailUri": "", "images": null, "tasks_fileset": null, "filesUri": {},
        "isVirtual": false, "hasColmap": false, "hasPointCloud": false, "hasTriangleMesh": false,
        "hasCurveSkeleton": false, "hasTreeGraph": false, "hasAnglesAndInternodes": false,
        "hasAutomatedMeasures": false, "hasManualMeasures": false, "hasSegmentation2D": false,
        "hasPcdGroundTruth": false, "hasPointCloudEvaluation": false,
        "hasSegmentedPointCloud": false, "hasSegmentedPcdEvaluation": false, "error": true,
    })
}

#[tokio::test]
async fn scans_whose_info_cannot_be_computed_get_the_degraded_document() {
    let app = app().await;
    for id in ["no_images", "empty_images"] {
        assert_eq!(doc(&app, id).await, degraded(id));
        let (status, d) = app.get_json(&format!("/scans/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(d, degraded(id), "viewer generation");
    }
    let (_, infos) = app.get_json("/api/v1/scans/info").await;
    let infos = infos.as_array().unwrap();
    assert_eq!(infos.len(), 10);
    for d in infos {
        let broken = d["id"] == "no_images" || d["id"] == "empty_images";
        assert_eq!(d["error"], broken, "{d}");
    }
}

#[tokio::test]
async fn timelapse_scan_uris_use_the_scan_id() {
    let app = app().await;
    let d = doc(&app, "tl_0").await;
    assert_eq!(d["error"], false, "{d}");
    assert_eq!(
        d["metadata"]["files"]["metadata"],
        "/api/v1/assets/files/tl_0/metadata/metadata.json"
    );
    assert_eq!(
        d["filesUri"]["pointCloud"],
        format!("/api/v1/assets/files/tl_0/{PC}/PointCloud.ply")
    );
}

/// Every URI of every document answers 200, except the viewer's documented
/// 404 placeholders (§13.2). `sample`: previews are slow in debug builds,
/// so only the first two poses' thumbnails are fetched (originals all).
async fn walk(app: &TestApp, sample: bool) {
    let mut checked = 0;
    for (route, viewer) in [("/api/v1/scans/info", false), ("/scans_info", true)] {
        let (status, infos) = app.get_json(route).await;
        assert_eq!(status, 200);
        for d in infos.as_array().unwrap() {
            let mut found = Vec::new();
            uris(d, "", &mut found);
            if d["error"] == false {
                assert!(!found.is_empty());
            }
            for (at, uri) in found {
                let later_pose = ["[0]", "[1]"]
                    .iter()
                    .all(|i| !at.starts_with(&format!(".camera.poses{i}")));
                if sample && later_pose && at.ends_with("thumbnailUri") && at.contains("poses") {
                    continue;
                }
                let placeholder = viewer
                    && match at.as_str() {
                        ".filesUri.pointCloud" => d["hasPointCloud"] == false,
                        ".filesUri.mesh" => d["hasTriangleMesh"] == false,
                        ".filesUri.pcdGroundTruth" => d["hasPcdGroundTruth"] == false,
                        ".skeleton" => d["hasCurveSkeleton"] == false,
                        ".angles" => d["hasAnglesAndInternodes"] == false,
                        _ => false,
                    };
                let r = app.get(&uri).await;
                let expected = if placeholder { 404 } else { 200 };
                assert_eq!(r.status(), expected, "{route} {} {at} = {uri}", d["id"]);
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked}");
}

#[tokio::test]
async fn every_uri_of_hand_built_scans_resolves() {
    let app = app().await;
    walk(&app, false).await;
}

#[tokio::test]
async fn every_uri_of_the_demo_scans_resolves() {
    let app = spawn_demo().await;
    walk(&app, true).await;
}

#[tokio::test]
async fn the_url_prefix_is_in_current_uris_and_not_in_viewer_uris() {
    let app = spawn_with(
        |root| full_scan(root, "full"),
        &["--url-prefix", "/plantdb"],
    )
    .await;
    assert!(app.url.ends_with("/plantdb"));
    let origin = app.url.trim_end_matches("/plantdb").to_string();
    let (status, d) = app.get_json("/api/v1/scans/full").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        d["thumbnailUri"],
        "/plantdb/api/v1/assets/image/full/images/00000_rgb?size=thumb"
    );
    let mut found = Vec::new();
    uris(&d, "", &mut found);
    for (at, uri) in found {
        assert!(uri.starts_with("/plantdb/api/v1/"), "{at} = {uri}");
        let r = app
            .client
            .get(format!("{origin}{uri}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{at} = {uri}");
    }
    let (status, d) = app.get_json("/scans/full").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["thumbnailUri"], "/image/full/images/00000_rgb?size=thumb");
    let mut found = Vec::new();
    uris(&d, "", &mut found);
    for (at, uri) in found {
        assert!(!uri.starts_with("/plantdb"), "{at} = {uri}");
        // The viewer prepends its base URL (here: the prefix).
        let r = app.get(&uri).await;
        assert_eq!(r.status(), 200, "{at} = {uri}");
    }
}

#[tokio::test]
async fn iso_dates_with_zone_and_fraction() {
    let app = spawn_with(
        |root| {
            for (id, date) in [
                ("z", "2024-03-04T10:00:00Z"),
                ("offset", "2024-03-04T10:00:00+02:00"),
                ("frac", "2024-03-04T10:00:00.5"),
            ] {
                simple_scan(root, id, json!({ "acquisition_date": date }));
            }
        },
        &[],
    )
    .await;
    for id in ["z", "offset", "frac"] {
        let d = doc(&app, id).await;
        assert_eq!(d["metadata"]["date"], "2024-03-04 10:00:00", "{id}");
    }
}

#[tokio::test]
async fn a_pipeline_output_added_on_disk_shows_in_the_document() {
    let app = spawn_with(|root| legacy_scan(root, "s"), &[]).await;
    let d = doc(&app, "s").await;
    assert_eq!(d["hasPointCloud"], false);
    let mut s = ScanFixture::new(&app.root, "s");
    s.rgb("img_0", "img_0.png", &png(8, 6));
    s.file(PC, "PointCloud", "PointCloud.ply", &ply_points(&[[0.0; 3]]));
    s.finish();
    touch_by(&s.dir.join("files.json"), 5);
    let d = doc(&app, "s").await;
    assert_eq!(d["hasPointCloud"], true, "{d}");
    let uri = d["filesUri"]["pointCloud"].as_str().unwrap();
    assert_eq!(app.get(uri).await.status(), 200);
    let (_, fs) = app.get_json("/api/v1/scans/s/filesets").await;
    assert_eq!(fs, json!({"filesets": ["images", PC]}));
    // Viewer document too.
    let (_, v) = app.get_json("/scans/s").await;
    assert_eq!(
        v["filesUri"]["pointCloud"],
        format!("/files/s/{PC}/PointCloud.ply")
    );
}

#[tokio::test]
async fn uris_of_file_names_with_unusual_characters_resolve() {
    let app = spawn_with(
        |root| {
            let mut s = ScanFixture::new(root, "s");
            s.metadata(json!({}));
            s.rgb("img_one", "img one.png", &png(8, 6));
            s.file_metadata(
                "images",
                "img_one",
                json!({"channel": "rgb", "colmap_camera": colmap(0.0)}),
            );
            s.rgb("img_2", "img #2 (100%).png", &png(8, 6));
            s.file_metadata(
                "images",
                "img_2",
                json!({"channel": "rgb", "colmap_camera": colmap(1.0)}),
            );
            s.file(
                PC,
                "PointCloud",
                "Point Cloud #1 50%?.ply",
                &ply_points(&[[0.0; 3]]),
            );
            s.file(MESH, "TriangleMesh", "mesh+é.ply", &ply_points(&[[0.0; 3]]));
            s.finish();
        },
        &[],
    )
    .await;
    let (_, listed) = app.get_json("/api/v1/scans").await;
    assert_eq!(ids(&listed), ["s"]);
    // Percent-encoded, the same names are served: only the URIs lack it.
    for uri in [
        format!(
            "/api/v1/assets/files/s/{PC}/{}",
            enc("Point Cloud #1 50%?.ply")
        ),
        format!("/image/s/images/{}?size=orig", enc("img #2 (100%).png")),
    ] {
        assert_eq!(app.get(&uri).await.status(), 200, "{uri}");
    }
    let mut failed = Vec::new();
    for route in ["/api/v1/scans/s", "/scans/s"] {
        let (status, d) = app.get_json(route).await;
        assert_eq!(status, 200, "{d}");
        let mut found = Vec::new();
        uris(&d, "", &mut found);
        assert!(found.len() > 8, "{found:?}");
        for (at, uri) in found {
            let placeholder = route == "/scans/s"
                && matches!(
                    at.as_str(),
                    ".filesUri.pcdGroundTruth" | ".skeleton" | ".angles"
                );
            let r = app.get(&uri).await;
            let expected = if placeholder { 404 } else { 200 };
            if r.status() != expected {
                failed.push(format!("{route} {at} = {uri} -> {}", r.status()));
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
