//! The 0.14 root routes the ROMI web viewer (plant-3d-explorer) calls
//! (data-api.md §4), and the viewer build itself (`serve --viewer DIR`):
//! its landing page at `/`, its scan pages at `/viewer/<scan>`, its files
//! under `/viewer/`. Permissions, statuses and error bodies are those of
//! the matching current route; only the URIs in documents differ.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, get_service};
use axum::{Json, Router};
use plantdb_auth_service::data::assets::check_file_key;
use plantdb_auth_service::data::read::ListQuery;
use plantdb_data::filter;
use plantdb_data::scan_info::Generation;
use serde_json::{json, Value};
use tower_http::services::{ServeDir, ServeFile};

use super::assets::{self, cloud_size, image_size, preview_response};
use super::params::Params;
use super::scans::{info_list, json_bytes, refresh};
use super::{limited, run, send};
use crate::caller::{Auth, DataToken};
use crate::error::ApiError;
use crate::extract::path_params;
use crate::openapi::schemas as doc;
use crate::rate_limit::Bucket;
use crate::state::AppState;

type PathResult<T> = Result<Path<T>, axum::extract::rejection::PathRejection>;

/// `filterQuery` of the viewer: a JSON object filters as on the current
/// generation; any other text is the search box's content (§13.1).
fn viewer_query(params: &Params) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        fuzzy: params.bool("fuzzy")?,
        ..ListQuery::default()
    };
    if let Some(text) = params.get("filterQuery")?.or(params.get("query")?) {
        let text = text.trim();
        if !text.is_empty() {
            match filter::parse_filter_text(text) {
                Ok(map) => query.filter = Some(map),
                Err(_) => query.text_search = Some(text.to_string()),
            }
        }
    }
    Ok(query)
}

#[utoipa::path(
    get,
    path = "/scans_info",
    operation_id = "viewer_scans_info",
    tag = "viewer (0.14)",
    summary = "Scan-info documents (0.14 URIs) of the scans the caller may read",
    description = "What the viewer's landing page lists. A scan whose info cannot be computed appears as the degraded document (`error: true`).",
    params(doc::ViewerFilter),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Scan-info documents", body = Vec<doc::ViewerScanInfo>),
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
) -> Result<Response, ApiError> {
    let query = viewer_query(&params)?;
    let infos = run(&state, auth, false, move |data, access| {
        data.scans_info(access, &query, Generation::Viewer)
    })
    .await?;
    Ok(info_list(&infos))
}

#[utoipa::path(
    get,
    path = "/scans",
    operation_id = "viewer_list_scans",
    tag = "viewer (0.14)",
    summary = "Ids of the scans the caller may read, filtered",
    description = "As `GET /api/v1/scans` without `timelapse_id` and `sort`.",
    params(doc::ListFilter),
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
) -> Result<Json<Value>, ApiError> {
    let query = params.list_query(None, false, false)?;
    let ids = run(&state, auth, false, move |data, access| {
        data.list_scans(access, &query)
    })
    .await?;
    Ok(Json(json!(ids)))
}

#[utoipa::path(
    get,
    path = "/scans/{scan}",
    operation_id = "viewer_get_scan",
    tag = "viewer (0.14)",
    summary = "One scan's info document (0.14 URIs)",
    description = "The degraded document (`error: true`, still 200) when the info cannot be computed.",
    params(doc::ScanPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The scan-info document", body = doc::ViewerScanInfo),
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
        data.scan_info(access, &id, Generation::Viewer)
    })
    .await?;
    Ok(json_bytes(info.json.clone()))
}

#[utoipa::path(
    get,
    path = "/image/{scan}/{fs}/{file}",
    operation_id = "viewer_get_image",
    tag = "viewer (0.14)",
    summary = "An image, resized (JPEG preview, cached) or as stored",
    description = "As `GET /api/v1/assets/image/...`; `file` may also be the stored file name (the 0.14 pose URIs use names).",
    params(doc::ViewerFilePath, doc::ImageQuery, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, response = doc::ImageBytes),
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
async fn image(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    params: Params,
    path: PathResult<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    let size = image_size(&params)?;
    let as_base64 = params.bool("as_base64")?;
    check_file_key(&file)?;
    let preview = run(&state, auth, false, move |data, access| {
        data.image(access, &scan, &fs, &file, size)
    })
    .await?;
    preview_response(&headers, preview, as_base64, true).await
}

