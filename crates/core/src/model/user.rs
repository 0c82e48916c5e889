//! A PlantDB user account.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Permission, Role, Username};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub username: Username,
    pub fullname: String,
    /// Argon2 PHC string (`$argon2id$v=19$m=...`).
    pub password_hash: String,
    pub roles: BTreeSet<Role>,
    pub extra_permissions: BTreeSet<Permission>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub failed_attempts: u32,
    pub last_failed_attempt: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    pub password_last_change: Option<DateTime<Utc>>,
    /// Keys of the stored record we do not know; written back unchanged.
    pub extra: Map<String, Value>,
}

impl User {
    /// A fresh, active account with no login history.
    pub fn new(
        username: Username,
        fullname: impl Into<String>,
        password_hash: String,
        roles: impl IntoIterator<Item = Role>,
        now: DateTime<Utc>,
    ) -> Self {
        User {
            username,
            fullname: fullname.into(),
            password_hash,
            roles: roles.into_iter().collect(),
            extra_permissions: BTreeSet::new(),
            created_at: Some(now),
            last_login: None,
            is_active: true,
            failed_attempts: 0,
            last_failed_attempt: None,
            locked_until: None,
            password_last_change: Some(now),
            extra: Map::new(),
        }
    }

    /// Effective permissions: the union of the roles' permissions and the
    /// extra permissions.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        let mut all: BTreeSet<Permission> =
            self.roles.iter().flat_map(|r| r.permissions()).collect();
        all.extend(self.extra_permissions.iter().copied());
        all
    }

    pub fn has_permission(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| r.has_permission(permission))
            || self.extra_permissions.contains(&permission)
    }

    /// The highest-ranked role, if the user has any.
    pub fn highest_role(&self) -> Option<Role> {
        self.roles.iter().copied().max_by_key(|r| r.rank())
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role]) -> User {
        let name = Username::parse("alice").unwrap();
        User::new(
            name,
            "Alice",
            String::new(),
            roles.iter().copied(),
            Utc::now(),
        )
    }

    #[test]
    fn effective_permissions_are_roles_union_extra() {
        let mut u = user(&[Role::Reader]);
        assert_eq!(u.permissions(), [Permission::Read].into());
        u.extra_permissions.insert(Permission::Delete);
        assert_eq!(
            u.permissions(),
            [Permission::Read, Permission::Delete].into()
        );
        assert!(u.has_permission(Permission::Delete));
        assert!(!u.has_permission(Permission::Write));
    }

    #[test]
    fn highest_role_is_by_rank() {
        assert_eq!(
            user(&[Role::Reader, Role::Admin]).highest_role(),
            Some(Role::Admin)
        );
        assert_eq!(user(&[]).highest_role(), None);
    }

    #[test]
    fn lock_expires() {
        let mut u = user(&[Role::Reader]);
        let now = Utc::now();
        u.locked_until = Some(now + chrono::Duration::seconds(10));
        assert!(u.is_locked(now));
        assert!(!u.is_locked(now + chrono::Duration::seconds(10)));
    }
}
