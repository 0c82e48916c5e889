use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::openapi::schemas as doc;
use crate::state::AppState;

/// Whether the server and its database are up.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = doc::HealthBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, description = "The database is not accessible", body = doc::HealthError),
        (status = 503, description = "Degraded: the database does not accept writes (a full disk)", body = doc::HealthError),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let data = state.data.clone();
    let outcome = state
        .blocking(move |db| {
            let mut health = plantdb_auth_service::health(db)?;
            if let Some(data) = data {
                // Served scans, as the data routes list them.
                health.scan_count = data.served_scan_count();
            }
            Ok::<_, plantdb_auth_service::AuthError>(health)
        })
        .await;
    match outcome {
        Ok(Ok(db)) if db.storage_error.is_some() => {
            // Reads work; writes (logins, uploads) fail. Say so, without
            // the error's details (paths): they are in the log.
            let mut database = json!({"location": db.location, "scan_count": db.scan_count});
            database["storage"] = json!("failing");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "degraded",
                    "message": DEGRADED,
                    "error": DEGRADED,
                    "code": "degraded",
                    "database": database,
                })),
            )
                .into_response()
        }
        Ok(Ok(db)) => Json(json!({
            "status": "healthy",
            "message": "API is running correctly",
            "database": db,
        }))
        .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check failed");
            unhealthy()
        }
        Err(_) => unhealthy(),
    }
}

const DEGRADED: &str = "The database does not accept writes (e.g. a full disk): logins and uploads fail until it does; see the server log";

fn unhealthy() -> Response {
    let body = json!({
        "status": "error",
        "message": "Database is not accessible: see the server log",
        "error": "Database is not accessible: see the server log",
        "code": "internal",
    });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// Liveness: the process answers. No I/O, no rate limit: for probes.
#[utoipa::path(
    get,
    path = "/api/v1/health/live",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = doc::Liveness))
)]
pub async fn live() -> Response {
    Json(json!({"status": "alive"})).into_response()
}

/// Readiness: the store answers (PostgreSQL included), writes succeed, the
/// session state is current and the data index is loaded. 503 with the
/// failing checks otherwise; details are in the server log.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = doc::Readiness),
        (status = 429, response = doc::RateLimited),
        (status = 503, description = "Not ready: the failing checks", body = doc::Readiness),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let has_data = state.data.is_some();
    let outcome = state.blocking(plantdb_auth_service::readiness).await;
    let Ok(mut readiness) = outcome else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "checks": {"server": "failing"}})),
        )
            .into_response();
    };
    // The data index is built when the data service opens: its presence
    // is its readiness (an in-memory store serves no data).
    readiness
        .checks
        .insert("data", if has_data { "ok" } else { "absent" });
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if readiness.ready {
        "ready"
    } else {
        "not ready"
    };
    (
        status,
        Json(json!({"status": word, "checks": readiness.checks})),
    )
        .into_response()
}
