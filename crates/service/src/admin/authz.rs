//! Authorization decisions for the scan server: the RBAC rules of
//! contract §1, asked over HTTP instead of linked in. Reverse proxies ask
//! [`super::forward`].

use plantdb_auth_core::model::{GroupName, Permission};
use plantdb_auth_core::rbac::{
    access_summary, can_change_scan_metadata, token_permissions, token_scan_permissions,
    AccessSummary, MetadataChangeDenied, ScanRef,
};

use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// `POST /authz/scan`, parsed at the edge: may the caller do `permission`
/// on `scan`?
#[derive(Debug, Clone)]
pub struct ScanQuestion {
    /// The scan's access metadata; its `id` is what API-token patterns match.
    pub scan: ScanRef,
    pub permission: Permission,
}

/// Whether the caller holds the permission, and why it has the access it has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanDecision {
    pub allowed: bool,
    #[serde(flatten)]
    pub summary: AccessSummary,
}

fn group_names(db: &AuthDb, caller: &Caller) -> Result<Vec<GroupName>, AuthError> {
    Ok(db
        .groups
        .groups_of(caller.username())?
        .into_iter()
        .map(|g| g.name)
        .collect())
}

/// Whether the caller (access or API token) holds `permission` on a scan.
/// A refusal is an answer (`allowed: false`), not an error.
pub fn authorize_scan(
    db: &AuthDb,
    caller: &Caller,
    question: &ScanQuestion,
) -> Result<ScanDecision, AuthError> {
    let (scan, permission) = (&question.scan, question.permission);
    let groups = group_names(db, caller)?;
    let summary = access_summary(&caller.user, &groups, scan, caller.grants().as_ref());
    let allowed = summary.permissions.contains(&permission);
    if !allowed {
        plantdb_auth_core::audit::AuditEvent::ScanAccessDenied {
            user: &caller.username(),
            scan: &scan.id.escape_debug(),
            permission: &permission,
        }
        .emit();
    }
    Ok(ScanDecision { allowed, summary })
}

/// An API token narrows the user's rights to what it grants on the scan.
fn token_allows_change(
    caller: &Caller,
    groups: &[GroupName],
    old: &ScanRef,
    new: &ScanRef,
) -> Result<(), MetadataChangeDenied> {
    let Some(grants) = caller.grants() else {
        return Ok(());
    };
    let user = &caller.user;
    let granted = token_permissions(&user.permissions(), &grants, &old.id);
    if old.owner() != new.owner() && !granted.contains(&Permission::ManageUsers) {
        return Err(MetadataChangeDenied::Owner);
    }
    let on_scan = token_scan_permissions(user, groups, old, &grants);
    if old.sharing != new.sharing && !on_scan.contains(&Permission::Write) {
        return Err(MetadataChangeDenied::Sharing);
    }
    Ok(())
}

/// Whether the caller may change a scan's `owner`/`sharing` from `old` to
/// `new`: `Ok(None)` if allowed, else the reason.
pub fn authorize_scan_metadata(
    db: &AuthDb,
    caller: &Caller,
    old: &ScanRef,
    new: &ScanRef,
) -> Result<Option<String>, AuthError> {
    let groups = group_names(db, caller)?;
    let verdict = can_change_scan_metadata(&caller.user, &groups, old, new)
        .and_then(|()| token_allows_change(caller, &groups, old, new));
    match verdict {
        Ok(()) => Ok(None),
        Err(reason) => {
            plantdb_auth_core::audit::AuditEvent::ScanChangeDenied {
                user: &caller.username(),
                scan: &old.id.escape_debug(),
                reason: &reason,
            }
            .emit();
            Ok(Some(reason.to_string()))
        }
    }
}
