//! The shapes of the API's bodies: the OpenAPI document's schemas, and for
//! the auth routes the very types the handlers answer with (login,
//! register, logout, refresh, API tokens, sessions, users, groups,
//! messages, decisions; the service's views are converted at the edge,
//! field for field), so that document and answers cannot drift. The data routes' documents
//! (scan info, metadata) are built by the data crate and described here;
//! the schemathesis run in CI checks that they agree.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToResponse, ToSchema};

/// The machine code of an error: the type the handlers answer with.
pub use crate::error::ErrorCode;

/// Every error: `error` (the current generation's key) and `message` (the
/// legacy one) carry the same text.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    pub code: ErrorCode,
}

/// A failed login: plus `authenticated: false`, which the Python server's
/// clients read (absent when the body itself could not be read).
#[derive(Serialize, ToSchema)]
pub struct LoginErrorBody {
    #[serde(flatten)]
    pub error: ErrorBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub authenticated: Option<bool>,
}

/// A failed registration: plus `success: false` when a field is missing.
#[derive(Serialize, ToSchema)]
pub struct RegisterErrorBody {
    #[serde(flatten)]
    pub error: ErrorBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub success: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub enum Permission {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "write")]
    Write,
    #[serde(rename = "create")]
    Create,
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "manage_users")]
    ManageUsers,
    #[serde(rename = "manage_groups")]
    ManageGroups,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Contributor,
    Admin,
}

impl From<plantdb_auth_core::model::Role> for Role {
    fn from(r: plantdb_auth_core::model::Role) -> Self {
        use plantdb_auth_core::model::Role as R;
        match r {
            R::Reader => Role::Reader,
            R::Contributor => Role::Contributor,
            R::Admin => Role::Admin,
        }
    }
}

impl From<plantdb_auth_core::model::Permission> for Permission {
    fn from(p: plantdb_auth_core::model::Permission) -> Self {
        use plantdb_auth_core::model::Permission as P;
        match p {
            P::Read => Permission::Read,
            P::Write => Permission::Write,
            P::Create => Permission::Create,
            P::Delete => Permission::Delete,
            P::ManageUsers => Permission::ManageUsers,
            P::ManageGroups => Permission::ManageGroups,
        }
    }
}

// ---- errors as reusable responses ----

