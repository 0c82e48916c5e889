//! Asset routes of the current generation (`/api/v1/assets/...`, data-api.md
//! §7, §8.1): previews, point clouds, meshes, skeletons, sequences,
//! archives and files by path. The 0.14 routes reuse the answer builders.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use plantdb_auth_service::data::assets::{
    CloudAnswer, CloudType, CoordinateSource, MeshAnswer, Preview,
};
use plantdb_auth_service::data::read::ServedFile;
use plantdb_data::archive::ArchiveEntry;
use plantdb_data::image::ImageSize;
use plantdb_data::pointcloud::{self, CloudSize};
use plantdb_data::DataError;
use serde_json::{json, Value};

use super::params::Params;
use super::send::{self, X_CONTENT_ENCODING};
use super::{limited, run};
use crate::caller::{Auth, DataToken};
use crate::error::ApiError;
use crate::extract::{path_params, ClientIp};
use crate::openapi::schemas as doc;
use crate::rate_limit::Bucket;
use crate::state::AppState;

type PathResult<T> = Result<Path<T>, axum::extract::rejection::PathRejection>;

pub(crate) fn image_size(params: &Params) -> Result<ImageSize, ApiError> {
    match params.get("size")? {
        None => Ok(ImageSize::Thumb),
        Some(text) => Ok(ImageSize::parse(text)?),
    }
}

pub(crate) fn cloud_size(params: &Params) -> Result<CloudSize, ApiError> {
    match params.get("size")? {
        None => Ok(CloudSize::Preview),
        Some(text) => Ok(CloudSize::parse(text)?),
    }
}

