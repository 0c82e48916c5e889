//! Who may read (data-api.md §2.2, §2.3, contract.md §1): anonymous reads
//! as guest, bad tokens 401 everywhere, API-token grants, guest disabled.

use std::path::Path;

use serde_json::{json, Value};

use crate::fixture::*;
use crate::helpers::*;
use crate::scan_info::full_scan;

const PC: &str = "PointCloud_1_0_1_0_False_4ce2e46446";

/// Small scans named like the demo ones (fast previews), plus a scan
/// owned by admin and shared with nobody.
fn build(root: &Path) {
    full_scan(root, "demo_arabidopsis_1");
    simple_scan(root, "demo_arabidopsis_2", json!({}));
    simple_scan(root, "demo_tomato_1", json!({}));
    simple_scan(
        root,
        "private_admin",
        json!({"owner": "admin", "sharing": []}),
    );
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

/// Every read route of both generations, on existing resources.
fn read_routes() -> Vec<String> {
    let s = "demo_arabidopsis_1";
    let mut v: Vec<String> = [
        "/api/v1/scans".to_string(),
        "/api/v1/scans/info".to_string(),
        format!("/api/v1/scans/{s}"),
        format!("/api/v1/scans/{s}/metadata"),
        format!("/api/v1/scans/{s}/filesets"),
        format!("/api/v1/filesets/{s}/images/metadata"),
        format!("/api/v1/filesets/{s}/images/files"),
        format!("/api/v1/files/{s}/images/00000_rgb"),
        format!("/api/v1/files/{s}/images/00000_rgb/metadata"),
        format!("/api/v1/assets/image/{s}/images/00000_rgb"),
        format!("/api/v1/assets/files/{s}/files.json"),
        format!("/api/v1/assets/pointcloud/{s}"),
        format!("/api/v1/assets/mesh/{s}"),
        format!("/api/v1/assets/skeleton/{s}"),
        format!("/api/v1/assets/sequence/{s}"),
        format!("/api/v1/assets/archive/{s}"),
        "/api/v1/timelapses".to_string(),
        "/api/v1/refresh".to_string(),
        format!("/api/v1/refresh?scan_id={s}"),
        "/scans_info".to_string(),
        "/scans".to_string(),
        format!("/scans/{s}"),
        format!("/files/{s}/files.json"),
        format!("/image/{s}/images/00000_rgb.png"),
        format!("/pointcloud/{s}/{PC}/PointCloud"),
        format!("/pcGroundTruth/{s}/{PC}/PointCloud"),
        format!("/mesh/{s}/TriangleMesh_9_most_connected_t_open3d_00e095c359/TriangleMesh"),
        format!("/skeleton/{s}"),
        format!("/sequence/{s}"),
        format!("/archive/{s}"),
        "/refresh".to_string(),
    ]
    .to_vec();
    v.push("/api/v1/timelapses/none/scans".to_string());
    v
}

#[tokio::test]
async fn anonymous_reads_are_guest_reads_and_see_every_scan() {
    let app = app().await;
    for path in read_routes() {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    // Guest is a reader everywhere: even a scan owned by admin.
    let (status, body) = app.get_json("/api/v1/scans").await;
    assert_eq!(status, 200);
    assert!(ids(&body).contains(&"private_admin".to_string()));
    let (status, _) = app.get_json("/api/v1/scans/private_admin").await;
    assert_eq!(status, 200);
    // The same with guest's own token.
    let token = app.login("guest", "guest").await;
    let (status, body) = app.get_json_with("/api/v1/scans", &token).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body).len(), 4);
}