/// Bad input: malformed JSON, a body that is not an object, a missing or
/// wrongly typed field, an invalid value.
#[derive(ToResponse)]
pub struct BadRequest(#[allow(dead_code)] ErrorBody);

/// No token (where one is required, or anonymous reads are disabled), or a
/// token that is invalid, expired, revoked or of the wrong kind (on the
/// data routes: any `Authorization` header that is not a valid
/// `Bearer` access or API token).
#[derive(ToResponse)]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// The caller is authenticated but lacks the permission (or the rank).
#[derive(ToResponse)]
pub struct Forbidden(#[allow(dead_code)] ErrorBody);

/// The named user, group, session, API token, scan, fileset, file or
/// timelapse does not exist (or is not the caller's to see); on the data
/// routes also: the server has no database directory.
#[derive(ToResponse)]
pub struct NotFound(#[allow(dead_code)] ErrorBody);

/// The request conflicts with the current state (a name that is taken,
/// the last active admin, a group's creator).
#[derive(ToResponse)]
pub struct Conflict(#[allow(dead_code)] ErrorBody);

/// The request body is over its limit: 64 KiB on the auth routes; on the
/// data routes `--max-json-body` (JSON, default 8 MiB) and
/// `--max-upload-size` (uploads, default 8 GiB), and for an archive the
/// expanded size or entry count.
#[derive(ToResponse)]
pub struct PayloadTooLarge(#[allow(dead_code)] ErrorBody);

/// The request body stalled (no data for `--upload-stall-timeout`);
/// nothing was kept.
#[derive(ToResponse)]
pub struct RequestTimeout(#[allow(dead_code)] ErrorBody);

/// The database is busy: a lock could not be taken in time; nothing was
/// changed.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))]
pub struct Busy(#[allow(dead_code)] ErrorBody);

/// Too many requests from this client in the last 60 seconds.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds until a request is counted again")))]
pub struct RateLimited(#[allow(dead_code)] ErrorBody);

// ---- success bodies ----

/// A one-line answer.
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    pub message: String,
}

impl MessageBody {
    pub fn new(message: impl Into<String>) -> MessageBody {
        MessageBody {
            message: message.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub enum HealthyStatus {
    #[serde(rename = "healthy")]
    Healthy,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub location: String,
    #[schema(minimum = 0)]
    pub scan_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    pub status: HealthyStatus,
    pub message: String,
    pub database: DatabaseHealth,
}

#[derive(Serialize, ToSchema)]
pub enum UnhealthyStatus {
    #[serde(rename = "error")]
    Error,
    /// Reads work, writes fail (a full disk).
    #[serde(rename = "degraded")]
    Degraded,
}

#[derive(Serialize, ToSchema)]
pub enum AliveStatus {
    #[serde(rename = "alive")]
    Alive,
}

/// The process answers.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    pub status: AliveStatus,
}

/// Readiness and its checks (`store`, `storage`, `sessions`, `data`), each
/// `ok` or what is wrong (`unreachable`, `failing`, `stale`, `absent`).
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    pub status: String,
    pub checks: std::collections::BTreeMap<String, String>,
}

/// The database cannot be read.
#[derive(Serialize, ToSchema)]
pub struct HealthError {
    pub status: UnhealthyStatus,
    #[serde(flatten)]
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct UsernameExists {
    pub username: String,
    pub exists: bool,
}

/// Basic user information, as login and token validation return it.
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub username: String,
    pub fullname: String,
}

impl From<plantdb_auth_service::UserInfo> for UserInfo {
    fn from(u: plantdb_auth_service::UserInfo) -> Self {
        UserInfo {
            username: u.username,
            fullname: u.fullname,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginSuccess {
    pub message: String,
    pub user: UserInfo,
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterRequest {
    /// 1-64 characters of `a-z 0-9 . _ -` (any case), stored lower-case.
    #[schema(example = "alice", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub username: String,
    /// At most 256 characters, no control characters.
    #[schema(example = "Alice Liddell", max_length = 256)]
    pub fullname: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery staple", min_length = 8)]
    pub password: String,
    /// Roles of the new user (default `reader`); at most the caller's rank.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub roles: Option<Vec<Role>>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterSuccess {
    pub success: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenValidation {
    pub message: String,
    pub user: UserInfo,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshSuccess {
    pub message: String,
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenRequest {
    /// Lifetime in seconds (a numeric string is accepted too).
    #[schema(minimum = 1, example = 3600)]
    pub token_exp: i64,
    /// Glob pattern (`fnmatch`) to the permissions granted on matching
    /// datasets; each must be held by the caller.
    #[schema(example = json!({"plant_*": ["read"]}))]
    pub datasets: BTreeMap<String, Vec<Permission>>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenCreated {
    pub message: String,
    pub api_token: String,
    /// The id that lists and revokes it.
    pub id: String,
    /// ISO 8601, UTC (`+00:00`).
    #[serde(rename = "expiration date")]
    pub expiration_date: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionEntry {
    pub id: String,
    pub username: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenEntry {
    pub id: String,
    /// The grant as minted, `{"pattern": ["read", ...]}`.
    #[schema(value_type = Object)]
    pub datasets: serde_json::Value,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    pub message: String,
    #[schema(minimum = 0)]
    pub sessions_ended: u64,
}

/// A user as clients see it: never the hash.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub fullname: String,
    /// Role values, as the service names them (`Role::value`).
    #[schema(value_type = Vec<Role>)]
    pub roles: Vec<String>,
    /// Permission values (`Permission::value`).
    #[schema(value_type = Vec<Permission>)]
    pub extra_permissions: Vec<String>,
    pub is_active: bool,
    #[schema(required = true)]
    pub locked_until: Option<String>,
    #[schema(required = true)]
    pub last_login: Option<String>,
    #[schema(required = true)]
    pub created_at: Option<String>,
}

impl From<plantdb_auth_service::admin::UserView> for UserView {
    fn from(u: plantdb_auth_service::admin::UserView) -> Self {
        UserView {
            username: u.username,
            fullname: u.fullname,
            roles: u.roles,
            extra_permissions: u.extra_permissions,
            is_active: u.is_active,
            locked_until: u.locked_until,
            last_login: u.last_login,
            created_at: u.created_at,
        }
    }
}

/// Absent (or null) fields are left alone; at least one must change.
#[derive(Serialize, ToSchema)]
pub struct UserPatch {
    pub fullname: Option<String>,
    pub roles: Option<Vec<Role>>,
    pub extra_permissions: Option<Vec<Permission>>,
    pub is_active: Option<bool>,
    pub unlock: Option<bool>,
}

/// `current_password` is required to change one's own password.
#[derive(Serialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: Option<String>,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    /// The name again, for uniform listings.
    pub id: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    pub users: Vec<String>,
    #[schema(required = true)]
    pub created_by: Option<String>,
    #[schema(required = true)]
    pub created_at: Option<String>,
}

impl From<plantdb_auth_service::admin::GroupView> for GroupView {
    fn from(g: plantdb_auth_service::admin::GroupView) -> Self {
        GroupView {
            id: g.id,
            name: g.name,
            description: g.description,
            users: g.users,
            created_by: g.created_by,
            created_at: g.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupPayload {
    #[schema(example = "lab")]
    pub name: String,
    pub description: Option<String>,
    /// Existing users to add besides the creator.
    pub users: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberPayload {
    pub username: String,
}

/// A scan's access metadata (`owner` defaults to `guest`).
#[derive(Serialize, ToSchema)]
pub struct ScanRef {
    /// The dataset name API-token patterns match.
    pub id: Option<String>,
    pub owner: Option<String>,
    pub sharing: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct ScanQuery {
    /// `id` is required here.
    pub scan: ScanRef,
    /// Defaults to `read`.
    pub permission: Option<Permission>,
}

#[derive(Serialize, ToSchema)]
pub struct ScanDecision {
    pub allowed: bool,
    #[schema(required = true)]
    pub effective_role: Option<Role>,
    pub permissions: Vec<Permission>,
    pub access_reason: Vec<String>,
    pub is_owner: bool,
    pub shared_groups: Vec<String>,
}

impl From<plantdb_auth_service::admin::ScanDecision> for ScanDecision {
    fn from(d: plantdb_auth_service::admin::ScanDecision) -> Self {
        let summary = d.summary;
        ScanDecision {
            allowed: d.allowed,
            effective_role: summary.effective_role.map(Role::from),
            permissions: summary
                .permissions
                .into_iter()
                .map(Permission::from)
                .collect(),
            access_reason: summary.access_reason,
            is_owner: summary.is_owner,
            shared_groups: summary.shared_groups,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MetadataQuery {
    pub old: ScanRef,
    pub new: ScanRef,
}

#[derive(Serialize, ToSchema)]
pub struct MetadataDecision {
    pub allowed: bool,
    /// Why not, when not allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// Who a forward-auth request belongs to.
#[derive(Serialize, ToSchema)]
pub struct ForwardAuth {
    pub username: String,
    pub roles: Vec<Role>,
}

/// Bad input, or a missing username or password.
#[derive(ToResponse)]
pub struct LoginBadRequest(#[allow(dead_code)] LoginErrorBody);

/// Invalid credentials: unknown user, wrong password, locked or deactivated
/// account all answer alike.
#[derive(ToResponse)]
pub struct LoginUnauthorized(#[allow(dead_code)] LoginErrorBody);

/// Bad input: a missing field (with `success: false`), an invalid username,
/// full name, password or role.
#[derive(ToResponse)]
pub struct RegisterBadRequest(#[allow(dead_code)] RegisterErrorBody);

// ---- data API (data-api.md) ----

/// Raw bytes: a file as stored, a preview, a point cloud, an archive.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("Raw bytes"))
            .into()
    }
}

impl ToSchema for Binary {}

/// A byte range outside the file (`Content-Range: bytes */<length>` says
/// how long it is).
#[derive(ToResponse)]
#[response(headers(("Content-Range" = String, description = "`bytes */<length of the file>`")))]
pub struct RangeNotSatisfiable(#[allow(dead_code)] ErrorBody);

/// The Home document: `GET /api/v1/`. Each group maps a path template
/// (with the deployment prefix) to a one-line description.
#[derive(Serialize, ToSchema)]
pub struct Home {
    /// `PlantDB REST API`.
    pub name: String,
    pub description: String,
    /// This server's version.
    #[serde(rename = "plantdb.commons")]
    pub plantdb_commons: String,
    /// This server's version.
    #[serde(rename = "plantdb.server")]
    pub plantdb_server: String,
    #[serde(rename = "base endpoints")]
    pub base_endpoints: BTreeMap<String, String>,
    #[serde(rename = "authentication endpoints")]
    pub authentication_endpoints: BTreeMap<String, String>,
    #[serde(rename = "scans endpoints")]
    pub scans_endpoints: BTreeMap<String, String>,
    #[serde(rename = "filesets endpoints")]
    pub filesets_endpoints: BTreeMap<String, String>,
    #[serde(rename = "files endpoints")]
    pub files_endpoints: BTreeMap<String, String>,
    #[serde(rename = "assets endpoints")]
    pub assets_endpoints: BTreeMap<String, String>,
}

/// `metadata.files` of a scan-info document: URIs.
#[derive(Serialize, ToSchema)]
pub struct ScanInfoFiles {
    /// The scan's `metadata/metadata.json` through the file-path route;
    /// null when that file does not exist (and in the degraded document).
    #[schema(required = true)]
    pub metadata: Option<String>,
    /// The scan's archive route; null only in the degraded document.
    #[schema(required = true)]
    pub archive: Option<String>,
}

/// `metadata` of a scan-info document.
#[derive(Serialize, ToSchema)]
pub struct ScanInfoMetadata {
    /// `YYYY-MM-DD HH:MM:SS` (`acquisition_date`, else the directory's
    /// change time); `01-01-00 00:00:00` in the degraded document.
    #[schema(example = "2024-03-04 10:00:00")]
    pub date: String,
    /// `biologicalMaterial.organism.species`, else `object.species`, else
    /// `"N/A"`: any JSON value the metadata holds.
    pub species: Value,
    /// `biologicalMaterial.biologicalMaterialId`, else `object.plant_id`,
    /// else `"N/A"`: any JSON value.
    pub plant: Value,
    /// `study.growthFacility.name`, else `object.environment`, else
    /// `"N/A"`: any JSON value.
    pub environment: Value,
    /// The number of RGB images.
    #[serde(rename = "nbPhotos")]
    #[schema(minimum = 0)]
    pub nb_photos: u64,
    pub files: ScanInfoFiles,
}

/// One camera pose (an RGB image with Colmap's pose).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CameraPose {
    /// The image's file id.
    pub id: String,
    /// `colmap_camera.tvec` of the image's metadata, as stored (any JSON).
    pub tvec: Value,
    /// `colmap_camera.rotmat` of the image's metadata, as stored (any JSON).
    pub rotmat: Value,
    /// The image route at `size=orig`.
    pub photo_uri: String,
    /// The image route at `size=thumb`.
    pub thumbnail_uri: String,
}

/// The camera: `poses` is always there (empty without Colmap).
#[derive(Serialize, ToSchema)]
pub struct ScanCamera {
    /// `colmap_camera.camera_model` of the first image, as stored (any
    /// JSON); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Value>,
    pub poses: Vec<CameraPose>,
}

/// The scan-info document (data-api.md §5). A scan whose info cannot be
/// computed answers the degraded document: `error: true`, the date
/// `01-01-00 00:00:00`, `"N/A"` texts, `nbPhotos` 0, null `files` URIs,
/// `thumbnailUri` `""`, null `images` and `tasks_fileset`, empty
/// `filesUri`, every flag false, and no `workspace` nor `camera`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanInfo {
    pub id: String,
    pub metadata: ScanInfoMetadata,
    /// Image-route URI of the first image at `size=thumb`; `""` when the
    /// scan has no image.
    pub thumbnail_uri: String,
    /// File names of the RGB images; null in the degraded document.
    #[schema(required = true)]
    pub images: Option<Vec<String>>,
    /// Task name (fileset id up to the first `_`) → fileset id; null in
    /// the degraded document.
    #[serde(rename = "tasks_fileset")]
    #[schema(required = true)]
    pub tasks_fileset: Option<BTreeMap<String, String>>,
    /// `pointCloud`, `mesh`, `skeleton`, `tree`, `pcdGroundTruth` → the
    /// file-path URI of that task's file, when the scan has it.
    pub files_uri: BTreeMap<String, String>,
    pub is_virtual: bool,
    pub has_colmap: bool,
    pub has_point_cloud: bool,
    pub has_triangle_mesh: bool,
    pub has_curve_skeleton: bool,
    pub has_tree_graph: bool,
    pub has_angles_and_internodes: bool,
    pub has_automated_measures: bool,
    pub has_manual_measures: bool,
    /// Always false (as Python).
    #[serde(rename = "hasSegmentation2D")]
    pub has_segmentation_2d: bool,
    pub has_pcd_ground_truth: bool,
    pub has_point_cloud_evaluation: bool,
    pub has_segmented_point_cloud: bool,
    pub has_segmented_pcd_evaluation: bool,
    /// True only in the degraded document.
    pub error: bool,
    /// `{"x": [lo, hi], "y": [lo, hi], "z": [lo, hi]}` from the scan path
    /// and `pipeline.toml`, else the stored `workspace` (any JSON), else
    /// null; absent in the degraded document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Value>,
    /// Absent in the degraded document.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub camera: Option<ScanCamera>,
}

/// The scan-info document of the viewer generation: 0.14 URIs, every
/// `filesUri` of `pointCloud`, `mesh` and `pcdGroundTruth` present (a URI
/// that answers 404 stands for a missing file), and `skeleton` and
/// `angles` (absent in the degraded document).
#[derive(Serialize, ToSchema)]
pub struct ViewerScanInfo {
    #[serde(flatten)]
    pub info: ScanInfo,
    /// `/skeleton/<scan>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub skeleton: Option<String>,
    /// `/sequence/<scan>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub angles: Option<String>,
}

/// A metadata document, or the value of one key (`{}` when the key is
/// absent).
#[derive(Serialize, ToSchema)]
pub struct MetadataBody {
    pub metadata: Value,
}

#[derive(Serialize, ToSchema)]
pub struct FilesetList {
    /// Fileset ids, in files.json order.
    pub filesets: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FileList {
    /// File ids, in files.json order.
    pub files: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelapseCounts {
    /// Scans of the database that name this timelapse.
    #[schema(minimum = 0)]
    pub scans: u64,
}

/// A timelapse: its marker's fields as stored.
#[derive(Serialize, ToSchema)]
pub struct Timelapse {
    pub id: String,
    /// As stored in the marker (an ISO 8601 text), null when absent.
    pub created_at: Value,
    /// As stored in the marker, null when absent.
    pub owner: Value,
    /// The marker's `scans` list, as stored.
    pub scans: Vec<Value>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub counts: TimelapseCounts,
}

/// An image as JSON (`as_base64=true`).
#[derive(Serialize, ToSchema)]
pub struct ImageBase64 {
    /// The bytes, standard base64 with padding.
    #[schema(content_encoding = "base64")]
    pub image: String,
    /// Their media type (`image/jpeg` for a preview).
    #[serde(rename = "content-type")]
    pub content_type: String,
}

/// A point cloud's points (`coords=true`); a coordinate that is not a
/// finite number is null.
#[derive(Serialize, ToSchema)]
pub struct Coordinates {
    pub coordinates: Vec<Vec<Option<f64>>>,
}

/// A mesh's triangles (vertex indices) and vertices (`coords=true`).
#[derive(Serialize, ToSchema)]
pub struct MeshCoordinates {
    pub triangles: Vec<Vec<u64>>,
    pub vertices: Vec<Vec<Option<f64>>>,
}

// ---- data API parameters ----

/// A scan.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScanPath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
}

/// A fileset of a scan.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FilesetPath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(example = "images", pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")]
    pub fs: String,
}

/// A file of a fileset.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FilePath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(example = "images", pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")]
    pub fs: String,
    /// File id (without extension), same syntax.
    #[param(
        example = "00000_rgb",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub file: String,
}

/// A file of a fileset, on the 0.14 routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ViewerFilePath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(example = "images", pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")]
    pub fs: String,
    /// File id, or the stored file name (with its extension); not empty,
    /// not starting with `.`, no `/` or `\` (else 400).
    #[param(example = "00000_rgb.jpg", pattern = "^[^./\\\\][^/\\\\]*$")]
    pub file: String,
}

/// A point-cloud file, on the 0.14 routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ViewerCloudPath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(
        example = "PointCloud_1_0_1_0_False_4ce2e46446",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub fs: String,
    /// File id, or the stored file name; not empty, not starting with `.`,
    /// no `/` or `\` (else 400); the file must be a `.ply` (else 400).
    #[param(example = "PointCloud.ply", pattern = "^[^./\\\\][^/\\\\]*$")]
    pub file: String,
}

/// A mesh file, on the 0.14 routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ViewerMeshPath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(
        example = "TriangleMesh_9_most_connected_t_open3d_00e095c359",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub fs: String,
    /// File id, or the stored file name; not empty, not starting with `.`,
    /// no `/` or `\` (else 400); the file must be a `.ply` (else 400).
    #[param(example = "TriangleMesh.ply", pattern = "^[^./\\\\][^/\\\\]*$")]
    pub file: String,
}

/// A scan to create.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NewScanPath {
    /// The new scan's id: 1-128 of `A-Z a-z 0-9 _ -`, starting with a
    /// letter or digit (else 400).
    #[param(example = "new_scan_1", pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$")]
    pub scan: String,
}

/// A fileset to create.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NewFilesetPath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// The new fileset's id: 1-128 of `A-Z a-z 0-9 _ -`, starting with a
    /// letter or digit (else 400).
    #[param(
        example = "new_fileset_1",
        pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$"
    )]
    pub fs: String,
}

/// A file to create.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NewFilePath {
    /// Scan id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan: String,
    /// Fileset id, same syntax.
    #[param(example = "images", pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")]
    pub fs: String,
    /// The new file's id (without extension): 1-128 of `A-Z a-z 0-9 _ -`,
    /// starting with a letter or digit (else 400).
    #[param(example = "new_file_1", pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$")]
    pub file: String,
}

/// A timelapse.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TimelapsePath {
    /// Timelapse id: 1-255 of `A-Z a-z 0-9 _ - .`, not starting with `.` (else 400).
    #[param(example = "tl_1", pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")]
    pub tl: String,
}

/// A file by its path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FileByPath {
    /// `<scan>/<path inside the scan directory>` (or `<timelapse>/<scan>/...`);
    /// a component that is empty or starts with `.`, a path leaving the scan
    /// or naming a directory: 404.
    #[param(example = "demo_arabidopsis_1/files.json")]
    pub path: String,
}

/// The filter of a listing (data-api.md §6).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// A JSON object matched against each item's metadata (recursive
    /// subset; strings are regular expressions anchored at the start with
    /// `fuzzy`). Not a JSON object: 400. A JSON body
    /// `{"filterQuery": {...}}` on the GET wins over this parameter.
    #[param(rename = "filterQuery", example = "{\"owner\": \"admin\"}")]
    pub filter_query: Option<String>,
    /// Alias of `filterQuery` (both given: 400).
    pub query: Option<String>,
    /// Regular-expression matching of strings. `true`/`1`/`yes`/`on` or
    /// `false`/`0`/`no`/`off`/empty, any case; anything else: 400.
    pub fuzzy: Option<bool>,
}

/// Scan listings only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanListing {
    /// Only the scans of this timelapse (`{"timelapse": {"id": ...}}` added
    /// to the filter).
    pub timelapse_id: Option<String>,
    /// `timelapse.scheduled` sorts by the scans' `timelapse.scheduled`
    /// then `timelapse.index`; any other value (or none): ascending id.
    #[param(example = "timelapse.scheduled")]
    pub sort: Option<String>,
}

/// The scans of a timelapse.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelapseScansQuery {
    /// As in the scan listings (here only `fuzzy` and `sort` are read).
    pub fuzzy: Option<bool>,
    /// Default `timelapse.scheduled`; any other value: ascending id.
    #[param(example = "timelapse.scheduled")]
    pub sort: Option<String>,
}

/// The filter of the viewer's scan-info listing.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewerFilter {
    /// A JSON object filters as on `/api/v1/scans/info`; any other text is
    /// the viewer's search box: a case-insensitive substring of the scan
    /// id, `plant` or `species`.
    #[param(rename = "filterQuery", example = "arabidopsis")]
    pub filter_query: Option<String>,
    /// Alias of `filterQuery` (`filterQuery` wins when both are given).
    pub query: Option<String>,
    /// As on the current generation.
    pub fuzzy: Option<bool>,
}

/// `GET .../metadata`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetadataKey {
    /// Only this top-level key's value (`{}` when absent).
    pub key: Option<String>,
}

/// `GET /api/v1/refresh`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefreshQuery {
    /// Re-read this scan only (else the whole database).
    #[param(
        example = "demo_arabidopsis_1",
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$"
    )]
    pub scan_id: Option<String>,
}

/// An image's size.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageQuery {
    /// `thumb` (150, the default), `large` (1500), `orig` (the file as
    /// stored), or an integer 1..=10000 (decimal digits): the side of the
    /// box the preview fits in, never enlarged. Anything else: 400.
    #[param(
        example = "thumb",
        pattern = "^(orig|thumb|large|0*([1-9][0-9]{0,3}|10000))$"
    )]
    pub size: Option<String>,
    /// Answer JSON `{"image": <base64>, "content-type": ...}`; boolean
    /// words as `fuzzy`.
    pub as_base64: Option<bool>,
}

/// `GET /api/v1/assets/pointcloud/<scan>`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointCloudQuery {
    /// `preview` (voxel size 1.8, the default), `orig` (the file as
    /// stored), or a voxel size (a number from 0.01 to 1000; another
    /// number: 400); any other text means `preview`.
    #[param(example = "preview")]
    pub size: Option<String>,
    /// Answer JSON coordinates instead of PLY; boolean words as `fuzzy`.
    pub coords: Option<bool>,
    /// `gt`: the ground-truth point cloud (task `PointCloudGroundTruth`);
    /// any other value: task `PointCloud`.
    #[param(rename = "type", example = "gt")]
    pub kind: Option<String>,
}

/// `GET /api/v1/assets/mesh/<scan>`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeshQuery {
    /// Ignored (the mesh is always the file as stored).
    pub size: Option<String>,
    /// Answer JSON vertices and triangles instead of PLY; boolean words as
    /// `fuzzy`.
    pub coords: Option<bool>,
}

/// `GET /api/v1/assets/sequence/<scan>`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SequenceQuery {
    /// `angles`, `internodes`, `fruit_points`, `manual_angles` or
    /// `manual_internodes`: that value alone (404 when the sequence lacks
    /// it); anything else (or none, e.g. `all`): the whole object.
    #[param(rename = "type", example = "all")]
    pub kind: Option<String>,
}