fn io_to_api(e: plantdb_data::DataError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A preview (or original) as a response; `as_base64`: Python's JSON form.
pub(crate) async fn preview_response(
    headers: &HeaderMap,
    preview: Preview,
    as_base64: bool,
    image: bool,
) -> Result<Response, ApiError> {
    if as_base64 {
        let (bytes, content_type) = match preview {
            Preview::Bytes {
                bytes,
                content_type,
                ..
            } => (bytes, content_type),
            Preview::File(f) => {
                let path = f.path.clone();
                let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .map_err(|_| ApiError::internal())?
                    .map_err(|e| {
                        tracing::error!(error = %e, "cannot read a preview");
                        ApiError::internal()
                    })?;
                (bytes, f.content_type)
            }
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut r = Json(json!({"image": encoded, "content-type": content_type})).into_response();
        r.headers_mut()
            .insert(X_CONTENT_ENCODING, HeaderValue::from_static("base64"));
        return Ok(r);
    }
    let mut r = match preview {
        Preview::File(f) => send::file(headers, f).await?,
        Preview::Bytes {
            bytes,
            name,
            content_type,
        } => send::bytes(bytes, &name, content_type),
    };
    if image {
        r.headers_mut()
            .insert(X_CONTENT_ENCODING, HeaderValue::from_static("binary"));
    }
    Ok(r)
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/image/{scan}/{fs}/{file}",
    operation_id = "get_image",
    tag = "assets",
    summary = "An image, resized (JPEG preview, cached) or as stored",
    description = "The preview keeps the aspect ratio inside a `size`×`size` box and never enlarges. Previews are cached in the scan's `webcache/`.",
    params(doc::FilePath, doc::ImageQuery, doc::FileRequestHeaders),
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
    plantdb_data::ids::lookup("file", &file)?;
    let preview = run(&state, auth, false, move |data, access| {
        data.image(access, &scan, &fs, &file, size)
    })
    .await?;
    preview_response(&headers, preview, as_base64, true).await
}

/// `/api/v1/assets/files/<path>` and 0.14 `/files/<path>`.
#[utoipa::path(
    get,
    path = "/api/v1/assets/files/{path}",
    operation_id = "get_file_by_path",
    tag = "assets",
    summary = "A file inside a scan directory, by its path",
    description = "Only regular files inside a served scan's directory (`files.json`, `metadata/...`, data files, `webcache/...`), READ on that scan; never a hidden component, never a file outside the scan (404).",
    params(doc::FileByPath, doc::FileRequestHeaders),
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
pub(crate) async fn file_path(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let path = path_params(path)?;
    let served = run(&state, auth, false, move |data, access| {
        data.file_path(access, &path)
    })
    .await?;
    send::file(&headers, served).await
}

pub(crate) fn coordinates_response(source: CoordinateSource) -> Response {
    send::streamed("application/json", None, move |out| {
        source.write_json(out).map_err(|e| match e {
            // Keeps the kind: a client that went away is not logged as a fault.
            DataError::Io { source, .. } => source,
            other => std::io::Error::other(other),
        })
    })
}

pub(crate) fn mesh_coordinates_response(mesh: pointcloud::Mesh) -> Response {
    send::streamed("application/json", None, move |out| {
        pointcloud::write_mesh_json(&mesh, out)
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/pointcloud/{scan}",
    operation_id = "get_point_cloud",
    tag = "assets",
    summary = "The scan's point cloud: voxel-downsampled preview (cached), original, or coordinates",
    description = "The file `PointCloud` of the scan's `PointCloud` task fileset (`type=gt`: `PointCloudGroundTruth`).",
    params(doc::ScanPath, doc::PointCloudQuery, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A binary PLY (`application/octet-stream`), or with `coords` the JSON coordinates",
            content(
                (doc::Binary = "application/octet-stream"),
                (doc::Coordinates = "application/json"),
            ),
            headers(
                ("Content-Disposition" = String, description = "`inline; filename=<name>` (PLY only)"),
                ("Cache-Control" = String, description = "`no-cache` (PLY only)"),
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
    ClientIp(ip): ClientIp,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    params: Params,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let scan = path_params(path)?;
    let size = cloud_size(&params)?;
    let coords = params.bool("coords")?;
    if coords {
        crate::rate_limit::check(&state, ip, Bucket::Heavy)?;
    }
    let kind = match params.get("type")? {
        Some("gt") => CloudType::GroundTruth,
        _ => CloudType::Default,
    };
    match run(&state, auth, false, move |data, access| {
        data.pointcloud(access, &scan, kind, size, coords)
    })
    .await?
    {
        CloudAnswer::Ply(preview) => preview_response(&headers, preview, false, false).await,
        CloudAnswer::Coordinates(cloud) => Ok(coordinates_response(cloud)),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/mesh/{scan}",
    operation_id = "get_mesh",
    tag = "assets",
    summary = "The scan's triangle mesh, or its vertices and triangles",
    description = "The file `TriangleMesh` of the scan's `TriangleMesh` task fileset, as stored.",
    params(doc::ScanPath, doc::MeshQuery, doc::FileRequestHeaders),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The PLY file (`application/octet-stream`), or with `coords` the JSON vertices and triangles",
            content(
                (doc::Binary = "application/octet-stream"),
                (doc::MeshCoordinates = "application/json"),
            ),
            headers(
                ("ETag" = String, description = "Validator for `If-None-Match` (PLY only)"),
                ("Content-Disposition" = String, description = "`inline; filename=<name>` (PLY only)"),
                ("Cache-Control" = String, description = "`no-cache` (PLY only)"),
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
    ClientIp(ip): ClientIp,
    auth: Auth<DataToken>,
    headers: HeaderMap,
    params: Params,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let scan = path_params(path)?;
    let _ignored = params.get("size")?;
    let coords = params.bool("coords")?;
    if coords {
        crate::rate_limit::check(&state, ip, Bucket::Heavy)?;
    }
    match run(&state, auth, false, move |data, access| {
        data.mesh(access, &scan, coords)
    })
    .await?
    {
        MeshAnswer::Ply(file) => {
            send::file(
                &headers,
                ServedFile {
                    content_type: "application/octet-stream",
                    ..file
                },
            )
            .await
        }
        MeshAnswer::Coordinates(mesh) => Ok(mesh_coordinates_response(mesh)),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/skeleton/{scan}",
    operation_id = "get_skeleton",
    tag = "assets",
    summary = "The scan's curve skeleton (JSON as stored)",
    description = "The file `CurveSkeleton` of the scan's `CurveSkeleton` task fileset, parsed, e.g. `{\"points\": [[x, y, z], ...], \"lines\": [[i, j], ...]}`.",
    params(doc::ScanPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The skeleton: any JSON value, as stored", body = serde_json::Value),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
pub(crate) async fn skeleton(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
) -> Result<Json<Value>, ApiError> {
    let scan = path_params(path)?;
    Ok(Json(
        run(&state, auth, false, move |data, access| {
            data.skeleton(access, &scan)
        })
        .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/sequence/{scan}",
    operation_id = "get_sequence",
    tag = "assets",
    summary = "The scan's angles and internodes (JSON), or one of their lists",
    description = "The file `AnglesAndInternodes` of the scan's `AnglesAndInternodes` task fileset, parsed; when the scan has a `measures.json`, its `angles` and `internodes` are added as `manual_angles` and `manual_internodes`.",
    params(doc::ScanPath, doc::SequenceQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The whole object (keys `angles`, `internodes`, `fruit_points`, ...), or with `type` that key's value: any JSON value", body = serde_json::Value),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 429, response = doc::RateLimited),
    )
)]
pub(crate) async fn sequence(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<String>,
) -> Result<Json<Value>, ApiError> {
    let scan = path_params(path)?;
    let kind = params.get("type")?.map(str::to_string);
    Ok(Json(
        run(&state, auth, false, move |data, access| {
            data.sequence(access, &scan, kind.as_deref())
        })
        .await?,
    ))
}

pub(crate) fn zip_response(entries: Vec<ArchiveEntry>, file_name: &str) -> Response {
    let mut r = send::streamed("application/zip", Some(file_name), move |out| {
        plantdb_data::archive::write_zip(&entries, out)
            .map(|_| ())
            .map_err(io_to_api)
    });
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/archive/{scan}",
    operation_id = "get_archive",
    tag = "assets",
    summary = "The scan as a zip archive (streamed)",
    description = "Every regular file of the scan directory, names relative to it, stored (no compression), ZIP64 when needed; hidden files and `webcache/` left out.",
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
        data.archive(access, &scan, false)
    })
    .await?;
    Ok(zip_response(plan.entries, &plan.file_name))
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let read = |r| limited(r, state, Bucket::DataRead);
    Router::new()
        .route("/api/v1/assets/image/{scan}/{fs}/{file}", read(get(image)))
        .route("/api/v1/assets/files/{*path}", read(get(file_path)))
        .route("/api/v1/assets/pointcloud/{scan}", read(get(point_cloud)))
        .route("/api/v1/assets/mesh/{scan}", read(get(mesh)))
        .route("/api/v1/assets/skeleton/{scan}", read(get(skeleton)))
        .route("/api/v1/assets/sequence/{scan}", read(get(sequence)))
        .route(
            "/api/v1/assets/archive/{scan}",
            limited(get(archive), state, Bucket::Archive),
        )
}
