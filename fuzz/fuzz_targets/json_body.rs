#![no_main]
//! The `JsonBody` extractor and every request payload it feeds, on arbitrary
//! request bodies.
//!
//! Oracles: a blank body is "no body", a JSON object is accepted, anything
//! else is a 4xx through `ApiError` (never a panic or a 5xx); dataset grants
//! that parse survive both of their encodings unchanged.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_http::extract::JsonBody;
use plantdb_auth_service::admin::{
    GroupPayload, MemberPayload, MetadataQuery, PasswordChange, ScanQuery, UserPatch,
};
use plantdb_auth_service::{ApiTokenRequest, RegisterPayload};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Request::builder()
        .method("POST")
        .body(Body::from(data.to_vec()))
    else {
        return;
    };
    let result = ready(JsonBody::from_request(request, &()))
        .expect("an in-memory body is read without waiting");
    let blank = data.iter().all(u8::is_ascii_whitespace);
    let object = matches!(serde_json::from_slice::<Value>(data), Ok(Value::Object(_)));
    match result {
        Ok(JsonBody(None)) => assert!(blank),
        Ok(body) => {
            assert!(object);
            payloads(&body);
        }
        Err(e) => {
            assert!(!blank && !object);
            let status = e.into_response().status();
            assert!(status.is_client_error(), "{status}");
        }
    }
});

fn payloads(body: &JsonBody) {
    let _ = body.parse::<RegisterPayload>();
    let _ = body.parse::<UserPatch>();
    let _ = body.parse::<PasswordChange>();
    let _ = body.parse::<GroupPayload>();
    let _ = body.parse::<MemberPayload>();
    let _ = body.parse::<ScanQuery>();
    let _ = body.parse::<MetadataQuery>();
    if let Some(map) = &body.0 {
        grants(&Value::Object(map.clone()));
    }
    if let Ok(ApiTokenRequest {
        datasets: Some(datasets),
        ..
    }) = body.parse::<ApiTokenRequest>()
    {
        grants(&datasets);
    }
}

fn grants(value: &Value) {
    let Ok(grants) = DatasetGrants::from_json(value) else {
        return;
    };
    assert_eq!(
        DatasetGrants::from_json(&grants.to_json()).as_ref(),
        Ok(&grants)
    );
    assert_eq!(
        DatasetGrants::parse_claim(&grants.to_claim()).as_ref(),
        Ok(&grants)
    );
}

/// Polls once: the extractor over a full in-memory body never waits.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
