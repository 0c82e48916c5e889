//! `POST register`.

use serde_json::json;

use crate::helpers::{assert_error, assert_error_one_of, Gen, Route, TestApp, STRONG_PW};

both_generations!(
    register_creates_a_user_with_the_generation_s_message,
    register_missing_field_is_400_with_success_false,
    register_without_or_with_a_bad_token_is_401,
    register_with_a_refresh_token_is_401,
    register_without_manage_users_is_403_and_creates_nothing,
    register_duplicate_is_409_whatever_the_case,
    register_invalid_username_is_400,
    register_accepts_usernames_at_the_limits,
    register_weak_password_is_400,
    register_with_wrong_types_is_400,
);

fn user_body(username: &str, password: &str) -> serde_json::Value {
    json!({"username": username, "fullname": "Bruce Wayne", "password": password})
}

async fn register_creates_a_user_with_the_generation_s_message(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    let reply = app
        .post(
            gen,
            Route::Register,
            Some(&token),
            &user_body("BatMan", STRONG_PW),
        )
        .await;
    reply.expect_status(201);
    let expected = match gen {
        Gen::Current => "User batman successfully created",
        Gen::Legacy => "User successfully created",
    };
    assert_eq!(reply.body["message"], expected, "{reply:?}");
    assert!(app.exists("batman").await);
    let login = app.try_login(gen, "batman", STRONG_PW).await;
    login.expect_status(200);
    assert_eq!(
        login.body["user"],
        json!({"username": "batman", "fullname": "Bruce Wayne"}),
        "{login:?}"
    );
}

async fn register_missing_field_is_400_with_success_false(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    let full = user_body("robin", STRONG_PW);
    for field in ["username", "fullname", "password"] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(field);
        let reply = app.post(gen, Route::Register, Some(&token), &body).await;
        let err = assert_error(&reply, 400, "missing_field");
        assert_eq!(err["success"], false, "missing {field}: {reply:?}");
    }
    let empty = app
        .post(gen, Route::Register, Some(&token), &json!({}))
        .await;
    assert_eq!(assert_error(&empty, 400, "missing_field")["success"], false);
    assert!(!app.exists("robin").await);
}

async fn register_without_or_with_a_bad_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let body = user_body("robin", STRONG_PW);
    let none = app.post(gen, Route::Register, None, &body).await;
    assert_error(&none, 401, "not_authenticated");
    let bad = app
        .post(gen, Route::Register, Some("not-a-jwt"), &body)
        .await;
    assert_error(&bad, 401, "invalid_token");
    let forged = app
        .post(gen, Route::Register, Some("aaaa.bbbb.cccc"), &body)
        .await;
    assert_error(&forged, 401, "invalid_token");
    assert!(!app.exists("robin").await);
}

async fn register_with_a_refresh_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let (_, refresh) = app.login("admin", "admin").await;
    let reply = app
        .post(
            gen,
            Route::Register,
            Some(&refresh),
            &user_body("robin", STRONG_PW),
        )
        .await;
    assert_error(&reply, 401, "invalid_token");
    assert!(!app.exists("robin").await);
}

async fn register_without_manage_users_is_403_and_creates_nothing(gen: Gen) {
    let app = TestApp::test_mode();
    let guest = app.guest_token().await;
    let reply = app
        .post(
            gen,
            Route::Register,
            Some(&guest),
            &user_body("robin", STRONG_PW),
        )
        .await;
    assert_error(&reply, 403, "forbidden");
    assert!(!app.exists("robin").await);
}

async fn register_duplicate_is_409_whatever_the_case(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    let first = app
        .post(
            gen,
            Route::Register,
            Some(&token),
            &user_body("alfred", STRONG_PW),
        )
        .await;
    first.expect_status(201);
    for name in ["alfred", "ALFRED", "Alfred", "admin", "Guest"] {
        let reply = app
            .post(
                gen,
                Route::Register,
                Some(&token),
                &user_body(name, "Another-Strong-8-pass"),
            )
            .await;
        assert_error(&reply, 409, "user_exists");
    }
    // The first registration is untouched.
    app.try_login(gen, "alfred", STRONG_PW)
        .await
        .expect_status(200);
}

async fn register_invalid_username_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    let too_long = "a".repeat(65);
    for name in [
        "",
        "../../etc",
        too_long.as_str(),
        "bat man",
        "bat/man",
        "bätman",
        "bat@man",
    ] {
        let reply = app
            .post(
                gen,
                Route::Register,
                Some(&token),
                &user_body(name, STRONG_PW),
            )
            .await;
        assert_error(&reply, 400, "invalid_input");
    }
    assert!(!app.exists(&too_long).await);
}

async fn register_accepts_usernames_at_the_limits(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    let longest = "b".repeat(64);
    for name in [longest.as_str(), "x", "a.b_c-9"] {
        let reply = app
            .post(
                gen,
                Route::Register,
                Some(&token),
                &user_body(name, STRONG_PW),
            )
            .await;
        reply.expect_status(201);
        assert!(app.exists(name).await, "{name} should exist");
    }
}

async fn register_weak_password_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    for password in [
        "Sh0rt-p",             // under 8 characters
        "password",            // common
        "xx-robin-Strong-42",  // contains the username
        "My-plantdb-Secret-9", // contains "plantdb"
        "Xyz-romi-Secret-42",  // contains "romi"
    ] {
        let reply = app
            .post(
                gen,
                Route::Register,
                Some(&token),
                &user_body("robin", password),
            )
            .await;
        assert_error(&reply, 400, "invalid_input");
    }
    assert!(!app.exists("robin").await);
}

async fn register_with_wrong_types_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let token = app.admin_token().await;
    for body in [
        json!({"username": 42, "fullname": "X", "password": STRONG_PW}),
        json!({"username": "robin", "fullname": ["X"], "password": STRONG_PW}),
        json!({"username": "robin", "fullname": "X", "password": 12345678}),
    ] {
        let reply = app.post(gen, Route::Register, Some(&token), &body).await;
        assert_error_one_of(&reply, 400, &["invalid_input", "missing_field"]);
    }
    assert!(!app.exists("robin").await);
}

/// The error code for one failure is the same on both generations.
#[tokio::test]
async fn register_error_codes_match_across_generations() {
    let app = TestApp::test_mode();
    let guest = app.guest_token().await;
    let body = user_body("robin", STRONG_PW);
    let current = app
        .post(Gen::Current, Route::Register, Some(&guest), &body)
        .await;
    let legacy = app
        .post(Gen::Legacy, Route::Register, Some(&guest), &body)
        .await;
    assert_eq!(current.status, legacy.status);
    assert_eq!(current.body["code"], legacy.body["code"]);
}
