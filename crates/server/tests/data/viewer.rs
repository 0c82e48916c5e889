//! The viewer generation (data-api.md §4, §5.2, §13): the 0.14 root
//! routes plant-3d-explorer calls, and `serve --viewer`.

use std::path::Path;

use serde_json::{json, Value};

use crate::fixture::*;
use crate::helpers::*;
use crate::scan_info::full_scan;

const VIEWER: &str = "/work/shared/viewer/plant-3d-explorer";
const PC: &str = "PointCloud_1_0_1_0_False_4ce2e46446";
const MESH: &str = "TriangleMesh_9_most_connected_t_open3d_00e095c359";

fn build(root: &Path) {
    full_scan(root, "full");
}

async fn app() -> TestApp {
    spawn_demo_with(build, &[]).await
}

fn ids_of(infos: &Value) -> Vec<String> {
    infos
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {infos}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn scans_info_has_0_14_uris() {
    let app = app().await;
    let (status, infos) = app.get_json("/scans_info").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids_of(&infos),
        [
            "demo_arabidopsis_1",
            "demo_arabidopsis_2",
            "demo_tomato_1",
            "full"
        ]
    );
    for d in infos.as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        assert_eq!(d["metadata"]["files"]["archive"], format!("/archive/{id}"));
        assert_eq!(
            d["metadata"]["files"]["metadata"],
            format!("/files/{id}/metadata/metadata.json")
        );
        assert!(d["thumbnailUri"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/image/{id}/images/")));
        assert_eq!(d["skeleton"], format!("/skeleton/{id}"));
        assert_eq!(d["angles"], format!("/sequence/{id}"));
        let mut found = Vec::new();
        uris(d, "", &mut found);
        for (at, uri) in found {
            assert!(!uri.contains("/api/v1"), "{id} {at} = {uri}");
        }
    }
}

#[tokio::test]
async fn a_viewer_scan_document() {
    let app = app().await;
    let (status, d) = app.get_json("/scans/full").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["thumbnailUri"], "/image/full/images/00000_rgb?size=thumb");
    assert_eq!(
        d["filesUri"]["pointCloud"],
        format!("/files/full/{PC}/PointCloud.ply")
    );
    assert_eq!(
        d["filesUri"]["mesh"],
        format!("/files/full/{MESH}/TriangleMesh.ply")
    );
    assert_eq!(
        d["filesUri"]["pcdGroundTruth"],
        "/files/full/PointCloudGroundTruth__abc/PointCloudGroundTruth.ply"
    );
    assert_eq!(d["skeleton"], "/skeleton/full");
    assert_eq!(d["angles"], "/sequence/full");
    let poses = d["camera"]["poses"].as_array().unwrap();
    assert_eq!(poses.len(), 2);
    // 0.14 pose URIs name the file; ours resolve.
    assert_eq!(
        poses[0]["photoUri"],
        "/image/full/images/00000_rgb.png?size=orig"
    );
    for p in poses {
        for k in ["photoUri", "thumbnailUri"] {
            let uri = p[k].as_str().unwrap();
            let r = app.get(uri).await;
            assert_eq!(r.status(), 200, "{uri}");
        }
    }
    assert_eq!(
        d["workspace"],
        json!({"x": [220, 520], "y": [230, 530], "z": [-650, -350]})
    );
    // Same values as the current generation apart from URIs.
    let (_, current) = app.get_json("/api/v1/scans/full").await;
    for k in ["metadata", "images", "tasks_fileset", "workspace"] {
        if k == "metadata" {
            for m in ["date", "species", "plant", "environment", "nbPhotos"] {
                assert_eq!(d[k][m], current[k][m], "{m}");
            }
        } else {
            assert_eq!(d[k], current[k], "{k}");
        }
    }
}

#[tokio::test]
async fn viewer_documents_always_carry_the_five_uris() {
    let app = spawn_with(
        |root| {
            simple_scan(root, "bare", json!({}));
        },
        &[],
    )
    .await;
    let (status, d) = app.get_json("/scans/bare").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["camera"], json!({"poses": []}));
    assert_eq!(d["workspace"], Value::Null);
    for uri in [
        &d["filesUri"]["pointCloud"],
        &d["filesUri"]["mesh"],
        &d["filesUri"]["pcdGroundTruth"],
        &d["skeleton"],
        &d["angles"],
    ] {
        let uri = uri.as_str().unwrap_or_else(|| panic!("a string: {d}"));
        let (status, body) = app.get_json(uri).await;
        assert_eq!(status, 404, "{uri}: {body}");
        assert_error(&body, "not_found");
    }
    // The current generation adds nothing (§13.2).
    let (_, c) = app.get_json("/api/v1/scans/bare").await;
    assert_eq!(c["filesUri"], json!({}));
    assert!(c.get("skeleton").is_none() && c.get("angles").is_none());
}

