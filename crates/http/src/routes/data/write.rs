//! Write routes of the current generation (data-api.md §8.2, §9): scans,
//! filesets, files (multipart, streamed to disk), metadata, timelapses and
//! archive upload, plus the 0.14 archive upload. Bodies have their own
//! limits (§9.1, §13.4): JSON up to `max_json_body`, uploads up to
//! `max_upload_size`, counted while streaming (413 beyond), and an upload
//! that stalls longer than `upload_stall_timeout` is abandoned (408);
//! whatever it wrote is removed.

use std::io::Write;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use plantdb_auth_service::data::read::Level;
use plantdb_auth_service::data::write::{NewFile, WriteTarget};
use plantdb_auth_service::data::{data_access, Access, DataService};
use plantdb_auth_service::{AuthDb, AuthError};
use plantdb_data::fsdb::write::Upload;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::params::Params;
use super::{data_of, limited};
use crate::caller::{Auth, DataToken};
use crate::error::{ApiError, ErrorCode};
use crate::extract::path_params;
use crate::openapi::schemas as doc;
use crate::rate_limit::Bucket;
use crate::state::AppState;

type PathResult<T> = Result<Path<T>, axum::extract::rejection::PathRejection>;

/// The caller of a write, resolved once per request: a missing token is
/// 401 (no guest writes). Reads the in-memory account and group stores.
fn write_access(state: &AppState, auth: Auth<DataToken>) -> Result<Access, ApiError> {
    data_of(state)?;
    Ok(data_access(&state.db, auth.identity(), true)?)
}

/// Runs a write use-case off the async workers, with the account store at
/// hand.
async fn run_write<T, F>(state: &AppState, access: Access, job: F) -> Result<T, ApiError>
where
    F: FnOnce(&DataService, &AuthDb, &Access) -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    let data = data_of(state)?;
    state
        .blocking(move |db| job(&data, db, &access))
        .await?
        .map_err(ApiError::from)
}

fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "{what} too large: the limit is {} bytes (see --max-json-body / --max-upload-size)",
            limit
        ),
    )
}

/// The JSON body of a data write, read only once the caller and the
/// permission are checked (data-api.md §2.2: token, permission, then body),
/// so that nobody without the right can make the server buffer a body.
pub struct DataJson(axum::body::Body);

impl FromRequest<AppState> for DataJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(DataJson(req.into_body()))
    }
}

impl DataJson {
    /// The body as a JSON object, up to `max_json_body`; empty → `None`.
    async fn read(self, state: &AppState) -> Result<Option<Map<String, Value>>, ApiError> {
        let limit = state.config.max_json_body;
        let stall = state.config.upload_stall_timeout;
        let read = axum::body::to_bytes(self.0, usize::try_from(limit).unwrap_or(usize::MAX));
        let bytes = match tokio::time::timeout(stall, read).await {
            Err(_) => return Err(stalled(stall)),
            Ok(Err(_)) => return Err(too_large("Request body", limit)),
            Ok(Ok(bytes)) => bytes,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match plantdb_data::json::parse_request_body(&bytes) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            // Python's `get_json(silent=True)`: `null` is no body.
            Ok(Value::Null) => Ok(None),
            Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
            Err(e) => Err(crate::extract::body_error(e)),
        }
    }
}

fn stalled(stall: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Timeout,
        format!(
            "Request body stalled: no data for {} seconds; nothing was kept, send it again",
            stall.as_secs()
        ),
    )
}

/// Checks the caller and the permission of a write, before its body;
/// returns the caller.
async fn precheck(
    state: &AppState,
    auth: Auth<DataToken>,
    target: WriteTarget,
) -> Result<Access, ApiError> {
    let access = write_access(state, auth)?;
    run_write(state, access.clone(), move |data, _, access| {
        data.check_write(access, &target)
    })
    .await?;
    Ok(access)
}

