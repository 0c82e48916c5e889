//! Permissions, spelled as PlantDB spells them.

use std::fmt;
use std::str::FromStr;

/// One PlantDB permission. Values (`read`) are what `users.json` stores;
/// qualified names (`Permission.READ`) are what API-token claims carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Read,
    Write,
    Create,
    Delete,
    ManageUsers,
    ManageGroups,
}

/// A permission or role string that matches nothing we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{given}': expected one of {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub expected: &'static str,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Write,
        Permission::Create,
        Permission::Delete,
        Permission::ManageUsers,
        Permission::ManageGroups,
    ];

    /// The value stored in `users.json` (`manage_users`).
    pub fn value(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Create => "create",
            Permission::Delete => "delete",
            Permission::ManageUsers => "manage_users",
            Permission::ManageGroups => "manage_groups",
        }
    }

    /// The Python enum member's qualified name (`Permission.MANAGE_USERS`).
    pub fn qualified_name(self) -> String {
        format!("Permission.{}", self.value().to_ascii_uppercase())
    }
}

/// Strips an optional `Prefix.` (any case) and lower-cases: `Permission.READ`,
/// `READ` and `read` all become `read`.
pub(crate) fn normalise_name(given: &str, prefix: &str) -> String {
    let trimmed = given.trim();
    let lower = trimmed.to_ascii_lowercase();
    let dotted = format!("{}.", prefix.to_ascii_lowercase());
    match lower.strip_prefix(&dotted) {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

impl FromStr for Permission {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalise_name(s, "Permission");
        Permission::ALL
            .into_iter()
            .find(|p| p.value() == wanted)
            .ok_or_else(|| UnknownName {
                kind: "permission",
                given: s.to_string(),
                expected: "read, write, create, delete, manage_users, manage_groups",
            })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_value_name_and_qualified_name_in_any_case() {
        for s in [
            "read",
            "READ",
            "Permission.READ",
            "permission.read",
            " Read ",
        ] {
            assert_eq!(s.parse::<Permission>(), Ok(Permission::Read), "{s}");
        }
        assert_eq!(
            "Permission.MANAGE_USERS".parse::<Permission>(),
            Ok(Permission::ManageUsers)
        );
        assert_eq!(
            "manage_groups".parse::<Permission>(),
            Ok(Permission::ManageGroups)
        );
    }

    #[test]
    fn rejects_unknown_names_with_the_list_of_valid_ones() {
        let err = "fly".parse::<Permission>().unwrap_err();
        assert!(err.to_string().contains("manage_users"));
        assert!("Role.READ".parse::<Permission>().is_err());
    }

    #[test]
    fn qualified_name_matches_python_str() {
        assert_eq!(Permission::Read.qualified_name(), "Permission.READ");
        assert_eq!(
            Permission::ManageGroups.qualified_name(),
            "Permission.MANAGE_GROUPS"
        );
    }
}
