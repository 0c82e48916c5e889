//! `/api/v1/auth/me` and `/api/v1/users/...`.

use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp, STRONG_PW};

const USER_KEYS: [&str; 8] = [
    "username",
    "fullname",
    "roles",
    "extra_permissions",
    "is_active",
    "locked_until",
    "last_login",
    "created_at",
];

/// Exactly the documented keys: in particular, never the hash.
fn assert_user_shape(user: &Value) {
    let object = user.as_object().expect("a user object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut wanted = USER_KEYS.to_vec();
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "{user}");
    assert!(!user.to_string().contains("argon2"), "{user}");
}

/// ISO 8601 in UTC, as `2026-01-29T17:19:13+00:00`.
fn assert_iso_utc(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    let parsed = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    assert_eq!(parsed.offset().local_minus_utc(), 0, "{text}");
}

#[tokio::test]
async fn me_describes_the_caller() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let me = app.get("/api/v1/auth/me", Some(&admin)).await;
    let me = me.expect(200);
    assert_user_shape(me);
    assert_eq!(me["username"], "admin");
    assert_eq!(me["fullname"], "PlantDB Admin");
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["extra_permissions"], json!([]));
    assert_eq!(me["is_active"], true);
    assert_eq!(me["locked_until"], Value::Null);
    assert_iso_utc(&me["last_login"]);
    assert_iso_utc(&me["created_at"]);
    let reply = app.get("/api/v1/auth/me", None).await;
    assert_error(&reply, 401, "not_authenticated");
}

#[tokio::test]
async fn admins_list_and_read_users_and_users_read_themselves() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let list = app.get("/api/v1/users", Some(&admin)).await;
    let names: Vec<&str> = list
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(|u| {
            assert_user_shape(u);
            u["username"].as_str().expect("username")
        })
        .collect();
    assert_eq!(names, ["admin", "guest", "rita"]);
    let own = app.get("/api/v1/users/RITA", Some(&rita)).await;
    assert_eq!(own.expect(200)["username"], "rita", "look-ups ignore case");
    let other = app.get("/api/v1/users/admin", Some(&rita)).await;
    assert_error(&other, 403, "forbidden");
    let ghost = app.get("/api/v1/users/ghost", Some(&rita)).await;
    assert_error(&ghost, 403, "forbidden");
    let ghost = app.get("/api/v1/users/ghost", Some(&admin)).await;
    assert_error(&ghost, 404, "not_found");
    let invalid = app.get("/api/v1/users/no%20such", Some(&admin)).await;
    assert_error(&invalid, 404, "not_found");
}

#[tokio::test]
async fn patch_changes_fullname_roles_and_permissions() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let body = json!({"fullname": "Rita R.", "roles": ["Role.CONTRIBUTOR"], "extra_permissions": ["DELETE"]});
    let reply = app.patch("/api/v1/users/rita", Some(&admin), &body).await;
    let user = reply.expect(200);
    assert_user_shape(user);
    assert_eq!(user["fullname"], "Rita R.");
    assert_eq!(user["roles"], json!(["contributor"]));
    assert_eq!(user["extra_permissions"], json!(["delete"]));
    // The same token sees the new role at its next request.
    let verify = app.get("/api/v1/authz/verify", Some(&rita)).await;
    assert_eq!(verify.header("x-plantdb-roles"), Some("contributor"));
    let bad = [
        (json!({"roles": ["owner"]}), 400, "invalid_input"),
        (json!({"roles": []}), 400, "invalid_input"),
        (json!({"extra_permissions": ["fly"]}), 400, "invalid_input"),
        (json!({"is_active": "no"}), 400, "invalid_input"),
        (json!({}), 400, "missing_field"),
        (json!({"bogus": 1}), 400, "missing_field"),
    ];
    for (body, status, code) in bad {
        let reply = app.patch("/api/v1/users/rita", Some(&admin), &body).await;
        assert_error(&reply, status, code);
    }
    let reply = app
        .patch(
            "/api/v1/users/ghost",
            Some(&admin),
            &json!({"fullname": "G"}),
        )
        .await;
    assert_error(&reply, 404, "not_found");
}

