//! CORS: any origin by default (the plant-3d-explorer web UI is served
//! elsewhere), a single origin with `--cors-origin`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Gen, Reply, Route, TestApp};

const ORIGIN: &str = "http://example.org";

both_generations!(
    any_origin_is_allowed_by_default,
    preflight_allows_json_and_bearer
);

fn allow_origin(reply: &Reply) -> Option<&str> {
    reply.header("access-control-allow-origin")
}

async fn any_origin_is_allowed_by_default(gen: Gen) {
    let app = TestApp::test_mode();
    let health = app
        .send(
            app.client
                .get(app.route(gen, Route::Health))
                .header("origin", ORIGIN),
        )
        .await;
    health.expect_status(200);
    let allowed = allow_origin(&health);
    assert!(
        allowed == Some("*") || allowed == Some(ORIGIN),
        "access-control-allow-origin {allowed:?}: {health:?}"
    );
    // Error bodies must be readable by a browser too.
    let failed = app
        .send(
            app.client
                .post(app.route(gen, Route::Login))
                .header("origin", ORIGIN)
                .json(&json!({"username": "guest", "password": "wrong-password"})),
        )
        .await;
    failed.expect_status(401);
    let allowed = allow_origin(&failed);
    assert!(
        allowed == Some("*") || allowed == Some(ORIGIN),
        "{failed:?}"
    );
}

async fn preflight_allows_json_and_bearer(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app
        .send(
            app.client
                .request(Method::OPTIONS, app.route(gen, Route::Logout))
                .header("origin", ORIGIN)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
        )
        .await;
    assert!(
        reply.status.is_success(),
        "preflight must succeed: {reply:?}"
    );
    let allowed = allow_origin(&reply);
    assert!(allowed == Some("*") || allowed == Some(ORIGIN), "{reply:?}");
    let methods = reply
        .header("access-control-allow-methods")
        .unwrap_or("")
        .to_ascii_uppercase();
    assert!(methods == "*" || methods.contains("POST"), "{reply:?}");
    let headers = reply
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    let listed: Vec<&str> = headers.split(',').map(str::trim).collect();
    // The Fetch standard never lets "*" cover Authorization: it must be named.
    assert!(
        listed.contains(&"authorization"),
        "Authorization not allowed: {reply:?}"
    );
    assert!(
        listed.contains(&"content-type") || listed.contains(&"*"),
        "Content-Type not allowed: {reply:?}"
    );
}

#[tokio::test]
async fn cors_origin_flag_restricts_the_allowed_origin() {
    let allowed_origin = "http://allowed.example";
    let app = TestApp::test_mode_with(&["--cors-origin", allowed_origin]);
    for gen in crate::helpers::GENS {
        let ok = app
            .send(
                app.client
                    .get(app.route(gen, Route::Health))
                    .header("origin", allowed_origin),
            )
            .await;
        assert_eq!(allow_origin(&ok), Some(allowed_origin), "{ok:?}");
        let other = app
            .send(
                app.client
                    .get(app.route(gen, Route::Health))
                    .header("origin", "http://evil.example"),
            )
            .await;
        let header = allow_origin(&other);
        assert!(
            header != Some("*") && header != Some("http://evil.example"),
            "another origin must not be allowed: {other:?}"
        );
    }
}