async fn expect_invalid_token(app: &TestApp, header: &str) {
    for path in read_routes() {
        let r = app.get_h(&path, &[("Authorization", header)]).await;
        assert_eq!(r.status(), 401, "{path} with {header}");
        let www = r
            .headers()
            .get("www-authenticate")
            .unwrap_or_else(|| panic!("{path}: no WWW-Authenticate"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.starts_with("Bearer"), "{path}: {www}");
        let body: Value = r.json().await.unwrap();
        assert_error(&body, "invalid_token");
    }
}

#[tokio::test]
async fn a_bad_bearer_token_is_401_on_every_data_route() {
    let app = app().await;
    expect_invalid_token(&app, "Bearer abc.def.ghi").await;
}

#[tokio::test]
async fn a_non_bearer_authorization_is_401_on_every_data_route() {
    let app = app().await;
    expect_invalid_token(&app, "Basic Z3Vlc3Q6Z3Vlc3Q=").await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = app().await;
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"username": "guest", "password": "guest"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = app.get_json_with("/api/v1/scans", refresh).await;
    assert_eq!(status, 401);
    assert_error(&body, "invalid_token");
    // A logged-out token is dead.
    let token = app.login("guest", "guest").await;
    app.client
        .post(format!("{}/api/v1/auth/logout", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = app.get_json_with("/scans_info", &token).await;
    assert_eq!(status, 401);
    assert_error(&body, "invalid_token");
}

async fn api_token(app: &TestApp, datasets: Value) -> String {
    let admin = app.admin().await;
    let r = app
        .client
        .post(format!("{}/api/v1/auth/token/create-api-token", app.url))
        .bearer_auth(&admin)
        .json(&json!({"token_exp": 3600, "datasets": datasets}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["api_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_api_token_sees_only_its_granted_scans() {
    let app = app().await;
    let token = api_token(&app, json!({"demo_a*": ["read"]})).await;
    let (status, body) = app.get_json_with("/api/v1/scans", &token).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["demo_arabidopsis_1", "demo_arabidopsis_2"]);
    let (status, infos) = app.get_json_with("/api/v1/scans/info", &token).await;
    assert_eq!(status, 200);
    assert_eq!(infos.as_array().unwrap().len(), 2);
    let (status, infos) = app.get_json_with("/scans_info", &token).await;
    assert_eq!(status, 200);
    assert_eq!(infos.as_array().unwrap().len(), 2);
    let (status, _) = app
        .get_json_with("/api/v1/scans/demo_arabidopsis_2", &token)
        .await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/scans/demo_tomato_1",
        "/api/v1/scans/demo_tomato_1/metadata",
        "/api/v1/scans/demo_tomato_1/filesets",
        "/api/v1/filesets/demo_tomato_1/images/files",
        "/api/v1/files/demo_tomato_1/images/00000_rgb",
        "/api/v1/assets/files/demo_tomato_1/files.json",
        "/api/v1/assets/image/demo_tomato_1/images/00000_rgb",
        "/api/v1/assets/pointcloud/demo_tomato_1",
        "/api/v1/assets/skeleton/demo_tomato_1",
        "/api/v1/assets/sequence/demo_tomato_1",
        "/api/v1/assets/archive/demo_tomato_1",
        "/scans/demo_tomato_1",
        "/files/demo_tomato_1/files.json",
        "/archive/demo_tomato_1",
        "/api/v1/scans/private_admin",
    ] {
        let (status, body) = app.get_json_with(path, &token).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_error(&body, "forbidden");
    }
    // Unknown scans stay 404 (existence before permission).
    let (status, _) = app.get_json_with("/api/v1/scans/nope", &token).await;
    assert_eq!(status, 404);
    // A token granting nothing readable lists nothing.
    let token = api_token(&app, json!({"zzz*": ["read"]})).await;
    let (status, body) = app.get_json_with("/api/v1/scans", &token).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
}

async fn deactivate_guest(app: &TestApp) {
    let admin = app.admin().await;
    let r = app
        .client
        .patch(format!("{}/api/v1/users/guest", app.url))
        .bearer_auth(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn without_an_active_guest_anonymous_reads_are_401() {
    let app = app().await;
    deactivate_guest(&app).await;
    for path in read_routes() {
        if path.contains("/api/v1/timelapses") && !path.ends_with("/scans") {
            continue; // listing and reading timelapses needs no caller (§2.3)
        }
        let r = app.get(&path).await;
        assert_eq!(r.status(), 401, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_error(&body, "not_authenticated");
    }
    // A logged-in user still reads.
    let admin = app.admin().await;
    for path in read_routes() {
        let r = app.get_with(&path, &admin).await;
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn guest_deactivated_in_users_json_before_start() {
    // users.json as the Python server wrote it, edited by an operator:
    // guest inactive.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/python_fsdb");
    let users: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("users.json")).unwrap()).unwrap();
    let passwords: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("passwords.json")).unwrap()).unwrap();
    let mut kept: Vec<Value> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "guest" || u["username"] == "admin")
        .cloned()
        .collect();
    for u in &mut kept {
        if u["username"] == "guest" {
            u["is_active"] = json!(false);
        }
    }
    let app = spawn_with(
        |root| {
            build(root);
            std::fs::write(
                root.join("users.json"),
                serde_json::to_vec_pretty(&kept).unwrap(),
            )
            .unwrap()
        },
        &[],
    )
    .await;
    let (status, body) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 401, "{body}");
    assert_error(&body, "not_authenticated");
    let (status, body) = app.get_json("/scans_info").await;
    assert_eq!(status, 401, "{body}");
    assert_error(&body, "not_authenticated");
    let token = app
        .login("admin", passwords["admin"].as_str().unwrap())
        .await;
    let (status, infos) = app.get_json_with("/scans_info", &token).await;
    assert_eq!(status, 200);
    assert_eq!(infos.as_array().unwrap().len(), 4);
}
