//! The shapes of the API's bodies, for the OpenAPI document only. Handlers
//! build their answers with `json!`; these types describe them (and the
//! schemathesis run in CI checks that they agree).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

/// The machine code of an error, identical on both generations.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingField,
    InvalidInput,
    InvalidCredentials,
    InvalidToken,
    NotAuthenticated,
    Forbidden,
    UserExists,
    Conflict,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimited,
    Internal,
}

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

// ---- errors as reusable responses ----

/// Bad input: malformed JSON, a body that is not an object, a missing or
/// wrongly typed field, an invalid value.
#[derive(ToResponse)]
pub struct BadRequest(#[allow(dead_code)] ErrorBody);

/// No token, or a token that is invalid, expired, revoked or of the wrong
/// kind.
#[derive(ToResponse)]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// The caller is authenticated but lacks the permission (or the rank).
#[derive(ToResponse)]
pub struct Forbidden(#[allow(dead_code)] ErrorBody);

/// The named user, group, session or API token does not exist (or is not
/// the caller's to see).
#[derive(ToResponse)]
pub struct NotFound(#[allow(dead_code)] ErrorBody);

/// The request conflicts with the current state (a name that is taken,
/// the last active admin, a group's creator).
#[derive(ToResponse)]
pub struct Conflict(#[allow(dead_code)] ErrorBody);

/// The request body is over 64 KiB.
#[derive(ToResponse)]
pub struct PayloadTooLarge(#[allow(dead_code)] ErrorBody);

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
    pub roles: Vec<Role>,
    pub extra_permissions: Vec<Permission>,
    pub is_active: bool,
    #[schema(required = true)]
    pub locked_until: Option<String>,
    #[schema(required = true)]
    pub last_login: Option<String>,
    #[schema(required = true)]
    pub created_at: Option<String>,
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
