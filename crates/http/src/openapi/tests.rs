//! The document cannot drift from the router: every route the sources
//! register is documented, and every documented (method, path) is served.

use std::collections::BTreeSet;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;

use super::document;
use crate::test_support::app;

/// The files that register routes: `router.rs` and every module of `routes/`.
const SOURCES: [(&str, &str); 8] = [
    ("router", include_str!("../router.rs")),
    ("auth", include_str!("../routes/auth.rs")),
    ("authz", include_str!("../routes/authz.rs")),
    ("groups", include_str!("../routes/groups.rs")),
    ("health", include_str!("../routes/health.rs")),
    ("sessions", include_str!("../routes/sessions.rs")),
    ("users", include_str!("../routes/users.rs")),
    ("mod", include_str!("../routes/mod.rs")),
];

/// Methods probed on every documented path (HEAD and OPTIONS are axum's
/// and the CORS layer's business, not the API's).
const PROBED: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn call(app: &axum::Router, method: Method, uri: &str) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let answer = app.clone().oneshot(request).await.unwrap();
    let status = answer.status().as_u16();
    let bytes = to_bytes(answer.into_body(), 1 << 22).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(document(None)).unwrap();
    let mut pairs = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            pairs.insert((method.to_uppercase(), path.clone()));
        }
    }
    pairs
}

/// Every string literal that starts with `/` in the route sources.
fn path_literals(source: &str) -> Vec<&str> {
    source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
        .collect()
}

#[test]
fn every_route_module_is_scanned() {
    let (_, mod_rs) = SOURCES.iter().find(|(name, _)| *name == "mod").unwrap();
    for line in mod_rs.lines() {
        if let Some(module) = line
            .strip_prefix("pub mod ")
            .and_then(|l| l.strip_suffix(';'))
        {
            assert!(
                SOURCES.iter().any(|(name, _)| *name == module),
                "routes/{module}.rs registers routes the OpenAPI drift test does not read: add it to SOURCES"
            );
        }
    }
}

#[test]
fn every_path_in_the_route_sources_is_documented() {
    let paths: BTreeSet<String> = documented().into_iter().map(|(_, p)| p).collect();
    for (file, source) in SOURCES {
        for literal in path_literals(source) {
            assert!(
                paths.contains(literal),
                "{literal} (in {file}.rs) is not in the OpenAPI document: annotate its handler and list it in openapi.rs"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_method_is_served_and_no_other() {
    let app = app(None);
    let documented = documented();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let uri = path.replace('{', "x").replace('}', "");
        for method in PROBED {
            let (status, body) = call(&app, method.clone(), &uri).await;
            if status == 405 {
                assert_eq!(
                    body["code"], "method_not_allowed",
                    "{method} {path}: {body}"
                );
            }
            let fallback = body["message"]
                .as_str()
                .unwrap_or("")
                .contains("no such endpoint");
            let unrouted = status == 405 || (status == 404 && fallback);
            let listed = documented.contains(&(method.to_string(), path.clone()));
            assert_eq!(
                !unrouted, listed,
                "{method} {path}: served {}, documented {listed} (answered {status} {body})",
                !unrouted
            );
        }
    }
}

#[test]
fn operations_document_their_common_errors() {
    let doc = serde_json::to_value(document(None)).unwrap();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success"
            );
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(
                ids.insert(id.clone()),
                "{at}: operationId {id} is not unique"
            );
            let bearer = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if bearer {
                assert!(responses.contains_key("401"), "{at}: takes a token, no 401");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413"] {
                    assert!(
                        responses.contains_key(status),
                        "{at}: has a body, no {status}"
                    );
                }
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
}

#[test]
fn the_error_codes_are_the_contracts() {
    let doc = serde_json::to_value(document(None)).unwrap();
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let contract = [
        "missing_field",
        "invalid_input",
        "invalid_credentials",
        "invalid_token",
        "not_authenticated",
        "forbidden",
        "user_exists",
        "conflict",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "rate_limited",
        "internal",
    ];
    assert_eq!(codes, contract);
}

#[tokio::test]
async fn the_document_is_served_under_the_prefix_with_it_as_server() {
    let app = app(Some("/plantdb/"));
    let (status, doc) = call(&app, Method::GET, "/plantdb/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["servers"][0]["url"], "/plantdb");
    assert_eq!(doc["paths"]["/metrics"]["servers"][0]["url"], "/");
    assert!(doc["paths"]["/login"]["post"]["operationId"] == "legacy_login");
    let (status, doc) = call(&self::app(None), Method::GET, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc.get("servers").is_none());
}

#[tokio::test]
async fn a_query_string_axum_cannot_read_gets_our_error_body() {
    let app = app(None);
    let uri = "/api/v1/auth/login?username=a&username=b";
    let (status, body) = call(&app, Method::GET, uri).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid_input");
}