#[tokio::test]
async fn the_search_box_text_matches_id_plant_and_species() {
    let app = app().await;
    for (text, expected) in [
        ("tomato", vec!["demo_tomato_1"]),
        ("TOMATO", vec!["demo_tomato_1"]),
        ("lycopersicum", vec!["demo_tomato_1"]),
        ("Col0_26", vec!["demo_arabidopsis_1", "demo_arabidopsis_2"]),
        ("a2", vec!["demo_arabidopsis_2"]),
        (
            "thaliana",
            vec!["demo_arabidopsis_1", "demo_arabidopsis_2", "full"],
        ),
        ("plant-3", vec!["full"]),
        ("Lyon", vec![]),
        ("{not json", vec![]),
        ("zzz", vec![]),
    ] {
        let (status, infos) = app
            .get_json(&format!("/scans_info?filterQuery={}", enc(text)))
            .await;
        assert_eq!(status, 200, "{text}: {infos}");
        assert_eq!(ids_of(&infos), expected, "{text}");
    }
    // The viewer does not encode its text.
    let (status, infos) = app
        .get_json("/scans_info?filterQuery=Tomato&fuzzy=true")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids_of(&infos), ["demo_tomato_1"]);
    let (_, infos) = app.get_json("/scans_info?filterQuery=").await;
    assert_eq!(ids_of(&infos).len(), 4);
    // A JSON object filters as on the current generation.
    let q = enc(r#"{"biologicalMaterial": {"biologicalMaterialId": "MoneyMaker_T1"}}"#);
    let (_, infos) = app.get_json(&format!("/scans_info?filterQuery={q}")).await;
    assert_eq!(ids_of(&infos), ["demo_tomato_1"]);
    // On the current generation plain text stays a 400.
    let (status, _) = app.get_json("/api/v1/scans/info?filterQuery=tomato").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn viewer_scans_lists_ids() {
    let app = app().await;
    let (status, body) = app.get_json("/scans").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&body),
        [
            "demo_arabidopsis_1",
            "demo_arabidopsis_2",
            "demo_tomato_1",
            "full"
        ]
    );
    let q = enc(r#"{"biologicalMaterial": {"biologicalMaterialId": "Col0"}}"#);
    let (_, body) = app
        .get_json(&format!("/scans?filterQuery={q}&fuzzy=true"))
        .await;
    assert_eq!(ids(&body), ["demo_arabidopsis_1", "demo_arabidopsis_2"]);
    let (status, body) = app.get_json("/scans?filterQuery=nope").await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_input");
}

