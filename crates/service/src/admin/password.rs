//! `POST /users/{u}/password`: a self-service change or an admin reset.

use plantdb_auth_core::model::{Permission, User, Username};
use std::net::IpAddr;

use plantdb_auth_core::password::MAX_PASSWORD_BYTES;
use plantdb_auth_core::store::{lockout, ClientKey};

use super::users::{find, is_self};
use super::{require, require_rank_over};
use crate::auth::check_new_password;
use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// `POST /users/{u}/password`.
#[derive(Clone, Default, serde::Deserialize)]
pub struct PasswordChange {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChanged {
    pub username: Username,
    /// Sessions and API tokens ended by the change.
    pub sessions_ended: usize,
}

/// A self-service change must prove the current password; failures count
/// towards the lockout, as at login, so a stolen token cannot guess it.
fn verify_current(
    db: &AuthDb,
    user: &User,
    given: Option<&str>,
    client: &ClientKey,
) -> Result<(), AuthError> {
    let given = given.ok_or_else(|| {
        AuthError::MissingField(
            "Missing required field: current_password (needed to change your own password)".into(),
        )
    })?;
    if given.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidCredentials);
    }
    let now = db.clock.now();
    let reservation = db.throttle.reserve(&user.username, client);
    // Read after reserving: see `Throttle::reserve`.
    let fresh = db
        .users
        .get(&user.username)?
        .unwrap_or_else(|| user.clone());
    let refused = lockout::is_locked_for(&fresh, client, now)
        || lockout::failures_of(&fresh, client, now).saturating_add(reservation.ahead)
            > db.lockout.max_failed_attempts;
    if refused || !db.hasher.verify(given, &user.password_hash).is_match() {
        if !refused {
            db.users
                .record_failed_attempt(&user.username, client, now, db.lockout)?;
        }
        drop(reservation);
        plantdb_auth_core::audit::AuditEvent::PasswordChangeFailed {
            user: &user.username,
        }
        .emit();
        return Err(AuthError::InvalidCredentials);
    }
    Ok(())
}

/// Sets a new password: one's own with the current password, or anyone's
/// with `manage_users` (a reset). Either way the policy applies and every
/// session and API token of the account ends, the caller's included: a
/// password change is what one does after a suspected compromise.
pub fn change_password(
    db: &AuthDb,
    caller: &Caller,
    username: &str,
    body: &PasswordChange,
) -> Result<PasswordChanged, AuthError> {
    change_password_from(db, caller, username, body, None)
}

/// [`change_password`] for a caller at `client`: changes are limited per
/// account and per client address (`ThrottlePolicy`), since each costs a
/// hash and ends sessions; the operator is not limited.
pub fn change_password_from(
    db: &AuthDb,
    caller: &Caller,
    username: &str,
    body: &PasswordChange,
    client: Option<IpAddr>,
) -> Result<PasswordChanged, AuthError> {
    if username.eq_ignore_ascii_case(plantdb_auth_core::rbac::GUEST_USERNAME) {
        return Err(AuthError::PermissionDenied(
            "The 'guest' account's password is public ('guest') and cannot be changed; deactivate guest to make reads private".into(),
        ));
    }
    let own = is_self(caller, username);
    let target = if own {
        caller.user.clone()
    } else {
        require(
            caller,
            Permission::ManageUsers,
            "resetting another user's password",
        )?;
        let target = find(db, username)?;
        require_rank_over(caller, &target, "resetting passwords")?;
        target
    };
    let new = body
        .new_password
        .as_deref()
        .ok_or_else(|| AuthError::MissingField("Missing required field: new_password".into()))?;
    check_new_password(db, new, &target.username)?;
    if !caller.is_operator() {
        db.throttle.password_change(&target.username, client)?;
    }
    if own {
        verify_current(
            db,
            &target,
            body.current_password.as_deref(),
            &ClientKey::of(client),
        )?;
    }
    let hash = db
        .hasher
        .hash(new)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    db.users
        .set_password_hash(&target.username, &hash, db.clock.now())?;
    let sessions_ended = db.sessions.revoke_user(target.username.as_str())?;
    plantdb_auth_core::audit::AuditEvent::PasswordChanged {
        own,
        user: &target.username,
        by: &caller.username(),
        sessions_ended,
    }
    .emit();
    Ok(PasswordChanged {
        username: target.username,
        sessions_ended,
    })
}
