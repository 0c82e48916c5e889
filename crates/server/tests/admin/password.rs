//! `POST /api/v1/users/{u}/password`: self-service change and admin reset.

use serde_json::json;

use crate::helpers::{assert_error, TestApp, OTHER_PW, STRONG_PW};

const PATH: &str = "/api/v1/users/rita/password";

#[tokio::test]
async fn users_change_their_own_password_with_the_current_one() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let (other_session, refresh) = app.login_pair("rita", STRONG_PW).await;
    let api = app.api_token(&rita, json!({"*": ["read"]})).await;
    let wrong = json!({"current_password": "not-my-password", "new_password": OTHER_PW});
    let reply = app.post(PATH, Some(&rita), &wrong).await;
    assert_error(&reply, 401, "invalid_credentials");
    let missing = json!({"new_password": OTHER_PW});
    assert_error(
        &app.post(PATH, Some(&rita), &missing).await,
        400,
        "missing_field",
    );
    let missing = json!({"current_password": STRONG_PW});
    assert_error(
        &app.post(PATH, Some(&rita), &missing).await,
        400,
        "missing_field",
    );
    for weak in [
        "short",
        "password123",
        "rita-is-my-name-1",
        "plantdb-2024-secret",
    ] {
        let body = json!({"current_password": STRONG_PW, "new_password": weak});
        let reply = app.post(PATH, Some(&rita), &body).await;
        assert_error(&reply, 400, "invalid_input");
    }
    assert_eq!(
        app.me_status(&rita).await,
        200,
        "failed attempts change nothing"
    );
    let body = json!({"current_password": STRONG_PW, "new_password": OTHER_PW});
    let reply = app
        .post("/api/v1/users/Rita/password", Some(&rita), &body)
        .await;
    let done = reply.expect(200);
    assert!(
        done["message"].as_str().unwrap().contains("log in again"),
        "{done}"
    );
    assert!(done["sessions_ended"].as_u64().unwrap() >= 3, "{done}");
    for token in [&rita, &other_session, &api] {
        assert_eq!(
            app.me_status(token).await,
            401,
            "every session and API token ends"
        );
    }
    let refreshed = app
        .post(
            "/api/v1/auth/token/refresh",
            None,
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(refreshed.status, 401);
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 401);
    assert_eq!(app.try_login("rita", OTHER_PW).await.status, 200);
}

#[tokio::test]
async fn admins_reset_passwords_without_the_current_one() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let body = json!({"new_password": OTHER_PW});
    app.post(PATH, Some(&admin), &body).await.expect(200);
    assert_eq!(app.me_status(&rita).await, 401);
    assert_eq!(
        app.me_status(&admin).await,
        200,
        "the admin's own session lives on"
    );
    assert_eq!(app.try_login("rita", OTHER_PW).await.status, 200);
    let weak = json!({"new_password": "rita"});
    assert_error(
        &app.post(PATH, Some(&admin), &weak).await,
        400,
        "invalid_input",
    );
    let ghost = app
        .post("/api/v1/users/ghost/password", Some(&admin), &body)
        .await;
    assert_error(&ghost, 404, "not_found");
}

#[tokio::test]
async fn others_cannot_change_a_password_even_with_it() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    app.register(&admin, "rita", &["reader"]).await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    let body = json!({"current_password": STRONG_PW, "new_password": OTHER_PW});
    assert_error(&app.post(PATH, Some(&carl), &body).await, 403, "forbidden");
    assert_error(&app.post(PATH, None, &body).await, 401, "not_authenticated");
    assert_eq!(app.try_login("rita", STRONG_PW).await.status, 200);
}
