//! Current-generation routes (`/api/v1/...`): Home, refresh, scans,
//! scan info, metadata, filesets, files, timelapses (data-api.md §3).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use plantdb_auth_service::data::read::Level;
use plantdb_data::scan_info::{Generation, ScanInfo};
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::params::Params;
use super::{limited, run, run_public, send};
use crate::caller::{Auth, DataToken};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{path_params, ClientIp};
use crate::openapi::schemas as doc;
use crate::rate_limit::Bucket;
use crate::state::AppState;

type PathResult<T> = Result<Path<T>, axum::extract::rejection::PathRejection>;

/// The JSON body of a GET, as Python's `get_json(silent=True)`: anything
/// that is not a JSON object counts as no body.
#[derive(Debug, Default)]
pub struct SilentJson(pub Option<Map<String, Value>>);

impl<S: Send + Sync> FromRequest<S> for SilentJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "Request body too large: a filterQuery body is limited to 64 KiB",
                ))
            }
            Err(_) => Bytes::new(),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(SilentJson(None));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(SilentJson(Some(m))),
            _ => Ok(SilentJson(None)),
        }
    }
}

/// `[doc, doc, ...]` from the cached serialised documents.
pub fn info_list(infos: &[Arc<ScanInfo>]) -> Response {
    let mut body = Vec::with_capacity(infos.iter().map(|i| i.json.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, info) in infos.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&info.json);
    }
    body.push(b']');
    json_bytes(body)
}