/// The 0.14 point-cloud routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewerCloudQuery {
    /// As `GET /api/v1/assets/pointcloud/<scan>`'s `size`.
    #[param(example = "preview")]
    pub size: Option<String>,
}

/// Conditional and range requests of the routes that send a file
/// (data-api.md §10.1).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct FileRequestHeaders {
    /// One range `bytes=<start>-<end>`, `bytes=<start>-` or `bytes=-<suffix>`:
    /// 206 with that part, 416 when it starts beyond the end. Several
    /// ranges or another unit: the whole file.
    #[param(rename = "Range", example = "bytes=0-99", nullable = false)]
    pub range: Option<String>,
    /// An `ETag` seen before (or `*`): 304 when it still matches.
    #[param(rename = "If-None-Match", nullable = false)]
    pub if_none_match: Option<String>,
    /// An HTTP date: 304 when the file is not newer (ignored when
    /// `If-None-Match` is given).
    #[param(rename = "If-Modified-Since", nullable = false)]
    pub if_modified_since: Option<String>,
}

// ---- data API responses that send bytes (data-api.md §10.1) ----

/// The content types a stored file is sent with, by its extension.
const FILE_TYPES: [&str; 9] = [
    "image/jpeg",
    "image/png",
    "image/tiff",
    "application/json",
    "text/plain",
    "application/toml",
    "application/yaml",
    "application/zip",
    "application/octet-stream",
];

