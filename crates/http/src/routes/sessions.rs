//! A user's sessions and API tokens (`/api/v1/auth/sessions`,
//! `/api/v1/auth/logout-all`, `/api/v1/auth/api-tokens`). Current generation
//! only: plantdb-server 0.15 had no such routes.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};

use plantdb_auth_service::sessions::{self as service, ApiTokenEntry, SessionEntry};

use crate::caller::{AccessToken, Auth};
use crate::error::ApiError;
use crate::extract::path_params;
use crate::openapi::schemas as doc;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/sessions", get(list_sessions))
        .route("/api/v1/auth/sessions/{id}", delete(revoke_session))
        .route("/api/v1/auth/logout-all", post(logout_all))
        .route("/api/v1/auth/api-tokens", get(list_api_tokens))
        .route("/api/v1/auth/api-tokens/{id}", delete(revoke_api_token))
}

/// ISO 8601 in UTC with an explicit offset, which Python's
/// `datetime.fromisoformat` reads on every version (`Z` needs 3.11).
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn session_entry(s: &SessionEntry) -> doc::SessionEntry {
    doc::SessionEntry {
        id: s.id.clone(),
        username: s.username.clone(),
        created_at: iso(s.created_at),
        expires_at: iso(s.expires_at),
    }
}

fn api_token_entry(t: &ApiTokenEntry) -> doc::ApiTokenEntry {
    doc::ApiTokenEntry {
        id: t.id.clone(),
        datasets: t.datasets.clone(),
        created_at: iso(t.created_at),
        expires_at: iso(t.expires_at),
    }
}

/// The caller's live sessions (everyone's with `manage_users`).
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions, oldest first", body = Vec<doc::SessionEntry>),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn list_sessions(State(state): State<AppState>, auth: Auth<AccessToken>) -> Answer {
    // In memory only, like token validation: no need for the blocking pool.
    let sessions = service::list_sessions(&state.db, &auth.caller()?)?;
    let body: Vec<doc::SessionEntry> = sessions.iter().map(session_entry).collect();
    Ok(Json(body).into_response())
}

/// Ends one session (one's own, or anyone's with `manage_users`).
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "A session id from the list")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Session revoked", body = doc::MessageBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_params(path)?;
    let shown = id.clone();
    let caller = auth.caller()?;
    let owner = state
        .blocking(move |db| service::revoke_session(db, &caller, &id))
        .await??;
    let message = format!("Session {shown} of {owner} revoked");
    Ok(Json(doc::MessageBody::new(message)).into_response())
}

/// Ends every session of the caller.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-all",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions ended", body = doc::SessionsEnded),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn logout_all(State(state): State<AppState>, auth: Auth<AccessToken>) -> Answer {
    let caller = auth.caller()?;
    let (username, ended) = state
        .blocking(move |db| service::logout_all(db, &caller))
        .await??;
    Ok(Json(doc::SessionsEnded {
        message: format!("Logout successful from all {ended} session(s) of {username}"),
        sessions_ended: ended as u64,
    })
    .into_response())
}

/// The caller's live API tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/v1/auth/api-tokens",
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "API tokens", body = Vec<doc::ApiTokenEntry>),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn list_api_tokens(State(state): State<AppState>, auth: Auth<AccessToken>) -> Answer {
    let tokens = service::list_api_tokens(&state.db, &auth.caller()?)?;
    let body: Vec<doc::ApiTokenEntry> = tokens.iter().map(api_token_entry).collect();
    Ok(Json(body).into_response())
}

/// Revokes one API token (one's own, or anyone's for an admin).
#[utoipa::path(
    delete,
    path = "/api/v1/auth/api-tokens/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "An API token id from the list")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "API token revoked", body = doc::MessageBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn revoke_api_token(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_params(path)?;
    let shown = id.clone();
    let caller = auth.caller()?;
    let owner = state
        .blocking(move |db| service::revoke_api_token(db, &caller, &id))
        .await??;
    let message = format!("API token {shown} of {owner} revoked");
    Ok(Json(doc::MessageBody::new(message)).into_response())
}
