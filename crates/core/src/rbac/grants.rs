//! API-token dataset grants: glob patterns mapped to permissions.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::fnmatch::{Pattern, PatternError};
use crate::model::{Permission, UnknownName};

/// Separates entries in the token claim; a pattern containing it could not
/// be read back as written.
const ENTRY_SEPARATOR: char = ';';

/// One pattern and the permissions it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetGrant {
    pattern: Pattern,
    permissions: BTreeSet<Permission>,
    /// The listing order, kept so the claim reads as the client wrote it.
    listed: Vec<Permission>,
}

impl DatasetGrant {
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    pub fn permissions(&self) -> &BTreeSet<Permission> {
        &self.permissions
    }
}

/// The `datasets` of an API token, in the order the client gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetGrants {
    entries: Vec<DatasetGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("datasets must be an object mapping dataset patterns to lists of permissions")]
    NotAnObject,
    #[error("datasets[{pattern:?}] must be a list of permissions")]
    NotAList { pattern: String },
    #[error("datasets[{pattern:?}][{index}] must be a permission string")]
    NotAString { pattern: String, index: usize },
    #[error("datasets[{pattern:?}]: {source}")]
    UnknownPermission {
        pattern: String,
        source: UnknownName,
    },
    #[error("dataset pattern {pattern:?} must not contain ';'")]
    Separator { pattern: String },
    #[error("dataset pattern {pattern:?}: {source}")]
    BadPattern {
        pattern: String,
        source: PatternError,
    },
}

impl DatasetGrants {
    pub fn new() -> Self {
        DatasetGrants::default()
    }

    /// Adds a pattern. Like the Python dict it mirrors, a pattern given again
    /// replaces its permissions and keeps its first position.
    pub fn insert(
        &mut self,
        pattern: &str,
        permissions: impl IntoIterator<Item = Permission>,
    ) -> Result<(), GrantError> {
        // We differ from Python, which accepts `;` and then reads its own
        // claim back as different patterns, possibly with other permissions.
        if pattern.contains(ENTRY_SEPARATOR) {
            return Err(GrantError::Separator {
                pattern: pattern.to_string(),
            });
        }
        let compiled = Pattern::new(pattern).map_err(|source| GrantError::BadPattern {
            pattern: pattern.to_string(),
            source,
        })?;
        let mut listed: Vec<Permission> = Vec::new();
        for p in permissions {
            if !listed.contains(&p) {
                listed.push(p);
            }
        }
        let grant = DatasetGrant {
            pattern: compiled,
            permissions: listed.iter().copied().collect(),
            listed,
        };
        match self
            .entries
            .iter_mut()
            .find(|g| g.pattern.as_str() == pattern)
        {
            Some(existing) => *existing = grant,
            None => self.entries.push(grant),
        }
        Ok(())
    }

    /// The `datasets` field of a create-api-token request:
    /// `{"pattern": ["read", "Permission.WRITE", ...], ...}`.
    pub fn from_json(value: &Value) -> Result<Self, GrantError> {
        let object = value.as_object().ok_or(GrantError::NotAnObject)?;
        let mut grants = DatasetGrants::new();
        for (pattern, perms) in object {
            let list = perms.as_array().ok_or_else(|| GrantError::NotAList {
                pattern: pattern.clone(),
            })?;
            let mut parsed = Vec::with_capacity(list.len());
            for (index, item) in list.iter().enumerate() {
                let text = item.as_str().ok_or_else(|| GrantError::NotAString {
                    pattern: pattern.clone(),
                    index,
                })?;
                parsed.push(parse_permission(pattern, text)?);
            }
            grants.insert(pattern, parsed)?;
        }
        Ok(grants)
    }

    /// `{"pattern": ["read", ...]}` in the order given, readable by
    /// [`DatasetGrants::from_json`].
    pub fn to_json(&self) -> Value {
        let object: Map<String, Value> = self
            .entries
            .iter()
            .map(|g| {
                let perms = g.listed.iter().map(|p| Value::from(p.value())).collect();
                (g.pattern.as_str().to_string(), Value::Array(perms))
            })
            .collect();
        Value::Object(object)
    }

