//! Metadata reads (data-api.md §1.4, §3.1 #9, #18, #23, §1.8): three
//! levels, `key`, unknown ids 404, invalid ids 400, Python's NaN/Infinity.

use std::path::Path;

use serde_json::{json, Value};

use crate::fixture::*;
use crate::helpers::*;

fn build(root: &Path) {
    let mut s = ScanFixture::new(root, "s");
    s.rgb("a", "a.png", &png(4, 4));
    s.file("extra", "x", "x.json", b"{}");
    s.finish();
    // Python's json writes these non-standard tokens.
    s.write(
        "metadata/metadata.json",
        br#"{"a": 1, "nested": {"b": 2}, "nan": NaN, "inf": Infinity, "ninf": -Infinity,
             "list": [NaN, 1.5], "biologicalMaterial": {"biologicalMaterialId": NaN}}"#,
    );
    s.write(
        "metadata/images.json",
        br#"{"fs_key": "v", "bad": -Infinity}"#,
    );
    s.write(
        "metadata/images/a.json",
        br#"{"channel": "rgb", "x": NaN, "colmap_camera": {"camera_model": {"params": [NaN]},
             "tvec": [NaN, 0, 1], "rotmat": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}"#,
    );
    // A scan without any metadata file.
    let mut t = ScanFixture::new(root, "t");
    t.rgb("a", "a.png", &png(4, 4));
    t.finish();
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

async fn ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn scan_metadata_with_nan_and_infinity_served_as_null() {
    let app = app().await;
    let body = ok(&app, "/api/v1/scans/s/metadata").await;
    assert_eq!(
        body,
        json!({"metadata": {"a": 1, "nested": {"b": 2}, "nan": null, "inf": null, "ninf": null,
                            "list": [null, 1.5], "biologicalMaterial": {"biologicalMaterialId": null}}})
    );
}

#[tokio::test]
async fn the_key_parameter_selects_one_top_level_key() {
    let app = app().await;
    assert_eq!(
        ok(&app, "/api/v1/scans/s/metadata?key=a").await,
        json!({"metadata": 1})
    );
    assert_eq!(
        ok(&app, "/api/v1/scans/s/metadata?key=nested").await,
        json!({"metadata": {"b": 2}})
    );
    assert_eq!(
        ok(&app, "/api/v1/scans/s/metadata?key=nan").await,
        json!({"metadata": null})
    );
    assert_eq!(
        ok(&app, "/api/v1/scans/s/metadata?key=absent").await,
        json!({"metadata": {}})
    );
    let (status, body) = app.get_json("/api/v1/scans/s/metadata?key=a&key=b").await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_input");
}

#[tokio::test]
async fn fileset_and_file_metadata() {
    let app = app().await;
    assert_eq!(
        ok(&app, "/api/v1/filesets/s/images/metadata").await,
        json!({"metadata": {"fs_key": "v", "bad": null}})
    );
    assert_eq!(
        ok(&app, "/api/v1/filesets/s/images/metadata?key=fs_key").await,
        json!({"metadata": "v"})
    );
    assert_eq!(
        ok(&app, "/api/v1/filesets/s/extra/metadata").await,
        json!({"metadata": {}}),
        "no metadata file: {{}}"
    );
    let file = ok(&app, "/api/v1/files/s/images/a/metadata").await;
    assert_eq!(file["metadata"]["channel"], "rgb");
    assert_eq!(file["metadata"]["x"], Value::Null);
    assert_eq!(
        ok(&app, "/api/v1/files/s/images/a/metadata?key=channel").await,
        json!({"metadata": "rgb"})
    );
    assert_eq!(
        ok(&app, "/api/v1/files/s/extra/x/metadata").await,
        json!({"metadata": {}})
    );
    assert_eq!(
        ok(&app, "/api/v1/scans/t/metadata").await,
        json!({"metadata": {}})
    );
}

#[tokio::test]
async fn documents_built_from_nan_metadata_are_valid_json() {
    let app = app().await;
    let d = ok(&app, "/api/v1/scans/s").await;
    assert_eq!(d["metadata"]["plant"], Value::Null);
    assert_eq!(d["camera"]["poses"][0]["tvec"], json!([null, 0, 1]));
    let infos = ok(&app, "/api/v1/scans/info").await;
    assert_eq!(infos.as_array().unwrap().len(), 2);
    let infos = ok(&app, "/scans_info").await;
    assert_eq!(infos.as_array().unwrap().len(), 2);
    // The raw file is served as stored.
    let (status, bytes) = app
        .bytes("/api/v1/assets/files/s/metadata/metadata.json")
        .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(bytes).unwrap().contains("NaN"));
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = app().await;
    for path in [
        "/api/v1/scans/nope/metadata",
        "/api/v1/scans/nope",
        "/api/v1/filesets/nope/images/metadata",
        "/api/v1/filesets/s/nope/metadata",
        "/api/v1/files/s/images/nope/metadata",
        "/api/v1/files/s/nope/a/metadata",
        "/api/v1/files/nope/images/a/metadata",
        // Ids are case-sensitive.
        "/api/v1/scans/S/metadata",
        "/api/v1/files/s/images/A/metadata",
        // The file exists but in another fileset.
        "/api/v1/files/s/extra/a/metadata",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn invalid_ids_are_400() {
    let app = app().await;
    let long = "a".repeat(256);
    for path in [
        "/api/v1/scans/../metadata".to_string(),
        "/api/v1/scans/%2e%2e/metadata".to_string(),
        "/api/v1/scans/./metadata".to_string(),
        "/api/v1/scans/.hidden/metadata".to_string(),
        "/api/v1/scans/a%2Fb/metadata".to_string(),
        "/api/v1/scans/a%20b/metadata".to_string(),
        "/api/v1/scans/%20s/metadata".to_string(),
        "/api/v1/scans/s%00/metadata".to_string(),
        "/api/v1/scans/s%5Cx/metadata".to_string(),
        format!("/api/v1/scans/{long}/metadata"),
        "/api/v1/scans/..".to_string(),
        "/api/v1/scans/.hidden".to_string(),
        "/api/v1/filesets/s/../metadata".to_string(),
        "/api/v1/filesets/s/.images/metadata".to_string(),
        "/api/v1/filesets/s/a%2Fb/files".to_string(),
        "/api/v1/files/s/images/../metadata".to_string(),
        "/api/v1/files/s/images/.a/metadata".to_string(),
        "/api/v1/files/s/images/a%2F..%2Fx".to_string(),
        "/api/v1/scans/..%2F..%2Fetc/filesets".to_string(),
    ] {
        let r = app.raw_get(&path).await;
        assert_eq!(
            r.status,
            400,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_error(&r.json(), "invalid_input");
    }
    // The longest valid id is merely unknown.
    let longest = "a".repeat(255);
    let (status, _) = app
        .get_json(&format!("/api/v1/scans/{longest}/metadata"))
        .await;
    assert_eq!(status, 404);
}