/// Any JSON value.
fn any_json() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("Any JSON value"))
        .into()
}

fn header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

/// Headers of every file sent from disk.
fn file_headers(builder: ResponseBuilder) -> ResponseBuilder {
    builder
        .header("ETag", header("Validator for `If-None-Match`"))
        .header("Last-Modified", header("Validator for `If-Modified-Since`"))
        .header("Accept-Ranges", header("`bytes`"))
        .header("Content-Disposition", header("`inline; filename=<name>`"))
        .header("Cache-Control", header("`no-cache`"))
}

/// A stored file's types; a JSON file is any JSON (`json` overrides it).
fn file_contents(mut builder: ResponseBuilder, json: Option<RefOr<Schema>>) -> ResponseBuilder {
    for media in FILE_TYPES {
        let schema = match (media, &json) {
            ("application/json", Some(j)) => j.clone(),
            ("application/json", None) => any_json(),
            _ => Binary::schema(),
        };
        builder = builder.content(media, Content::new(Some(schema)));
    }
    builder
}

/// A part of a stored file: the file's type, but the bytes of a range,
/// which no schema describes (a slice of a JSON file is not JSON).
fn partial_contents(mut builder: ResponseBuilder) -> ResponseBuilder {
    for media in FILE_TYPES {
        builder = builder.content(media, Content::new(None::<RefOr<Schema>>));
    }
    builder
}

