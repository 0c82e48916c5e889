//! Roles: reader < contributor < admin.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::permission::{normalise_name, Permission, UnknownName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    Contributor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Reader, Role::Contributor, Role::Admin];

    pub fn value(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Admin => "admin",
        }
    }

    pub fn rank(self) -> u8 {
        match self {
            Role::Reader => 1,
            Role::Contributor => 2,
            Role::Admin => 3,
        }
    }

    pub fn permissions(self) -> BTreeSet<Permission> {
        use Permission::*;
        let list: &[Permission] = match self {
            Role::Reader => &[Read],
            Role::Contributor => &[Read, Write, Create],
            Role::Admin => &[Read, Write, Create, Delete, ManageUsers, ManageGroups],
        };
        list.iter().copied().collect()
    }

    pub fn has_permission(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// A role can assign roles of rank lower than or equal to its own.
    pub fn can_assign(self, other: Role) -> bool {
        other.rank() <= self.rank()
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalise_name(s, "Role");
        Role::ALL
            .into_iter()
            .find(|r| r.value() == wanted)
            .ok_or_else(|| UnknownName {
                kind: "role",
                given: s.to_string(),
                expected: "reader, contributor, admin",
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_permissions_follow_the_contract() {
        assert_eq!(Role::Reader.permissions().len(), 1);
        assert_eq!(Role::Contributor.permissions().len(), 3);
        assert_eq!(Role::Admin.permissions().len(), 6);
        assert!(!Role::Contributor.has_permission(Permission::Delete));
        assert!(Role::Reader.rank() < Role::Contributor.rank());
    }

    #[test]
    fn can_assign_roles_of_equal_or_lower_rank_only() {
        for a in Role::ALL {
            for b in Role::ALL {
                assert_eq!(a.can_assign(b), b.rank() <= a.rank(), "{a} -> {b}");
            }
        }
    }

    #[test]
    fn parses_leniently() {
        assert_eq!("Role.ADMIN".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("CONTRIBUTOR".parse::<Role>(), Ok(Role::Contributor));
        assert!("owner".parse::<Role>().is_err());
    }
}
