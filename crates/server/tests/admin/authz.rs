//! `/api/v1/authz/scan`, `/api/v1/authz/scan-metadata`, `/api/v1/authz/verify`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

async fn decide(app: &TestApp, token: &str, scan: Value, permission: &str) -> Value {
    let body = json!({"scan": scan, "permission": permission});
    let reply = app.post("/api/v1/authz/scan", Some(token), &body).await;
    reply.expect(200).clone()
}

#[tokio::test]
async fn scan_decisions_follow_the_rbac_rules() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    app.group(&admin, "lab", &["rita"]).await;
    let foreign = json!({"id": "s1", "owner": "admin", "sharing": []});
    let d = decide(&app, &rita, foreign.clone(), "read").await;
    assert_eq!(
        d,
        json!({"allowed": true, "effective_role": "reader", "permissions": ["read"],
            "access_reason": ["global_role"], "is_owner": false, "shared_groups": []})
    );
    assert_eq!(
        decide(&app, &rita, foreign, "Permission.WRITE").await["allowed"],
        false
    );
    let own = json!({"id": "s2", "owner": "rita"});
    let d = decide(&app, &rita, own, "write").await;
    assert_eq!(d["allowed"], true);
    assert_eq!(d["effective_role"], "contributor");
    assert_eq!(d["permissions"], json!(["read", "write", "create"]));
    assert_eq!(d["access_reason"], json!(["owner"]));
    assert_eq!(d["is_owner"], true);
    let shared = json!({"id": "s3", "owner": "admin", "sharing": ["other", "lab"]});
    let d = decide(&app, &rita, shared.clone(), "delete").await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["access_reason"], json!(["group_member: lab"]));
    assert_eq!(d["shared_groups"], json!(["lab"]));
    let d = decide(&app, &admin, shared, "delete").await;
    assert_eq!(d["allowed"], true);
    // The creator of `lab` is one of its members.
    assert_eq!(
        d["access_reason"],
        json!(["admin_role", "owner", "group_member: lab"])
    );
    let unowned = decide(
        &app,
        &app.login("guest", "guest").await,
        json!({"id": "s4"}),
        "write",
    )
    .await;
    assert_eq!(
        unowned["is_owner"], true,
        "a scan without owner belongs to guest"
    );
    assert_eq!(unowned["allowed"], true);
}

#[tokio::test]
async fn scan_requests_are_validated() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let path = "/api/v1/authz/scan";
    let cases = [
        (json!({"permission": "read"}), 400, "missing_field"),
        (json!({"scan": {"owner": "x"}}), 400, "missing_field"),
        (json!({"scan": "s1"}), 400, "invalid_input"),
        (
            json!({"scan": {"id": "s1"}, "permission": "fly"}),
            400,
            "invalid_input",
        ),
        (
            json!({"scan": {"id": "s1", "sharing": "lab"}}),
            400,
            "invalid_input",
        ),
        (json!({"scan": {"id": 7}}), 400, "invalid_input"),
    ];
    for (body, status, code) in cases {
        assert_error(&app.post(path, Some(&admin), &body).await, status, code);
    }
    let reply = app
        .post(path, Some(&admin), &json!({"scan": {"id": "s1"}}))
        .await;
    assert_eq!(
        reply.expect(200)["allowed"],
        true,
        "permission defaults to read"
    );
    let reply = app.post(path, None, &json!({"scan": {"id": "s1"}})).await;
    assert_error(&reply, 401, "not_authenticated");
}

#[tokio::test]
async fn api_tokens_narrow_scan_permissions_to_their_grant() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    let api = app
        .api_token(
            &carl,
            json!({"plant_*": ["read"], "own_*": ["read", "write"]}),
        )
        .await;
    let d = decide(
        &app,
        &api,
        json!({"id": "plant_1", "owner": "carl"}),
        "write",
    )
    .await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["permissions"], json!(["read"]));
    assert_eq!(
        d["access_reason"],
        json!(["owner"]),
        "the reasons still describe the user"
    );
    let d = decide(&app, &api, json!({"id": "own_1", "owner": "carl"}), "write").await;
    assert_eq!(d["allowed"], true);
    let d = decide(&app, &api, json!({"id": "other", "owner": "carl"}), "read").await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["permissions"], json!([]));
    // Demoting the user demotes the token.
    app.patch(
        "/api/v1/users/carl",
        Some(&admin),
        &json!({"roles": ["reader"]}),
    )
    .await
    .expect(200);
    let d = decide(
        &app,
        &api,
        json!({"id": "own_1", "owner": "admin"}),
        "write",
    )
    .await;
    assert_eq!(d["allowed"], false);
}

#[tokio::test]
async fn metadata_changes_need_manage_users_for_owner_and_write_for_sharing() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let path = "/api/v1/authz/scan-metadata";
    let old = json!({"id": "s1", "owner": "carl", "sharing": []});
    let share = json!({"old": old, "new": {"id": "s1", "owner": "carl", "sharing": ["lab"]}});
    let give = json!({"old": old, "new": {"id": "s1", "owner": "rita", "sharing": []}});
    assert_eq!(
        app.post(path, Some(&carl), &share).await.expect(200),
        &json!({"allowed": true})
    );
    let reply = app.post(path, Some(&carl), &give).await;
    let refusal = reply.expect(200);
    assert_eq!(refusal["allowed"], false);
    assert!(
        refusal["reason"].as_str().unwrap().contains("manage_users"),
        "{refusal}"
    );
    assert_eq!(
        app.post(path, Some(&rita), &share).await.expect(200)["allowed"],
        false
    );
    assert_eq!(
        app.post(path, Some(&admin), &give).await.expect(200)["allowed"],
        true
    );
    let api = app.api_token(&carl, json!({"s*": ["read"]})).await;
    let reply = app.post(path, Some(&api), &share).await;
    assert_eq!(
        reply.expect(200)["allowed"],
        false,
        "a read-only token cannot share"
    );
    let missing = json!({"old": old});
    assert_error(
        &app.post(path, Some(&carl), &missing).await,
        400,
        "missing_field",
    );
    let bad = json!({"old": old, "new": {"sharing": "lab"}});
    assert_error(
        &app.post(path, Some(&carl), &bad).await,
        400,
        "invalid_input",
    );
}

#[tokio::test]
async fn verify_serves_reverse_proxies() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor", "reader"]).await;
    let path = "/api/v1/authz/verify";
    let reply = app.get(path, Some(&carl)).await;
    assert_eq!(reply.expect(200)["username"], "carl");
    assert_eq!(reply.header("x-plantdb-user"), Some("carl"));
    assert_eq!(reply.header("x-plantdb-roles"), Some("reader,contributor"));
    let api = app.api_token(&admin, json!({"*": ["read"]})).await;
    let reply = app.call(Method::HEAD, path, Some(&api), None).await;
    assert_eq!(reply.status, 200, "nginx may forward the client's method");
    assert_eq!(reply.header("x-plantdb-roles"), Some("admin"));
    assert_eq!(
        app.call(Method::POST, path, Some(&carl), None).await.status,
        200
    );
    let reply = app.get(path, None).await;
    assert_error(&reply, 401, "not_authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert!(reply.header("x-plantdb-user").is_none());
    assert_error(&app.get(path, Some("garbage")).await, 401, "invalid_token");
    app.post("/api/v1/auth/logout", Some(&carl), &json!({}))
        .await
        .expect(200);
    assert_error(&app.get(path, Some(&carl)).await, 401, "invalid_token");
}
