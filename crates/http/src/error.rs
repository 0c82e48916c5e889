//! One error type for every HTTP answer that is not a success, and the one
//! place where service errors become status codes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use plantdb_auth_service::AuthError;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Keys some clients of the Python server read (`authenticated`, `success`).
    pub extra: Vec<(&'static str, Value)>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn missing_field(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "missing_field", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error: the details were logged on the server",
        )
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.push((key, value));
        self
    }

    /// Puts context in front of the message ("Token validation failed: ...").
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let (status, code) = match &e {
            AuthError::MissingField(_) => (StatusCode::BAD_REQUEST, "missing_field"),
            AuthError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            AuthError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AuthError::Token(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AuthError::NoAuthUser(_) => (StatusCode::UNAUTHORIZED, "not_authenticated"),
            AuthError::PermissionDenied(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AuthError::UserExists(_) => (StatusCode::CONFLICT, "user_exists"),
            AuthError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AuthError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AuthError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AuthError::TooManyRequests { retry_after, .. } => {
                let mut limited =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string());
                limited.retry_after = Some(*retry_after);
                return limited;
            }
            AuthError::Busy(_) => {
                let mut busy =
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string());
                busy.retry_after = Some(5);
                return busy;
            }
            AuthError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                return ApiError::internal();
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<plantdb_data::DataError> for ApiError {
    fn from(e: plantdb_data::DataError) -> Self {
        ApiError::from(AuthError::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(self.message.clone()));
        body.insert("message".into(), Value::String(self.message));
        body.insert("code".into(), Value::String(self.code.into()));
        for (k, v) in self.extra {
            body.insert(k.into(), v);
        }
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The unread body makes the connection unusable: say so, so that
            // keep-alive clients open a new one instead of failing.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: say which scheme, and why a token was refused.
            let value = if self.code == "invalid_token" {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plantdb_auth_core::session::TokenError;

    #[test]
    fn every_service_error_has_one_status_and_code() {
        let cases = [
            (AuthError::MissingField("m".into()), 400, "missing_field"),
            (AuthError::InvalidInput("i".into()), 400, "invalid_input"),
            (AuthError::InvalidCredentials, 401, "invalid_credentials"),
            (AuthError::Token(TokenError::Expired), 401, "invalid_token"),
            (AuthError::NoAuthUser("n".into()), 401, "not_authenticated"),
            (AuthError::PermissionDenied("p".into()), 403, "forbidden"),
            (AuthError::UserExists("u".into()), 409, "user_exists"),
            (AuthError::Conflict("c".into()), 409, "conflict"),
            (AuthError::NotFound("n".into()), 404, "not_found"),
            (AuthError::TooLarge("t".into()), 413, "payload_too_large"),
            (AuthError::Busy("b".into()), 503, "busy"),
            (AuthError::Internal("/secret/path".into()), 500, "internal"),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.code, code);
            assert!(
                !api.message.contains("/secret/path"),
                "internals never leak"
            );
        }
    }
}
