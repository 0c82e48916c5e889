//! Extractors whose rejections speak our error format.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON object body, whatever the content type (the Python server's
/// clients do not always send `application/json`). An empty body is `None`.
#[derive(Debug, Default)]
pub struct JsonBody(pub Option<Map<String, Value>>);

impl JsonBody {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.as_ref().and_then(|m| m.get(key))
    }

    /// Deserializes into a payload type; wrong types become a clear 400.
    pub fn parse<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        match &self.0 {
            None => Ok(T::default()),
            Some(map) => serde_json::from_value(Value::Object(map.clone()))
                .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}"))),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "Request body too large: the limit is 64 KiB",
                )
            } else {
                ApiError::bad_request(format!("Could not read the request body: {rejection}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        match plantdb_data::json::parse_strict_body(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(Some(map))),
            Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
            Err(e) => Err(body_error(e)),
        }
    }
}

/// The 400 of a request body that is not one clear JSON document.
pub(crate) fn body_error(e: plantdb_data::json::BodyError) -> ApiError {
    match e {
        plantdb_data::json::BodyError::DuplicateKey(key) => ApiError::bad_request(format!(
            "Request body has the key '{key}' twice in one object: send each key once"
        )),
        plantdb_data::json::BodyError::Invalid(why) => ApiError::bad_request(format!(
            "Request body is not valid JSON ({why}); send a JSON object"
        )),
    }
}

/// The bearer token of `Authorization: Bearer <jwt>`, if any. The scheme is
/// case-insensitive (RFC 7235); several Authorization headers are ambiguous
/// and count as an invalid token rather than picking one.
#[derive(Debug, Clone)]
pub struct Bearer(pub Option<String>);

impl Bearer {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Stands for an unusable Authorization header: never a valid JWT.
const INVALID_TOKEN: &str = "invalid-authorization-header";

pub fn bearer_from_parts(parts: &Parts) -> Option<String> {
    bearer_from_headers(&parts.headers)
}

/// [`bearer_from_parts`] on a header map.
pub fn bearer_from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(INVALID_TOKEN.into());
    }
    let text = first.to_str().ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then(|| token.to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Bearer(bearer_from_parts(parts)))
    }
}

/// The client's IP: the socket peer, or behind a trusted proxy (`--proxy`)
/// the rightmost untrusted `X-Forwarded-For` entry ([`TrustedProxies`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(parts: &Parts, proxies: &crate::proxy::TrustedProxies) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    proxies.client(peer, &parts.headers)
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.config.trusted_proxies)))
    }
}

/// A path parameter, or our JSON 400 when it cannot be decoded (instead of
/// axum's plain-text rejection).
pub fn path_params<T>(
    path: Result<axum::extract::Path<T>, axum::extract::rejection::PathRejection>,
) -> Result<T, ApiError> {
    path.map(|axum::extract::Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("Invalid value in the path: {}", e.body_text())))
}
