//! Unknown paths, wrong methods and the deployment prefix.

use reqwest::Method;

use crate::helpers::{assert_error, Gen, Route, TestApp, ALL_ROUTES, GENS};

both_generations!(
    wrong_method_is_a_json_405,
    url_prefix_serves_the_generation_under_the_prefix
);

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let app = TestApp::test_mode();
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::GET, "/api/v1/nope"),
        (Method::POST, "/api/v1/auth/nope"),
        (Method::GET, "/api/v2/health"),
        (Method::POST, "/api/v1/login"),
        (Method::POST, "/auth/login"),
        (Method::GET, "/login/extra"),
    ] {
        let reply = app.request(method, &app.url(path)).await;
        assert_error(&reply, 404, "not_found");
    }
}

/// Every route answers its documented methods only.
async fn wrong_method_is_a_json_405(gen: Gen) {
    let app = TestApp::test_mode();
    let post_only = [
        Route::Register,
        Route::Logout,
        Route::Validation,
        Route::Refresh,
        Route::CreateApiToken,
    ];
    for route in post_only {
        let reply = app.request(Method::GET, &app.route(gen, route)).await;
        assert_error(&reply, 405, "method_not_allowed");
    }
    for method in [Method::POST, Method::DELETE] {
        let reply = app.request(method, &app.route(gen, Route::Health)).await;
        assert_error(&reply, 405, "method_not_allowed");
    }
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = app.request(method, &app.route(gen, Route::Login)).await;
        assert_error(&reply, 405, "method_not_allowed");
    }
}

async fn url_prefix_serves_the_generation_under_the_prefix(gen: Gen) {
    let app = TestApp::spawn(
        &["--test", "--no-rate-limits", "--url-prefix", "/plantdb"],
        &[],
    );
    let health = app
        .request(
            Method::GET,
            &app.raw_url(&format!("/plantdb{}", gen.path(Route::Health))),
        )
        .await;
    health.expect_status(200);
    assert_eq!(health.body["status"], "healthy", "{health:?}");

    // The helpers put the prefix in front of every route.
    let (access, _) = app.login_on(gen, "admin", "admin").await;
    app.validate(gen, &access).await.expect_status(200);

    for route in ALL_ROUTES {
        let bare = app.raw_url(gen.path(route));
        let get = app.request(Method::GET, &bare).await;
        assert_error(&get, 404, "not_found");
        let post = app.request(Method::POST, &bare).await;
        assert_error(&post, 404, "not_found");
    }
}

/// The same routes under both generations: every documented route exists.
#[tokio::test]
async fn every_documented_route_exists_on_both_generations() {
    let app = TestApp::test_mode();
    for gen in GENS {
        for route in ALL_ROUTES {
            let method = if route == Route::Health {
                Method::GET
            } else {
                Method::POST
            };
            let reply = app.request(method.clone(), &app.route(gen, route)).await;
            assert!(
                reply.status != 404 && reply.status != 405,
                "{method} {} must exist: {reply:?}",
                gen.path(route)
            );
        }
    }
}
