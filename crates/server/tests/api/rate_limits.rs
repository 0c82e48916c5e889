//! Per-client rate limits (sliding 60 s window), one budget per client shared
//! by both generations.

use serde_json::json;

use crate::helpers::{assert_error, Gen, Reply, Route, TestApp, STRONG_PW};

both_generations!(post_login_is_rate_limited);

/// A 429 with the error body and `Retry-After` in whole seconds (1..=60).
fn assert_rate_limited(reply: &Reply) {
    assert_error(reply, 429, "rate_limited");
    let retry_after = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {reply:?}"));
    let seconds: u64 = retry_after
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry_after:?} is not integer seconds"));
    assert!(
        (1..=60).contains(&seconds),
        "Retry-After {seconds} outside 1..=60"
    );
}

/// Failed attempts count like successful ones.
async fn post_login_is_rate_limited(gen: Gen) {
    let app = TestApp::spawn(&["--test", "--no-demo", "--rate-limit-login", "3"], &[]);
    app.try_login(gen, "guest", "guest")
        .await
        .expect_status(200);
    app.try_login(gen, "nobody", "wrong-password")
        .await
        .expect_status(401);
    app.try_login(gen, "guest", "guest")
        .await
        .expect_status(200);
    assert_rate_limited(&app.try_login(gen, "guest", "guest").await);
}

#[tokio::test]
async fn post_login_budget_is_shared_by_both_generations() {
    let app = TestApp::spawn(&["--test", "--no-demo", "--rate-limit-login", "3"], &[]);
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
    app.try_login(Gen::Legacy, "guest", "guest")
        .await
        .expect_status(200);
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
    assert_rate_limited(&app.try_login(Gen::Legacy, "guest", "guest").await);
    assert_rate_limited(&app.try_login(Gen::Current, "guest", "guest").await);
}

#[tokio::test]
async fn default_post_login_limit_is_20_per_minute() {
    let app = TestApp::spawn(&["--test", "--no-demo"], &[]);
    for i in 0..20 {
        let reply = app
            .try_login(Gen::Current, "nobody", "wrong-password")
            .await;
        assert_eq!(reply.status, 401, "attempt {}: {reply:?}", i + 1);
    }
    assert_rate_limited(&app.try_login(Gen::Legacy, "guest", "guest").await);
}

/// GET login (username check) has its own budget, separate from POST login.
#[tokio::test]
async fn get_login_has_its_own_budget() {
    let app = TestApp::spawn(
        &[
            "--test",
            "--rate-limit-login",
            "1",
            "--rate-limit-login-check",
            "2",
        ],
        &[],
    );
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
    assert_rate_limited(&app.try_login(Gen::Current, "guest", "guest").await);
    app.check_username(Gen::Current, "username=admin")
        .await
        .expect_status(200);
    app.check_username(Gen::Legacy, "username=admin")
        .await
        .expect_status(200);
    assert_rate_limited(&app.check_username(Gen::Current, "username=admin").await);
    assert_rate_limited(&app.check_username(Gen::Legacy, "username=admin").await);
}

#[tokio::test]
async fn health_is_rate_limited() {
    let app = TestApp::spawn(&["--test", "--no-demo", "--rate-limit-health", "2"], &[]);
    app.get(Gen::Current, Route::Health)
        .await
        .expect_status(200);
    app.get(Gen::Legacy, Route::Health).await.expect_status(200);
    assert_rate_limited(&app.get(Gen::Current, Route::Health).await);
    assert_rate_limited(&app.get(Gen::Legacy, Route::Health).await);
    // Other routes keep their own budgets.
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
}

#[tokio::test]
async fn register_is_rate_limited() {
    let app = TestApp::spawn(&["--test", "--no-demo", "--rate-limit-register", "2"], &[]);
    let admin = app.admin_token().await;
    let body =
        |name: &str| json!({"username": name, "fullname": "Rate Limited", "password": STRONG_PW});
    app.post(Gen::Current, Route::Register, Some(&admin), &body("user1"))
        .await
        .expect_status(201);
    app.post(Gen::Legacy, Route::Register, Some(&admin), &body("user2"))
        .await
        .expect_status(201);
    let third = app
        .post(Gen::Current, Route::Register, Some(&admin), &body("user3"))
        .await;
    assert_rate_limited(&third);
    assert!(
        !app.exists("user3").await,
        "a rate-limited request must not create the user"
    );
}