#[utoipa::path(
    get,
    path = "/pointcloud/{scan}/{fs}/{file}",
    operation_id = "viewer_get_point_cloud",
    tag = "viewer (0.14)",
    summary = "A point-cloud file: voxel-downsampled preview (cached) or original",
    description = "The named file must be a `.ply` (else 400). Also served at `/pcGroundTruth/...`.",
    params(doc::ViewerCloudPath, doc::ViewerCloudQuery, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A binary PLY", body = doc::Binary, content_type = "application/octet-stream",
            headers(
                ("Content-Disposition" = String, description = "`inline; filename=<name>`"),
                ("Cache-Control" = String, description = "`no-cache`"),
            )
        ),
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
async fn point_cloud(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    params: Params,
    path: PathResult<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    let size = cloud_size(&params)?;
    check_file_key(&file)?;
    let preview = run(&state, auth, false, move |data, access| {
        data.pointcloud_file(access, &scan, &fs, &file, size)
    })
    .await?;
    preview_response(&headers, preview, false, false).await
}

#[utoipa::path(
    get,
    path = "/mesh/{scan}/{fs}/{file}",
    operation_id = "viewer_get_mesh",
    tag = "viewer (0.14)",
    summary = "A mesh file, as stored",
    description = "The named file must be a `.ply` (else 400).",
    params(doc::ViewerMeshPath, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The PLY file", body = doc::Binary, content_type = "application/octet-stream",
            headers(
                ("ETag" = String, description = "Validator for `If-None-Match`"),
                ("Last-Modified" = String, description = "Validator for `If-Modified-Since`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("Content-Disposition" = String, description = "`inline; filename=<name>`"),
                ("Cache-Control" = String, description = "`no-cache`"),
            )
        ),
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
async fn mesh(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    path: PathResult<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    check_file_key(&file)?;
    let served = run(&state, auth, false, move |data, access| {
        data.mesh_file(access, &scan, &fs, &file)
    })
    .await?;
    send::file(&headers, served).await
}

#[utoipa::path(
    get,
    path = "/archive/{scan}",
    operation_id = "viewer_get_archive",
    tag = "viewer (0.14)",
    summary = "The scan as a zip archive (streamed), entries under `<scan>/`",
    description = "As `GET /api/v1/assets/archive/<scan>`, every entry name prefixed with `<scan>/` (as 0.14).",
    params(doc::ScanPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The zip archive", body = doc::Binary, content_type = "application/zip",
            headers(
                ("Content-Disposition" = String, description = "`inline; filename=<scan>.zip`"),
                ("Cache-Control" = String, description = "`no-cache`"),
            )
        ),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
async fn archive(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let scan = path_params(path)?;
    let plan = run(&state, auth, false, move |data, access| {
        data.archive(access, &scan, true)
    })
    .await?;
    Ok(assets::zip_response(plan.entries, &plan.file_name))
}

/// `/` without a viewer: the current generation's Home.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "root",
    tag = "data",
    summary = "The root: Home, or the viewer's landing page",
    description = "Redirects to the Home document; a server started with `--viewer DIR` answers the viewer's `index.html` instead (and serves the viewer build under `/viewer/`).",
    responses(
        (status = 302, description = "Redirect to Home",
            headers(("Location" = String, description = "`<prefix>/api/v1/`"))
        ),
        (status = 200, description = "The viewer's `index.html` (only with `--viewer`)", body = String, content_type = "text/html"),
    )
)]
async fn root_redirect(State(state): State<AppState>) -> Response {
    let target = format!(
        "{}/api/v1/",
        state
            .config
            .url_prefix
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
    );
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&target) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let read = |r| limited(r, state, Bucket::DataRead);
    let router = Router::new()
        .route("/scans_info", read(get(scans_info)))
        .route("/scans", read(get(scans)))
        .route("/scans/{scan}", read(get(scan)))
        .route("/files/{*path}", read(get(assets::file_path)))
        .route("/image/{scan}/{fs}/{file}", read(get(image)))
        .route("/pointcloud/{scan}/{fs}/{file}", read(get(point_cloud)))
        .route("/pcGroundTruth/{scan}/{fs}/{file}", read(get(point_cloud)))
        .route("/mesh/{scan}/{fs}/{file}", read(get(mesh)))
        .route("/skeleton/{scan}", read(get(assets::skeleton)))
        .route("/sequence/{scan}", read(get(assets::sequence)))
        .route(
            "/archive/{scan}",
            limited(get(archive), state, Bucket::Archive),
        )
        .route("/refresh", get(refresh));
    let router = match viewer_files(state) {
        Some(files) => router.nest_service("/viewer", files),
        None => router,
    };
    router.route("/", root_route(state))
}

/// `/`: the viewer's landing page with `--viewer`, else a redirect to Home.
pub fn root_route(state: &AppState) -> axum::routing::MethodRouter<AppState> {
    match &state.config.viewer_dir {
        Some(dir) => get_service(ServeFile::new(dir.join("index.html"))),
        None => get(root_redirect),
    }
}

/// The viewer's own files under `/viewer/` (scan pages fall back to its
/// `index.html`, the viewer routes them in the browser).
pub fn viewer_files(state: &AppState) -> Option<ServeDir<ServeFile>> {
    let dir = state.config.viewer_dir.as_ref()?;
    Some(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
}
