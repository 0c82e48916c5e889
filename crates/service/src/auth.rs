//! The seed's use-cases: register_user, check_username_exists,
//! authenticate_user, logout_user, validate_token, refresh_token.

use plantdb_auth_core::model::{Permission, Role, User, Username};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use plantdb_auth_core::password::{hash_params_of, HashParams, Verification, MAX_PASSWORD_BYTES};
use plantdb_auth_core::session::{Cap, TokenKind, TokenPair};
use plantdb_auth_core::store::{lockout, ClientKey, StoreError};

use crate::caller::{Caller, ACCESS_ONLY, ACCESS_OR_API};
use crate::storage;
use crate::{AuthDb, AuthError};

/// Longest full name we store.
pub const MAX_FULLNAME_CHARS: usize = 256;

/// A new account, as [`register_user`] takes it: parsed at the edge (the
/// HTTP adapter reads it from JSON, the CLI from its arguments).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    /// At most [`MAX_FULLNAME_CHARS`], no control characters ([`check_fullname`]).
    pub fullname: String,
    /// Checked against the password policy by [`register_user`].
    pub password: String,
    /// Empty: the default role, reader.
    pub roles: Vec<Role>,
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

/// A username given by a caller; an invalid one is `InvalidInput`.
pub fn parse_username(raw: &str) -> Result<Username, AuthError> {
    Username::parse(raw).map_err(|e| AuthError::InvalidInput(format!("Invalid username: {e}")))
}

