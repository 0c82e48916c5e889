//! `/api/v1/auth/me` and `/api/v1/users/...`: user accounts. Current
//! generation only: plantdb-server 0.15 had no such routes.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use plantdb_auth_service::admin::{self as service, PasswordChange, UserPatch};

use crate::caller::{AccessToken, AnyToken, Auth};
use crate::error::ApiError;
use crate::extract::{path_params, ClientIp, JsonBody};
use crate::openapi::schemas as doc;
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
// Reads are served from memory, like token validation: no blocking pool.
/// The caller's own account (access or API token).
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = doc::UserView),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn me(State(state): State<AppState>, auth: Auth<AnyToken>) -> Answer {
    let user = service::current_user(&state.db, &auth.caller()?)?;
    Ok(Json(doc::UserView::from(user)).into_response())
}

/// Every account, by username; needs `manage_users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts", body = Vec<doc::UserView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    )
)]
pub async fn list_users(State(state): State<AppState>, auth: Auth<AccessToken>) -> Answer {
    let users = service::list_users(&state.db, &auth.caller()?)?;
    let users: Vec<doc::UserView> = users.into_iter().map(doc::UserView::from).collect();
    Ok(Json(users).into_response())
}

/// One account: one's own, or anyone's with `manage_users`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = doc::UserView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let username = path_params(path)?;
    let user = service::get_user(&state.db, &auth.caller()?, &username)?;
    Ok(Json(doc::UserView::from(user)).into_response())
}

/// Changes an account; needs `manage_users` and a rank at least the target's.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path)),
    request_body = doc::UserPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed account", body = doc::UserView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Answer {
    let username = path_params(path)?;
    let patch: UserPatch = body.parse()?;
    let caller = auth.caller()?;
    let user = state
        .blocking(move |db| service::update_user(db, &caller, &username, &patch))
        .await??;
    Ok(Json(doc::UserView::from(user)).into_response())
}

/// Sets a new password (one's own with the current one, or a reset with
/// `manage_users`); every session and API token of the account ends.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/password",
    tag = "users",
    params(("username" = String, Path)),
    request_body = doc::PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Password changed", body = doc::SessionsEnded),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    ClientIp(client): ClientIp,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Answer {
    let username = path_params(path)?;
    let change: PasswordChange = body.parse()?;
    let caller = auth.caller()?;
    let done = state
        .account_hashing(move |db| {
            service::change_password_from(db, &caller, &username, &change, Some(client))
        })
        .await??;
    Ok(Json(doc::SessionsEnded {
        message: format!(
            "Password changed for {}; all of its sessions and API tokens were ended: log in again",
            done.username
        ),
        sessions_ended: done.sessions_ended as u64,
    })
    .into_response())
}

/// Deletes an account with its sessions, API tokens and memberships;
/// needs `manage_users` (not `guest`, not the last active admin).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "User deleted", body = doc::MessageBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let username = path_params(path)?;
    let caller = auth.caller()?;
    let deleted = state
        .blocking(move |db| service::delete_user(db, &caller, &username))
        .await??;
    Ok(Json(doc::MessageBody::new(format!("User {deleted} deleted"))).into_response())
}
