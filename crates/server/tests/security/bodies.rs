//! Hostile request bodies: too large, not JSON, not an object, deeply
//! nested, wrong types, NUL bytes, invalid UTF-8. 413 for size, 400 for the
//! rest, never a 5xx, and the server keeps serving.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, Options, Reply, Server};
use crate::wire::raw_status;

/// The body limit (contract: 64 KiB).
const LIMIT: usize = 64 * 1024;

struct Endpoint {
    method: Method,
    path: &'static str,
    bearer: Option<String>,
}

async fn endpoints(server: &Server) -> Vec<Endpoint> {
    let admin = server.admin_token().await;
    let (guest, _) = server.login("guest", "guest").await;
    let e = |method: Method, path: &'static str, bearer: Option<&String>| Endpoint {
        method,
        path,
        bearer: bearer.cloned(),
    };
    vec![
        e(Method::POST, "/api/v1/auth/login", None),
        e(Method::POST, "/login", None),
        e(Method::POST, "/api/v1/auth/register", Some(&admin)),
        e(Method::POST, "/register", Some(&admin)),
        e(Method::POST, "/api/v1/auth/token/refresh", None),
        e(Method::POST, "/token-refresh", None),
        e(
            Method::POST,
            "/api/v1/auth/token/create-api-token",
            Some(&guest),
        ),
        e(Method::POST, "/create-api-token", Some(&guest)),
        e(Method::PATCH, "/api/v1/users/guest", Some(&admin)),
        e(Method::POST, "/api/v1/users/guest/password", Some(&guest)),
    ]
}

async fn send(server: &Server, ep: &Endpoint, body: Vec<u8>) -> Reply {
    let mut req = server
        .request(ep.method.clone(), ep.path)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = &ep.bearer {
        req = req.bearer_auth(t);
    }
    server.send(req).await
}

async fn assert_still_serving(server: &Server) {
    let reply = server
        .send(server.request(Method::GET, "/api/v1/health"))
        .await;
    reply.expect(200);
}

/// A JSON object of exactly `len` bytes.
fn object_of_len(len: usize) -> Vec<u8> {
    let frame = r#"{"username":"","password":"x"}"#.len();
    format!(
        r#"{{"username":"{}","password":"x"}}"#,
        "a".repeat(len - frame)
    )
    .into_bytes()
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    // Cheap hashing: Argon2's own memory would hide what the bodies cost.
    let server = Server::start(Options::test_mode().cheap_hashing());
    for ep in endpoints(&server).await {
        let case = format!("{} {}", ep.method, ep.path);
        let over = send(&server, &ep, object_of_len(LIMIT + 1)).await;
        assert_error(
            &over,
            413,
            &["payload_too_large"],
            &format!("{case}: limit + 1"),
        );
        let at = send(&server, &ep, object_of_len(LIMIT)).await;
        crate::helpers::assert_safe(&at, &case);
        assert_ne!(at.status, 413, "{case}: exactly 64 KiB is allowed");
    }
    let rss_before = server.rss_kib();
    // Far beyond the limit, announced or streamed: refused without reading it all.
    let big = 16 << 20;
    let announced = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {big}\r\n\r\n{{\"username\":\"{}",
        "a".repeat(1 << 20)
    );
    let chunked = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        format!("10000\r\n{}\r\n", "a".repeat(0x10000)).repeat(4)
    );
    for (case, request) in [("16 MiB announced", announced), ("chunked", chunked)] {
        for _ in 0..10 {
            let status = raw_status(server.port, request.as_bytes());
            assert_eq!(status, Some(413), "{case}");
        }
    }
    assert_still_serving(&server).await;
    if let (Some(before), Some(after)) = (rss_before, server.rss_kib()) {
        assert!(
            after < before + 64 * 1024,
            "memory grew {before} -> {after} KiB"
        );
    }
}

