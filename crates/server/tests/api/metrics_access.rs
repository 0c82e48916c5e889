//! Who may scrape `/metrics`: by default only clients on the host talking
//! to the server directly; with `--metrics-token` holders of the token;
//! with `--metrics-listen` only that address serves it. Process metrics
//! come along.

use reqwest::Method;

use crate::helpers::TestApp;

#[tokio::test]
async fn metrics_answer_local_unproxied_clients_only_by_default() {
    let app = TestApp::test_mode();
    app.request(Method::GET, &app.url("/api/v1/health/live"))
        .await;
    let reply = app.request(Method::GET, &app.raw_url("/metrics")).await;
    reply.expect_status(200);
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "plantdb_auth_http_requests_total",
    ] {
        assert!(reply.text.contains(name), "{name} missing:\n{}", reply.text);
    }
    // Through a proxy (any forwarding header), it is not there.
    let req = app
        .client
        .get(app.raw_url("/metrics"))
        .header("X-Forwarded-For", "203.0.113.7");
    let proxied = app.send(req).await;
    proxied.expect_status(404);
    assert!(!proxied.text.contains("process_"), "{}", proxied.text);
}

#[tokio::test]
async fn a_metrics_token_guards_the_scrape() {
    let token = "metrics-token-0123456789abcdef";
    let app = TestApp::test_mode_with(&["--metrics-token", token]);
    let none = app.request(Method::GET, &app.raw_url("/metrics")).await;
    none.expect_status(401);
    let wrong = app
        .send(
            app.client
                .get(app.raw_url("/metrics"))
                .bearer_auth("metrics-token-0123456789abcdeX"),
        )
        .await;
    wrong.expect_status(401);
    let right = app
        .send(app.client.get(app.raw_url("/metrics")).bearer_auth(token))
        .await;
    right.expect_status(200);
    assert!(right.text.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn a_separate_metrics_address_takes_the_scrape_off_the_main_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let app = TestApp::test_mode_with(&["--metrics-listen", &listen]);
    app.request(Method::GET, &app.url("/api/v1/health/live"))
        .await;
    app.request(Method::GET, &app.raw_url("/metrics"))
        .await
        .expect_status(404);
    let scrape = app
        .send(app.client.get(format!("http://{listen}/metrics")))
        .await;
    scrape.expect_status(200);
    assert!(scrape.text.contains("plantdb_auth_http_requests_total"));
}
