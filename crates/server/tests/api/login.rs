//! `GET login?username=U` and `POST login`.

use serde_json::json;

use crate::helpers::{assert_error, assert_error_one_of, assert_jwt, Gen, Route, TestApp};

both_generations!(
    get_login_reports_existing_and_unknown_users,
    get_login_looks_usernames_up_case_insensitively,
    get_login_without_username_is_400,
    post_login_succeeds_with_the_documented_body,
    post_login_username_is_case_insensitive,
    post_login_missing_username_or_password_is_400,
    post_login_wrong_password_and_unknown_user_look_alike,
    post_login_with_wrong_types_is_400,
    access_token_validates_and_refresh_token_does_not,
);

async fn get_login_reports_existing_and_unknown_users(gen: Gen) {
    let app = TestApp::test_mode();
    for (user, exists) in [("admin", true), ("guest", true), ("superman", false)] {
        let reply = app.check_username(gen, &format!("username={user}")).await;
        reply.expect_status(200);
        assert_eq!(
            reply.body,
            json!({"username": user, "exists": exists}),
            "{reply:?}"
        );
    }
}

/// Look-ups are case-insensitive; the body echoes the username as asked.
async fn get_login_looks_usernames_up_case_insensitively(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app.check_username(gen, "username=ADMIN").await;
    reply.expect_status(200);
    assert_eq!(
        reply.body,
        json!({"username": "ADMIN", "exists": true}),
        "{reply:?}"
    );
}

async fn get_login_without_username_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let missing = app.get(gen, Route::Login).await;
    assert_error(&missing, 400, "missing_field");
    let other_param = app.check_username(gen, "user=admin").await;
    assert_error(&other_param, 400, "missing_field");
    let empty = app.check_username(gen, "username=").await;
    assert_error_one_of(&empty, 400, &["missing_field", "invalid_input"]);
}

async fn post_login_succeeds_with_the_documented_body(gen: Gen) {
    let app = TestApp::test_mode();
    for (user, fullname) in [("admin", "PlantDB Admin"), ("guest", "PlantDB Guest")] {
        let reply = app.try_login(gen, user, user).await;
        reply.expect_status(200);
        assert_eq!(reply.body["message"], "Login successful", "{reply:?}");
        assert_eq!(
            reply.body["user"],
            json!({"username": user, "fullname": fullname}),
            "{reply:?}"
        );
        let access = reply.str_field("access_token");
        let refresh = reply.str_field("refresh_token");
        assert_jwt(access);
        assert_jwt(refresh);
        assert_ne!(access, refresh);
    }
}

async fn post_login_username_is_case_insensitive(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app.try_login(gen, "Admin", "admin").await;
    reply.expect_status(200);
    assert_eq!(
        reply.body["user"]["username"], "admin",
        "stored name is lower-case: {reply:?}"
    );
}

async fn post_login_missing_username_or_password_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    for body in [
        json!({"username": "admin"}),
        json!({"password": "admin"}),
        json!({}),
    ] {
        let reply = app.post(gen, Route::Login, None, &body).await;
        let err = assert_error(&reply, 400, "missing_field");
        assert_eq!(err["error"], "Missing username or password", "{reply:?}");
        assert_eq!(err["authenticated"], false, "{reply:?}");
    }
}

/// Unknown user and wrong password answer the same (contract §1, lockout).
async fn post_login_wrong_password_and_unknown_user_look_alike(gen: Gen) {
    let app = TestApp::test_mode();
    let wrong = app.try_login(gen, "admin", "not-the-password").await;
    let err = assert_error(&wrong, 401, "invalid_credentials");
    assert_eq!(err["error"], "Invalid credentials", "{wrong:?}");
    let unknown = app.try_login(gen, "nobody", "whatever-pw").await;
    assert_error(&unknown, 401, "invalid_credentials");
    assert_eq!(
        unknown.body, wrong.body,
        "failures must be indistinguishable"
    );
}

async fn post_login_with_wrong_types_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    for body in [
        json!({"username": 123, "password": "admin"}),
        json!({"username": "admin", "password": ["admin"]}),
        json!({"username": null, "password": "admin"}),
    ] {
        let reply = app.post(gen, Route::Login, None, &body).await;
        assert_error_one_of(&reply, 400, &["invalid_input", "missing_field"]);
    }
}

async fn access_token_validates_and_refresh_token_does_not(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login_on(gen, "guest", "guest").await;
    let ok = app.validate(gen, &access).await;
    ok.expect_status(200);
    assert_eq!(ok.body["user"]["username"], "guest", "{ok:?}");
    let refused = app.validate(gen, &refresh).await;
    assert_error(&refused, 401, "invalid_token");
}

/// Both generations are adapters over the same sessions.
#[tokio::test]
async fn a_session_opened_on_one_generation_works_on_the_other() {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login_on(Gen::Legacy, "admin", "admin").await;
    app.validate(Gen::Current, &access).await.expect_status(200);
    let rotated = app.refresh(Gen::Current, &refresh).await;
    rotated.expect_status(200);
    let new_access = rotated.str_field("access_token").to_owned();
    app.validate(Gen::Legacy, &new_access)
        .await
        .expect_status(200);
    app.post_empty(Gen::Legacy, Route::Logout, Some(&new_access))
        .await
        .expect_status(200);
    assert_error(
        &app.validate(Gen::Current, &new_access).await,
        401,
        "invalid_token",
    );
}
