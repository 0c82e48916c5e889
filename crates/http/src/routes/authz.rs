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
pub async fn scan(State(state): State<AppState>, bearer: Bearer, body: JsonBody) -> Answer {
    let query: ScanQuery = body.parse()?;
    let decision = service::authorize_scan(&state.db, bearer.as_deref(), &query)?;
    Ok(Json(decision).into_response())
}

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
