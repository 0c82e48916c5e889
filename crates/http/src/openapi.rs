//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/v1/openapi.json`. The legacy
//! generation's routes are the current ones at the root: they are copied
//! from the current operations rather than annotated twice, so the two
//! cannot disagree.

pub mod schemas;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::encoding::EncodingBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HttpMethod, OpenApi as Document, RefOr, Server};
use utoipa::{Modify, OpenApi};

use crate::routes::data::{assets, scans, viewer, write};
use crate::routes::{auth, authz, groups, health, sessions, users};
use crate::state::AppState;
use schemas as doc;

/// The name of the bearer security scheme operations refer to.
pub const BEARER: &str = "bearer";

/// The tag of the 0.14 root routes the web viewer calls.
pub const VIEWER_TAG: &str = "viewer (0.14)";

/// Current route, legacy route, and what the legacy one does differently.
const LEGACY: [(&str, &str, &str); 9] = [
    ("/api/v1/health", "/health", ""),
    ("/api/v1/health/live", "/health/live", ""),
    ("/api/v1/health/ready", "/health/ready", ""),
    ("/api/v1/auth/login", "/login", ""),
    (
        "/api/v1/auth/register",
        "/register",
        " The success message is `User successfully created`.",
    ),
    ("/api/v1/auth/logout", "/logout", ""),
    ("/api/v1/auth/token/validation", "/token-validation", ""),
    (
        "/api/v1/auth/token/refresh",
        "/token-refresh",
        " A missing `refresh_token` is 400 (the current route answers 401).",
    ),
    (
        "/api/v1/auth/token/create-api-token",
        "/create-api-token",
        "",
    ),
];

/// Routes served by the handler of another documented route: documented
/// path, the other path, and what differs. The copies are tagged as the
/// viewer generation's, with `viewer_` operation ids.
const VIEWER: [(&str, &str, &str); 5] = [
    (
        "/api/v1/assets/files/{path}",
        "/files/{path}",
        " The viewer fetches `files.json`, images and `SegmentedPointCloud.json` here.",
    ),
    ("/api/v1/assets/skeleton/{scan}", "/skeleton/{scan}", ""),
    ("/api/v1/assets/sequence/{scan}", "/sequence/{scan}", ""),
    ("/api/v1/refresh", "/refresh", ""),
    (
        "/pointcloud/{scan}/{fs}/{file}",
        "/pcGroundTruth/{scan}/{fs}/{file}",
        " Identical to `/pointcloud/...` (0.14 clients).",
    ),
];