/// A stored file, whole: its bytes with the type of its extension
/// (`.jpg .jpeg` `image/jpeg`, `.png` `image/png`, `.tif .tiff`
/// `image/tiff`, `.json` `application/json`, `.txt` `text/plain`,
/// `.toml` `application/toml`, `.yaml .yml` `application/yaml`, `.zip`
/// `application/zip`, anything else, `.ply` included,
/// `application/octet-stream`).
pub struct FileBytes;

impl<'r> ToResponse<'r> for FileBytes {
    fn response() -> (&'r str, RefOr<Response>) {
        let builder = ResponseBuilder::new().description(
            "The file's bytes, with the type of its extension (`.jpg .jpeg` image/jpeg, `.png` \
             image/png, `.tif .tiff` image/tiff, `.json` application/json, `.txt` text/plain, \
             `.toml` application/toml, `.yaml .yml` application/yaml, `.zip` application/zip, \
             anything else (`.ply` too) application/octet-stream)",
        );
        let builder = file_contents(file_headers(builder), None);
        ("FileBytes", builder.build().into())
    }
}

/// One byte range of a stored file (`Range`).
pub struct PartialFile;

impl<'r> ToResponse<'r> for PartialFile {
    fn response() -> (&'r str, RefOr<Response>) {
        let builder = ResponseBuilder::new()
            .description("The requested range of the file (`Range`), with the file's type")
            .header(
                "Content-Range",
                header("`bytes <first>-<last>/<length of the file>`"),
            );
        let builder = partial_contents(file_headers(builder));
        ("PartialFile", builder.build().into())
    }
}

