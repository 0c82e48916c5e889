//! The seed's use-cases: register_user, check_username_exists,
//! authenticate_user, logout_user, validate_token, refresh_token.

use plantdb_auth_core::model::{Permission, Role, User, Username};
use std::time::{Duration, Instant};

use plantdb_auth_core::password::{hash_params_of, HashParams, Verification, MAX_PASSWORD_BYTES};
use plantdb_auth_core::session::{TokenKind, TokenPair};

use crate::caller::{authenticate, Credentials, ACCESS_ONLY, ACCESS_OR_API};
use crate::{AuthDb, AuthError};

/// Longest full name we store.
pub const MAX_FULLNAME_CHARS: usize = 256;

/// The registration payload; absent keys are `None`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegisterPayload {
    pub username: Option<serde_json::Value>,
    pub fullname: Option<serde_json::Value>,
    pub password: Option<serde_json::Value>,
    /// Optional (an extension): roles for the new user, default reader.
    pub roles: Option<serde_json::Value>,
}

/// Basic user information, as token validation returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    pub username: String,
    pub fullname: String,
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> Self {
        UserInfo {
            username: u.username.to_string(),
            fullname: u.fullname.clone(),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginResult {
    pub tokens: TokenPair,
    pub user: UserInfo,
}

pub(crate) fn string_field(
    value: Option<&serde_json::Value>,
    name: &str,
) -> Result<String, AuthError> {
    match value {
        None | Some(serde_json::Value::Null) => Err(AuthError::MissingField(format!(
            "Missing required field: {name}"
        ))),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(AuthError::InvalidInput(format!(
            "Field '{name}' must be a string"
        ))),
    }
}

pub(crate) fn parse_username(raw: &str) -> Result<Username, AuthError> {
    Username::parse(raw).map_err(|e| AuthError::InvalidInput(format!("Invalid username: {e}")))
}

pub(crate) fn check_fullname(fullname: &str) -> Result<(), AuthError> {
    if fullname.chars().count() > MAX_FULLNAME_CHARS || fullname.chars().any(char::is_control) {
        return Err(AuthError::InvalidInput(format!(
            "Invalid fullname: use at most {MAX_FULLNAME_CHARS} characters and no control characters"
        )));
    }
    Ok(())
}

pub(crate) fn check_new_password(
    db: &AuthDb,
    password: &str,
    username: &Username,
) -> Result<(), AuthError> {
    db.policy
        .check(password, username.as_str())
        .map_err(|v| AuthError::InvalidInput(format!("Password rejected: {v}")))
}

fn parse_roles(value: Option<&serde_json::Value>) -> Result<Vec<Role>, AuthError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(vec![Role::Reader]);
    };
    let items = value.as_array().ok_or_else(|| {
        AuthError::InvalidInput("Field 'roles' must be a list of role names".into())
    })?;
    let roles = items
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| {
                    AuthError::InvalidInput("Field 'roles' must be a list of role names".into())
                })?
                .parse::<Role>()
                .map_err(|e| AuthError::InvalidInput(e.to_string()))
        })
        .collect::<Result<Vec<Role>, AuthError>>()?;
    if roles.is_empty() {
        return Ok(vec![Role::Reader]);
    }
    Ok(roles)
}

/// Creates a user; the caller (by access token) needs `manage_users`.
/// Returns the stored (lower-case) username.
pub fn register_user<'a>(
    db: &AuthDb,
    payload: &RegisterPayload,
    credentials: impl Into<Credentials<'a>>,
) -> Result<Username, AuthError> {
    let missing: Vec<&str> = [
        ("fullname", &payload.fullname),
        ("password", &payload.password),
        ("username", &payload.username),
    ]
    .into_iter()
    .filter(|(_, v)| v.as_ref().is_none_or(|v| v.is_null()))
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() {
        return Err(AuthError::MissingField(format!(
            "Missing required fields: {}. Please provide username, fullname, and password",
            missing.join(", ")
        )));
    }
    let caller = authenticate(db, credentials, ACCESS_ONLY)?;
    caller.require(Permission::ManageUsers, "creating users")?;
    let username = parse_username(&string_field(payload.username.as_ref(), "username")?)?;
    let fullname = string_field(payload.fullname.as_ref(), "fullname")?;
    check_fullname(&fullname)?;
    let password = string_field(payload.password.as_ref(), "password")?;
    check_new_password(db, &password, &username)?;
    let roles = parse_roles(payload.roles.as_ref())?;
    let top = caller.user.highest_role();
    if let Some(role) = roles
        .iter()
        .find(|r| !top.is_some_and(|t| t.can_assign(**r)))
    {
        return Err(AuthError::PermissionDenied(format!(
            "Permission denied: you cannot assign the role '{role}', which ranks above your own"
        )));
    }
    if db.users.exists(&username)? {
        return Err(AuthError::UserExists(format!(
            "User '{username}' already exists"
        )));
    }
    let hash = db
        .hasher
        .hash(&password)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let user = User::new(username.clone(), fullname, hash, roles, db.clock.now());
    db.users.create(user)?;
    tracing::info!(target: "plantdb_auth::audit", event = "register", user = %username, by = %caller.username(), "user created");
    Ok(username)
}

