//! The document cannot drift from the router: every route the sources
//! register is documented, and every documented (method, path) is served.

use std::collections::BTreeSet;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request};
use serde_json::Value;
use tower::ServiceExt;

use super::document;
use crate::test_support::app;

/// The files that register routes: `router.rs` and every module of
/// `routes/` and `routes/data/` (named by their path under `routes/`).
const SOURCES: [(&str, &str); 15] = [
    ("router", include_str!("../router.rs")),
    ("auth", include_str!("../routes/auth.rs")),
    ("authz", include_str!("../routes/authz.rs")),
    ("groups", include_str!("../routes/groups.rs")),
    ("health", include_str!("../routes/health.rs")),
    ("sessions", include_str!("../routes/sessions.rs")),
    ("users", include_str!("../routes/users.rs")),
    ("mod", include_str!("../routes/mod.rs")),
    ("data", include_str!("../routes/data/mod.rs")),
    ("data/assets", include_str!("../routes/data/assets.rs")),
    ("data/params", include_str!("../routes/data/params.rs")),
    ("data/scans", include_str!("../routes/data/scans.rs")),
    ("data/send", include_str!("../routes/data/send.rs")),
    ("data/viewer", include_str!("../routes/data/viewer.rs")),
    ("data/write", include_str!("../routes/data/write.rs")),
];

/// Module files and the prefix of their submodules' names in [`SOURCES`].
const MODULE_FILES: [(&str, &str); 2] = [("mod", ""), ("data", "data/")];

/// Paths registered on purpose without being documented, and why.
const UNDOCUMENTED: [(&str, &str); 1] = [(
    "/viewer",
    "the web viewer's static build (serve --viewer DIR), not an API",
)];

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
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    // As the server's connection loop does: a local client.
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(local));
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

/// The paths a route source registers: every string literal that starts
/// with `/` and is the first argument of `route(`, `route_service(`,
/// `nest_service(` or `nest(`, or an argument of `path(` (the auth
/// routes' "current, legacy" pair). A wildcard `{*rest}` is `{rest}` in
/// the document.
fn registered_paths(source: &str) -> Vec<String> {
    const CALLS: [&str; 5] = [
        "route(",
        "route_service(",
        "nest_service(",
        "nest(",
        "path(",
    ];
    let mut found = Vec::new();
    let mut in_path_call = false;
    // Pieces alternate: code, literal, code, literal, ...
    let pieces: Vec<&str> = source.split('"').collect();
    for (i, literal) in pieces.iter().enumerate().skip(1).step_by(2) {
        let before = pieces[i - 1].trim_end();
        let first_argument = CALLS.iter().any(|call| {
            before
                .strip_suffix(call)
                .is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        });
        let second_of_path = in_path_call && before == ",";
        in_path_call = first_argument && before.ends_with("path(") || second_of_path;
        if (first_argument || second_of_path) && literal.starts_with('/') {
            found.push(literal.replace("{*", "{"));
        }
    }
    found
}

#[test]
fn every_route_module_is_scanned() {
    for (file, prefix) in MODULE_FILES {
        let (_, source) = SOURCES.iter().find(|(name, _)| *name == file).unwrap();
        for line in source.lines() {
            let module = line
                .trim()
                .strip_prefix("pub mod ")
                .and_then(|l| l.split(';').next());
            if let Some(module) = module {
                let name = format!("{prefix}{module}");
                assert!(
                    SOURCES.iter().any(|(n, _)| *n == name),
                    "routes/{name}.rs registers routes the OpenAPI drift test does not read: add it to SOURCES"
                );
            }
        }
    }
}

#[test]
fn the_route_sources_are_read() {
    // Every `.route(` call names its path as a literal, so the scan
    // cannot silently find nothing.
    for (file, source) in SOURCES {
        let calls = source.matches(".route(").count();
        let paths = registered_paths(source).len();
        assert!(
            paths >= calls,
            "{file}.rs: {calls} .route( calls but only {paths} path literals found"
        );
    }
    let viewer = SOURCES.iter().find(|(n, _)| *n == "data/viewer").unwrap().1;
    assert!(registered_paths(viewer).contains(&"/files/{path}".to_string()));
    let router = SOURCES.iter().find(|(n, _)| *n == "router").unwrap().1;
    assert!(registered_paths(router).contains(&"/token-refresh".to_string()));
}

#[test]
fn every_path_in_the_route_sources_is_documented() {
    let paths: BTreeSet<String> = documented().into_iter().map(|(_, p)| p).collect();
    for (file, source) in SOURCES {
        for path in registered_paths(source) {
            if UNDOCUMENTED.iter().any(|(p, _)| *p == path) {
                continue;
            }
            assert!(
                paths.contains(&path),
                "{path} (in {file}.rs) is not in the OpenAPI document: annotate its handler and list it in openapi.rs"
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
            for content in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
            {
                let body = content["schema"].to_string();
                assert!(
                    !body.contains(r#"{"type":"null"}"#),
                    "{at}: a null body is documented, the server refuses it"
                );
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
        // data-api.md §0: a lock could not be taken (503).
        "busy",
        // A stalled upload (408).
        "timeout",
    ];
    assert_eq!(codes, contract);
}

#[test]
fn the_viewer_routes_have_their_tag_and_the_archive_part_its_type() {
    let doc = serde_json::to_value(document(None)).unwrap();
    for path in [
        "/files/{path}",
        "/pcGroundTruth/{scan}/{fs}/{file}",
        "/scans_info",
    ] {
        assert_eq!(
            doc["paths"][path]["get"]["tags"][0],
            super::VIEWER_TAG,
            "{path}"
        );
    }
    for path in ["/api/v1/assets/archive/{scan}", "/archive/{scan}"] {
        let multipart =
            &doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"];
        assert_eq!(
            multipart["encoding"]["zip_file"]["contentType"], "application/zip",
            "{path}"
        );
    }
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