/// The file did not change (`If-None-Match`, `If-Modified-Since`).
pub struct NotModified;

impl<'r> ToResponse<'r> for NotModified {
    fn response() -> (&'r str, RefOr<Response>) {
        let builder = ResponseBuilder::new().description(
            "Not modified: the `If-None-Match` tag still matches, or the file is not newer than \
             `If-Modified-Since` (empty body)",
        );
        ("NotModified", file_headers(builder).build().into())
    }
}

/// An image: a JPEG preview, or with `size=orig` the file as stored, or
/// with `as_base64` JSON.
pub struct ImageBytes;

impl<'r> ToResponse<'r> for ImageBytes {
    fn response() -> (&'r str, RefOr<Response>) {
        let builder = ResponseBuilder::new()
            .description(
                "A preview (`image/jpeg`), or with `size=orig` the file as stored (the type of \
                 its extension: `image/png`, `image/tiff`, ...), or with `as_base64` the JSON \
                 `{\"image\", \"content-type\"}`",
            )
            .header(
                "X-Content-Encoding",
                header("`binary`, or `base64` with `as_base64`"),
            );
        let json = RefOr::Ref(Ref::from_schema_name("ImageBase64"));
        let builder = file_contents(file_headers(builder), Some(json));
        ("ImageBytes", builder.build().into())
    }
}