#[tokio::test]
async fn default_register_limit_is_5_per_minute() {
    let app = TestApp::spawn(&["--test", "--no-demo"], &[]);
    let admin = app.admin_token().await;
    for i in 1..=5 {
        let name = format!("user{i}");
        let reply = app
            .post(
                Gen::Current,
                Route::Register,
                Some(&admin),
                &json!({"username": name, "fullname": "U", "password": STRONG_PW}),
            )
            .await;
        reply.expect_status(201);
    }
    let sixth = app
        .post(
            Gen::Legacy,
            Route::Register,
            Some(&admin),
            &json!({"username": "user6", "fullname": "U", "password": STRONG_PW}),
        )
        .await;
    assert_rate_limited(&sixth);
}

/// Without `--proxy`, `X-Forwarded-For` is the client's word and is ignored.
#[tokio::test]
async fn x_forwarded_for_is_ignored_without_proxy() {
    let app = TestApp::spawn(&["--test", "--no-demo", "--rate-limit-login", "2"], &[]);
    let mut last = None;
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let req = app
            .client
            .post(app.route(Gen::Current, Route::Login))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": "guest", "password": "guest"}));
        last = Some(app.send(req).await);
    }
    assert_rate_limited(&last.unwrap());
}

/// Behind a trusted proxy (`--proxy`), each forwarded client has its own budget.
#[tokio::test]
async fn x_forwarded_for_is_honoured_behind_a_proxy() {
    let app = TestApp::spawn(
        &["--test", "--no-demo", "--proxy", "--rate-limit-login", "2"],
        &[],
    );
    let login_from = |ip: &'static str| {
        app.client
            .post(app.route(Gen::Current, Route::Login))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": "guest", "password": "guest"}))
    };
    app.send(login_from("203.0.113.1")).await.expect_status(200);
    app.send(login_from("203.0.113.1")).await.expect_status(200);
    assert_rate_limited(&app.send(login_from("203.0.113.1")).await);
    app.send(login_from("203.0.113.2")).await.expect_status(200);
}

/// Behind a listed proxy the client is the rightmost entry that is not a
/// trusted proxy: entries the client prepends itself buy no new budget,
/// and IPv6 clients share one budget per /64.
#[tokio::test]
async fn forwarded_clients_cannot_buy_budgets_by_spoofing_or_rotating_ipv6() {
    let app = TestApp::spawn(
        &[
            "--test",
            "--proxy",
            "127.0.0.1,10.0.0.0/8",
            "--rate-limit-login",
            "2",
        ],
        &[],
    );
    let login_from = |xff: &str| {
        app.client
            .post(app.route(Gen::Current, Route::Login))
            .header("x-forwarded-for", xff.to_string())
            .json(&json!({"username": "guest", "password": "guest"}))
    };
    app.send(login_from("1.1.1.1, 203.0.113.1"))
        .await
        .expect_status(200);
    app.send(login_from("2.2.2.2, 203.0.113.1, 10.9.9.9"))
        .await
        .expect_status(200);
    assert_rate_limited(&app.send(login_from("3.3.3.3, 203.0.113.1:4444")).await);
    app.send(login_from("2001:db8:1:2::1"))
        .await
        .expect_status(200);
    app.send(login_from("[2001:db8:1:2::ffff]:443"))
        .await
        .expect_status(200);
    assert_rate_limited(&app.send(login_from("2001:db8:1:2:abcd::7")).await);
    app.send(login_from("2001:db8:1:3::1"))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn a_proxy_value_that_is_no_address_stops_the_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plantdb-auth"))
        .args([
            "serve",
            "--test",
            "--port",
            "0",
            "--proxy",
            "10.0.0.0/8,nginx",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'nginx'") && stderr.contains("--proxy"),
        "{stderr}"
    );
}

#[tokio::test]
async fn no_rate_limits_flag_disables_them() {
    let app = TestApp::spawn(&["--test", "--no-demo", "--no-rate-limits"], &[]);
    for i in 0..25 {
        let reply = app
            .try_login(Gen::Current, "nobody", "wrong-password")
            .await;
        assert_eq!(reply.status, 401, "attempt {}: {reply:?}", i + 1);
    }
}
