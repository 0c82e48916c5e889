//! The administrative use-cases: user accounts, groups, and authorization
//! decisions on scans. Every permission check of these endpoints lives here,
//! never in an adapter.
//!
//! Token kinds: anything that changes state, or reads other people's
//! accounts, needs an access token (a person at a keyboard); API tokens are
//! scoped to datasets, so they only serve `me`, group reads and the
//! authorization answers, which never reach beyond what the token grants.

mod authz;
mod forward;
mod forward_map;
mod groups;
mod password;
mod user_update;
mod users;

pub use authz::{authorize_scan, authorize_scan_metadata, ScanDecision, ScanQuestion};
pub use forward::{verify_access, verify_request, ForwardAuth, ForwardPolicy, OriginalRequest};
pub use forward_map::UnmappedPolicy;
pub use groups::{
    add_group_member, create_group, delete_group, get_group, list_groups, remove_group_member,
    GroupPayload, GroupView, MemberPayload,
};
pub use password::{change_password, change_password_from, PasswordChange, PasswordChanged};
pub use user_update::{update_user, UserPatch};
pub use users::{current_user, delete_user, get_user, list_users, UserView};

use chrono::{DateTime, SecondsFormat, Utc};
use plantdb_auth_core::model::{Permission, Role, User};

use crate::caller::Caller;
use crate::AuthError;

/// ISO 8601 in UTC with an explicit offset, which Python's
/// `datetime.fromisoformat` reads on every version (`Z` needs 3.11).
pub(crate) fn iso(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
}

/// A refusal, recorded in the audit log before it is returned.
pub(crate) fn denied(caller: &Caller, action: &str, message: String) -> AuthError {
    plantdb_auth_core::audit::AuditEvent::PermissionDenied {
        user: &caller.username(),
        action,
    }
    .emit();
    AuthError::PermissionDenied(message)
}

/// [`Caller::require`], with the refusal audited.
pub(crate) fn require(
    caller: &Caller,
    permission: Permission,
    action: &str,
) -> Result<(), AuthError> {
    caller
        .require(permission, action)
        .map_err(|e| denied(caller, action, e.to_string()))
}

fn rank(user: &User) -> u8 {
    user.highest_role().map_or(0, Role::rank)
}

/// The rank rule on effective permissions: the caller may act on `target`
/// when the target's highest role ranks no higher than the caller's and
/// every permission the target holds (roles plus extra permissions), the
/// caller holds too. Otherwise a user given `manage_users` as an extra
/// permission could reset the password of an account holding `delete`.
pub(crate) fn may_act_on(caller: &User, target: &User) -> bool {
    rank(target) <= rank(caller) && target.permissions().is_subset(&caller.permissions())
}

/// Managing an account that ranks above your own, or holds a permission
/// you lack, would let a user with a delegated `manage_users` (an extra
/// permission) take over that account.
pub(crate) fn require_rank_over(
    caller: &Caller,
    target: &User,
    action: &str,
) -> Result<(), AuthError> {
    if may_act_on(&caller.user, target) {
        return Ok(());
    }
    let lacking = caller.lacking(&target.permissions());
    let message = if lacking.is_empty() {
        format!(
            "Permission denied: user '{}' ranks above you",
            target.username
        )
    } else {
        format!(
            "Permission denied: user '{}' holds permissions you do not have ({})",
            target.username,
            lacking.join(", ")
        )
    };
    Err(denied(caller, action, message))
}