// ---- data API writes (data-api.md §8.2, §9) ----

/// An optional JSON body: `{"metadata": {...}}` (any other key is ignored).
#[derive(Serialize, ToSchema)]
pub struct CreateRequest {
    /// The new item's metadata (a scan's is checked against the biological
    /// metadata schema; `metadata.timelapse.id` creates the scan inside
    /// that timelapse). Null: none.
    pub metadata: Option<Map<String, Value>>,
}

/// A metadata update.
#[derive(Serialize, ToSchema)]
pub struct MetadataUpdate {
    /// Top-level keys replace the stored ones (a shallow merge), or with
    /// `replace` the whole document (server-managed keys kept).
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Replace instead of merging (default false).
    pub replace: Option<bool>,
}

/// A timelapse to create: `id`, else `name`, is its id.
#[derive(Serialize, ToSchema)]
pub struct TimelapseRequest {
    /// 1-128 of `A-Z a-z 0-9 _ -`, starting with a letter or digit.
    #[schema(
        example = "tl_1",
        pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$",
        nullable = false
    )]
    pub id: Option<String>,
    /// Used when `id` is absent.
    #[schema(pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$", nullable = false)]
    pub name: Option<String>,
    /// Null: none.
    pub metadata: Option<Map<String, Value>>,
}