/// Multipart parts whose own media type the server checks: (path of the
/// POST, part, media type).
const PART_TYPES: [(&str, &str, &str); 2] = [
    (
        "/api/v1/assets/archive/{scan}",
        "zip_file",
        "application/zip",
    ),
    ("/archive/{scan}", "zip_file", "application/zip"),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "plantdb-auth",
        description = "The PlantDB server: authentication and data. The auth API has two \
            generations: the current one under `/api/v1` (plantdb-server 0.17) and the legacy \
            one at the root (plantdb-server 0.15). The data API (scans, filesets, files, \
            metadata, previews, archives, timelapses) has two too: the current one under \
            `/api/v1` (plantdb-server 0.17) and plantdb 0.14's root routes, which the web \
            viewer calls. Data reads without a token are the `guest` account's; a token that \
            is sent must be valid. Every error, everywhere, is \
            `{\"error\", \"message\", \"code\"}` (`error` and `message` carry the same text). An unknown path is a JSON 404, a wrong \
            method a JSON 405. A deployment prefix (`--url-prefix`) goes in front of every path \
            but `/metrics`, and is then this document's server URL."
    ),
    paths(
        health::health,
        health::live,
        health::ready,
        auth::username_exists,
        auth::login,
        auth::register,
        auth::logout,
        auth::token_validation,
        auth::token_refresh,
        auth::create_api_token,
        sessions::list_sessions,
        sessions::revoke_session,
        sessions::logout_all,
        sessions::list_api_tokens,
        sessions::revoke_api_token,
        users::me,
        users::list_users,
        users::get_user,
        users::update_user,
        users::delete_user,
        users::change_password,
        groups::list_groups,
        groups::create_group,
        groups::get_group,
        groups::delete_group,
        groups::add_member,
        groups::remove_member,
        authz::scan,
        authz::verify,
        authz::scan_metadata,
        serve,
        scans::home,
        scans::refresh,
        scans::scans,
        scans::scans_info,
        scans::scan,
        scans::scan_metadata,
        scans::filesets,
        scans::fileset_metadata,
        scans::files,
        scans::file,
        scans::file_metadata,
        scans::timelapses,
        scans::timelapse,
        scans::timelapse_scans,
        assets::image,
        assets::file_path,
        assets::point_cloud,
        assets::mesh,
        assets::skeleton,
        assets::sequence,
        assets::archive,
        viewer::root_redirect,
        viewer::scans_info,
        viewer::scans,
        viewer::scan,
        viewer::image,
        viewer::point_cloud,
        viewer::mesh,
        viewer::archive,
        write::create_scan,
        write::scan_metadata,
        write::create_fileset,
        write::fileset_metadata,
        write::create_file,
        write::file_metadata,
        write::create_timelapse,
        write::delete_timelapse,
        write::upload_archive,
        write::upload_archive_014,
    ),
    components(
        schemas(
            doc::ErrorBody,
            doc::ErrorCode,
            doc::LoginErrorBody,
            doc::RegisterErrorBody,
            doc::Binary,
            doc::ImageBase64,
        ),
        responses(
            doc::BadRequest,
            doc::Unauthorized,
            doc::Forbidden,
            doc::NotFound,
            doc::Conflict,
            doc::PayloadTooLarge,
            doc::RateLimited,
            doc::LoginBadRequest,
            doc::LoginUnauthorized,
            doc::RegisterBadRequest,
            doc::RangeNotSatisfiable,
            doc::FileBytes,
            doc::PartialFile,
            doc::NotModified,
            doc::ImageBytes,
            doc::RequestTimeout,
            doc::Busy,
        )
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Is the server up"),
        (name = "auth", description = "Login, registration, tokens (both generations)"),
        (name = "sessions", description = "A user's sessions and API tokens"),
        (name = "users", description = "User accounts"),
        (name = "groups", description = "Groups scans are shared with"),
        (name = "authz", description = "Authorization decisions and forward authentication"),
        (name = "legacy", description = "plantdb-server 0.15's routes, at the root"),
        (name = "data", description = "The data API (plantdb-server 0.17): Home, refresh"),
        (name = "scans", description = "Scans: listings, scan-info documents, metadata"),
        (name = "filesets", description = "A scan's filesets: metadata, file listings"),
        (name = "files", description = "Files: bytes and metadata"),
        (name = "timelapses", description = "Timelapses and their scans"),
        (name = "assets", description = "Images, point clouds, meshes, skeletons, sequences, archives, files by path"),
        (name = "viewer (0.14)", description = "plantdb 0.14's root routes, which the ROMI web viewer (plant-3d-explorer) calls: the current routes' permissions, statuses and errors, 0.14 paths and URIs"),
        (name = "meta", description = "This document and the metrics"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "An access token from login; some routes also take an API token",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The whole document; `prefix` (`--url-prefix`) becomes its server URL.
pub fn document(prefix: Option<&str>) -> Document {
    let mut openapi = ApiDoc::openapi();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    for (current, legacy, note) in LEGACY {
        if let Some(item) = openapi.paths.get_path_item(current) {
            let copy = legacy_item(item, current, note);
            openapi.paths.paths.insert(legacy.to_string(), copy);
        }
    }
    for (documented, other, note) in VIEWER {
        if let Some(item) = openapi.paths.get_path_item(documented) {
            let copy = viewer_item(item, documented, note);
            openapi.paths.paths.insert(other.to_string(), copy);
        }
    }
    if let Some(item) = openapi.paths.get_path_item("/api/v1/") {
        // Home answers without the trailing slash too.
        let mut copy = item.clone();
        for (_, op) in operations_mut(&mut copy) {
            op.operation_id = op.operation_id.take().map(|id| format!("{id}_no_slash"));
        }
        openapi.paths.paths.insert("/api/v1".to_string(), copy);
    }
    for (path, part, media) in PART_TYPES {
        let body = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        let content = match body {
            Some(RefOr::T(b)) => b.content.get_mut("multipart/form-data"),
            _ => None,
        };
        if let Some(RefOr::T(content)) = content {
            let encoding = EncodingBuilder::new().content_type(Some(media)).build();
            content.encoding.insert(part.to_string(), encoding);
        }
    }
    optional_bodies_are_absent_not_null(&mut openapi);
    let mut metrics = metrics_item();
    let prefix = prefix.map(|p| p.trim_end_matches('/')).unwrap_or("");
    if !prefix.is_empty() {
        openapi.servers = Some(vec![Server::new(prefix)]);
        // The metrics stay at the root, outside the prefix.
        metrics.servers = Some(vec![Server::new("/")]);
    }
    openapi.paths.paths.insert("/metrics".to_string(), metrics);
    unique_operation_ids(&mut openapi);
    openapi
}

/// Every operation of a path item, with its method.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

fn legacy_item(item: &PathItem, current: &str, note: &str) -> PathItem {
    let mut copy = item.clone();
    for (_, op) in operations_mut(&mut copy) {
        op.operation_id = op.operation_id.take().map(|id| format!("legacy_{id}"));
        op.tags = Some(vec!["legacy".to_string()]);
        let legacy = format!("Legacy route (plantdb-server 0.15) of `{current}`.{note}");
        op.description = Some(match op.description.take() {
            Some(said) => format!("{said}\n\n{legacy}"),
            None => legacy,
        });
    }
    copy
}

/// An optional request body (`Option<T>`) is documented as `T | null`; the
/// server means "T, or no body": a JSON `null` is not an object (400).
fn optional_bodies_are_absent_not_null(openapi: &mut Document) {
    let null = serde_json::json!({"type": "null"});
    for item in openapi.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            let Some(RefOr::T(body)) = op.request_body.as_mut() else {
                continue;
            };
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else {
                    continue;
                };
                let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                    continue;
                };
                let mut kept = one_of
                    .items
                    .iter()
                    .filter(|s| serde_json::to_value(s).ok().as_ref() != Some(&null));
                if let (Some(only), None, 2) = (kept.next(), kept.next(), one_of.items.len()) {
                    content.schema = Some(only.clone());
                }
            }
        }
    }
}