/// Whether `username` exists (case-insensitive). Invalid names do not exist.
pub fn check_username_exists(db: &AuthDb, username: &str) -> Result<bool, AuthError> {
    match Username::parse(username) {
        Ok(name) => Ok(db.users.exists(&name)?),
        Err(_) => Ok(false),
    }
}

/// Checks credentials and starts a session. Unknown user, wrong password,
/// locked and deactivated accounts all fail the same way after the same
/// Argon2 work; the real reason goes to the log only.
pub fn authenticate_user(
    db: &AuthDb,
    username: &str,
    password: &str,
) -> Result<LoginResult, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidInput(format!(
            "Password too long: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let user = match Username::parse(username) {
        Ok(name) => db.users.get(&name)?,
        Err(_) => None,
    };
    let Some(user) = user else {
        db.hasher.verify_dummy(password);
        return Err(login_failed(username, "unknown user"));
    };
    // Real time, not the injected clock: it feeds the pacer of failures.
    let started = Instant::now();
    let verdict = db.hasher.verify(password, &user.password_hash);
    let now = db.clock.now();
    // `guest` is the public account with a published password: wrong
    // guesses at it neither count nor lock it, or anyone could lock every
    // anonymous reader out.
    let public = user.username.as_str() == plantdb_auth_core::rbac::GUEST_USERNAME;
    let refusal = if !user.is_active {
        Some("account deactivated")
    } else if !public && user.is_locked(now) {
        Some("account locked")
    } else if !verdict.is_match() {
        if !public {
            let after = db
                .users
                .record_failed_attempt(&user.username, now, db.lockout)?;
            if after.is_locked(now) {
                tracing::warn!(target: "plantdb_auth::audit", event = "lockout", user = %user.username, until = ?after.locked_until, "account locked after repeated failures");
            }
        }
        Some("wrong password")
    } else {
        None
    };
    if let Some(reason) = refusal {
        db.hasher.pacer().record_failure(started.elapsed());
        return Err(login_failed(username, reason));
    }
    let new_hash = match verdict {
        Verification::MatchNeedsRehash => db.hasher.hash(password).ok(),
        _ => None,
    };
    let user = db
        .users
        .record_successful_login(&user.username, now, new_hash.as_deref())?;
    let tokens = db.sessions.login(user.username.as_str())?;
    tracing::info!(target: "plantdb_auth::audit", event = "login_ok", user = %user.username, rehashed = new_hash.is_some(), "login");
    Ok(LoginResult {
        tokens,
        user: UserInfo::from(&user),
    })
}

/// How long every failed login should take in total, so that failures of
/// unknown and existing accounts cannot be told apart by timing. Adapters
/// hold a failed login's answer until then (without holding a worker).
pub fn failed_login_duration(db: &AuthDb) -> Duration {
    db.hasher.pacer().floor()
}

/// Measures the Argon2 cost of every parameter set among the stored hashes
/// (e.g. the Python server's m=65536,t=3,p=4) for [`failed_login_duration`].
/// Takes a few hundred milliseconds: run it in the background at start.
pub fn calibrate_login_pacing(db: &AuthDb) -> Result<(), AuthError> {
    let mut params: Vec<HashParams> = vec![db.hasher.params()];
    for user in db.users.list()? {
        if let Some(p) = hash_params_of(&user.password_hash) {
            if !params.contains(&p) {
                params.push(p);
            }
        }
    }
    db.hasher
        .calibrate_pacer(&params)
        .map_err(|e| AuthError::Internal(e.to_string()))
}

fn login_failed(username: &str, reason: &str) -> AuthError {
    tracing::info!(target: "plantdb_auth::audit", event = "login_failed", user = %username.escape_debug(), reason, "login refused");
    AuthError::InvalidCredentials
}

/// Ends the session of an access token; returns its username. No token is
/// `NoAuthUser`; a token that is not a live access token is a `Token` error.
pub fn logout_user(db: &AuthDb, token: Option<&str>) -> Result<String, AuthError> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| AuthError::NoAuthUser("Logout failed, no active session!".into()))?;
    Ok(db.sessions.logout(token)?)
}

/// Validates an access or API token; returns who it belongs to.
pub fn validate_token(db: &AuthDb, token: Option<&str>) -> Result<UserInfo, AuthError> {
    let caller = authenticate(db, token, ACCESS_OR_API)?;
    Ok(UserInfo::from(&caller.user))
}

/// Rotates a refresh token into a new pair.
pub fn refresh_token(db: &AuthDb, refresh_token: Option<&str>) -> Result<TokenPair, AuthError> {
    let token = refresh_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| AuthError::MissingField("Missing required field: refresh_token".into()))?;
    let (pair, username) = db.sessions.refresh(token)?;
    let still_allowed = Username::parse(&username)
        .ok()
        .and_then(|u| db.users.get(&u).ok().flatten())
        .is_some_and(|u| u.is_active);
    if !still_allowed {
        db.sessions.revoke_family(&pair.session_id)?;
        return Err(plantdb_auth_core::session::TokenError::NotLive.into());
    }
    Ok(pair)
}

/// Token kinds a caller may use to mint API tokens: access only.
pub const MINTING_KINDS: &[TokenKind] = ACCESS_ONLY;