#[tokio::test]
async fn viewer_files_images_clouds_meshes() {
    let app = app().await;
    // What the viewer fetches: files.json, every image by name, segmented
    // cloud metadata (absent here: 404).
    let r = app.get("/files/full/files.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = app.get("/files/full/images/00001_rgb.png").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), png(8, 6).as_slice());
    for (path, ty) in [
        ("/image/full/images/00000_rgb.png?size=orig", "image/png"),
        ("/image/full/images/00000_rgb?size=orig", "image/png"),
        ("/image/full/images/00000_rgb", "image/jpeg"),
        ("/image/full/images/00000_rgb.png?size=thumb", "image/jpeg"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
    }
    let (status, _) = app.get_json("/image/full/images/nope.png?size=orig").await;
    assert_eq!(status, 404);
    // A file name of another fileset does not resolve in `images`.
    let (status, _) = app.get_json("/image/full/images/PointCloud.ply").await;
    assert_eq!(status, 404);

    let r = app
        .get(&format!("/pointcloud/full/{PC}/PointCloud?size=preview"))
        .await;
    assert_eq!(r.status(), 200);
    let (head, n) = ply_header(&r.bytes().await.unwrap());
    assert!(head.contains("binary_little_endian"));
    assert_eq!(n, 2);
    let r = app
        .get(&format!("/pointcloud/full/{PC}/PointCloud?size=orig"))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .get("/pcGroundTruth/full/PointCloudGroundTruth__abc/PointCloudGroundTruth")
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .get(&format!("/mesh/full/{MESH}/TriangleMesh?size=orig"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let raw = std::fs::read(app.root.join("full").join(MESH).join("TriangleMesh.ply")).unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_slice());
    // Not a PLY: 400.
    for path in [
        "/pointcloud/full/Colmap__True_None_0/cameras",
        "/mesh/full/Colmap__True_None_0/cameras",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_error(&body, "invalid_input");
    }
    for path in [
        format!("/pointcloud/full/{PC}/nope"),
        "/mesh/full/nope/TriangleMesh".to_string(),
    ] {
        let (status, _) = app.get_json(&path).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn viewer_skeleton_sequence_archive_refresh() {
    let app = app().await;
    let (status, body) = app.get_json("/skeleton/full").await;
    assert_eq!(status, 200);
    assert_eq!(body["lines"], json!([[0, 1]]));
    let (status, body) = app.get_json("/sequence/full?type=all").await;
    assert_eq!(status, 200);
    assert_eq!(body["angles"], json!([1.5, 2.5]));
    assert_eq!(body["manual_angles"], json!([1.0]));
    let (_, body) = app.get_json("/sequence/full?type=angles").await;
    assert_eq!(body, json!([1.5, 2.5]));
    let r = app.get("/archive/full").await;
    assert_eq!(r.status(), 200);
    let entries = read_zip(&r.bytes().await.unwrap());
    assert!(entries.iter().all(|e| e.name.starts_with("full/")));
    assert!(entries.iter().any(|e| e.name == "full/files.json"));
    let (status, body) = app.get_json("/refresh").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["message"],
        "Successfully reloaded entire database with 4 scans."
    );
    let (status, body) = app.get_json("/refresh?scan_id=full").await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "Successfully reloaded scan 'full'.");
    let (status, body) = app.get_json("/refresh?scan_id=nope").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
}

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn without_a_viewer_the_root_redirects_to_the_api() {
    let app = spawn_with(|_| {}, &[]).await;
    let r = no_redirect_client()
        .get(format!("{}/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/api/v1/");
    let (status, home) = app.get_json("/api/v1/").await;
    assert_eq!(status, 200);
    assert!(home["name"].as_str().unwrap().contains("PlantDB"));
    let (status, _) = app.get_json("/api/v1").await;
    assert_eq!(status, 200);
    let (status, body) = app.get_json("/viewer/demo").await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");

    let app = spawn_with(|_| {}, &["--url-prefix", "/plantdb"]).await;
    let r = no_redirect_client()
        .get(app.url.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "/plantdb");
    assert_eq!(r.headers()["location"], "/plantdb/api/v1/");
}

#[tokio::test]
async fn with_a_prefix_the_root_with_a_slash_redirects_too() {
    let app = spawn_with(|_| {}, &["--url-prefix", "/plantdb"]).await;
    for root in ["", "/"] {
        let r = no_redirect_client()
            .get(format!("{}{root}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "/plantdb{root}");
        assert_eq!(r.headers()["location"], "/plantdb/api/v1/");
    }
}

#[tokio::test]
async fn serve_viewer_serves_the_web_viewer() {
    if !Path::new(VIEWER).join("index.html").is_file() {
        eprintln!("no viewer build at {VIEWER}: skipped");
        return;
    }
    let app = spawn_demo_with(|_| {}, &["--viewer", VIEWER]).await;
    let index = std::fs::read(Path::new(VIEWER).join("index.html")).unwrap();
    for path in [
        "/",
        "/viewer/demo_tomato_1",
        "/viewer/",
        "/viewer/index.html",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            index.as_slice(),
            "{path}"
        );
    }
    let js = std::fs::read_dir(Path::new(VIEWER).join("static/js"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".js"))
        .unwrap();
    let name = js.file_name().to_string_lossy().into_owned();
    let r = app.get(&format!("/viewer/static/js/{name}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        std::fs::read(js.path()).unwrap().as_slice()
    );
    let r = app.get("/viewer/favicon.png").await;
    assert_eq!(r.status(), 200);
    // The data routes are still there.
    let (status, infos) = app.get_json("/scans_info").await;
    assert_eq!(status, 200);
    assert_eq!(infos.as_array().unwrap().len(), 3);
    // Nothing outside the viewer directory.
    let r = app.raw_get("/viewer/../users.json").await;
    assert!(
        r.status == 404 || !String::from_utf8_lossy(&r.body).contains("password_hash"),
        "{}",
        r.status
    );
    let r = app.raw_get("/viewer/%2e%2e/users.json").await;
    assert!(!String::from_utf8_lossy(&r.body).contains("password_hash"));
}
