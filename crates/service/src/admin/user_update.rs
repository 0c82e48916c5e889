//! `PATCH /users/{u}`: full name, roles, extra permissions, activation, unlock.

use std::collections::BTreeSet;

use plantdb_auth_core::model::{Permission, Role, User};

use super::users::{find, last_admin_error, refuse_last_admin, UserView};
use super::{denied, require, require_rank_over};
use crate::auth::check_fullname;
use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// `PATCH /users/{u}`: absent (or null) fields are left alone.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UserPatch {
    pub fullname: Option<String>,
    pub roles: Option<Vec<String>>,
    pub extra_permissions: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub unlock: Option<bool>,
}

/// A [`UserPatch`] checked against the caller's rights.
struct Change {
    fullname: Option<String>,
    roles: Option<BTreeSet<Role>>,
    extra: Option<BTreeSet<Permission>>,
    active: Option<bool>,
    unlock: bool,
}

fn parse_list<T: std::str::FromStr + Ord>(items: &[String]) -> Result<BTreeSet<T>, AuthError>
where
    T::Err: std::fmt::Display,
{
    items
        .iter()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| AuthError::InvalidInput(e.to_string()))
        })
        .collect()
}

impl Change {
    fn parse(patch: &UserPatch) -> Result<Change, AuthError> {
        if let Some(name) = &patch.fullname {
            check_fullname(name)?;
        }
        let roles = patch.roles.as_deref().map(parse_list::<Role>).transpose()?;
        if roles.as_ref().is_some_and(BTreeSet::is_empty) {
            return Err(AuthError::InvalidInput(
                "Field 'roles' must name at least one role".into(),
            ));
        }
        let change = Change {
            fullname: patch.fullname.clone(),
            roles,
            extra: patch
                .extra_permissions
                .as_deref()
                .map(parse_list)
                .transpose()?,
            active: patch.is_active,
            unlock: patch.unlock == Some(true),
        };
        let empty = change.fullname.is_none()
            && change.roles.is_none()
            && change.extra.is_none()
            && change.active.is_none()
            && !change.unlock;
        if empty {
            return Err(AuthError::MissingField(
                "Nothing to change: send any of fullname, roles, extra_permissions, is_active, unlock"
                    .into(),
            ));
        }
        Ok(change)
    }

    /// Nobody hands out more than they hold: roles up to their own rank,
    /// extra permissions they have themselves.
    fn authorize(&self, caller: &Caller, target: &User) -> Result<(), AuthError> {
        let top = caller.user.highest_role();
        let mut roles = self.roles.iter().flatten();
        if let Some(role) = roles.find(|r| !top.is_some_and(|t| t.can_assign(**r))) {
            return Err(denied(
                caller,
                "assigning roles",
                format!("Permission denied: you cannot assign the role '{role}', which ranks above your own"),
            ));
        }
        let held = caller.user.permissions();
        let mut added = self.extra.iter().flatten();
        let not_held = |p: &&Permission| !target.extra_permissions.contains(p) && !held.contains(p);
        if let Some(p) = added.find(not_held) {
            return Err(denied(
                caller,
                "granting permissions",
                format!("Permission denied: you cannot grant the '{p}' permission, which you do not hold"),
            ));
        }
        Ok(())
    }

    fn removes_admin(&self, target: &User) -> bool {
        target.is_admin()
            && (self.active == Some(false)
                || self
                    .roles
                    .as_ref()
                    .is_some_and(|r| !r.contains(&Role::Admin)))
    }

    fn apply(&self, user: &mut User) {
        if let Some(name) = &self.fullname {
            user.fullname = name.clone();
        }
        if let Some(roles) = &self.roles {
            user.roles = roles.clone();
        }
        if let Some(extra) = &self.extra {
            user.extra_permissions = extra.clone();
        }
        if let Some(active) = self.active {
            user.is_active = active;
        }
        if self.unlock {
            plantdb_auth_core::store::lockout::clear(user);
        }
    }
}

