//! `/api/v1/auth/...` and the legacy root routes.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use plantdb_auth_service as service;
use plantdb_auth_service::AuthError;

use super::Generation;
use crate::caller::{AccessToken, Auth};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Bearer, ClientIp, JsonBody};
use crate::hash_pool::paced_login;
use crate::openapi::schemas as doc;
use crate::payload::{ApiTokenBody, RegisterBody};
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

#[derive(Debug, serde::Deserialize)]
pub struct UsernameQuery {
    username: Option<String>,
}

/// Whether a username exists (invalid names do not).
///
/// Anyone may ask, unless the server runs with `--restrict-username-check`:
/// then a valid token is required.
#[utoipa::path(
    get,
    path = "/api/v1/auth/login",
    tag = "auth",
    params(("username" = String, Query, min_length = 1, description = "The name to look up")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The answer", body = doc::UsernameExists),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 429, response = doc::RateLimited),
    )
)]
pub async fn username_exists(
    State(state): State<AppState>,
    bearer: Bearer,
    query: Result<Query<UsernameQuery>, QueryRejection>,
) -> Answer {
    // A query string axum cannot read (`username` twice) gets our error
    // body, not axum's plain text.
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let username = q
        .username
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::missing_field("Missing username parameter"))?;
    let token = bearer.0;
    let restrict = state.config.restrict_username_check;
    let name = username.clone();
    let exists = state
        .blocking(move |db| {
            if restrict {
                // The guest's token is everyone's: it proves nothing.
                let caller = service::validate_token(db, token.as_deref())?;
                if caller.username == plantdb_auth_core::rbac::GUEST_USERNAME {
                    return Err(service::AuthError::NoAuthUser(
                        "Checking usernames needs your own account: log in (the guest account is shared)".into(),
                    ));
                }
            }
            service::check_username_exists(db, &name)
        })
        .await??;
    Ok(Json(doc::UsernameExists { username, exists }).into_response())
}

/// Logs in: a session of an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = doc::LoginRequest,
    responses(
        (status = 200, description = "Login successful", body = doc::LoginSuccess),
        (status = 400, response = doc::LoginBadRequest),
        (status = 401, response = doc::LoginUnauthorized),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    body: JsonBody,
) -> Answer {
    let (Some(username), Some(password)) = (body.get("username"), body.get("password")) else {
        return Err(ApiError::missing_field("Missing username or password")
            .with("authenticated", json!(false)));
    };
    let (Some(username), Some(password)) = (username.as_str(), password.as_str()) else {
        return Err(
            ApiError::bad_request("Fields 'username' and 'password' must be strings")
                .with("authenticated", json!(false)),
        );
    };
    let (username, password) = (username.to_string(), password.to_string());
    let result = paced_login(&state, username, password, client)
        .await
        .map_err(|e| e.with("authenticated", json!(false)))?;
    Ok(Json(doc::LoginSuccess {
        message: "Login successful".into(),
        user: doc::UserInfo::from(result.user),
        access_token: result.tokens.access_token,
        refresh_token: result.tokens.refresh_token,
    })
    .into_response())
}

/// Creates a user; the caller needs `manage_users`.
///
/// The message is `User <username> successfully created` (the stored,
/// lower-case name).
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = doc::RegisterRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "User created", body = doc::RegisterSuccess),
        (status = 400, response = doc::RegisterBadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Extension(gen): Extension<Generation>,
    auth: Auth<AccessToken>,
    body: JsonBody,
) -> Answer {
    let payload: RegisterBody = body.parse()?;
    let (caller, new_user) = payload.with_caller(|| auth.caller()).map_err(|e| match e {
        AuthError::MissingField(_) => ApiError::from(e).with("success", json!(false)),
        other => ApiError::from(other),
    })?;
    let created = state
        .hashing(move |db| service::register_user(db, &caller, &new_user))
        .await??;
    let message = match gen {
        Generation::Current => format!("User {created} successfully created"),
        Generation::Legacy => "User successfully created".to_string(),
    };
    Ok((
        StatusCode::CREATED,
        Json(doc::RegisterSuccess {
            success: true,
            message,
        }),
    )
        .into_response())
}

/// Ends the session of the access token (and its refresh token).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Logout successful from <username>`", body = doc::MessageBody),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn logout(State(state): State<AppState>, bearer: Bearer) -> Answer {
    let username = state
        .blocking(move |db| service::logout_user(db, bearer.as_deref()))
        .await?
        .map_err(|e| match e {
            AuthError::Token(_) => ApiError::from(e).prefixed("Logout failed: "),
            other => ApiError::from(other),
        })?;
    Ok(Json(doc::MessageBody::new(format!(
        "Logout successful from {username}"
    )))
    .into_response())
}

/// Checks an access or API token and says whose it is.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token/validation",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Token validation successful", body = doc::TokenValidation),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn token_validation(State(state): State<AppState>, bearer: Bearer) -> Answer {
    // In memory only: validation is the hot path and never blocks.
    let user = service::validate_token(&state.db, bearer.as_deref())
        .map_err(|e| ApiError::from(e).prefixed("Token validation failed: "))?;
    let answer = ValidationAnswer {
        message: "Token validation successful",
        user: &user,
    };
    Ok(Json(answer).into_response())
}

/// The answer of a successful validation, serialized straight from the
/// user (no intermediate JSON tree on the hot path).
#[derive(serde::Serialize)]
struct ValidationAnswer<'a> {
    message: &'static str,
    user: &'a service::UserInfo,
}

/// Rotates a refresh token: the old pair dies, a new pair is issued.
///
/// A missing `refresh_token` is 401 here; presenting an already-rotated
/// refresh token revokes the whole login (reuse detection).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token/refresh",
    tag = "auth",
    request_body = doc::RefreshRequest,
    responses(
        (status = 200, description = "Token refreshed successfully", body = doc::RefreshSuccess),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn token_refresh(
    State(state): State<AppState>,
    Extension(gen): Extension<Generation>,
    body: JsonBody,
) -> Answer {
    let token = match body.get("refresh_token") {
        Some(v) if !v.is_string() && !v.is_null() => {
            return Err(ApiError::bad_request(
                "Field 'refresh_token' must be a string",
            ));
        }
        v => text(v),
    };
    let pair = state
        .blocking(move |db| service::refresh_token(db, token.as_deref()))
        .await?
        .map_err(|e| match (e, gen) {
            // plantdb-server 0.17 answers 401 for a missing token, 0.15 answers 400.
            (AuthError::MissingField(m), Generation::Current) => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::MissingField, m)
            }
            (AuthError::Token(t), _) => {
                ApiError::from(AuthError::Token(t)).prefixed("Invalid or expired refresh token: ")
            }
            (other, _) => ApiError::from(other),
        })?;
    Ok(Json(doc::RefreshSuccess {
        message: "Token refreshed successfully".into(),
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
    })
    .into_response())
}

/// Mints a long-lived API token scoped to datasets (needs an access token).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token/create-api-token",
    tag = "auth",
    request_body = doc::ApiTokenRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "API Token generated successfully", body = doc::ApiTokenCreated),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
    )
)]
pub async fn create_api_token(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    body: JsonBody,
) -> Answer {
    let request = body.parse::<ApiTokenBody>()?.command()?;
    let caller = auth.caller()?;
    let created = state
        .blocking(move |db| service::create_api_token(db, &caller, &request))
        .await??;
    Ok(Json(doc::ApiTokenCreated {
        message: "API Token generated successfully".into(),
        api_token: created.token,
        id: created.id,
        expiration_date: created
            .expires_at
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string(),
    })
    .into_response())
}
