//! A database directory: first-start accounts, and sessions that survive a
//! restart (we differ from the Python server, whose tokens die with it).

use serde_json::Value;

use crate::helpers::{assert_error, new_db_dir, Gen, TestApp, ADMIN_PW, STRONG_PW};

/// We differ: on a new database admin's password is `PLANTDB_ADMIN_PASSWORD`, not `admin`.
#[tokio::test]
async fn a_new_database_gets_admin_from_the_environment_and_guest() {
    let app = TestApp::fresh_db();
    let default_pw = app.try_login(Gen::Current, "admin", "admin").await;
    assert_error(&default_pw, 401, "invalid_credentials");
    let admin = app.try_login(Gen::Current, "admin", ADMIN_PW).await;
    admin.expect_status(200);
    assert_eq!(admin.body["user"]["fullname"], "PlantDB Admin", "{admin:?}");
    let guest = app.try_login(Gen::Legacy, "guest", "guest").await;
    guest.expect_status(200);
    assert_eq!(guest.body["user"]["fullname"], "PlantDB Guest", "{guest:?}");
}

/// users.json keeps the Python server's format (contract §1).
#[tokio::test]
async fn registered_users_are_written_to_users_json() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    let token = app.admin_token().await;
    app.register(&token, "NewUser", "New User", STRONG_PW)
        .await
        .expect_status(201);

    let text = std::fs::read_to_string(dir.path().join("users.json")).expect("users.json");
    let users: Value = serde_json::from_str(&text).expect("users.json is JSON");
    let users = users.as_array().expect("users.json is an array");
    let names: Vec<&str> = users
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    for expected in ["admin", "guest", "newuser"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let user = users.iter().find(|u| u["username"] == "newuser").unwrap();
    assert_eq!(user["fullname"], "New User");
    assert!(
        user["password_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("$argon2")),
        "password_hash must be an Argon2 PHC string: {user}"
    );
    assert!(user["roles"].is_array(), "{user}");
    assert!(user["_extra_permissions"].is_array(), "{user}");
    assert_eq!(user["is_active"], true, "{user}");
    assert_eq!(user["failed_attempts"], 0, "{user}");
    assert!(user["created_at"].is_string(), "{user}");
}

/// Sessions, rotations and revocations survive a crash and restart, with the
/// signing key kept in the database directory (JWT_SECRET_KEY unset).
#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    let (kept_access, kept_refresh) = app.login("admin", ADMIN_PW).await;
    let (dead_access, dead_refresh) = app.login("guest", "guest").await;
    let (_, rotated_refresh) = app.login("guest", "guest").await;
    app.post_empty(
        Gen::Current,
        crate::helpers::Route::Logout,
        Some(&dead_access),
    )
    .await
    .expect_status(200);
    let rotation = app.refresh(Gen::Current, &rotated_refresh).await;
    rotation.expect_status(200);
    let rotated_access = rotation.str_field("access_token").to_owned();
    app.kill();

    let app = TestApp::on_db(dir.path(), &[]);
    let ok = app.validate(Gen::Current, &kept_access).await;
    ok.expect_status(200);
    assert_eq!(ok.body["user"]["username"], "admin", "{ok:?}");
    assert_eq!(app.validation_status(&rotated_access).await, 200);
    // Logged out before the restart: still dead.
    assert_error(
        &app.validate(Gen::Legacy, &dead_access).await,
        401,
        "invalid_token",
    );
    assert_error(
        &app.refresh(Gen::Current, &dead_refresh).await,
        401,
        "invalid_token",
    );
    // Rotated before the restart: still spent.
    assert_error(
        &app.refresh(Gen::Current, &rotated_refresh).await,
        401,
        "invalid_token",
    );
    // And refresh still works.
    let refreshed = app.refresh(Gen::Legacy, &kept_refresh).await;
    refreshed.expect_status(200);
    assert_eq!(
        app.validation_status(refreshed.str_field("access_token"))
            .await,
        200
    );
}

/// A JWT_SECRET_KEY string is stretched deterministically: tokens survive restarts.
#[tokio::test]
async fn sessions_survive_a_restart_with_a_jwt_secret_key() {
    let dir = new_db_dir();
    let env = [("JWT_SECRET_KEY", "a shared secret that is not hex")];
    let app = TestApp::on_db(dir.path(), &env);
    let (access, _) = app.login("guest", "guest").await;
    app.kill();
    let app = TestApp::on_db(dir.path(), &env);
    assert_eq!(app.validation_status(&access).await, 200);
}

#[tokio::test]
async fn api_tokens_survive_a_restart() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    let access = app.guest_token().await;
    let minted = app
        .create_api_token(
            Gen::Current,
            Some(&access),
            &serde_json::json!({"token_exp": 3600, "datasets": {"*": ["read"]}}),
        )
        .await;
    minted.expect_status(200);
    let api_token = minted.str_field("api_token").to_owned();
    app.kill();
    let app = TestApp::on_db(dir.path(), &[]);
    assert_eq!(app.validation_status(&api_token).await, 200);
}

#[tokio::test]
async fn users_survive_a_restart() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    let token = app.admin_token().await;
    app.register(&token, "Robin", "Dick Grayson", STRONG_PW)
        .await
        .expect_status(201);
    app.kill();
    let app = TestApp::on_db(dir.path(), &[]);
    let reply = app.try_login(Gen::Current, "ROBIN", STRONG_PW).await;
    reply.expect_status(200);
    assert_eq!(reply.body["user"]["username"], "robin", "{reply:?}");
    assert_eq!(reply.body["user"]["fullname"], "Dick Grayson", "{reply:?}");
}

/// `PLANTDB_ADMIN_PASSWORD` never overwrites an existing admin.
#[tokio::test]
async fn the_admin_password_variable_does_not_overwrite_an_existing_admin() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    app.login("admin", ADMIN_PW).await;
    app.kill();
    let other = "Another-Adm1n-Pa55word";
    let app = TestApp::spawn(
        &["--db", dir.path().to_str().unwrap(), "--no-rate-limits"],
        &[("PLANTDB_ADMIN_PASSWORD", other)],
    );
    assert_error(
        &app.try_login(Gen::Current, "admin", other).await,
        401,
        "invalid_credentials",
    );
    app.try_login(Gen::Current, "admin", ADMIN_PW)
        .await
        .expect_status(200);
}
