//! `/api/v1/authz/...`: authorization decisions for the scan server, and
//! forward authentication for reverse proxies (nginx `auth_request`,
//! Traefik `forwardAuth`), decided on the original request when the proxy
//! reports it.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::json;

use plantdb_auth_service::admin::{self as service, ForwardAuth, ForwardPolicy, OriginalRequest};

use crate::caller::{AnyToken, Auth, DataToken};
use crate::error::ApiError;
use crate::extract::{Bearer, JsonBody};
use crate::openapi::schemas as doc;
use crate::payload::{MetadataQueryBody, ScanQueryBody};
use crate::routes::data::DataBearer;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

pub const USER_HEADER: &str = "x-plantdb-user";
pub const ROLES_HEADER: &str = "x-plantdb-roles";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/authz/scan", post(scan))
        // Any method: proxies differ (nginx's auth_request and Traefik's
        // forwardAuth send GET and report the original method in a header).
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
pub async fn scan(State(state): State<AppState>, auth: Auth<AnyToken>, body: JsonBody) -> Answer {
    let query: ScanQueryBody = body.parse()?;
    let caller = auth.caller()?;
    let decision = service::authorize_scan(&state.db, &caller, &query.command()?)?;
    Ok(Json(doc::ScanDecision::from(decision)).into_response())
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
    auth: Auth<AnyToken>,
    body: JsonBody,
) -> Answer {
    let query: MetadataQueryBody = body.parse()?;
    let caller = auth.caller()?;
    let (old, new) = query.command()?;
    let refusal = service::authorize_scan_metadata(&state.db, &caller, &old, &new)?;
    let body = match refusal {
        None => doc::MetadataDecision {
            allowed: true,
            reason: None,
        },
        Some(reason) => doc::MetadataDecision {
            allowed: false,
            reason: Some(reason),
        },
    };
    Ok(Json(body).into_response())
}

/// Forward authentication (nginx `auth_request`, Traefik `forwardAuth`).
/// With `X-Original-Method`/`X-Original-URI` (or Traefik's
/// `X-Forwarded-Method`/`X-Forwarded-Uri`), the original request is
/// decided as the data API would decide it: the route's permission on its
/// scan (owner, sharing groups, an API token's grants). Without any of
/// those headers, a live access or API token passes, as before.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/api/v1/authz/verify",
    tag = "authz",
    security(("bearer" = [])),
    params(
        ("X-Original-Method" = Option<String>, Header, description = "The original request's method (nginx); or `X-Forwarded-Method` (Traefik)"),
        ("X-Original-URI" = Option<String>, Header, description = "The original request's path and query (nginx `$request_uri`); or `X-Forwarded-Uri` (Traefik)"),
    ),
    responses(
        (status = 200, description = "Allowed; anonymous (no user headers, `username` null) on a route that needs no caller when no token was sent", body = doc::ForwardAuth, headers(
            ("x-plantdb-user" = String, description = "The username"),
            ("x-plantdb-roles" = String, description = "Role values, comma-separated"),
        )),
        (status = 401, description = "Not authenticated: no token where one is needed, or a bad one", body = doc::ErrorBody, headers(
            ("WWW-Authenticate" = String, description = "`Bearer`"),
        )),
        (status = 403, description = "The caller may not do the original request: permission lacking, no such scan (not revealed), a refused path, or an unmapped request under `--authz-unmapped deny`", body = doc::ErrorBody),
    )
)]
pub async fn verify(State(state): State<AppState>, headers: HeaderMap, bearer: Bearer) -> Response {
    let Some(original) = original_request(&headers) else {
        // No original request: the token alone decides (the behaviour
        // before the mapping, which existing proxy set-ups rely on).
        return match Auth::<AnyToken>::resolve(&state, bearer.as_deref()).caller() {
            Ok(caller) => granted(&service::verify_access(&caller)),
            Err(e) => challenge(ApiError::from(e)),
        };
    };
    // As on the data routes: an Authorization header that is not Bearer
    // is an invalid token, not an absent one.
    let identity =
        Auth::<DataToken>::resolve(&state, DataBearer::from_headers(&headers).0.as_deref())
            .identity();
    let policy = ForwardPolicy {
        url_prefix: state.config.url_prefix.clone().unwrap_or_default(),
        unmapped: state.config.authz_unmapped,
    };
    let data = state.data.clone();
    let decided = state
        .blocking(move |db| {
            service::verify_request(db, data.as_deref(), identity, &original, &policy)
        })
        .await;
    match decided {
        Ok(Ok(Some(who))) => granted(&who),
        Ok(Ok(None)) => Json(json!({"username": null, "roles": []})).into_response(),
        Ok(Err(e)) => challenge(ApiError::from(e)),
        Err(e) => e.into_response(),
    }
}

/// The original request's headers, `None` when the proxy sent none of
/// them. nginx names them `X-Original-*`, Traefik `X-Forwarded-*`. Each
/// proxy overwrites its own names but passes the client's other headers
/// on, so a client could add the other proxy's names: when both names of
/// a field are present they must agree. A repeated, unreadable or
/// disagreeing header is refused rather than guessed at.
fn original_request(headers: &HeaderMap) -> Option<OriginalRequest> {
    let mut malformed = false;
    let mut read = |names: [&str; 2]| {
        let mut found = names
            .into_iter()
            .filter_map(|name| one_header(headers, name));
        let first = found.next()?;
        if found.next().is_some_and(|second| second != first) {
            malformed = true;
        }
        match first {
            Some(text) => Some(text),
            None => {
                malformed = true;
                Some(String::new())
            }
        }
    };
    let method = read(["x-original-method", "x-forwarded-method"]);
    let uri = read(["x-original-uri", "x-forwarded-uri"]);
    if method.is_none() && uri.is_none() {
        return None;
    }
    Some(OriginalRequest {
        method,
        uri,
        malformed,
    })
}

/// `None` if absent; `Some(None)` if repeated or not visible ASCII.
fn one_header(headers: &HeaderMap, name: &str) -> Option<Option<String>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    Some(match (first.to_str(), values.next()) {
        (Ok(text), None) => Some(text.trim().to_string()),
        _ => None,
    })
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
