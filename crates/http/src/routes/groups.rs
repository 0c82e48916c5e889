//! `/api/v1/groups/...`: the groups scans are shared with. Current
//! generation only: plantdb-server 0.15 had no such routes.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use plantdb_auth_service::admin::{self as service, GroupPayload, MemberPayload};

use crate::caller::{AccessToken, AnyToken, Auth};
use crate::error::ApiError;
use crate::extract::path_params;
use crate::extract::JsonBody;
use crate::openapi::schemas as doc;
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups", get(list_groups).post(create_group))
        .route("/api/v1/groups/{name}", get(get_group).delete(delete_group))
        .route("/api/v1/groups/{name}/members", post(add_member))
        .route(
            "/api/v1/groups/{name}/members/{username}",
            delete(remove_member),
        )
}

// Reads are served from memory, like token validation: no blocking pool.
/// Every group, by name; any authenticated user.
#[utoipa::path(
    get,
    path = "/api/v1/groups",
    tag = "groups",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The groups", body = Vec<doc::GroupView>),
        (status = 401, response = doc::Unauthorized),
    )
)]
pub async fn list_groups(State(state): State<AppState>, auth: Auth<AnyToken>) -> Answer {
    let groups = service::list_groups(&state.db, &auth.caller()?)?;
    let groups: Vec<doc::GroupView> = groups.into_iter().map(doc::GroupView::from).collect();
    Ok(Json(groups).into_response())
}

/// One group; any authenticated user.
#[utoipa::path(
    get,
    path = "/api/v1/groups/{name}",
    tag = "groups",
    params(("name" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = doc::GroupView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn get_group(
    State(state): State<AppState>,
    auth: Auth<AnyToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = path_params(path)?;
    let group = service::get_group(&state.db, &auth.caller()?, &name)?;
    Ok(Json(doc::GroupView::from(group)).into_response())
}

/// Creates a group with the caller as its first member; needs `manage_groups`.
#[utoipa::path(
    post,
    path = "/api/v1/groups",
    tag = "groups",
    request_body = doc::GroupPayload,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new group", body = doc::GroupView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn create_group(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    body: JsonBody,
) -> Answer {
    let payload: GroupPayload = body.parse()?;
    let caller = auth.caller()?;
    let group = state
        .blocking(move |db| service::create_group(db, &caller, &payload))
        .await??;
    Ok((StatusCode::CREATED, Json(doc::GroupView::from(group))).into_response())
}

/// Deletes a group; needs `manage_groups`.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{name}",
    tag = "groups",
    params(("name" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Group deleted", body = doc::MessageBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn delete_group(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = path_params(path)?;
    let caller = auth.caller()?;
    let deleted = state
        .blocking(move |db| service::delete_group(db, &caller, &name))
        .await??;
    Ok(Json(doc::MessageBody::new(format!("Group {deleted} deleted"))).into_response())
}

/// Adds an existing user to a group (a member or `manage_groups`).
#[utoipa::path(
    post,
    path = "/api/v1/groups/{name}/members",
    tag = "groups",
    params(("name" = String, Path)),
    request_body = doc::MemberPayload,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = doc::GroupView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<String>, PathRejection>,
    body: JsonBody,
) -> Answer {
    let name = path_params(path)?;
    let payload: MemberPayload = body.parse()?;
    let caller = auth.caller()?;
    let group = state
        .blocking(move |db| service::add_group_member(db, &caller, &name, &payload))
        .await??;
    Ok(Json(doc::GroupView::from(group)).into_response())
}

/// Removes a member (a member or `manage_groups`); the creator stays.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{name}/members/{username}",
    tag = "groups",
    params(("name" = String, Path), ("username" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = doc::GroupView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Auth<AccessToken>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (name, username) = path_params(path)?;
    let caller = auth.caller()?;
    let group = state
        .blocking(move |db| service::remove_group_member(db, &caller, &name, &username))
        .await??;
    Ok(Json(doc::GroupView::from(group)).into_response())
}
