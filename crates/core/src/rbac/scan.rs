//! The effective role of a user on one scan, and what it allows.

use std::collections::BTreeSet;

use super::grants::{token_permissions, DatasetGrants};
use crate::model::{GroupName, Permission, Role, User};

/// The owner of a scan whose metadata names none, as in the Python server.
pub const GUEST_USERNAME: &str = "guest";

/// The access-relevant part of a scan's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanRef {
    /// The scan's name (its directory), which API-token patterns match.
    pub id: String,
    /// `owner` from the metadata; `None` means [`GUEST_USERNAME`].
    pub owner: Option<String>,
    /// `sharing` from the metadata: names of the groups the scan is shared with.
    pub sharing: Vec<String>,
}

impl ScanRef {
    pub fn new(id: impl Into<String>) -> Self {
        ScanRef {
            id: id.into(),
            ..ScanRef::default()
        }
    }

    pub fn owner(&self) -> &str {
        self.owner.as_deref().unwrap_or(GUEST_USERNAME)
    }

    /// Exact comparison, as Python's: stored usernames are already lower-case.
    pub fn is_owned_by(&self, user: &User) -> bool {
        self.owner() == user.username.as_str()
    }

    /// The entries of `sharing` naming one of `groups`, in `sharing` order.
    pub fn shared_groups_of<'a>(&'a self, groups: &[GroupName]) -> Vec<&'a str> {
        self.sharing
            .iter()
            .map(String::as_str)
            .filter(|s| groups.iter().any(|g| g.as_str() == *s))
            .collect()
    }

    fn is_shared_with(&self, groups: &[GroupName]) -> bool {
        !self.shared_groups_of(groups).is_empty()
    }
}

/// Admin if the user has the admin role; else contributor if the user owns
/// the scan or is in one of its sharing groups; else the highest global role.
///
/// We differ from Python for a user without any role: Python falls back to
/// reader, we answer `None` (no access to scans the user neither owns nor
/// shares).
pub fn effective_role(user: &User, groups: &[GroupName], scan: &ScanRef) -> Option<Role> {
    if user.is_admin() {
        Some(Role::Admin)
    } else if scan.is_owned_by(user) || scan.is_shared_with(groups) {
        Some(Role::Contributor)
    } else {
        user.highest_role()
    }
}

/// The effective role's permissions. Extra (per-user) permissions do not
/// widen them, as in Python: they are global rights, not scan rights.
pub fn scan_permissions(user: &User, groups: &[GroupName], scan: &ScanRef) -> BTreeSet<Permission> {
    effective_role(user, groups, scan)
        .map(Role::permissions)
        .unwrap_or_default()
}

pub fn can(user: &User, groups: &[GroupName], scan: &ScanRef, permission: Permission) -> bool {
    effective_role(user, groups, scan).is_some_and(|r| r.has_permission(permission))
}

/// Scan permissions when the request carries an API token: the scan's
/// permissions ∩ what the token grants on the scan's name (itself already
/// cut down to the user's current global permissions, so demoting a user
/// demotes every token it minted, even on the scans it owns).
pub fn token_scan_permissions(
    user: &User,
    groups: &[GroupName],
    scan: &ScanRef,
    grants: &DatasetGrants,
) -> BTreeSet<Permission> {
    let granted = token_permissions(&user.permissions(), grants, &scan.id);
    scan_permissions(user, groups, scan)
        .intersection(&granted)
        .copied()
        .collect()
}

/// The scans on which the user holds `permission`, in input order (Python's
/// listing filter is this with `read`).
pub fn accessible_scans<'a>(
    user: &User,
    groups: &[GroupName],
    scans: &'a [ScanRef],
    permission: Permission,
) -> Vec<&'a ScanRef> {
    scans
        .iter()
        .filter(|scan| can(user, groups, scan, permission))
        .collect()
}

/// Which proposed metadata change the user may not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetadataChangeDenied {
    #[error("changing the owner of a scan requires the manage_users permission")]
    Owner,
    #[error("changing the sharing of a scan requires write permission on the scan")]
    Sharing,
}

/// Python's `validate_scan_metadata_access`: a new `owner` needs the global
/// `manage_users` permission; a new `sharing` list (order counts, as Python
/// compares lists) needs `write` on the scan as it is now. The owner is
/// checked first.
pub fn can_change_scan_metadata(
    user: &User,
    groups: &[GroupName],
    old: &ScanRef,
    new: &ScanRef,
) -> Result<(), MetadataChangeDenied> {
    if old.owner() != new.owner() && !user.has_permission(Permission::ManageUsers) {
        return Err(MetadataChangeDenied::Owner);
    }
    if old.sharing != new.sharing && !can(user, groups, old, Permission::Write) {
        return Err(MetadataChangeDenied::Sharing);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::Username;
    use chrono::Utc;

    fn user(name: &str, roles: &[Role]) -> User {
        let name = Username::parse(name).unwrap();
        User::new(name, "", String::new(), roles.iter().copied(), Utc::now())
    }

    #[test]
    fn missing_owner_is_guest() {
        let scan = ScanRef::new("s");
        assert!(scan.is_owned_by(&user("guest", &[Role::Reader])));
        assert_eq!(
            effective_role(&user("guest", &[Role::Reader]), &[], &scan),
            Some(Role::Contributor)
        );
    }

    #[test]
    fn user_without_roles_only_reaches_own_scans() {
        let nobody = user("nobody", &[]);
        let mut scan = ScanRef::new("s");
        assert_eq!(effective_role(&nobody, &[], &scan), None);
        assert!(scan_permissions(&nobody, &[], &scan).is_empty());
        scan.owner = Some("nobody".into());
        assert_eq!(effective_role(&nobody, &[], &scan), Some(Role::Contributor));
    }

    #[test]
    fn sharing_order_counts_as_a_change() {
        let reader = user("r", &[Role::Reader]);
        let old = ScanRef {
            sharing: vec!["a".into(), "b".into()],
            ..ScanRef::new("s")
        };
        let new = ScanRef {
            sharing: vec!["b".into(), "a".into()],
            ..old.clone()
        };
        assert_eq!(
            can_change_scan_metadata(&reader, &[], &old, &new),
            Err(MetadataChangeDenied::Sharing)
        );
        assert_eq!(can_change_scan_metadata(&reader, &[], &old, &old), Ok(()));
    }
}
