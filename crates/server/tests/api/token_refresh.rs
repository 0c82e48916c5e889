//! `POST token/refresh`.

use serde_json::json;

use crate::helpers::{assert_error, assert_error_one_of, assert_jwt, Gen, Route, TestApp};

both_generations!(
    refresh_rotates_the_pair,
    refresh_can_be_chained,
    refresh_without_refresh_token_status_depends_on_generation,
    refresh_with_an_invalid_token_is_401,
    refresh_with_an_access_token_is_401,
    refresh_with_an_api_token_is_401,
    reusing_a_rotated_refresh_token_revokes_its_descendants,
);

async fn refresh_rotates_the_pair(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login("admin", "admin").await;
    let reply = app.refresh(gen, &refresh).await;
    reply.expect_status(200);
    assert_eq!(
        reply.body["message"], "Token refreshed successfully",
        "{reply:?}"
    );
    let new_access = reply.str_field("access_token").to_owned();
    let new_refresh = reply.str_field("refresh_token").to_owned();
    assert_jwt(&new_access);
    assert_jwt(&new_refresh);
    assert_ne!(new_access, access);
    assert_ne!(new_refresh, refresh);

    let ok = app.validate(gen, &new_access).await;
    ok.expect_status(200);
    assert_eq!(ok.body["user"]["username"], "admin", "{ok:?}");
    // A refresh token is not an access token.
    assert_error(&app.validate(gen, &new_refresh).await, 401, "invalid_token");
    // The presented refresh token and its access token are dead.
    assert_error(&app.validate(gen, &access).await, 401, "invalid_token");
    assert_error(&app.refresh(gen, &refresh).await, 401, "invalid_token");
}

async fn refresh_can_be_chained(gen: Gen) {
    let app = TestApp::test_mode();
    let (_, mut refresh) = app.login("guest", "guest").await;
    let mut access = String::new();
    for _ in 0..3 {
        let reply = app.refresh(gen, &refresh).await;
        reply.expect_status(200);
        access = reply.str_field("access_token").to_owned();
        refresh = reply.str_field("refresh_token").to_owned();
    }
    assert_eq!(app.validation_status(&access).await, 200);
}

/// Contract §3: missing `refresh_token` is 401 on current, 400 on legacy.
async fn refresh_without_refresh_token_status_depends_on_generation(gen: Gen) {
    let app = TestApp::test_mode();
    let status = match gen {
        Gen::Current => 401,
        Gen::Legacy => 400,
    };
    for body in [json!({}), json!({"token": "x"})] {
        let reply = app.post(gen, Route::Refresh, None, &body).await;
        assert_error_one_of(&reply, status, &["missing_field", "not_authenticated"]);
    }
}

/// The machine code is identical on both generations even where the status differs.
#[tokio::test]
async fn refresh_without_refresh_token_has_one_code_on_both_generations() {
    let app = TestApp::test_mode();
    let current = app
        .post(Gen::Current, Route::Refresh, None, &json!({}))
        .await;
    let legacy = app
        .post(Gen::Legacy, Route::Refresh, None, &json!({}))
        .await;
    assert_eq!(current.status, 401, "{current:?}");
    assert_eq!(legacy.status, 400, "{legacy:?}");
    assert_eq!(current.body["code"], legacy.body["code"]);
}

async fn refresh_with_an_invalid_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    for token in ["garbage", "aaaa.bbbb.cccc"] {
        let reply = app.refresh(gen, token).await;
        assert_error(&reply, 401, "invalid_token");
    }
}

async fn refresh_with_an_access_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, refresh) = app.login("guest", "guest").await;
    assert_error(&app.refresh(gen, &access).await, 401, "invalid_token");
    // The real refresh token was not consumed.
    app.refresh(gen, &refresh).await.expect_status(200);
}

async fn refresh_with_an_api_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    let minted = app
        .create_api_token(
            Gen::Current,
            Some(&access),
            &json!({"token_exp": 600, "datasets": {"*": ["read"]}}),
        )
        .await;
    minted.expect_status(200);
    let api_token = minted.str_field("api_token");
    assert_error(&app.refresh(gen, api_token).await, 401, "invalid_token");
}

/// We differ: a rotated refresh token presented again is theft; everything
/// descended from that login dies.
async fn reusing_a_rotated_refresh_token_revokes_its_descendants(gen: Gen) {
    let app = TestApp::test_mode();
    let (_, r1) = app.login("admin", "admin").await;
    let (other_access, _) = app.login("admin", "admin").await;
    let rotated = app.refresh(gen, &r1).await;
    rotated.expect_status(200);
    let a2 = rotated.str_field("access_token").to_owned();
    let r2 = rotated.str_field("refresh_token").to_owned();

    assert_error(&app.refresh(gen, &r1).await, 401, "invalid_token");
    assert_error(&app.validate(gen, &a2).await, 401, "invalid_token");
    assert_error(&app.refresh(gen, &r2).await, 401, "invalid_token");
    // Another login of the same user is a different family.
    assert_eq!(app.validation_status(&other_access).await, 200);
}