fn metadata_field(
    body: &Option<Map<String, Value>>,
    required: bool,
) -> Result<Map<String, Value>, ApiError> {
    match body.as_ref().and_then(|b| b.get("metadata")) {
        Some(Value::Object(m)) => Ok(m.clone()),
        None | Some(Value::Null) if !required => Ok(Map::new()),
        None | Some(Value::Null) => Err(ApiError::bad_request(
            "No metadata provided in request: send {\"metadata\": {...}}",
        )),
        Some(_) => Err(ApiError::bad_request(
            "Metadata must be a dictionary (a JSON object)",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/scans/{scan}",
    operation_id = "create_scan",
    tag = "scans",
    summary = "Create an empty scan",
    description = "Needs CREATE (for an API token: granted on the new id). The new id: 1-128 of `A-Z a-z 0-9 _ -`, starting with a letter or digit (else 400).",
    params(doc::NewScanPath),
    request_body(content = Option<doc::CreateRequest>, description = "Optional JSON, whatever the Content-Type"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "`Scan created successfully`", body = doc::Created),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn create_scan(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
    body: DataJson,
) -> Result<Response, ApiError> {
    let id = path_params(path)?;
    let access = precheck(&state, auth, WriteTarget::NewScan(id.clone())).await?;
    let body = body.read(&state).await?;
    let metadata = metadata_field(&body, false)?;
    let answer_id = id.clone();
    run_write(&state, access, move |data, db, access| {
        data.create_scan(db, access, &id, metadata)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": "Scan created successfully", "id": answer_id})),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/filesets/{scan}/{fs}",
    operation_id = "create_fileset",
    tag = "filesets",
    summary = "Create an empty fileset in a scan",
    description = "Needs WRITE on the scan. The new id: 1-128 of `A-Z a-z 0-9 _ -`, starting with a letter or digit (else 400).",
    params(doc::NewFilesetPath),
    request_body(content = Option<doc::CreateRequest>, description = "Optional JSON, whatever the Content-Type (`fileset_id` and `scan_id`, which plantdb-client sends, are ignored)"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "`Fileset created successfully in '<scan>'.`", body = doc::Created),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn create_fileset(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<(String, String)>,
    body: DataJson,
) -> Result<Response, ApiError> {
    let (scan, fs) = path_params(path)?;
    let access = precheck(&state, auth, WriteTarget::Scan(scan.clone())).await?;
    let body = body.read(&state).await?;
    let metadata = metadata_field(&body, false)?;
    let (s, f) = (scan.clone(), fs.clone());
    run_write(&state, access, move |data, _, access| {
        data.create_fileset(access, &s, &f, metadata)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": format!("Fileset created successfully in '{scan}'."), "id": fs})),
    )
        .into_response())
}

async fn post_metadata(
    state: AppState,
    auth: Auth<DataToken>,
    level: Level,
    body: DataJson,
) -> Result<Json<Value>, ApiError> {
    let scan = match &level {
        Level::Scan(s) | Level::Fileset(s, _) | Level::File(s, _, _) => s.clone(),
    };
    let access = precheck(&state, auth, WriteTarget::Scan(scan)).await?;
    let body = body.read(&state).await?;
    let metadata = metadata_field(&body, true)?;
    let replace = match body.as_ref().and_then(|b| b.get("replace")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("'replace' must be true or false")),
    };
    let stored = run_write(&state, access, move |data, db, access| {
        data.update_metadata(db, access, &level, metadata, replace)
    })
    .await?;
    Ok(Json(json!({ "metadata": stored })))
}

#[utoipa::path(
    post,
    path = "/api/v1/scans/{scan}/metadata",
    operation_id = "update_scan_metadata",
    tag = "scans",
    summary = "Update a scan's metadata (merge, or replace)",
    description = "`owner` and `sharing` are removed at fileset and file level; on a scan, changing them needs `manage_users` (owner) or WRITE (sharing), and a scan's `timelapse.id` cannot change. `created`, `created_by` are kept; `last_modified` is set.",
    params(doc::ScanPath),
    request_body(content = doc::MetadataUpdate, description = "JSON, whatever the Content-Type"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The whole stored metadata after the update", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn scan_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
    body: DataJson,
) -> Result<Json<Value>, ApiError> {
    let scan = path_params(path)?;
    post_metadata(state, auth, Level::Scan(scan), body).await
}

#[utoipa::path(
    post,
    path = "/api/v1/filesets/{scan}/{fs}/metadata",
    operation_id = "update_fileset_metadata",
    tag = "filesets",
    summary = "Update a fileset's metadata (merge, or replace)",
    description = "`owner` and `sharing` are removed at fileset and file level; on a scan, changing them needs `manage_users` (owner) or WRITE (sharing), and a scan's `timelapse.id` cannot change. `created`, `created_by` are kept; `last_modified` is set.",
    params(doc::FilesetPath),
    request_body(content = doc::MetadataUpdate, description = "JSON, whatever the Content-Type"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The whole stored metadata after the update", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn fileset_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<(String, String)>,
    body: DataJson,
) -> Result<Json<Value>, ApiError> {
    let (scan, fs) = path_params(path)?;
    post_metadata(state, auth, Level::Fileset(scan, fs), body).await
}

#[utoipa::path(
    post,
    path = "/api/v1/files/{scan}/{fs}/{file}/metadata",
    operation_id = "update_file_metadata",
    tag = "files",
    summary = "Update a file's metadata (merge, or replace)",
    description = "`owner` and `sharing` are removed at fileset and file level; on a scan, changing them needs `manage_users` (owner) or WRITE (sharing), and a scan's `timelapse.id` cannot change. `created`, `created_by` are kept; `last_modified` is set.",
    params(doc::FilePath),
    request_body(content = doc::MetadataUpdate, description = "JSON, whatever the Content-Type"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The whole stored metadata after the update", body = doc::MetadataBody),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn file_metadata(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<(String, String, String)>,
    body: DataJson,
) -> Result<Json<Value>, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    post_metadata(state, auth, Level::File(scan, fs, file), body).await
}

#[utoipa::path(
    post,
    path = "/api/v1/timelapses",
    operation_id = "create_timelapse",
    tag = "timelapses",
    summary = "Create a timelapse",
    description = "Needs CREATE (for an API token: granted on the new id).",
    request_body(content = doc::TimelapseRequest, description = "JSON, whatever the Content-Type"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new timelapse", body = doc::Timelapse),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn create_timelapse(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    body: DataJson,
) -> Result<Response, ApiError> {
    let access = precheck(&state, auth, WriteTarget::NewTimelapse).await?;
    let Some(body) = body.read(&state).await? else {
        return Err(ApiError::bad_request(
            "Send a JSON object: {\"id\": \"<timelapse id>\", \"metadata\": {...}}",
        ));
    };
    let id = match body.get("id").or_else(|| body.get("name")) {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(ApiError::missing_field(
                "Missing 'id' (or 'name') of the timelapse to create",
            ))
        }
    };
    let metadata = metadata_field(&Some(body), false)?;
    let doc = run_write(&state, access, move |data, _, access| {
        data.create_timelapse(access, &id, metadata)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/timelapses/{tl}",
    operation_id = "delete_timelapse",
    tag = "timelapses",
    summary = "Delete a timelapse (moved to the database's trash)",
    description = "Needs DELETE. The timelapse directory is renamed into `<root>/.trash/`; its scans leave the index.",
    params(doc::TimelapsePath, doc::DeleteTimelapseQuery),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted (empty body)"),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn delete_timelapse(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    params: Params,
    path: PathResult<String>,
) -> Result<Response, ApiError> {
    let id = path_params(path)?;
    let recursive = params.bool("recursive")?;
    let access = write_access(&state, auth)?;
    run_write(&state, access, move |data, _, access| {
        data.delete_timelapse(access, &id, recursive)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "Upload too large",
        );
    }
    // The parser's own text stays in the log (no library messages to clients).
    tracing::debug!(error = %e.body_text(), "malformed multipart body");
    ApiError::bad_request(
        "Malformed multipart body: send multipart/form-data (e.g. curl -F file=@name -F ext=jpg)",
    )
}

/// Something a multipart field streams into: a file upload or an archive.
pub(crate) trait Sink: Send + 'static {
    fn file(&mut self) -> &mut std::fs::File;
}

impl Sink for Upload {
    fn file(&mut self) -> &mut std::fs::File {
        Upload::file(self)
    }
}

impl Sink for tempfile::NamedTempFile {
    fn file(&mut self) -> &mut std::fs::File {
        self.as_file_mut()
    }
}

/// Streams one multipart field into `sink` on a blocking thread, counting
/// bytes against `limit`; a field that stalls longer than `stall` fails.
async fn stream_field<T: Sink>(
    field: &mut axum::extract::multipart::Field<'_>,
    sink: T,
    limit: u64,
    guard: &BodyGuard,
) -> Result<(T, u64), ApiError> {
    let stall = guard.stall;
    let (tx, mut rx) = mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, sink.file());
        let mut outcome = Ok(());
        while let Some(chunk) = rx.blocking_recv() {
            if let Err(e) = out.write_all(&chunk) {
                outcome = Err(e);
                break;
            }
        }
        let outcome = outcome.and_then(|()| out.flush());
        drop(out);
        (sink, outcome)
    });
    let mut total: u64 = 0;
    let mut failure: Option<ApiError> = None;
    loop {
        match tokio::time::timeout(stall, field.chunk()).await {
            Err(_) => {
                failure = Some(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::Timeout,
                    format!(
                        "Upload stalled: no data for {} seconds; nothing was kept, send it again",
                        stall.as_secs()
                    ),
                ));
                break;
            }
            Ok(Err(e)) => {
                failure = Some(guard.error(e));
                break;
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                total += chunk.len() as u64;
                if total > limit {
                    failure = Some(too_large("Upload", limit));
                    break;
                }
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let (sink, written) = writer.await.map_err(|_| ApiError::internal())?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Err(e) = written {
        tracing::error!(error = %e, "writing an upload failed");
        return Err(ApiError::from(AuthError::Internal(format!(
            "writing an upload: {e}"
        ))));
    }
    Ok((sink, total))
}

async fn small_text(
    mut field: axum::extract::multipart::Field<'_>,
    limit: u64,
    name: &str,
    guard: &BodyGuard,
) -> Result<String, ApiError> {
    // Read chunk by chunk: an oversized field is refused as soon as it
    // passes the limit, never buffered whole.
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| guard.error(e))? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large(&format!("The '{name}' field"), limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request(format!("The '{name}' field must be UTF-8 text")))
}

/// Watches the body of an upload (installed by [`guard_body`]): whether it
/// stalled or passed the size limit, so that a multipart error caused by
/// either is answered 408 or 413 rather than 400.
#[derive(Debug, Clone, Default)]
pub struct BodyGuard {
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
    stall: Duration,
    limit: u64,
}

const BODY_STALLED: u8 = 1;
const BODY_TOO_LARGE: u8 = 2;

impl BodyGuard {
    fn set(&self, what: u8) {
        self.state.store(what, std::sync::atomic::Ordering::Relaxed);
    }

    fn error(&self, e: axum::extract::multipart::MultipartError) -> ApiError {
        match self.state.load(std::sync::atomic::Ordering::Relaxed) {
            BODY_STALLED => stalled(self.stall),
            BODY_TOO_LARGE => too_large("Upload", self.limit),
            _ => multipart_error(e),
        }
    }
}

/// Middleware of the upload routes: the request body fails when no byte
/// arrives for `upload_stall_timeout` or when it passes the largest
/// acceptable size, whichever field is being read.
pub async fn guard_body(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    use tokio_stream::StreamExt as _;
    let stall = state.config.upload_stall_timeout;
    let limit = state
        .config
        .max_upload_size
        .saturating_add(state.config.max_json_body)
        .saturating_add(1 << 20);
    let guard = BodyGuard {
        state: Default::default(),
        stall,
        limit: state.config.max_upload_size,
    };
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(guard.clone());
    let mut total: u64 = 0;
    let stream = body
        .into_data_stream()
        .timeout(stall)
        .map(move |item| match item {
            Err(_) => {
                guard.set(BODY_STALLED);
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body stalled",
                ))
            }
            Ok(Err(e)) => Err(std::io::Error::other(e)),
            Ok(Ok(bytes)) => {
                total = total.saturating_add(bytes.len() as u64);
                if total > limit {
                    guard.set(BODY_TOO_LARGE);
                    Err(std::io::Error::other("request body too large"))
                } else {
                    Ok(bytes)
                }
            }
        });
    next.run(Request::from_parts(
        parts,
        axum::body::Body::from_stream(stream),
    ))
    .await
}

/// The `metadata` field of an upload: JSON, else a Python literal (§9.3).
fn upload_metadata(text: &str) -> Result<Map<String, Value>, ApiError> {
    let value = plantdb_data::json::parse_lenient(text.as_bytes())
        .ok()
        .or_else(|| plantdb_data::pyliteral::parse(text).ok())
        .ok_or_else(|| {
            ApiError::bad_request("Invalid metadata format: must be JSON or a Python dict string")
        })?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "Invalid metadata format: must be a JSON object (a dictionary)",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/files/{scan}/{fs}/{file}",
    operation_id = "create_file",
    tag = "files",
    summary = "Upload a new file into a fileset",
    description = "Needs WRITE on the scan. The bytes stream to disk as sent; the data file is `<file>.<ext>`. The new id: 1-128 of `A-Z a-z 0-9 _ -`, starting with a letter or digit (else 400).",
    params(doc::NewFilePath),
    request_body(content = doc::FileUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "`File created and written successfully in fileset '<fs>'.`", body = doc::Created),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn create_file(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<(String, String, String)>,
    guard: Option<Extension<BodyGuard>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let (scan, fs, file) = path_params(path)?;
    let guard = guard.map(|Extension(g)| g).unwrap_or_default();
    let limits = (state.config.max_upload_size, state.config.max_json_body);
    let (s, f, id) = (scan.clone(), fs.clone(), file.clone());
    // Caller, permission, ids and existence first; then the body.
    let access = write_access(&state, auth)?;
    let upload = run_write(&state, access.clone(), move |data, _, access| {
        data.begin_upload(access, &s, &f, &id)
    })
    .await?;
    let mut multipart = multipart.map_err(|_| {
        ApiError::bad_request(
            "Send multipart/form-data with the fields 'file' and 'ext' (and optionally 'metadata')",
        )
    })?;
    let mut upload = Some(upload);
    let mut got_file = false;
    let mut ext: Option<String> = None;
    let mut metadata = Map::new();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| guard.error(e))? {
        match field.name().unwrap_or("") {
            "file" if !got_file => {
                let Some(u) = upload.take() else { break };
                let (u, _) = stream_field(&mut field, u, limits.0, &guard).await?;
                upload = Some(u);
                got_file = true;
            }
            "ext" => ext = Some(small_text(field, 64, "ext", &guard).await?),
            "metadata" => {
                let text = small_text(field, limits.1, "metadata", &guard).await?;
                if !text.trim().is_empty() {
                    metadata = upload_metadata(&text)?;
                }
            }
            _ => {
                // Unknown fields are drained and ignored.
                while field.chunk().await.map_err(|e| guard.error(e))?.is_some() {}
            }
        }
    }
    if !got_file {
        return Err(ApiError::bad_request(
            "No file provided: send the data in the multipart field 'file'",
        ));
    }
    let ext = ext.filter(|e| !e.trim().is_empty()).ok_or_else(|| {
        ApiError::missing_field("'ext' field is required (e.g. jpg, png, json, ply)")
    })?;
    let upload = upload.ok_or_else(ApiError::internal)?;
    let command = NewFile {
        scan: scan.clone(),
        fileset: fs.clone(),
        file: file.clone(),
        ext,
        metadata,
    };
    run_write(&state, access, move |data, _, access| {
        data.commit_upload(access, command, upload)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": format!("File created and written successfully in fileset '{fs}'."), "id": file})),
    )
        .into_response())
}

/// `POST /api/v1/assets/archive/<id>` and 0.14 `POST /archive/<id>`.
async fn upload_archive_with(
    state: AppState,
    auth: Auth<DataToken>,
    id: String,
    guard: BodyGuard,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    message: &'static str,
) -> Result<Json<Value>, ApiError> {
    let max_upload = state.config.max_upload_size;
    let id_check = id.clone();
    // Refuse early (auth, permission, id, existence) before reading the zip.
    let access = write_access(&state, auth)?;
    let upload = run_write(&state, access.clone(), move |data, _, access| {
        data.begin_archive(access, &id_check)
    })
    .await?;
    let mut multipart = multipart.map_err(|_| {
        ApiError::bad_request("Send multipart/form-data with the .zip file in the field 'zip_file'")
    })?;
    let mut upload = Some(upload);
    let mut got = false;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| guard.error(e))? {
        if field.name() != Some("zip_file") || got {
            while field.chunk().await.map_err(|e| guard.error(e))?.is_some() {}
            continue;
        }
        let type_ok = matches!(
            field.content_type(),
            Some("application/zip" | "application/x-zip-compressed")
        );
        let name_ok = field
            .file_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".zip"));
        if !type_ok || !name_ok {
            return Err(ApiError::bad_request(
                "The 'zip_file' part must be a .zip file sent as application/zip",
            ));
        }
        let Some(u) = upload.take() else { break };
        let (u, _) = stream_field(&mut field, u, max_upload, &guard).await?;
        upload = Some(u);
        got = true;
    }
    if !got {
        return Err(ApiError::bad_request(
            "No ZIP file provided: send it in the multipart field 'zip_file'",
        ));
    }
    let upload = upload.ok_or_else(ApiError::internal)?;
    let limits = plantdb_data::archive::ArchiveLimits {
        max_expanded: state.config.max_archive_expanded_size,
        ..plantdb_data::archive::ArchiveLimits::default()
    };
    let files = run_write(&state, access, move |data, db, access| {
        data.upload_archive(db, access, &id, upload, &limits)
    })
    .await?;
    Ok(Json(json!({"message": message, "files": files})))
}

