//! `/api/v1/groups/...`.

use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

const GROUP_KEYS: [&str; 6] = [
    "created_at",
    "created_by",
    "description",
    "id",
    "name",
    "users",
];

fn assert_group_shape(group: &Value) {
    let mut keys: Vec<&str> = group
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, GROUP_KEYS, "{group}");
    assert_eq!(group["id"], group["name"], "{group}");
}

#[tokio::test]
async fn create_list_get_and_delete() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let body = json!({"name": "Lab-1", "description": "the lab", "users": ["RITA", "rita"]});
    let reply = app.post("/api/v1/groups", Some(&admin), &body).await;
    let group = reply.expect(201);
    assert_group_shape(group);
    assert_eq!(group["name"], "Lab-1");
    assert_eq!(group["description"], "the lab");
    assert_eq!(
        group["users"],
        json!(["admin", "rita"]),
        "creator first, no duplicates"
    );
    assert_eq!(group["created_by"], "admin");
    let created = group["created_at"].as_str().expect("created_at");
    assert!(created.ends_with("+00:00"), "{created}");
    app.post("/api/v1/groups", Some(&admin), &json!({"name": "b"}))
        .await
        .expect(201);
    let list = app.get("/api/v1/groups", Some(&rita)).await;
    let list = list.expect(200).as_array().expect("array").clone();
    list.iter().for_each(assert_group_shape);
    let ids: Vec<&str> = list.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Lab-1", "b"]);
    assert_eq!(list[1]["description"], Value::Null);
    let one = app.get("/api/v1/groups/Lab-1", Some(&rita)).await;
    assert_eq!(one.expect(200)["users"], json!(["admin", "rita"]));
    assert_error(
        &app.get("/api/v1/groups/lab-1", Some(&rita)).await,
        404,
        "not_found",
    );
    let reply = app.delete("/api/v1/groups/Lab-1", Some(&admin)).await;
    assert_eq!(reply.expect(200)["message"], "Group Lab-1 deleted");
    assert_error(
        &app.get("/api/v1/groups/Lab-1", Some(&rita)).await,
        404,
        "not_found",
    );
    assert_error(
        &app.delete("/api/v1/groups/Lab-1", Some(&admin)).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn creation_is_validated() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    app.group(&admin, "lab", &[]).await;
    let cases = [
        (json!({"name": "lab"}), 409, "conflict"),
        (json!({"name": "new", "users": ["ghost"]}), 404, "not_found"),
        (json!({"description": "no name"}), 400, "missing_field"),
        (json!({"name": "a/b"}), 400, "invalid_input"),
        (json!({"name": ""}), 400, "invalid_input"),
        (
            json!({"name": "new", "users": "rita"}),
            400,
            "invalid_input",
        ),
        (
            json!({"name": "new", "description": "x".repeat(2000)}),
            400,
            "invalid_input",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.post("/api/v1/groups", Some(&admin), &body).await;
        assert_error(&reply, status, code);
    }
    let names = app.get("/api/v1/groups", Some(&admin)).await;
    assert_eq!(
        names.expect(200).as_array().unwrap().len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn members_and_managers_change_membership() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    app.register(&admin, "vera", &["reader"]).await;
    app.group(&admin, "lab", &["rita"]).await;
    let add = |user: &str| json!({"username": user});
    let path = "/api/v1/groups/lab/members";
    let reply = app.post(path, Some(&carl), &add("carl")).await;
    assert_error(&reply, 403, "forbidden");
    let reply = app.post(path, Some(&rita), &add("Vera")).await;
    let group = reply.expect(200);
    assert_group_shape(group);
    assert_eq!(group["users"], json!(["admin", "rita", "vera"]));
    let again = app.post(path, Some(&rita), &add("vera")).await;
    assert_eq!(again.expect(200)["users"], json!(["admin", "rita", "vera"]));
    assert_error(
        &app.post(path, Some(&rita), &add("ghost")).await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(path, Some(&rita), &json!({})).await,
        400,
        "missing_field",
    );
    let missing = app
        .post("/api/v1/groups/nope/members", Some(&admin), &add("rita"))
        .await;
    assert_error(&missing, 404, "not_found");
    let reply = app
        .delete("/api/v1/groups/lab/members/vera", Some(&carl))
        .await;
    assert_error(&reply, 403, "forbidden");
    let reply = app
        .delete("/api/v1/groups/lab/members/vera", Some(&rita))
        .await;
    assert_eq!(reply.expect(200)["users"], json!(["admin", "rita"]));
    let reply = app
        .delete("/api/v1/groups/lab/members/vera", Some(&rita))
        .await;
    assert_error(&reply, 404, "not_found");
    let reply = app
        .delete("/api/v1/groups/lab/members/admin", Some(&rita))
        .await;
    assert_error(&reply, 409, "conflict");
    app.delete("/api/v1/groups/lab/members/rita", Some(&admin))
        .await
        .expect(200);
    let reply = app.post(path, Some(&rita), &add("rita")).await;
    assert_error(&reply, 403, "forbidden");
}