fn viewer_item(item: &PathItem, documented: &str, note: &str) -> PathItem {
    let mut copy = item.clone();
    for (_, op) in operations_mut(&mut copy) {
        op.operation_id = op
            .operation_id
            .take()
            .map(|id| match id.strip_prefix("viewer_") {
                Some(_) => format!("{id}_ground_truth"),
                None => format!("viewer_{id}"),
            });
        op.tags = Some(vec![VIEWER_TAG.to_string()]);
        let same = format!("plantdb 0.14's route, served as `{documented}`.{note}");
        op.description = Some(match op.description.take() {
            Some(said) => format!("{said}\n\n{same}"),
            None => same,
        });
    }
    copy
}

/// `GET /metrics`, outside the URL prefix: Prometheus text, no handler
/// annotation because it lives with the metrics, not the API.
fn metrics_item() -> PathItem {
    let text = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("text/plain", Content::new(Some(text_schema())))
            .build()
    };
    let operation = OperationBuilder::new()
        .operation_id(Some("metrics"))
        .tag("meta")
        .summary(Some("Prometheus metrics (text exposition format)"))
        .response("200", text("The metrics"))
        .response("503", text("Metrics are disabled"))
        .build();
    PathItem::new(HttpMethod::Get, operation)
}

fn text_schema() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// Operation ids must be unique: an operation serving several methods
/// (`/api/v1/authz/verify`) gets one id per method.
fn unique_operation_ids(openapi: &mut Document) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for item in openapi.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in openapi.paths.paths.values_mut() {
        for (method, op) in operations_mut(item) {
            let shared = op.operation_id.as_ref().and_then(|id| seen.get(id)) > Some(&1);
            if shared {
                op.operation_id = op.operation_id.take().map(|id| format!("{id}_{method}"));
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub async fn serve(State(state): State<AppState>) -> Response {
    Json(document(state.config.url_prefix.as_deref())).into_response()
}

#[cfg(test)]
mod tests;
