//! The PlantDB data API over HTTP (data-api.md): the current generation
//! under `/api/v1` ([`scans`], [`assets`]) and the 0.14 root routes the
//! ROMI web viewer calls ([`viewer`]). Handlers extract, run one data
//! use-case as one blocking job ([`run`]), and shape the answer; files are
//! streamed by [`send`].

pub mod assets;
pub mod params;
pub mod scans;
pub mod send;
pub mod viewer;
pub mod write;

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use axum::routing::{get, MethodRouter};
use axum::Router;
use plantdb_auth_service::data::{data_access, Access, DataService};
use plantdb_auth_service::AuthError;

use crate::caller::{Auth, DataToken};
use crate::error::ApiError;
use crate::rate_limit::Bucket;
use crate::state::AppState;

/// The bearer token of a data request. Unlike the auth routes, an
/// `Authorization` header that is not `Bearer <token>` is not ignored: it
/// is an invalid token (data-api.md §2.2).
#[derive(Debug, Clone, Default)]
pub struct DataBearer(pub Option<String>);

impl DataBearer {
    pub fn from_headers(headers: &HeaderMap) -> DataBearer {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let Some(first) = values.next() else {
            return DataBearer(None);
        };
        let invalid = || DataBearer(Some("invalid-authorization-header".into()));
        if values.next().is_some() {
            return invalid();
        }
        let Ok(text) = first.to_str() else {
            return invalid();
        };
        match text.trim().split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                DataBearer(Some(token.trim().to_string()))
            }
            _ => invalid(),
        }
    }
}

pub(crate) fn data_of(state: &AppState) -> Result<Arc<DataService>, ApiError> {
    state.data.clone().ok_or_else(|| {
        ApiError::not_found("This server has no database directory: the data API is not available")
    })
}

/// Runs one data use-case off the async workers, with the caller the
/// `Auth` extractor resolved. `write`: an anonymous request is 401 instead
/// of the guest account.
pub async fn run<T, F>(
    state: &AppState,
    auth: Auth<DataToken>,
    write: bool,
    job: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&DataService, &Access) -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    let data = data_of(state)?;
    state
        .blocking(move |db| {
            let access = data_access(db, auth.identity(), write)?;
            job(&data, &access)
        })
        .await?
        .map_err(ApiError::from)
}

/// Runs a data job that needs no caller (timelapse listing): anonymous
/// requests need no `guest` account, but a token that is present must
/// still be valid (§2.3 last row).
pub async fn run_public<T, F>(
    state: &AppState,
    auth: Auth<DataToken>,
    job: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&DataService) -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    auth.identity().optional()?;
    let data = data_of(state)?;
    state
        .blocking(move |_| job(&data))
        .await?
        .map_err(ApiError::from)
}

pub(crate) fn limited(
    route: MethodRouter<AppState>,
    state: &AppState,
    bucket: Bucket,
) -> MethodRouter<AppState> {
    route.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), bucket),
        crate::rate_limit::limit,
    ))
}

/// Every data route of both generations (inside the deployment prefix).
pub fn routes(state: &AppState) -> Router<AppState> {
    scans::routes(state)
        .merge(assets::routes(state))
        .merge(viewer::routes(state))
        .merge(write::routes(state))
        .route("/api/v1/", get(scans::home))
        .route("/api/v1", get(scans::home))
}
