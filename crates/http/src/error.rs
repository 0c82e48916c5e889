//! One error type for every HTTP answer that is not a success, and the one
//! place where service errors become status codes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use plantdb_auth_service::AuthError;
use serde_json::{Map, Value};

/// The `code` of every error body, identical on both generations: what a
/// client can branch on. The handlers answer with it and the OpenAPI
/// document describes it (one type for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingField,
    InvalidInput,
    InvalidCredentials,
    InvalidToken,
    NotAuthenticated,
    Forbidden,
    UserExists,
    Conflict,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimited,
    Internal,
    /// 503: a lock of the database could not be taken in time (data
    /// writes; `Retry-After` says when to try again).
    Busy,
    /// 408: an upload stalled.
    Timeout,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::MissingField,
        ErrorCode::InvalidInput,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidToken,
        ErrorCode::NotAuthenticated,
        ErrorCode::Forbidden,
        ErrorCode::UserExists,
        ErrorCode::Conflict,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Busy,
        ErrorCode::Timeout,
    ];

    /// As it appears in the body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UserExists => "user_exists",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Keys some clients of the Python server read (`authenticated`, `success`).
    pub extra: Vec<(&'static str, Value)>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
    }

    pub fn missing_field(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MissingField, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
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
            AuthError::MissingField(_) => (StatusCode::BAD_REQUEST, ErrorCode::MissingField),
            AuthError::InvalidInput(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidInput),
            AuthError::InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
            }
            AuthError::Token(_) => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
            AuthError::NoAuthUser(_) => (StatusCode::UNAUTHORIZED, ErrorCode::NotAuthenticated),
            AuthError::PermissionDenied(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            AuthError::UserExists(_) => (StatusCode::CONFLICT, ErrorCode::UserExists),
            AuthError::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            AuthError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            AuthError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            AuthError::TooManyRequests { retry_after, .. } => {
                let mut limited = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    e.to_string(),
                );
                limited.retry_after = Some(*retry_after);
                return limited;
            }
            AuthError::Busy(_) => {
                let mut busy = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Busy,
                    e.to_string(),
                );
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
        body.insert("code".into(), Value::String(self.code.as_str().into()));
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
            let value = if self.code == ErrorCode::InvalidToken {
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
    fn error_codes_are_distinct_snake_case_names() {
        let names: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            // The body and the OpenAPI document spell it the same.
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }

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
            assert_eq!(api.code.as_str(), code);
            assert!(
                !api.message.contains("/secret/path"),
                "internals never leak"
            );
        }
    }
}