pub fn json_bytes(body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[utoipa::path(
    get,
    path = "/api/v1/",
    operation_id = "home",
    tag = "data",
    summary = "Home: the data API's overview",
    description = "What the API serves, by group: each key is a path template (with the deployment prefix), each value a one-line description. Also served at `/api/v1`.",
    responses((status = 200, description = "The overview", body = doc::Home))
)]
pub async fn home(State(state): State<AppState>) -> Json<Value> {
    let p = format!(
        "{}/api/v1",
        state
            .config
            .url_prefix
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
    );
    let version = env!("CARGO_PKG_VERSION");
    let group = |items: &[(&str, &str)]| -> Value {
        Value::Object(
            items
                .iter()
                .map(|(k, v)| (format!("{p}{k}"), Value::String((*v).into())))
                .collect(),
        )
    };
    Json(json!({
        "name": "PlantDB REST API",
        "description": "PlantDB's REST API served by plantdb-auth: scans, filesets, files, metadata, previews and archives, with authentication",
        "plantdb.commons": version,
        "plantdb.server": version,
        "base endpoints": group(&[
            ("/", "This overview of the API"),
            ("/health", "Whether the server and its database are up"),
            ("/refresh?scan_id='scan_id'", "Re-read the database (or one scan) from disk"),
        ]),
        "authentication endpoints": group(&[
            ("/auth/login", "GET: does a username exist; POST: log in and get tokens"),
            ("/auth/logout", "End the session of the token sent"),
            ("/auth/register", "Create an account (needs manage_users)"),
            ("/auth/token/validation", "Check a token and tell whose it is"),
            ("/auth/token/refresh", "Trade a refresh token for a new pair"),
            ("/auth/token/create-api-token", "Mint a long-lived API token scoped to datasets"),
        ]),
        "scans endpoints": group(&[
            ("/scans", "GET: ids of the scans you may read, filtered by filterQuery"),
            ("/scans/info", "Scan-info documents of the scans you may read"),
            ("/scans/scan_id", "GET: one scan's info; POST: create a scan"),
            ("/scans/scan_id/metadata", "GET or POST (merge) the scan's metadata"),
            ("/scans/scan_id/filesets", "Ids of the scan's filesets"),
        ]),
        "filesets endpoints": group(&[
            ("/filesets/scan_id/fileset_id", "POST: create a fileset"),
            ("/filesets/scan_id/fileset_id/metadata", "GET or POST the fileset's metadata"),
            ("/filesets/scan_id/fileset_id/files", "Ids of the fileset's files"),
        ]),
        "files endpoints": group(&[
            ("/files/scan_id/fileset_id/file_id", "GET: the file's bytes; POST: upload a file"),
            ("/files/scan_id/fileset_id/file_id/metadata", "GET or POST the file's metadata"),
        ]),
        "assets endpoints": group(&[
            ("/assets/files/file_path", "A file inside a scan, by its path"),
            ("/assets/image/scan_id/fileset_id/file_id", "An image, resized (size=thumb|large|orig|N)"),
            ("/assets/archive/scan_id", "GET: the scan as a zip; POST: upload a scan as a zip"),
            ("/assets/pointcloud/scan_id?type=default", "The point cloud (size=preview|orig|voxel)"),
            ("/assets/mesh/scan_id", "The triangle mesh"),
            ("/assets/sequence/scan_id?type=all", "Angles and internodes"),
            ("/assets/skeleton/scan_id", "The curve skeleton"),
        ]),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/refresh",
    operation_id = "refresh",
    tag = "data",
    summary = "Re-read the database, or one scan, from disk",
    description = "Rarely needed: the index notices changes by itself. A present token must be valid.",
    params(doc::RefreshQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`Successfully reloaded entire database with <n> scans.` or `Successfully reloaded scan '<id>'.`", body = doc::MessageBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth<DataToken>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let scan = params.get("scan_id")?.map(str::to_string);
    // Separate budgets for the whole database and for one scan (§10.2).
    let bucket = if scan.is_some() {
        Bucket::RefreshScan
    } else {
        Bucket::Refresh
    };
    crate::rate_limit::check(&state, ip, bucket)?;
    // A read: guest-default like the other reads (§13.3).
    let message = run(&state, auth, false, move |data, _| {
        data.refresh(scan.as_deref())
    })
    .await?;
    Ok(Json(json!({ "message": message })))
}

#[utoipa::path(
    get,
    path = "/api/v1/scans",
    operation_id = "list_scans",
    tag = "scans",
    summary = "Ids of the scans the caller may read, filtered",
    description = "Without a token: as the `guest` account. Ascending id unless `sort` says otherwise.",
    params(doc::ListFilter, doc::ScanListing),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Scan ids", body = Vec<String>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn scans(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    body: SilentJson,
) -> Result<Json<Value>, ApiError> {
    let query = params.list_query(body.0.as_ref(), true, true)?;
    let ids = run(&state, auth, false, move |data, access| {
        data.list_scans(access, &query)
    })
    .await?;
    Ok(Json(json!(ids)))
}

#[utoipa::path(
    get,
    path = "/api/v1/scans/info",
    operation_id = "list_scans_info",
    tag = "scans",
    summary = "Scan-info documents of the scans the caller may read, filtered",
    description = "A scan whose info cannot be computed appears as the degraded document (`error: true`); it never fails the list.",
    params(doc::ListFilter, doc::ScanListing),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Scan-info documents", body = Vec<doc::ScanInfo>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn scans_info(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    body: SilentJson,
) -> Result<Response, ApiError> {
    let query = params.list_query(body.0.as_ref(), true, true)?;
    let infos = run(&state, auth, false, move |data, access| {
        data.scans_info(access, &query, Generation::Current)
    })
    .await?;
    Ok(info_list(&infos))
}

#[utoipa::path(
    get,
    path = "/api/v1/scans/{scan}",
    operation_id = "get_scan",
    tag = "scans",
    summary = "One scan's info document",
    description = "The degraded document (`error: true`, still 200) when the info cannot be computed.",
    params(doc::ScanPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The scan-info document", body = doc::ScanInfo),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn scan(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let id = path_params(path)?;
    let info = run(&state, auth, false, move |data, access| {
        data.scan_info(access, &id, Generation::Current)
    })
    .await?;
    Ok(json_bytes(info.json.clone()))
}

async fn metadata_answer(
    state: &AppState,
    auth: Auth<DataToken>,
    level: Level,
    params: &Params,
) -> Result<Json<Value>, ApiError> {
    let key = params.get("key")?.map(str::to_string);
    let value = run(state, auth, false, move |data, access| {
        data.metadata(access, &level, key.as_deref())
    })
    .await?;
    Ok(Json(json!({ "metadata": value })))
}

#[utoipa::path(
    get,
    path = "/api/v1/scans/{scan}/metadata",
    operation_id = "get_scan_metadata",
    tag = "scans",
    summary = "A scan's metadata, or one key of it",
    params(doc::ScanPath, doc::MetadataKey),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`{\"metadata\": <object>}`; with `key`: that key's value, `{}` when absent", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn scan_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<String>,
) -> Result<Json<Value>, ApiError> {
    let scan = path_params(path)?;
    metadata_answer(&state, auth, Level::Scan(scan), &params).await
}

#[utoipa::path(
    get,
    path = "/api/v1/filesets/{scan}/{fs}/metadata",
    operation_id = "get_fileset_metadata",
    tag = "filesets",
    summary = "A fileset's metadata, or one key of it",
    params(doc::FilesetPath, doc::MetadataKey),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`{\"metadata\": <object>}`; with `key`: that key's value, `{}` when absent", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn fileset_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (scan, fs) = path_params(path)?;
    metadata_answer(&state, auth, Level::Fileset(scan, fs), &params).await
}

#[utoipa::path(
    get,
    path = "/api/v1/files/{scan}/{fs}/{file}/metadata",
    operation_id = "get_file_metadata",
    tag = "files",
    summary = "A file's metadata, or one key of it",
    params(doc::FilePath, doc::MetadataKey),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`{\"metadata\": <object>}`; with `key`: that key's value, `{}` when absent", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn file_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    metadata_answer(&state, auth, Level::File(scan, fs, file), &params).await
}