#[utoipa::path(
    post,
    path = "/api/v1/assets/archive/{scan}",
    operation_id = "upload_archive",
    tag = "assets",
    summary = "Upload a scan as a zip archive: a new scan",
    description = "Needs CREATE (for an API token: granted on the new id); the id must be new (409). The archive is checked (structure, names, CRCs, sizes) and extracted whole or not at all; `owner` becomes the uploader (unless an admin uploads an archive naming an existing user), `sharing` keeps existing groups only.",
    params(doc::NewScanPath),
    request_body(content = doc::ArchiveUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`ZIP file processed successfully` and the extracted files", body = doc::ArchiveInstalled),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
async fn upload_archive(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
    guard: Option<Extension<BodyGuard>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_params(path)?;
    let guard = guard.map(|Extension(g)| g).unwrap_or_default();
    upload_archive_with(
        state,
        auth,
        id,
        guard,
        multipart,
        "ZIP file processed successfully",
    )
    .await
}

#[utoipa::path(
    post,
    path = "/archive/{scan}",
    operation_id = "viewer_upload_archive",
    tag = "viewer (0.14)",
    summary = "Upload a scan as a zip archive: a new scan",
    description = "As `POST /api/v1/assets/archive/<scan>`; the message is `Zip file processed successfully`.",
    params(doc::NewScanPath),
    request_body(content = doc::ArchiveUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Zip file processed successfully` and the extracted files", body = doc::ArchiveInstalled),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 408, response = doc::RequestTimeout),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 429, response = doc::RateLimited),
        (status = 503, response = doc::Busy),
    )
)]
pub(crate) async fn upload_archive_014(
    State(state): State<AppState>,
    auth: Auth<DataToken>,
    path: PathResult<String>,
    guard: Option<Extension<BodyGuard>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_params(path)?;
    let guard = guard.map(|Extension(g)| g).unwrap_or_default();
    upload_archive_with(
        state,
        auth,
        id,
        guard,
        multipart,
        "Zip file processed successfully",
    )
    .await
}

/// The write routes; merged with the read routes of the same paths.
pub fn routes(state: &AppState) -> Router<AppState> {
    let w = |r| limited(r, state, Bucket::DataWrite);
    let unlimited = axum::extract::DefaultBodyLimit::disable();
    let guarded = axum::middleware::from_fn_with_state(state.clone(), guard_body);
    Router::new()
        .route("/api/v1/scans/{scan}", w(post(create_scan)))
        .route("/api/v1/scans/{scan}/metadata", w(post(scan_metadata)))
        .route("/api/v1/timelapses", w(post(create_timelapse)))
        .route(
            "/api/v1/timelapses/{tl}",
            w(axum::routing::delete(delete_timelapse)),
        )
        .route("/api/v1/filesets/{scan}/{fs}", w(post(create_fileset)))
        .route(
            "/api/v1/filesets/{scan}/{fs}/metadata",
            w(post(fileset_metadata)),
        )
        .route(
            "/api/v1/files/{scan}/{fs}/{file}",
            w(post(create_file)).layer(unlimited).layer(guarded.clone()),
        )
        .route(
            "/api/v1/files/{scan}/{fs}/{file}/metadata",
            w(post(file_metadata)),
        )
        .route(
            "/api/v1/assets/archive/{scan}",
            limited(post(upload_archive), state, Bucket::Archive)
                .layer(unlimited)
                .layer(guarded.clone()),
        )
        .route(
            "/archive/{scan}",
            limited(post(upload_archive_014), state, Bucket::Archive)
                .layer(unlimited)
                .layer(guarded),
        )
}
