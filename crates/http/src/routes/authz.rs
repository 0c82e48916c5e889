//! `/api/v1/authz/...`: authorization decisions for the scan server, and
//! forward authentication for reverse proxies (nginx `auth_request`,
//! Traefik `forwardAuth`).

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::json;

use plantdb_auth_service::admin::{self as service, ForwardAuth, MetadataQuery, ScanQuery};

use crate::error::ApiError;
use crate::extract::{Bearer, JsonBody};
use crate::openapi::schemas as doc;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

pub const USER_HEADER: &str = "x-plantdb-user";
pub const ROLES_HEADER: &str = "x-plantdb-roles";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/authz/scan", post(scan))
        // nginx's auth_request subrequest keeps the client's method.
        .route("/api/v1/authz/verify", any(verify))
        .route("/api/v1/authz/scan-metadata", post(scan_metadata))
}

// Decisions are made in memory, like token validation: no blocking pool.
/// Whether the caller (access or API token) holds a permission on a scan;
/// a refusal is an answer (`allowed: false`), not an error.
#[utoipa::path(
    post,
    path = "/api/v1/authz/scan",
    tag = "authz",
    request_body = doc::ScanQuery,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The decision", body = doc::ScanDecision),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn scan(State(state): State<AppState>, bearer: Bearer, body: JsonBody) -> Answer {
    let query: ScanQuery = body.parse()?;
    let decision = service::authorize_scan(&state.db, bearer.as_deref(), &query)?;
    Ok(Json(decision).into_response())
}

/// Whether the caller may change a scan's `owner`/`sharing` from `old` to `new`.
#[utoipa::path(
    post,
    path = "/api/v1/authz/scan-metadata",
    tag = "authz",
    request_body = doc::MetadataQuery,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The decision", body = doc::MetadataDecision),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn scan_metadata(
    State(state): State<AppState>,
    bearer: Bearer,
    body: JsonBody,
) -> Answer {
    let query: MetadataQuery = body.parse()?;
    let refusal = service::authorize_scan_metadata(&state.db, bearer.as_deref(), &query)?;
    let body = match refusal {
        None => json!({"allowed": true}),
        Some(reason) => json!({"allowed": false, "reason": reason}),
    };
    Ok(Json(body).into_response())
}

/// Forward authentication (nginx `auth_request`, Traefik `forwardAuth`):
/// any method; a live access or API token passes, with its user's name and
/// roles in headers for the upstream.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/api/v1/authz/verify",
    tag = "authz",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Authenticated", body = doc::ForwardAuth, headers(
            ("x-plantdb-user" = String, description = "The username"),
            ("x-plantdb-roles" = String, description = "Role values, comma-separated"),
        )),
        (status = 401, description = "Not authenticated", body = doc::ErrorBody, headers(
            ("WWW-Authenticate" = String, description = "`Bearer`"),
        )),
    )
)]
pub async fn verify(State(state): State<AppState>, bearer: Bearer) -> Response {
    match service::verify_access(&state.db, bearer.as_deref()) {
        Ok(who) => granted(&who),
        Err(e) => challenge(ApiError::from(e)),
    }
}

/// The proxy copies these headers to the upstream request.
fn granted(who: &ForwardAuth) -> Response {
    let user = HeaderValue::from_str(&who.username);
    let roles = HeaderValue::from_str(&who.roles.join(","));
    let (Ok(user), Ok(roles)) = (user, roles) else {
        return ApiError::internal().into_response();
    };
    let headers = [
        (HeaderName::from_static(USER_HEADER), user),
        (HeaderName::from_static(ROLES_HEADER), roles),
    ];
    let body = json!({"username": who.username, "roles": who.roles});
    (headers, Json(body)).into_response()
}

/// RFC 6750: a 401 names the scheme the client should use.
fn challenge(error: ApiError) -> Response {
    let status = error.status;
    let mut response = error.into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
