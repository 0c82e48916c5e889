//! `/api/v1/auth/...` and the legacy root routes.

use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use plantdb_auth_service as service;
use plantdb_auth_service::{ApiTokenRequest, AuthError, RegisterPayload};

use super::Generation;
use crate::error::ApiError;
use crate::extract::{Bearer, JsonBody};
use crate::state::AppState;

type Answer = Result<Response, ApiError>;

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

#[derive(Debug, serde::Deserialize)]
pub struct UsernameQuery {
    username: Option<String>,
}

pub async fn username_exists(
    State(state): State<AppState>,
    bearer: Bearer,
    Query(q): Query<UsernameQuery>,
) -> Answer {
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
                service::validate_token(db, token.as_deref())?;
            }
            service::check_username_exists(db, &name)
        })
        .await??;
    Ok(Json(json!({"username": username, "exists": exists})).into_response())
}

pub async fn login(State(state): State<AppState>, body: JsonBody) -> Answer {
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
    let (outcome, started) = state
        .hashing(move |db| {
            let started = Instant::now();
            (
                service::authenticate_user(db, &username, &password),
                started,
            )
        })
        .await?;
    if matches!(outcome, Err(AuthError::InvalidCredentials)) {
        // Every failure takes as long as the slowest real one: see pacing.
        let floor = service::failed_login_duration(&state.db);
        tokio::time::sleep_until((started + floor).into()).await;
    }
    let result = outcome.map_err(|e| ApiError::from(e).with("authenticated", json!(false)))?;
    Ok(Json(json!({
        "message": "Login successful",
        "user": result.user,
        "access_token": result.tokens.access_token,
        "refresh_token": result.tokens.refresh_token,
    }))
    .into_response())
}

pub async fn register(
    State(state): State<AppState>,
    Extension(gen): Extension<Generation>,
    bearer: Bearer,
    body: JsonBody,
) -> Answer {
    let payload: RegisterPayload = body.parse()?;
    let created = state
        .hashing(move |db| service::register_user(db, &payload, bearer.as_deref()))
        .await?
        .map_err(|e| match e {
            AuthError::MissingField(_) => ApiError::from(e).with("success", json!(false)),
            other => ApiError::from(other),
        })?;
    let message = match gen {
        Generation::Current => format!("User {created} successfully created"),
        Generation::Legacy => "User successfully created".to_string(),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({"success": true, "message": message})),
    )
        .into_response())
}

pub async fn logout(State(state): State<AppState>, bearer: Bearer) -> Answer {
    let username = state
        .blocking(move |db| service::logout_user(db, bearer.as_deref()))
        .await?
        .map_err(|e| match e {
            AuthError::Token(_) => ApiError::from(e).prefixed("Logout failed: "),
            other => ApiError::from(other),
        })?;
    Ok(Json(json!({"message": format!("Logout successful from {username}")})).into_response())
}

pub async fn token_validation(State(state): State<AppState>, bearer: Bearer) -> Answer {
    // In memory only: validation is the hot path and never blocks.
    let user = service::validate_token(&state.db, bearer.as_deref())
        .map_err(|e| ApiError::from(e).prefixed("Token validation failed: "))?;
    Ok(Json(json!({"message": "Token validation successful", "user": user})).into_response())
}

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
                ApiError::new(StatusCode::UNAUTHORIZED, "missing_field", m)
            }
            (AuthError::Token(t), _) => {
                ApiError::from(AuthError::Token(t)).prefixed("Invalid or expired refresh token: ")
            }
            (other, _) => ApiError::from(other),
        })?;
    Ok(Json(json!({
        "message": "Token refreshed successfully",
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
    }))
    .into_response())
}

pub async fn create_api_token(
    State(state): State<AppState>,
    bearer: Bearer,
    body: JsonBody,
) -> Answer {
    let request: ApiTokenRequest = body.parse()?;
    let created = state
        .blocking(move |db| service::create_api_token(db, bearer.as_deref(), &request))
        .await??;
    Ok(Json(json!({
        "message": "API Token generated successfully",
        "api_token": created.token,
        "id": created.id,
        "expiration date": created.expires_at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
    }))
    .into_response())
}
