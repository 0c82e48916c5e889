#![no_main]
//! `bearer_from_parts` on up to three arbitrary `Authorization` headers
//! (NUL-separated in the input: NUL is never valid in a header value).
//!
//! Oracles: no header gives no token, several give the invalid marker, and a
//! single header agrees with an independent reading of the RFC 7235 form
//! `Bearer <token>` (scheme case-insensitive, surrounding blanks ignored).

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use plantdb_auth_http::extract::bearer_from_parts;

fuzz_target!(|data: &[u8]| {
    let values: Vec<HeaderValue> = data
        .split(|&b| b == 0)
        .take(3)
        .filter_map(|v| HeaderValue::from_bytes(v).ok())
        .collect();
    let mut builder = Request::builder();
    for v in &values {
        builder = builder.header(AUTHORIZATION, v.clone());
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let got = bearer_from_parts(&parts);
    match values.as_slice() {
        [] => assert_eq!(got, None),
        [one] => assert_eq!(got, expected(one), "header {one:?}"),
        _ => assert_eq!(got.as_deref(), Some("invalid-authorization-header")),
    }
});

fn expected(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?.trim();
    let scheme = text.get(..7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let token = text[7..].trim();
    (!token.is_empty()).then(|| token.to_string())
}
