//! Bad bodies: malformed or non-object JSON, missing or oversized bodies,
//! content types (contract §3, last paragraph).

use serde_json::json;

use crate::helpers::{assert_error, assert_error_one_of, new_client, Gen, Route, TestApp};

/// Largest accepted body.
const LIMIT: usize = 64 * 1024;

both_generations!(
    malformed_json_is_400,
    non_object_json_is_400,
    missing_body_is_400,
    body_over_64_kib_is_413,
    body_of_exactly_64_kib_is_accepted,
    json_is_accepted_whatever_the_content_type,
    unknown_fields_are_ignored,
);

/// Routes taking a JSON body, with the bearer each needs.
async fn json_routes(app: &TestApp) -> Vec<(Route, Option<String>)> {
    let admin = app.admin_token().await;
    vec![
        (Route::Login, None),
        (Route::Register, Some(admin.clone())),
        (Route::Refresh, None),
        (Route::CreateApiToken, Some(admin)),
    ]
}

async fn malformed_json_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let bodies: [&[u8]; 4] = [
        br#"{"username": "admin","#,
        b"{username: admin}",
        b"\xff\xfe{}",
        b"{\"username\": \"admin\", \"password\": \"admin\"} trailing",
    ];
    for (route, bearer) in json_routes(&app).await {
        for body in bodies {
            let reply = app
                .post_raw(
                    gen,
                    route,
                    bearer.as_deref(),
                    Some("application/json"),
                    body.to_vec(),
                )
                .await;
            assert_error(&reply, 400, "invalid_input");
        }
    }
    app.get(gen, Route::Health).await.expect_status(200);
}

async fn non_object_json_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    for (route, bearer) in json_routes(&app).await {
        for body in [
            json!([1, 2]),
            json!("admin"),
            json!(42),
            json!(null),
            json!(true),
        ] {
            let reply = app.post(gen, route, bearer.as_deref(), &body).await;
            assert_error_one_of(&reply, 400, &["invalid_input", "missing_field"]);
        }
    }
}

async fn missing_body_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let admin = app.admin_token().await;
    for (route, bearer) in [
        (Route::Login, None),
        (Route::Register, Some(admin.as_str())),
        (Route::CreateApiToken, Some(admin.as_str())),
    ] {
        let reply = app.post_empty(gen, route, bearer).await;
        assert_error_one_of(&reply, 400, &["invalid_input", "missing_field"]);
        let typed = app
            .post_raw(gen, route, bearer, Some("application/json"), Vec::new())
            .await;
        assert_error_one_of(&typed, 400, &["invalid_input", "missing_field"]);
    }
}

/// A login body of exactly `len` bytes (padded with an ignored field).
fn login_body_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"username":"admin","password":"wrong-password","pad":""#;
    let tail = br#""}"#;
    let pad = len - head.len() - tail.len();
    let mut body = head.to_vec();
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(tail);
    assert_eq!(body.len(), len);
    body
}

async fn body_over_64_kib_is_413(gen: Gen) {
    let app = TestApp::test_mode();
    // A fresh connection per request: how the server ends a connection after
    // refusing a body is tested separately below.
    let client = new_client(false);
    for (route, bearer) in json_routes(&app).await {
        for len in [LIMIT + 1, 200 * 1024] {
            let mut req = client
                .post(app.route(gen, route))
                .header("content-type", "application/json")
                .body(login_body_of_len(len));
            if let Some(token) = &bearer {
                req = req.bearer_auth(token);
            }
            let reply = app.send(req).await;
            assert_error(&reply, 413, "payload_too_large");
        }
    }
    app.get(gen, Route::Health).await.expect_status(200);
}

/// After refusing an oversized body the connection is either kept usable or
/// closed with `Connection: close`, so a keep-alive client's next request on
/// it does not fail (RFC 9112 §9.6).
#[tokio::test]
async fn a_keep_alive_client_survives_a_413() {
    let app = TestApp::test_mode();
    for i in 0..30 {
        let reply = app
            .post_raw(
                Gen::Current,
                Route::Login,
                None,
                Some("application/json"),
                login_body_of_len(200 * 1024),
            )
            .await;
        assert_error(&reply, 413, "payload_too_large");
        let next = app
            .client
            .get(app.route(Gen::Current, Route::Health))
            .send()
            .await;
        assert!(
            next.is_ok(),
            "request {i} after a 413 on the same client failed: {next:?}; 413 headers: {:?}",
            reply.headers
        );
    }
}

async fn body_of_exactly_64_kib_is_accepted(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app
        .post_raw(
            gen,
            Route::Login,
            None,
            Some("application/json"),
            login_body_of_len(LIMIT),
        )
        .await;
    assert_error(&reply, 401, "invalid_credentials");
}

/// We differ: the Python server answers 415 without a JSON content type.
async fn json_is_accepted_whatever_the_content_type(gen: Gen) {
    let app = TestApp::test_mode();
    let body = br#"{"username": "guest", "password": "guest"}"#.to_vec();
    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let reply = app
            .post_raw(gen, Route::Login, None, content_type, body.clone())
            .await;
        reply.expect_status(200);
        assert_eq!(reply.body["message"], "Login successful", "{reply:?}");
    }
}

async fn unknown_fields_are_ignored(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app
        .post(
            gen,
            Route::Login,
            None,
            &json!({"username": "guest", "password": "guest", "remember_me": true, "extra": {"a": 1}}),
        )
        .await;
    reply.expect_status(200);
    let access = reply.str_field("access_token").to_owned();
    let minted = app
        .create_api_token(
            gen,
            Some(&access),
            &json!({"token_exp": 60, "datasets": {"*": ["read"]}, "note": "ci"}),
        )
        .await;
    minted.expect_status(200);
}