#[tokio::test]
async fn delegated_user_managers_cannot_reach_above_their_rank() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    app.register(&admin, "carl", &["contributor"]).await;
    app.register(&admin, "rita", &["reader"]).await;
    let grant = json!({"extra_permissions": ["manage_users"]});
    app.patch("/api/v1/users/carl", Some(&admin), &grant)
        .await
        .expect(200);
    let carl = app.login("carl", STRONG_PW).await;
    let promote = |role: &str| json!({"roles": [role]});
    let reply = app
        .patch("/api/v1/users/rita", Some(&carl), &promote("admin"))
        .await;
    assert_error(&reply, 403, "forbidden");
    let reply = app
        .patch("/api/v1/users/rita", Some(&carl), &promote("contributor"))
        .await;
    assert_eq!(reply.expect(200)["roles"], json!(["contributor"]));
    let reply = app
        .patch(
            "/api/v1/users/admin",
            Some(&carl),
            &json!({"fullname": "x"}),
        )
        .await;
    assert_error(&reply, 403, "forbidden");
    let reply = app
        .patch(
            "/api/v1/users/rita",
            Some(&carl),
            &json!({"extra_permissions": ["delete"]}),
        )
        .await;
    assert_error(&reply, 403, "forbidden");
    let reply = app.delete("/api/v1/users/admin", Some(&carl)).await;
    assert_error(&reply, 403, "forbidden");
}

#[tokio::test]
async fn deactivation_ends_sessions_and_logins_until_reactivated() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let api = app.api_token(&rita, json!({"*": ["read"]})).await;
    let reply = app
        .patch(
            "/api/v1/users/rita",
            Some(&admin),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(reply.expect(200)["is_active"], false);
    assert_eq!(app.me_status(&rita).await, 401);
    assert_eq!(app.me_status(&api).await, 401);
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 401);
    app.patch(
        "/api/v1/users/rita",
        Some(&admin),
        &json!({"is_active": true}),
    )
    .await
    .expect(200);
    assert_eq!(app.me_status(&rita).await, 401, "ended sessions stay ended");
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 200);
}

#[tokio::test]
async fn unlock_clears_a_lockout() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    app.register(&admin, "rita", &["reader"]).await;
    for _ in 0..3 {
        app.try_login("rita", "wrong-password").await;
    }
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 401, "locked");
    let user = app.get("/api/v1/users/rita", Some(&admin)).await;
    assert_iso_utc(&user.expect(200)["locked_until"]);
    let reply = app
        .patch("/api/v1/users/rita", Some(&admin), &json!({"unlock": true}))
        .await;
    assert_eq!(reply.expect(200)["locked_until"], Value::Null);
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 200);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_deactivated_or_deleted() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    for body in [json!({"roles": ["reader"]}), json!({"is_active": false})] {
        let reply = app.patch("/api/v1/users/admin", Some(&admin), &body).await;
        assert_error(&reply, 409, "conflict");
    }
    let reply = app.delete("/api/v1/users/admin", Some(&admin)).await;
    assert_error(&reply, 409, "conflict");
    // With a second admin, the first may go.
    let second = app.user(&admin, "root2", &["admin"]).await;
    app.delete("/api/v1/users/admin", Some(&second))
        .await
        .expect(200);
    let reply = app.delete("/api/v1/users/root2", Some(&second)).await;
    assert_error(&reply, 409, "conflict");
}

#[tokio::test]
async fn delete_removes_the_account_its_tokens_and_memberships() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    app.group(&admin, "lab", &["rita"]).await;
    let reply = app.delete("/api/v1/users/rita", Some(&admin)).await;
    assert_eq!(reply.expect(200)["message"], "User rita deleted");
    assert_eq!(app.me_status(&rita).await, 401);
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 401);
    let reply = app.get("/api/v1/users/rita", Some(&admin)).await;
    assert_error(&reply, 404, "not_found");
    let lab = app.get("/api/v1/groups/lab", Some(&admin)).await;
    assert_eq!(lab.expect(200)["users"], json!(["admin"]));
    let reply = app.delete("/api/v1/users/rita", Some(&admin)).await;
    assert_error(&reply, 404, "not_found");
    let reply = app.delete("/api/v1/users/guest", Some(&admin)).await;
    let message = assert_error(&reply, 409, "conflict");
    assert!(message.contains("guest"), "{message}");
}
