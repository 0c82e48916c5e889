//! `--access-log FILE`: one JSON line per request, with the request id the
//! client saw; no secrets (bodies, tokens) in it.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Gen, TestApp};

#[tokio::test]
async fn every_request_gets_a_json_line_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let app = TestApp::test_mode_with(&["--access-log", log.to_str().unwrap()]);
    let health = app.request(Method::GET, &app.url("/api/v1/health")).await;
    let id = health
        .header("x-request-id")
        .unwrap_or_default()
        .to_string();
    let (token, _) = app.login("admin", "admin").await;
    app.validate(Gen::Current, &token).await;
    app.request(Method::GET, &app.url("/no/such/route?x=1"))
        .await;
    // The writer thread flushes after each burst.
    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        if lines.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 4, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["request_id"], id.as_str());
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/api/v1/health");
    assert_eq!(first["route"], "/api/v1/health");
    assert_eq!(first["status"], 200);
    assert_eq!(first["client"], "127.0.0.1");
    assert!(first["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
    let unknown = &lines[3];
    assert_eq!(unknown["status"], 404);
    assert_eq!(unknown["path"], "/no/such/route", "the query is not logged");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&token), "a token was logged");
    assert!(!text.contains("\"admin\""), "a body was logged");
}
