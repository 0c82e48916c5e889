//! Rate limits: 429 with an honest `Retry-After`, per bucket, and
//! `X-Forwarded-For` trusted only with `--proxy`.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::{assert_error, Options, Reply, Server, STRONG_PW};

fn assert_rate_limited(reply: &Reply, case: &str) -> u64 {
    assert_error(reply, 429, &["rate_limited"], case);
    let value = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{case}: 429 without Retry-After: {reply:?}"));
    let seconds: u64 = value
        .parse()
        .unwrap_or_else(|_| panic!("{case}: Retry-After {value:?} is not whole seconds"));
    assert!((1..=60).contains(&seconds), "{case}: Retry-After {seconds}");
    seconds
}

async fn health(server: &Server, forwarded_for: Option<&str>) -> Reply {
    let mut req = server.request(Method::GET, "/api/v1/health");
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    server.send(req).await
}

#[tokio::test]
async fn retry_after_counts_down_from_the_oldest_request() {
    let opts = Options::test_mode().with_rate_limits();
    let server = Server::start(opts.args(&["--rate-limit-login", "3"]));
    let first = Instant::now();
    server
        .try_login("guest", "wrong-password")
        .await
        .expect(401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    server
        .try_login("nobody", "wrong-password")
        .await
        .expect(401);
    server.login("guest", "guest").await;
    let reply = server.try_login("guest", "guest").await;
    let elapsed = first.elapsed().as_secs_f64();
    let retry_after = assert_rate_limited(&reply, "4th login") as f64;
    // The window is 60 s from the first request, which is `elapsed` old.
    assert!(
        (retry_after - (60.0 - elapsed)).abs() <= 1.5,
        "Retry-After {retry_after} s, expected about {:.1} s",
        60.0 - elapsed
    );
    // The legacy route shares the budget; other buckets are untouched.
    let legacy = server
        .post_json(
            "/login",
            None,
            &serde_json::json!({"username": "guest", "password": "guest"}),
        )
        .await;
    assert_rate_limited(&legacy, "legacy login");
    health(&server, None).await.expect(200);
    let check = server
        .send(server.request(Method::GET, "/api/v1/auth/login?username=guest"))
        .await;
    check.expect(200);
}

#[tokio::test]
async fn every_limited_route_answers_429() {
    let opts = Options::test_mode()
        .with_rate_limits()
        .cheap_hashing()
        .args(&["--rate-limit-health", "2", "--rate-limit-login-check", "2"]);
    let server = Server::start(opts);
    let admin = server.admin_token().await;
    // Registration: 5 per minute by default.
    for i in 0..5 {
        server
            .register(&admin, &format!("user{i}"), STRONG_PW)
            .await
            .expect(201);
    }
    let reply = server.register(&admin, "user5", STRONG_PW).await;
    assert_rate_limited(&reply, "6th registration");
    assert!(
        !server.exists("user5").await,
        "a refused registration creates nothing"
    );
    let reply = server.register(&admin, "user6", STRONG_PW).await;
    assert_rate_limited(&reply, "7th registration");
    for _ in 0..2 {
        health(&server, None).await.expect(200);
    }
    assert_rate_limited(&health(&server, None).await, "3rd health");
    let legacy = server.send(server.request(Method::GET, "/health")).await;
    assert_rate_limited(&legacy, "legacy health");
    // `exists` above used one GET login; one more is allowed, then 429.
    server.exists("guest").await;
    let check = server
        .send(server.request(Method::GET, "/login?username=guest"))
        .await;
    assert_rate_limited(&check, "3rd username check");
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_proxy() {
    let opts = Options::test_mode().with_rate_limits();
    let server = Server::start(opts.args(&["--rate-limit-health", "2"]));
    health(&server, Some("203.0.113.1")).await.expect(200);
    health(&server, Some("203.0.113.2")).await.expect(200);
    for xff in ["203.0.113.3", "198.51.100.7, 203.0.113.4", "::1"] {
        assert_rate_limited(&health(&server, Some(xff)).await, xff);
    }
}

#[tokio::test]
async fn x_forwarded_for_is_honoured_behind_a_proxy() {
    let opts = Options::test_mode().with_rate_limits().arg("--proxy");
    let server = Server::start(opts.args(&["--rate-limit-health", "2"]));
    let client = "203.0.113.1";
    health(&server, Some(client)).await.expect(200);
    health(&server, Some(client)).await.expect(200);
    assert_rate_limited(&health(&server, Some(client)).await, "same client");
    // The proxy appends the real address last: a client-supplied first
    // entry does not buy a new budget.
    let spoofed = format!("198.51.100.9, {client}");
    assert_rate_limited(&health(&server, Some(&spoofed)).await, "spoofed");
    // Another client, and the proxy itself, have their own budgets.
    health(&server, Some("203.0.113.2")).await.expect(200);
    health(&server, None).await.expect(200);
    health(&server, Some("not-an-address")).await.expect(200);
}