    /// Python's `parse_dataset_perm` on the token's `datasets` claim
    /// (`pattern/Permission.READ,Permission.WRITE;pattern2/Permission.READ`).
    /// An entry without `/` lists no permissions, as in Python. We differ in
    /// splitting each entry at its last `/` (Python splits at the first), so
    /// a pattern may contain `/`; and we skip empty entries.
    pub fn parse_claim(claim: &str) -> Result<Self, GrantError> {
        let mut grants = DatasetGrants::new();
        for entry in claim.split(ENTRY_SEPARATOR).filter(|e| !e.is_empty()) {
            let (pattern, perms) = entry.rsplit_once('/').unwrap_or((entry, ""));
            let parsed = if perms.is_empty() {
                Vec::new()
            } else {
                perms
                    .split(',')
                    .map(|p| parse_permission(pattern, p))
                    .collect::<Result<Vec<_>, _>>()?
            };
            grants.insert(pattern, parsed)?;
        }
        Ok(grants)
    }

    /// Python's `dataset_perm_to_str`: patterns and permissions in the order
    /// given, permissions spelled `Permission.READ`.
    pub fn to_claim(&self) -> String {
        self.entries
            .iter()
            .map(|g| {
                let perms: Vec<String> = g.listed.iter().map(|p| p.qualified_name()).collect();
                format!("{}/{}", g.pattern.as_str(), perms.join(","))
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Every permission the grants mention, whatever the pattern: what the
    /// minting user must hold.
    pub fn requested_permissions(&self) -> BTreeSet<Permission> {
        self.entries
            .iter()
            .flat_map(|g| g.permissions.iter().copied())
            .collect()
    }

    /// The union of the permissions of every pattern matching `dataset`.
    pub fn permissions_for(&self, dataset: &str) -> BTreeSet<Permission> {
        self.entries
            .iter()
            .filter(|g| g.pattern.matches(dataset))
            .flat_map(|g| g.permissions.iter().copied())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &DatasetGrant> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a token with `grants` may do on `dataset` for a user holding
/// `user_permissions` now: the grant, never more than the user holds.
pub fn token_permissions(
    user_permissions: &BTreeSet<Permission>,
    grants: &DatasetGrants,
    dataset: &str,
) -> BTreeSet<Permission> {
    grants
        .permissions_for(dataset)
        .intersection(user_permissions)
        .copied()
        .collect()
}

fn parse_permission(pattern: &str, text: &str) -> Result<Permission, GrantError> {
    text.parse()
        .map_err(|source| GrantError::UnknownPermission {
            pattern: pattern.to_string(),
            source,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn repeated_pattern_replaces_in_place() {
        let mut g = DatasetGrants::new();
        g.insert("a", [Read]).unwrap();
        g.insert("b", [Write]).unwrap();
        g.insert("a", [Delete, Delete]).unwrap();
        assert_eq!(g.to_claim(), "a/Permission.DELETE;b/Permission.WRITE");
    }

    #[test]
    fn claim_entry_without_slash_lists_nothing() {
        let g = DatasetGrants::parse_claim("scan_*;;x/read").unwrap();
        assert_eq!(g.len(), 2);
        assert!(g.permissions_for("scan_1").is_empty());
        assert_eq!(g.permissions_for("x"), [Read].into());
    }

    #[test]
    fn errors_name_the_pattern_and_the_permission() {
        let err =
            DatasetGrants::from_json(&serde_json::json!({"p*": ["read", "fly"]})).unwrap_err();
        assert!(
            err.to_string().contains("p*") && err.to_string().contains("fly"),
            "{err}"
        );
        let err = DatasetGrants::parse_claim("a/Permission.READ,").unwrap_err();
        assert!(matches!(err, GrantError::UnknownPermission { .. }), "{err}");
    }
}