#[utoipa::path(
    get,
    path = "/api/v1/scans/{scan}/filesets",
    operation_id = "list_filesets",
    tag = "filesets",
    summary = "Ids of a scan's filesets, filtered on their metadata",
    params(doc::ScanPath, doc::ListFilter),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Fileset ids", body = doc::FilesetList),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn filesets(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<String>,
    body: SilentJson,
) -> Result<Json<Value>, ApiError> {
    let scan = path_params(path)?;
    let query = params.list_query(body.0.as_ref(), false, false)?;
    let ids = run(&state, auth, false, move |data, access| {
        data.filesets(access, &scan, &query)
    })
    .await?;
    Ok(Json(json!({ "filesets": ids })))
}

#[utoipa::path(
    get,
    path = "/api/v1/filesets/{scan}/{fs}/files",
    operation_id = "list_files",
    tag = "filesets",
    summary = "Ids of a fileset's files, filtered on their metadata",
    params(doc::FilesetPath, doc::ListFilter),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "File ids", body = doc::FileList),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn files(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<(String, String)>,
    body: SilentJson,
) -> Result<Json<Value>, ApiError> {
    let (scan, fs) = path_params(path)?;
    let query = params.list_query(body.0.as_ref(), false, false)?;
    let ids = run(&state, auth, false, move |data, access| {
        data.files(access, &scan, &fs, &query)
    })
    .await?;
    Ok(Json(json!({ "files": ids })))
}

#[utoipa::path(
    get,
    path = "/api/v1/files/{scan}/{fs}/{file}",
    operation_id = "get_file",
    tag = "files",
    summary = "A file's bytes",
    params(doc::FilePath, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, response = doc::FileBytes),
        (status = 206, response = doc::PartialFile),
        (status = 304, response = doc::NotModified),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 416, response = doc::RangeNotSatisfiable),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn file(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    path: PathResult<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    let served = run(&state, auth, false, move |data, access| {
        data.file(access, &scan, &fs, &file)
    })
    .await?;
    send::file(&headers, served).await
}

#[utoipa::path(
    get,
    path = "/api/v1/timelapses",
    operation_id = "list_timelapses",
    tag = "timelapses",
    summary = "Ids of the timelapses, sorted",
    description = "No permission needed; a present token must be valid.",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Timelapse ids", body = Vec<String>),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn timelapses(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
) -> Result<Json<Value>, ApiError> {
    let ids = run_public(&state, auth, |data| Ok(data.timelapses())).await?;
    Ok(Json(json!(ids)))
}

#[utoipa::path(
    get,
    path = "/api/v1/timelapses/{tl}",
    operation_id = "get_timelapse",
    tag = "timelapses",
    summary = "One timelapse",
    description = "No permission needed; a present token must be valid.",
    params(doc::TimelapsePath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The timelapse", body = doc::Timelapse),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn timelapse(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_params(path)?;
    let doc = run_public(&state, auth, move |data| data.timelapse(&id)).await?;
    Ok(Json(doc))
}

#[utoipa::path(
    get,
    path = "/api/v1/timelapses/{tl}/scans",
    operation_id = "list_timelapse_scans",
    tag = "timelapses",
    summary = "Ids of a timelapse's scans the caller may read",
    description = "Sorted by `timelapse.scheduled` by default; an unknown timelapse has no scans (`[]`).",
    params(doc::TimelapsePath, doc::TimelapseScansQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Scan ids", body = Vec<String>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn timelapse_scans(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_params(path)?;
    // This route takes only `fuzzy` and `sort` (§3.1 #16).
    let mut query = plantdb_auth_service::data::read::ListQuery {
        fuzzy: params.bool("fuzzy")?,
        ..Default::default()
    };
    query.sort = plantdb_data::filter::SortOrder::parse(Some(
        params.get("sort")?.unwrap_or("timelapse.scheduled"),
    ));
    let ids = run(&state, auth, false, move |data, access| {
        data.timelapse_scans(access, &id, &query)
    })
    .await?;
    Ok(Json(json!(ids)))
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let read = |r| limited(r, state, Bucket::DataRead);
    Router::new()
        .route("/api/v1/refresh", get(refresh))
        .route("/api/v1/scans", read(get(scans)))
        .route("/api/v1/scans/info", read(get(scans_info)))
        .route("/api/v1/scans/{scan}", read(get(scan)))
        .route("/api/v1/scans/{scan}/metadata", read(get(scan_metadata)))
        .route("/api/v1/scans/{scan}/filesets", read(get(filesets)))
        .route("/api/v1/timelapses", read(get(timelapses)))
        .route("/api/v1/timelapses/{tl}", read(get(timelapse)))
        .route("/api/v1/timelapses/{tl}/scans", read(get(timelapse_scans)))
        .route(
            "/api/v1/filesets/{scan}/{fs}/metadata",
            read(get(fileset_metadata)),
        )
        .route("/api/v1/filesets/{scan}/{fs}/files", read(get(files)))
        .route("/api/v1/files/{scan}/{fs}/{file}", read(get(file)))
        .route(
            "/api/v1/files/{scan}/{fs}/{file}/metadata",
            read(get(file_metadata)),
        )
}
