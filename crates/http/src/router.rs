//! Assembles the routes of both generations and the layers around them.

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Router};

use crate::error::{ApiError, ErrorCode};
use crate::rate_limit::{limit, Bucket};
use crate::routes::{auth, health, Generation};
use crate::state::AppState;

/// The router of `--metrics-listen`: `/metrics` alone, for anyone who can
/// reach that address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::metrics::render))
        .fallback(not_found)
        .with_state(state)
}

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

fn limited(
    route: MethodRouter<AppState>,
    state: &AppState,
    bucket: Bucket,
) -> MethodRouter<AppState> {
    route.route_layer(from_fn_with_state((state.clone(), bucket), limit))
}

/// The auth routes of one generation; paths differ, handlers are shared.
fn generation(state: &AppState, gen: Generation) -> Router<AppState> {
    let path = |current: &'static str, legacy: &'static str| match gen {
        Generation::Current => current,
        Generation::Legacy => legacy,
    };
    let login = limited(get(auth::username_exists), state, Bucket::LoginCheck).merge(limited(
        post(auth::login),
        state,
        Bucket::Login,
    ));
    Router::new()
        .route(
            path("/api/v1/health", "/health"),
            limited(get(health::health), state, Bucket::Health),
        )
        .route(
            path("/api/v1/health/live", "/health/live"),
            get(health::live),
        )
        .route(
            path("/api/v1/health/ready", "/health/ready"),
            limited(get(health::ready), state, Bucket::Health),
        )
        .route(path("/api/v1/auth/login", "/login"), login)
        .route(
            path("/api/v1/auth/register", "/register"),
            limited(post(auth::register), state, Bucket::Register),
        )
        .route(path("/api/v1/auth/logout", "/logout"), post(auth::logout))
        .route(
            path("/api/v1/auth/token/validation", "/token-validation"),
            post(auth::token_validation),
        )
        .route(
            path("/api/v1/auth/token/refresh", "/token-refresh"),
            post(auth::token_refresh),
        )
        .route(
            path("/api/v1/auth/token/create-api-token", "/create-api-token"),
            post(auth::create_api_token),
        )
        .layer(Extension(gen))
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "Not found: no such endpoint. docs/api.md and /api/v1/openapi.json list the routes",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this endpoint",
    )
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = generation(&state, Generation::Current)
        .merge(generation(&state, Generation::Legacy))
        .merge(crate::routes::sessions::routes())
        .merge(crate::routes::users::routes())
        .merge(crate::routes::groups::routes())
        .merge(crate::routes::authz::routes())
        .merge(crate::routes::data::routes(&state))
        .route("/api/v1/openapi.json", get(crate::openapi::serve))
        .method_not_allowed_fallback(method_not_allowed);
    let app = match state
        .config
        .url_prefix
        .as_deref()
        .map(|p| p.trim_end_matches('/'))
    {
        // `P/` answers like `P` (the nested root), as Python's `/` does.
        Some(prefix) if !prefix.is_empty() => Router::new()
            .route(
                &format!("{prefix}/"),
                crate::routes::data::viewer::root_route(&state),
            )
            .nest(prefix, api),
        _ => api,
    };
    app.route("/metrics", get(crate::metrics::guarded))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Any origin by default, like the Python server.
        .layer(crate::cors::CorsLayer::new(&state.config.cors_origins))
        .layer(crate::request_id::ObserveLayer {
            access_log: state.config.access_log.clone(),
        })
        .with_state(state)
}
