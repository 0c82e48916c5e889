//! `POST logout`.

use serde_json::json;

use crate::helpers::{assert_error, assert_error_one_of, Gen, Route, TestApp};

both_generations!(
    logout_ends_the_session,
    logout_without_a_token_is_401,
    logout_twice_is_401,
    logout_with_a_bad_token_is_401,
    logout_with_a_refresh_token_is_401_and_ends_nothing,
    logout_ends_only_its_own_session,
    logout_with_a_non_bearer_authorization_is_401,
);

async fn logout_ends_the_session(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login("admin", "admin").await;
    let reply = app.post_empty(gen, Route::Logout, Some(&access)).await;
    reply.expect_status(200);
    assert_eq!(
        reply.body,
        json!({"message": "Logout successful from admin"}),
        "{reply:?}"
    );
    assert_error(&app.validate(gen, &access).await, 401, "invalid_token");
    // The linked refresh token died with it.
    assert_error(&app.refresh(gen, &refresh).await, 401, "invalid_token");
}

async fn logout_without_a_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app.post_empty(gen, Route::Logout, None).await;
    assert_error(&reply, 401, "not_authenticated");
}

async fn logout_twice_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, _) = app.login("guest", "guest").await;
    app.post_empty(gen, Route::Logout, Some(&access))
        .await
        .expect_status(200);
    let again = app.post_empty(gen, Route::Logout, Some(&access)).await;
    assert_error(&again, 401, "invalid_token");
}

async fn logout_with_a_bad_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    for token in ["garbage", "aaaa.bbbb.cccc"] {
        let reply = app.post_empty(gen, Route::Logout, Some(token)).await;
        assert_error(&reply, 401, "invalid_token");
    }
}

async fn logout_with_a_refresh_token_is_401_and_ends_nothing(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login("guest", "guest").await;
    let reply = app.post_empty(gen, Route::Logout, Some(&refresh)).await;
    assert_error(&reply, 401, "invalid_token");
    assert_eq!(app.validation_status(&access).await, 200);
}

async fn logout_ends_only_its_own_session(gen: Gen) {
    let app = TestApp::test_mode();
    let (first, _) = app.login("admin", "admin").await;
    let (second, second_refresh) = app.login("admin", "admin").await;
    let (guest, _) = app.login("guest", "guest").await;
    app.post_empty(gen, Route::Logout, Some(&first))
        .await
        .expect_status(200);
    assert_eq!(app.validation_status(&first).await, 401);
    assert_eq!(app.validation_status(&second).await, 200);
    assert_eq!(app.validation_status(&guest).await, 200);
    app.refresh(gen, &second_refresh).await.expect_status(200);
}

async fn logout_with_a_non_bearer_authorization_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, _) = app.login("guest", "guest").await;
    for header in [
        format!("Basic {access}"),
        access.clone(),
        "Bearer".to_owned(),
    ] {
        let req = app
            .client
            .post(app.route(gen, Route::Logout))
            .header("authorization", header);
        let reply = app.send(req).await;
        assert_error_one_of(&reply, 401, &["not_authenticated", "invalid_token"]);
    }
    assert_eq!(app.validation_status(&access).await, 200);
}
