//! Who is calling a data route (data-api.md §2.2): no token → the `guest`
//! account; a token → it must validate as an access or API token, whose
//! dataset grants then narrow every scan permission.

use plantdb_auth_core::model::{GroupName, Permission, User, Username};
use plantdb_auth_core::rbac::{self, DatasetGrants, ScanRef};
use plantdb_data::fsdb::ScanData;

use crate::caller::Identity;
use crate::{AuthDb, AuthError};

/// A caller of the data API, resolved once per request.
#[derive(Debug, Clone)]
pub struct Access {
    pub user: User,
    /// Names of the groups the user belongs to (scan sharing).
    pub groups: Vec<GroupName>,
    /// An API token's dataset grants; `None` for an access token or guest.
    pub grants: Option<DatasetGrants>,
    /// No token was sent: the public `guest` account.
    pub anonymous: bool,
}

/// The data API's view of a caller resolved at the edge (ACCESS_OR_API
/// kinds). `write`: the route writes, so an anonymous request is 401
/// rather than the guest account.
pub fn data_access(db: &AuthDb, identity: Identity, write: bool) -> Result<Access, AuthError> {
    let (user, grants, anonymous) = match identity.optional()? {
        Some(caller) => {
            let grants = caller.grants();
            (caller.user, grants, false)
        }
        None if write => {
            return Err(AuthError::NoAuthUser(
                "No authenticated user: this route writes; log in and send 'Authorization: Bearer <token>'"
                    .into(),
            ))
        }
        None => {
            let guest = Username::parse(rbac::GUEST_USERNAME)
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            match db.users.get(&guest)? {
                Some(user) if user.is_active => (user, None, true),
                _ => {
                    return Err(AuthError::NoAuthUser(
                        "Anonymous reads are disabled on this server (the 'guest' account is inactive): log in and send 'Authorization: Bearer <token>'"
                            .into(),
                    ))
                }
            }
        }
    };
    let groups = db
        .groups
        .groups_of(&user.username)?
        .into_iter()
        .map(|g| g.name)
        .collect();
    Ok(Access {
        user,
        groups,
        grants,
        anonymous,
    })
}

impl Access {
    pub fn scan_ref(scan: &ScanData) -> ScanRef {
        ScanRef {
            id: scan.id().to_string(),
            owner: scan.owner().map(str::to_string),
            sharing: scan.sharing(),
        }
    }

    /// Whether the caller holds `permission` on `scan`.
    pub fn can(&self, scan: &ScanData, permission: Permission) -> bool {
        let scan = Access::scan_ref(scan);
        match &self.grants {
            None => rbac::can(&self.user, &self.groups, &scan, permission),
            Some(grants) => rbac::token_scan_permissions(&self.user, &self.groups, &scan, grants)
                .contains(&permission),
        }
    }

    /// `PermissionDenied` unless the caller holds `permission` on `scan`.
    pub fn require(&self, scan: &ScanData, permission: Permission) -> Result<(), AuthError> {
        if self.can(scan, permission) {
            return Ok(());
        }
        Err(AuthError::PermissionDenied(format!(
            "Permission denied: user '{}' may not {} scan '{}'{}",
            self.user.username,
            match permission {
                Permission::Read => "read",
                Permission::Write => "write to",
                Permission::Delete => "delete from",
                _ => "change",
            },
            scan.id(),
            if self.grants.is_some() {
                " with this API token (check its dataset grants)"
            } else {
                ""
            }
        )))
    }

    /// A global permission (create a scan, create or delete a timelapse);
    /// for an API token, also granted on `dataset`.
    pub fn require_global(&self, permission: Permission, dataset: &str) -> Result<(), AuthError> {
        let held = self.user.has_permission(permission);
        let granted = match &self.grants {
            None => true,
            Some(g) => {
                rbac::token_permissions(&self.user.permissions(), g, dataset).contains(&permission)
            }
        };
        if held && granted {
            return Ok(());
        }
        Err(AuthError::PermissionDenied(format!(
            "Permission denied: user '{}' lacks the '{permission}' permission{}",
            self.user.username,
            if self.grants.is_some() && held {
                format!(" for '{dataset}' in this API token")
            } else {
                String::new()
            }
        )))
    }
}
