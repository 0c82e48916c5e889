//! `POST token/validation`.

use serde_json::json;

use crate::helpers::{assert_error, Gen, TestApp};

both_generations!(
    validation_returns_the_token_s_user,
    validation_without_a_token_is_401,
    validation_of_a_bad_token_is_401_with_the_reason,
    validation_of_a_refresh_token_is_401,
    validation_of_an_api_token_succeeds,
);

async fn validation_returns_the_token_s_user(gen: Gen) {
    let app = TestApp::test_mode();
    for (user, fullname) in [("admin", "PlantDB Admin"), ("guest", "PlantDB Guest")] {
        let (access, _) = app.login(user, user).await;
        let reply = app.validate(gen, &access).await;
        reply.expect_status(200);
        assert_eq!(
            reply.body,
            json!({
                "message": "Token validation successful",
                "user": {"username": user, "fullname": fullname},
            }),
            "{reply:?}"
        );
    }
}

async fn validation_without_a_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app
        .post_empty(gen, crate::helpers::Route::Validation, None)
        .await;
    assert_error(&reply, 401, "not_authenticated");
}

async fn validation_of_a_bad_token_is_401_with_the_reason(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, _) = app.login("admin", "admin").await;
    // Same header and payload, signature of another token.
    let (other, _) = app.login("guest", "guest").await;
    let mut parts: Vec<&str> = access.split('.').collect();
    let other_sig = other.rsplit('.').next().unwrap().to_owned();
    parts[2] = &other_sig;
    let spliced = parts.join(".");
    for token in ["garbage", "aaaa.bbbb.cccc", spliced.as_str()] {
        let reply = app.validate(gen, token).await;
        let err = assert_error(&reply, 401, "invalid_token");
        let text = err["error"].as_str().unwrap_or("");
        assert!(
            text.starts_with("Token validation failed: ") && text.len() > 25,
            "message must be \"Token validation failed: <reason>\": {reply:?}"
        );
    }
}

async fn validation_of_a_refresh_token_is_401(gen: Gen) {
    let app = TestApp::test_mode();
    let (_, refresh) = app.login("admin", "admin").await;
    let reply = app.validate(gen, &refresh).await;
    let err = assert_error(&reply, 401, "invalid_token");
    assert!(
        err["error"]
            .as_str()
            .is_some_and(|t| t.starts_with("Token validation failed: ")),
        "{reply:?}"
    );
}

async fn validation_of_an_api_token_succeeds(gen: Gen) {
    let app = TestApp::test_mode();
    let (access, _) = app.login("guest", "guest").await;
    let minted = app
        .create_api_token(
            Gen::Current,
            Some(&access),
            &json!({"token_exp": 600, "datasets": {"*": ["read"]}}),
        )
        .await;
    minted.expect_status(200);
    let api_token = minted.str_field("api_token").to_owned();
    let reply = app.validate(gen, &api_token).await;
    reply.expect_status(200);
    assert_eq!(
        reply.body["user"],
        json!({"username": "guest", "fullname": "PlantDB Guest"}),
        "{reply:?}"
    );
}