/// What was created.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub message: String,
    /// The new scan, fileset or file id.
    pub id: String,
}

/// A file upload (`multipart/form-data`).
#[derive(Serialize, ToSchema)]
pub struct FileUpload {
    /// The file's bytes (its part's file name and type are ignored).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The extension: `jpg jpeg png tif txt json ply yaml toml` (any case,
    /// a leading `.` allowed).
    #[schema(example = "jpg")]
    pub ext: String,
    /// The file's metadata: a JSON object, or a Python dict literal.
    #[schema(nullable = false)]
    pub metadata: Option<String>,
}

/// A scan archive upload (`multipart/form-data`).
#[derive(Serialize, ToSchema)]
pub struct ArchiveUpload {
    /// A `.zip` file sent as `application/zip` (or
    /// `application/x-zip-compressed`) holding `files.json`, `images/` and
    /// `metadata/`, possibly under one top directory.
    #[schema(value_type = String, format = Binary)]
    pub zip_file: Vec<u8>,
}

/// The archive was installed as a new scan.
#[derive(Serialize, ToSchema)]
pub struct ArchiveInstalled {
    /// `ZIP file processed successfully` (0.14 route: `Zip file processed
    /// successfully`).
    pub message: String,
    /// The extracted files, relative to the scan directory.
    pub files: Vec<String>,
}

/// `DELETE /api/v1/timelapses/<id>`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteTimelapseQuery {
    /// Also when the timelapse still holds scans (they leave the index);
    /// else such a timelapse is 409. Boolean words as `fuzzy`.
    pub recursive: Option<bool>,
}