fn audit_change(caller: &Caller, before: &User, after: &User, change: &Change) {
    let (user, by) = (&after.username, caller.username());
    if before.roles != after.roles {
        plantdb_auth_core::audit::AuditEvent::RoleChange {
            user,
            by: &by,
            from: &before.roles,
            to: &after.roles,
        }
        .emit();
    }
    if before.extra_permissions != after.extra_permissions {
        plantdb_auth_core::audit::AuditEvent::PermissionsChange {
            user,
            by: &by,
            from: &before.extra_permissions,
            to: &after.extra_permissions,
        }
        .emit();
    }
    if before.is_active != after.is_active {
        plantdb_auth_core::audit::AuditEvent::AccountStatus {
            active: after.is_active,
            user,
            by: &by,
        }
        .emit();
    }
    if change.unlock {
        plantdb_auth_core::audit::AuditEvent::Unlock { user, by: &by }.emit();
    }
}

/// Changes an account; needs `manage_users` and a rank at least the
/// target's. Deactivation ends the account's sessions and API tokens.
pub fn update_user(
    db: &AuthDb,
    caller: &Caller,
    username: &str,
    patch: &UserPatch,
) -> Result<UserView, AuthError> {
    require(caller, Permission::ManageUsers, "changing users")?;
    let change = Change::parse(patch)?;
    let target = find(db, username)?;
    require_rank_over(caller, &target, "changing users")?;
    change.authorize(caller, &target)?;
    if change.removes_admin(&target) {
        refuse_last_admin(db, &target, "demote or deactivate")?;
    }
    // Checked again inside the store's write: concurrent demotions of the
    // last two admins cannot both pass.
    let updated = db
        .users
        .update_keeping_an_admin(&target.username, &mut |u| {
            change.apply(u);
            Ok(())
        })
        .map_err(|e| last_admin_error(e, &target, "demote or deactivate"))?;
    if !updated.is_active {
        db.sessions.revoke_user(updated.username.as_str())?;
    }
    audit_change(caller, &target, &updated, &change);
    Ok(UserView::new(&updated, db.clock.now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use plantdb_auth_core::model::Username;

    fn user(roles: &[Role]) -> User {
        let name = Username::parse("u").unwrap();
        User::new(name, "", String::new(), roles.iter().copied(), Utc::now())
    }

    fn patch(json: serde_json::Value) -> UserPatch {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn patches_parse_every_accepted_spelling() {
        let change = Change::parse(&patch(serde_json::json!({
            "roles": ["Role.ADMIN", "reader"], "extra_permissions": ["DELETE"], "unlock": true
        })))
        .unwrap();
        assert_eq!(change.roles, Some([Role::Reader, Role::Admin].into()));
        assert_eq!(change.extra, Some([Permission::Delete].into()));
        assert!(change.unlock);
    }

    #[test]
    fn empty_or_invalid_patches_are_refused() {
        for body in [
            serde_json::json!({}),
            serde_json::json!({"unlock": false}),
            serde_json::json!({"roles": []}),
            serde_json::json!({"roles": ["owner"]}),
            serde_json::json!({"extra_permissions": ["fly"]}),
        ] {
            assert!(Change::parse(&patch(body.clone())).is_err(), "{body}");
        }
    }

    #[test]
    fn only_admins_losing_admin_power_count_as_removing_an_admin() {
        let demote = Change::parse(&patch(serde_json::json!({"roles": ["reader"]}))).unwrap();
        let disable = Change::parse(&patch(serde_json::json!({"is_active": false}))).unwrap();
        let rename = Change::parse(&patch(serde_json::json!({"fullname": "x"}))).unwrap();
        let admin = user(&[Role::Admin]);
        assert!(demote.removes_admin(&admin));
        assert!(disable.removes_admin(&admin));
        assert!(!rename.removes_admin(&admin));
        assert!(!demote.removes_admin(&user(&[Role::Contributor])));
    }
}