#[tokio::test]
async fn a_key_given_twice_is_400_not_first_or_last_wins() {
    let server = Server::start(Options::test_mode());
    let bodies: [&[u8]; 3] = [
        br#"{"username":"guest","username":"admin","password":"guest"}"#,
        br#"{"username":"guest","password":"x","password":"guest"}"#,
        br#"{"username":"guest","password":"guest","datasets":{"*":["read"],"*":["read"]}}"#,
    ];
    for ep in endpoints(&server).await {
        for body in bodies {
            let reply = send(&server, &ep, body.to_vec()).await;
            let case = format!(
                "{} {} with {}",
                ep.method,
                ep.path,
                String::from_utf8_lossy(body)
            );
            assert_error(&reply, 400, &["invalid_input"], &case);
            assert!(reply.text.contains("twice"), "{case}: {}", reply.text);
        }
    }
    // The data routes too: an owner given twice must not slip past a check
    // that read the other one.
    let admin = server.admin_token().await;
    let reply = server
        .send(
            server
                .request(Method::POST, "/api/v1/scans/dup_keys")
                .bearer_auth(&admin)
                .body(r#"{"metadata":{"owner":"admin","owner":"guest"}}"#),
        )
        .await;
    assert_error(&reply, 400, &["invalid_input"], "POST /scans/dup_keys");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_are_400() {
    let server = Server::start(Options::test_mode());
    let bodies: [&[u8]; 16] = [
        b"hello",
        b"{",
        b"{\"username\":",
        b"{'username': 'guest'}",
        b"{\"a\":NaN}",
        b"{}{}",
        b"{},",
        b"\xef\xbb\xbf{}",
        b"[]",
        b"[{\"username\":\"guest\",\"password\":\"guest\"}]",
        b"\"guest\"",
        b"1",
        b"null",
        b"true",
        b"\x00",
        b"username=guest&password=guest",
    ];
    for ep in endpoints(&server).await {
        for body in bodies {
            let reply = send(&server, &ep, body.to_vec()).await;
            let case = format!(
                "{} {} with {:?}",
                ep.method,
                ep.path,
                String::from_utf8_lossy(body)
            );
            assert_error(&reply, 400, &["invalid_input"], &case);
        }
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn deeply_nested_json_is_400() {
    let server = Server::start(Options::test_mode());
    let depth = 30_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth / 3), "}".repeat(depth / 3));
    let in_field = format!(
        "{{\"username\":{}\"guest\"{},\"password\":\"guest\"}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let shallow_but_wide = format!("{{\"username\":[{}1]}}", "[],".repeat(20_000));
    for ep in endpoints(&server).await {
        for (case, body) in [
            ("nested arrays", &arrays),
            ("nested objects", &objects),
            ("nested in a field", &in_field),
        ] {
            let reply = send(&server, &ep, body.clone().into_bytes()).await;
            assert_error(
                &reply,
                400,
                &["invalid_input"],
                &format!("{} {case}", ep.path),
            );
        }
        // Valid JSON, so whatever the endpoint makes of it, but a 4xx.
        let reply = send(&server, &ep, shallow_but_wide.clone().into_bytes()).await;
        crate::helpers::assert_safe(&reply, &format!("{} wide", ep.path));
        assert!(
            reply.status.is_client_error(),
            "{} wide: {reply:?}",
            ep.path
        );
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_400() {
    let server = Server::start(Options::test_mode());
    let eps = endpoints(&server).await;
    let find = |path: &str| eps.iter().find(|e| e.path == path);
    let cases = [
        (
            "/api/v1/auth/login",
            json!({"username": 1, "password": "guest"}),
        ),
        (
            "/login",
            json!({"username": "guest", "password": ["guest"]}),
        ),
        (
            "/api/v1/auth/login",
            json!({"username": {"$ne": ""}, "password": {"$ne": ""}}),
        ),
        (
            "/api/v1/auth/login",
            json!({"username": "guest", "password": true}),
        ),
        (
            "/api/v1/auth/register",
            json!({"username": 5, "fullname": "F", "password": "Correct-Horse-7-battery"}),
        ),
        (
            "/api/v1/auth/register",
            json!({"username": "typed", "fullname": ["F"], "password": "Correct-Horse-7-battery"}),
        ),
        (
            "/api/v1/auth/register",
            json!({"username": "typed", "fullname": "F", "password": 12_345_678}),
        ),
        (
            "/api/v1/auth/register",
            json!({"username": "typed", "fullname": "F", "password": "Correct-Horse-7-battery", "roles": "admin"}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": "one hour", "datasets": {"*": ["read"]}}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": 1.5, "datasets": {"*": ["read"]}}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": -1, "datasets": {"*": ["read"]}}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": 0, "datasets": {"*": ["read"]}}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": u64::MAX, "datasets": {"*": ["read"]}}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": 3600, "datasets": ["*"]}),
        ),
        (
            "/api/v1/auth/token/create-api-token",
            json!({"token_exp": 3600, "datasets": {"*": "read"}}),
        ),
        (
            "/create-api-token",
            json!({"token_exp": 3600, "datasets": {"*": ["fly"]}}),
        ),
        ("/api/v1/users/guest", json!({"unlock": "yes"})),
        ("/api/v1/users/guest", json!({"is_active": "false"})),
        ("/api/v1/users/guest", json!({"roles": "admin"})),
        (
            "/api/v1/users/guest/password",
            json!({"current_password": "guest", "new_password": 5}),
        ),
    ];
    for (path, body) in cases {
        let ep = find(path).unwrap_or_else(|| panic!("no endpoint {path}"));
        let reply = send(&server, ep, body.to_string().into_bytes()).await;
        assert_error(
            &reply,
            400,
            &["invalid_input", "missing_field"],
            &format!("{path} {body}"),
        );
    }
    // A number too large for any integer type, as raw JSON text.
    let ep = find("/api/v1/auth/token/create-api-token").unwrap_or_else(|| panic!("no endpoint"));
    let huge = br#"{"token_exp": 1e400, "datasets": {"*": ["read"]}}"#.to_vec();
    assert_error(
        &send(&server, ep, huge).await,
        400,
        &["invalid_input"],
        "1e400",
    );
    assert_still_serving(&server).await;
}

/// Contract §3: wrong types are 400. Only a *missing* `refresh_token` gets
/// plantdb-server 0.17's 401 on the current route.
#[tokio::test]
async fn a_refresh_token_of_the_wrong_type_is_400() {
    let server = Server::start(Options::test_mode());
    for path in ["/api/v1/auth/token/refresh", "/token-refresh"] {
        for value in [
            json!(5),
            json!(["x.y.z"]),
            json!({"token": "x.y.z"}),
            json!(true),
        ] {
            let body = json!({ "refresh_token": value });
            let reply = server.post_json(path, None, &body).await;
            assert_error(&reply, 400, &["invalid_input"], &format!("{path} {body}"));
        }
    }
}

#[tokio::test]
async fn nul_bytes_and_invalid_utf8_are_refused() {
    let server = Server::start(Options::test_mode());
    let eps = endpoints(&server).await;
    let login = &eps[0];
    let raw: [(&str, &[u8]); 5] = [
        (
            "raw NUL in a string",
            b"{\"username\":\"gu\x00est\",\"password\":\"guest\"}",
        ),
        (
            "invalid UTF-8",
            b"{\"username\":\"\xff\xfe\",\"password\":\"guest\"}",
        ),
        (
            "overlong UTF-8 slash",
            b"{\"username\":\"..\xc0\xaf..\",\"password\":\"guest\"}",
        ),
        (
            "UTF-16 surrogate bytes",
            b"{\"username\":\"\xed\xa0\x80\",\"password\":\"guest\"}",
        ),
        (
            "lone surrogate escape",
            b"{\"username\":\"\\ud800\",\"password\":\"guest\"}",
        ),
    ];
    for ep in &eps {
        for (case, body) in raw {
            let reply = send(&server, ep, body.to_vec()).await;
            assert_error(
                &reply,
                400,
                &["invalid_input"],
                &format!("{} {case}", ep.path),
            );
        }
    }
    // Escaped NULs are valid JSON: a login with one is simply wrong.
    for body in [
        json!({"username": "guest\u{0}", "password": "guest"}),
        json!({"username": "guest", "password": "guest\u{0}"}),
        json!({"username": "guest", "password": "gu\u{0}est"}),
    ] {
        let reply = send(&server, login, body.to_string().into_bytes()).await;
        assert_error(&reply, 401, &["invalid_credentials"], &body.to_string());
    }
    let register = &eps[2];
    for body in [
        json!({"username": "nul\u{0}user", "fullname": "F", "password": "Correct-Horse-7-battery"}),
        json!({"username": "nuluser", "fullname": "F\u{0}", "password": "Correct-Horse-7-battery"}),
        json!({"username": "nuluser", "fullname": "F", "password": "Correct-Horse\u{0}-7-battery"}),
    ] {
        let reply = send(&server, register, body.to_string().into_bytes()).await;
        assert_error(&reply, 400, &["invalid_input"], &body.to_string());
    }
    assert!(!server.exists("nuluser").await);
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_json_body_is_read_whatever_its_content_type() {
    let server = Server::start(Options::test_mode());
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json; charset=latin1",
    ] {
        let req = server
            .request(Method::POST, "/api/v1/auth/login")
            .header("content-type", content_type)
            .body(r#"{"username":"guest","password":"guest"}"#);
        server.send(req).await.expect(200);
    }
}
