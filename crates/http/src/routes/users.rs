//! `/api/v1/auth/me` and `/api/v1/users/...`: user accounts. Current
//! generation only: plantdb-server 0.15 had no such routes.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use plantdb_auth_service::admin::{self as service, PasswordChange, UserPatch};

use crate::error::ApiError;
use crate::extract::{Bearer, JsonBody};
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/users", get(list_users))
        .route(
            "/api/v1/users/{username}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/api/v1/users/{username}/password", post(change_password))
}

/// Path segments; an undecodable one gets our error body, not axum's text.
pub(crate) fn path_params<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("Invalid name in the path: {}", e.body_text())))
}

// Reads are served from memory, like token validation: no blocking pool.
pub async fn me(State(state): State<AppState>, bearer: Bearer) -> Answer {
    let user = service::current_user(&state.db, bearer.as_deref())?;
    Ok(Json(user).into_response())
}

pub async fn list_users(State(state): State<AppState>, bearer: Bearer) -> Answer {
    let users = service::list_users(&state.db, bearer.as_deref())?;
    Ok(Json(users).into_response())
}

pub async fn get_user(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let username = path_params(path)?;
    let user = service::get_user(&state.db, bearer.as_deref(), &username)?;
    Ok(Json(user).into_response())
}

pub async fn update_user(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Answer {
    let username = path_params(path)?;
    let patch: UserPatch = body.parse()?;
    let user = state
        .blocking(move |db| service::update_user(db, bearer.as_deref(), &username, &patch))
        .await??;
    Ok(Json(user).into_response())
}

pub async fn change_password(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Answer {
    let username = path_params(path)?;
    let change: PasswordChange = body.parse()?;
    let done = state
        .hashing(move |db| service::change_password(db, bearer.as_deref(), &username, &change))
        .await??;
    Ok(Json(json!({
        "message": format!(
            "Password changed for {}; all of its sessions and API tokens were ended: log in again",
            done.username
        ),
        "sessions_ended": done.sessions_ended,
    }))
    .into_response())
}

pub async fn delete_user(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let username = path_params(path)?;
    let deleted = state
        .blocking(move |db| service::delete_user(db, bearer.as_deref(), &username))
        .await??;
    Ok(Json(json!({"message": format!("User {deleted} deleted")})).into_response())
}