/// A full name given by a caller: bounded, no control characters.
pub fn check_fullname(fullname: &str) -> Result<(), AuthError> {
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

/// Role names given by a caller; none means the default role, reader.
pub fn parse_roles<S: AsRef<str>>(names: &[S]) -> Result<Vec<Role>, AuthError> {
    if names.is_empty() {
        return Ok(vec![Role::Reader]);
    }
    names
        .iter()
        .map(|name| {
            name.as_ref()
                .parse::<Role>()
                .map_err(|e| AuthError::InvalidInput(e.to_string()))
        })
        .collect()
}

/// Creates a user; the caller (an access token's user, or the operator)
/// needs `manage_users` and may not assign a role above its own. Returns
/// the stored (lower-case) username.
pub fn register_user(db: &AuthDb, caller: &Caller, new: &NewUser) -> Result<Username, AuthError> {
    caller.require(Permission::ManageUsers, "creating users")?;
    check_fullname(&new.fullname)?;
    check_new_password(db, &new.password, &new.username)?;
    let roles = if new.roles.is_empty() {
        vec![Role::Reader]
    } else {
        new.roles.clone()
    };
    let username = new.username.clone();
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
        .hash(&new.password)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let user = User::new(
        username.clone(),
        new.fullname.clone(),
        hash,
        roles,
        db.clock.now(),
    );
    db.users.create(user)?;
    plantdb_auth_core::audit::AuditEvent::Register {
        user: &username,
        by: &caller.username(),
    }
    .emit();
    Ok(username)
}

/// Whether `username` exists (case-insensitive). Invalid names do not exist.
pub fn check_username_exists(db: &AuthDb, username: &str) -> Result<bool, AuthError> {
    match Username::parse(username) {
        Ok(name) => Ok(db.users.exists(&name)?),
        Err(_) => Ok(false),
    }
}

/// Checks credentials and starts a session, for a caller whose address is
/// not known (all such callers share one lockout count).
pub fn authenticate_user(
    db: &AuthDb,
    username: &str,
    password: &str,
) -> Result<LoginResult, AuthError> {
    authenticate_user_from(db, username, password, None)
}

/// Checks credentials and starts a session. Unknown user, wrong password,
/// locked and deactivated accounts all fail the same way (adapters pad
/// failures to the same duration, [`failed_login_duration`]); the real
/// reason goes to the log only.
///
/// Lockout is per account and client address (see
/// `plantdb_auth_core::store::lockout`): a client that reached the threshold
/// is refused without a password check, and concurrent guesses of one
/// client never check more passwords than the threshold allows.
pub fn authenticate_user_from(
    db: &AuthDb,
    username: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<LoginResult, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidInput(format!(
            "Password too long: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let client = ClientKey::of(client);
    let user = match Username::parse(username) {
        Ok(name) => db.users.get(&name)?,
        Err(_) => None,
    };
    let Some(user) = user else {
        db.hasher.verify_dummy(password);
        return Err(alike(db, login_failed(username, &client, "unknown user")));
    };
    // Real time, not the injected clock: it feeds the pacer of failures.
    let started = Instant::now();
    let now = db.clock.now();
    // `guest` is the public account with a published password: wrong
    // guesses at it neither count nor lock it, or anyone could lock every
    // anonymous reader out.
    let public = user.username.as_str() == plantdb_auth_core::rbac::GUEST_USERNAME;
    let refused = |reason: &str| {
        db.hasher.pacer().record_failure(started.elapsed());
        alike(db, login_failed(username, &client, reason))
    };
    if !public && lockout::is_locked_for(&user, &client, now) {
        return Err(refused("account locked for this client"));
    }
    let reservation = if public {
        None
    } else {
        let reservation = db.throttle.reserve(&user.username, &client);
        // Read after reserving: see `Throttle::reserve`.
        let fresh = db
            .users
            .get(&user.username)?
            .unwrap_or_else(|| user.clone());
        let failures = lockout::failures_of(&fresh, &client, now);
        if lockout::is_locked_for(&fresh, &client, now)
            || failures.saturating_add(reservation.ahead) > db.lockout.max_failed_attempts
        {
            return Err(refused("too many concurrent attempts from this client"));
        }
        Some(reservation)
    };
    let verdict = db.hasher.verify(password, &user.password_hash);
    if !user.is_active {
        return Err(refused("account deactivated"));
    }
    if !verdict.is_match() {
        if !public {
            let after =
                match db
                    .users
                    .record_failed_attempt(&user.username, &client, now, db.lockout)
                {
                    Ok(after) => {
                        db.storage.succeeded();
                        after
                    }
                    Err(e) if storage::is_storage_failure(&e) => return Err(db.storage.failed(&e)),
                    Err(e) => return Err(e.into()),
                };
            if lockout::is_locked_for(&after, &client, now) {
                plantdb_auth_core::audit::AuditEvent::Lockout {
                    user: &user.username,
                    client: client.as_str(),
                    until: &lockout::locked_until(&after, now),
                }
                .emit();
            }
        }
        drop(reservation);
        return Err(refused("wrong password"));
    }
    let new_hash = match verdict {
        Verification::MatchNeedsRehash => db.hasher.hash(password).ok(),
        _ => None,
    };
    // Compare-and-swap on the hash that was checked: a reset or change that
    // landed meanwhile wins, and a lock set meanwhile holds.
    let user = match db.users.record_successful_login(
        &user.username,
        &client,
        now,
        &user.password_hash,
        new_hash.as_deref(),
    ) {
        Ok(user) => {
            db.storage.succeeded();
            user
        }
        Err(StoreError::Refused(reason)) => return Err(refused(&reason)),
        Err(e) if storage::is_storage_failure(&e) => return Err(db.storage.failed(&e)),
        Err(e) => return Err(e.into()),
    };
    drop(reservation);
    // Many people share `guest`: the session cap counts per client there,
    // so nobody ends other readers' sessions by logging in again and again.
    let cap = if public {
        Cap::PerClient(client.as_str().to_string())
    } else {
        Cap::PerUser
    };
    let tokens = db.sessions.login_with(user.username.as_str(), &cap)?;
    // A reset, change, deactivation or re-creation between the record and
    // the session: such changes revoke sessions after writing the account,
    // so checking again after creating ours closes the window.
    let current = db.users.get(&user.username)?;
    let unchanged = current.is_some_and(|c| {
        c.is_active && c.password_hash == user.password_hash && c.created_at == user.created_at
    });
    if !unchanged {
        db.sessions.revoke_family(&tokens.session_id)?;
        return Err(refused("the account changed during the login"));
    }
    plantdb_auth_core::audit::AuditEvent::LoginOk {
        user: &user.username,
        rehashed: new_hash.is_some(),
    }
    .emit();
    Ok(LoginResult {
        tokens,
        user: UserInfo::from(&user),
    })
}

/// How long a login must wait for its turn: an account that failed the
/// lockout threshold lately (from any address) gets one password check per
/// `ThrottlePolicy::slowdown`, so guesses spread over many addresses are
/// slowed down while the owner still gets in. A 429 when the queue is long.
/// Zero for everyone else (and for a client that is refused anyway).
pub fn login_wait(
    db: &AuthDb,
    username: &str,
    client: Option<IpAddr>,
) -> Result<Duration, AuthError> {
    let Some(user) = Username::parse(username)
        .ok()
        .and_then(|name| db.users.get(&name).ok().flatten())
    else {
        return Ok(Duration::ZERO);
    };
    let now = db.clock.now();
    if user.username.as_str() == plantdb_auth_core::rbac::GUEST_USERNAME
        || !lockout::under_attack(&user, db.lockout, now)
        || lockout::is_locked_for(&user, &ClientKey::of(client), now)
    {
        return Ok(Duration::ZERO);
    }
    db.throttle.turn(&user.username, Instant::now())
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

/// While writes fail, every login failure is the same 503: an existing
/// account's failure cannot be recorded, so an unknown one must not answer
/// differently.
fn alike(db: &AuthDb, failure: AuthError) -> AuthError {
    if db.storage.degraded().is_some() {
        storage::unavailable()
    } else {
        failure
    }
}

fn login_failed(username: &str, client: &ClientKey, reason: &str) -> AuthError {
    plantdb_auth_core::audit::AuditEvent::LoginFailed {
        user: &username.escape_debug(),
        client: client.as_str(),
        reason,
    }
    .emit();
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
///
/// The same checks as [`authenticate`], without copying the token's or the
/// account's record: this is the route every proxy and service calls.
pub fn validate_token(db: &AuthDb, token: Option<&str>) -> Result<UserInfo, AuthError> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(crate::caller::no_auth_user)?;
    let (claims, started_at) = db.sessions.validate_claims(token, ACCESS_OR_API)?;
    let username = Username::parse(&claims.sub)
        .map_err(|_| plantdb_auth_core::session::TokenError::NotLive)?;
    let mut info = None;
    db.users.with_user(&username, &mut |user| {
        if user.is_active && crate::caller::issued_to(user, started_at, db) {
            info = Some(UserInfo::from(user));
        }
    })?;
    info.ok_or_else(|| plantdb_auth_core::session::TokenError::NotLive.into())
}

/// Rotates a refresh token into a new pair.
pub fn refresh_token(db: &AuthDb, refresh_token: Option<&str>) -> Result<TokenPair, AuthError> {
    let token = refresh_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| AuthError::MissingField("Missing required field: refresh_token".into()))?;
    let started_at = db
        .sessions
        .decode(token)
        .ok()
        .and_then(|c| db.sessions.family_started_at(&c.jti));
    let (pair, username) = db.sessions.refresh(token)?;
    let still_allowed = Username::parse(&username)
        .ok()
        .and_then(|u| db.users.get(&u).ok().flatten())
        .is_some_and(|u| {
            u.is_active && started_at.is_some_and(|at| crate::caller::issued_to(&u, at, db))
        });
    if !still_allowed {
        db.sessions.revoke_family(&pair.session_id)?;
        return Err(plantdb_auth_core::session::TokenError::NotLive.into());
    }
    Ok(pair)
}

/// Token kinds a caller may use to mint API tokens: access only.
pub const MINTING_KINDS: &[TokenKind] = ACCESS_ONLY;
