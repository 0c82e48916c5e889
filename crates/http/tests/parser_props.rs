#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests of the HTTP edge's parsers: the `Authorization` header and
//! the JSON request body. They mirror the `bearer_header` and `json_body`
//! cargo-fuzz targets in `fuzz/` so that `cargo test` checks the same oracles.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request};
use axum::response::IntoResponse;
use plantdb_auth_http::extract::{bearer_from_parts, JsonBody};
use plantdb_auth_http::payload::{ApiTokenBody, MetadataQueryBody, RegisterBody, ScanQueryBody};
use plantdb_auth_service::admin::{GroupPayload, MemberPayload, PasswordChange, UserPatch};
use proptest::prelude::*;
use serde_json::Value;

// ---- Authorization -----------------------------------------------------------------

fn bearer_of(values: &[HeaderValue]) -> Option<String> {
    let mut request = Request::builder();
    for v in values {
        request = request.header(AUTHORIZATION, v.clone());
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    bearer_from_parts(&parts)
}

/// `Bearer <token>` read independently: the scheme in any case, blanks
/// around the value and the token ignored.
fn expected(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?.trim();
    let scheme = text.get(..7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let token = text[7..].trim();
    (!token.is_empty()).then(|| token.to_string())
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        "[ \t]{0,2}(bearer|Bearer|BEARER|bEaReR|Basic|Token|bearer:)[ \t]{0,3}[ -~]{0,20}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn bearer_parser_on_arbitrary_headers(headers in prop::collection::vec(header_bytes(), 0..3)) {
        let values: Vec<HeaderValue> =
            headers.iter().filter_map(|h| HeaderValue::from_bytes(h).ok()).collect();
        let got = bearer_of(&values);
        match values.as_slice() {
            [] => prop_assert_eq!(got, None),
            [one] => prop_assert_eq!(got, expected(one), "{:?}", one),
            _ => prop_assert_eq!(got.as_deref(), Some("invalid-authorization-header")),
        }
    }

    #[test]
    fn a_well_formed_bearer_header_yields_its_token(
        scheme in "[bB][eE][aA][rR][eE][rR]",
        before in "[ \t]{0,2}",
        gap in " [ \t]{0,2}",
        token in "[A-Za-z0-9._~+/=-]{1,60}",
        after in "[ \t]{0,2}",
    ) {
        let value = HeaderValue::from_str(&format!("{before}{scheme}{gap}{token}{after}")).unwrap();
        prop_assert_eq!(bearer_of(&[value]), Some(token));
    }
}

// ---- JSON request bodies -------------------------------------------------------------

/// The extractor over an in-memory body completes on its first poll.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the body extractor waited on an in-memory body"),
    }
}

fn extract(bytes: &[u8]) -> Result<JsonBody, plantdb_auth_http::ApiError> {
    let request = Request::builder()
        .method("POST")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    ready(JsonBody::from_request(request, &()))
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        "-?[0-9]{1,20}(\\.[0-9]{1,4})?(e[0-9]{1,3})?",
        "\"[ -~]{0,12}\"",
        Just("[\"read\", \"Permission.WRITE\"]".to_string()),
        Just("{\"scan_*\": [\"read\"]}".to_string()),
        Just("[1, {}, []]".to_string()),
    ];
    let key = prop::sample::select(vec![
        "username",
        "password",
        "fullname",
        "roles",
        "datasets",
        "token_exp",
        "refresh_token",
        "name",
        "users",
        "scan",
        "permission",
        "old",
        "new",
        "is_active",
        "unlock",
        "extra_permissions",
        "current_password",
        "new_password",
        "description",
    ]);
    let object = prop::collection::vec((key, field), 0..5).prop_map(|fields| {
        let inner: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{{}}}", inner.join(", ")).into_bytes()
    });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "[ \t\r\n]{0,4}".prop_map(String::into_bytes),
        "[\\[\\]{}\":, 0-9a-z]{0,40}".prop_map(String::into_bytes),
        object,
    ]
}

/// Every body type, and the typed command each one becomes: any object
/// gives an answer (a value or an error), never a panic.
fn parse_every_payload(body: &JsonBody) {
    if let Ok(register) = body.parse::<RegisterBody>() {
        let _ = register.check_present().and_then(|()| register.command());
    }
    let _ = body.parse::<UserPatch>();
    let _ = body.parse::<PasswordChange>();
    let _ = body.parse::<GroupPayload>();
    let _ = body.parse::<MemberPayload>();
    if let Ok(query) = body.parse::<ScanQueryBody>() {
        let _ = query.command();
    }
    if let Ok(query) = body.parse::<MetadataQueryBody>() {
        let _ = query.command();
    }
    if let Ok(request) = body.parse::<ApiTokenBody>() {
        let _ = request.command();
    }
}

proptest! {
    #[test]
    fn json_body_classifies_every_body(bytes in body_bytes()) {
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        let object = matches!(serde_json::from_slice::<Value>(&bytes), Ok(Value::Object(_)));
        match extract(&bytes) {
            Ok(JsonBody(None)) => prop_assert!(blank),
            Ok(body) => {
                prop_assert!(object);
                parse_every_payload(&body);
            }
            Err(e) => {
                // A key given twice is refused even in an object (the
                // detector itself is unit-tested in plantdb-data).
                let duplicate = matches!(
                    plantdb_data::json::parse_strict_body(&bytes),
                    Err(plantdb_data::json::BodyError::DuplicateKey(_))
                );
                prop_assert!(!blank && (!object || duplicate));
                let status = e.into_response().status();
                prop_assert_eq!(status.as_u16(), 400);
            }
        }
    }
}
