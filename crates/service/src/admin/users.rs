//! User accounts: who am I, list, show, delete. Changes are in
//! `user_update`, passwords in `password`.

use chrono::{DateTime, Utc};
use plantdb_auth_core::model::{Permission, User, Username};
use plantdb_auth_core::rbac::GUEST_USERNAME;
use plantdb_auth_core::store::StoreError;

use super::{iso, require, require_rank_over};
use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// A user as clients see it: never the hash, never the failure counter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserView {
    pub username: String,
    pub fullname: String,
    pub roles: Vec<String>,
    pub extra_permissions: Vec<String>,
    pub is_active: bool,
    pub locked_until: Option<String>,
    pub last_login: Option<String>,
    pub created_at: Option<String>,
}

impl UserView {
    /// A lock that has run out is shown as none: it no longer stops a login.
    pub(super) fn new(user: &User, now: DateTime<Utc>) -> Self {
        UserView {
            username: user.username.to_string(),
            fullname: user.fullname.clone(),
            roles: user.roles.iter().map(|r| r.value().to_string()).collect(),
            extra_permissions: user
                .extra_permissions
                .iter()
                .map(|p| p.value().to_string())
                .collect(),
            is_active: user.is_active,
            locked_until: iso(user.locked_until.filter(|_| user.is_locked(now))),
            last_login: iso(user.last_login),
            created_at: iso(user.created_at),
        }
    }
}

fn not_found(raw: &str) -> AuthError {
    AuthError::NotFound(format!("User '{raw}' does not exist"))
}

/// An invalid name in a path cannot name a stored user: 404, not 400.
pub(super) fn find(db: &AuthDb, raw: &str) -> Result<User, AuthError> {
    let name = Username::parse(raw).map_err(|_| not_found(raw))?;
    db.users.get(&name)?.ok_or_else(|| not_found(raw))
}

/// The operator is nobody's self, even of an account named like it.
pub(super) fn is_self(caller: &Caller, raw: &str) -> bool {
    !caller.is_operator() && Username::parse(raw).is_ok_and(|n| &n == caller.username())
}

fn active_admins(db: &AuthDb) -> Result<usize, AuthError> {
    Ok(db
        .users
        .list()?
        .iter()
        .filter(|u| u.is_admin() && u.is_active)
        .count())
}

/// Nobody could manage the server any more.
pub(super) fn refuse_last_admin(db: &AuthDb, target: &User, doing: &str) -> Result<(), AuthError> {
    if target.is_admin() && target.is_active && active_admins(db)? <= 1 {
        return Err(AuthError::Conflict(format!(
            "Cannot {doing} '{}': it is the last active admin",
            target.username
        )));
    }
    Ok(())
}

/// The store's refusal of a change that would leave no active admin, in
/// the words of [`refuse_last_admin`]; other errors as they are.
pub(super) fn last_admin_error(e: StoreError, target: &User, doing: &str) -> AuthError {
    match e {
        StoreError::Refused(_) => AuthError::Conflict(format!(
            "Cannot {doing} '{}': it is the last active admin",
            target.username
        )),
        other => other.into(),
    }
}

/// `GET /auth/me`: the caller's own account.
pub fn current_user(db: &AuthDb, caller: &Caller) -> Result<UserView, AuthError> {
    Ok(UserView::new(&caller.user, db.clock.now()))
}

/// Every account, by username; needs `manage_users`.
pub fn list_users(db: &AuthDb, caller: &Caller) -> Result<Vec<UserView>, AuthError> {
    require(caller, Permission::ManageUsers, "listing users")?;
    let now = db.clock.now();
    let mut users = db.users.list()?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(users.iter().map(|u| UserView::new(u, now)).collect())
}

/// One account: one's own, or anyone's with `manage_users`.
pub fn get_user(db: &AuthDb, caller: &Caller, username: &str) -> Result<UserView, AuthError> {
    if !is_self(caller, username) {
        require(
            caller,
            Permission::ManageUsers,
            "viewing another user's account",
        )?;
    }
    Ok(UserView::new(&find(db, username)?, db.clock.now()))
}

/// Deletes an account, its sessions and API tokens, and its group
/// memberships (so that a new account of the same name inherits nothing).
/// `guest` and the last active admin cannot be deleted.
pub fn delete_user(db: &AuthDb, caller: &Caller, username: &str) -> Result<Username, AuthError> {
    require(caller, Permission::ManageUsers, "deleting users")?;
    let target = find(db, username)?;
    if target.username.as_str() == GUEST_USERNAME {
        return Err(AuthError::Conflict(
            "The 'guest' account cannot be deleted: it is the public read-only account (deactivate it instead)".into(),
        ));
    }
    require_rank_over(caller, &target, "deleting users")?;
    refuse_last_admin(db, &target, "delete")?;
    // Checked again inside the store's write: concurrent deletions of the
    // last two admins cannot both pass.
    db.users
        .delete_keeping_an_admin(&target.username)
        .map_err(|e| last_admin_error(e, &target, "delete"))?;
    let sessions_ended = db.sessions.revoke_user(target.username.as_str())?;
    for group in db.groups.groups_of(&target.username)? {
        db.groups.remove_member(&group.name, &target.username)?;
    }
    plantdb_auth_core::audit::AuditEvent::UserDeleted {
        user: &target.username,
        by: &caller.username(),
        sessions_ended,
    }
    .emit();
    Ok(target.username)
}
