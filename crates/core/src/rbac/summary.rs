//! Why a user has the access it has to a scan, in the Python server's words.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};

use super::grants::DatasetGrants;
use super::scan::{effective_role, scan_permissions, token_scan_permissions, ScanRef};
use crate::model::{GroupName, Permission, Role, User};

/// Python's `get_user_scan_role_summary`, serialized with the same keys and
/// values (`"contributor"`, `["read", "write"]`). Permissions are sorted
/// (Python lists a set, in no fixed order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessSummary {
    #[serde(serialize_with = "role_value")]
    pub effective_role: Option<Role>,
    #[serde(serialize_with = "permission_values")]
    pub permissions: BTreeSet<Permission>,
    /// `admin_role`, `owner`, `group_member: g1, g2`, in that order, or
    /// `global_role` alone when none applies.
    pub access_reason: Vec<String>,
    pub is_owner: bool,
    /// The scan's sharing groups the user belongs to, in `sharing` order.
    pub shared_groups: Vec<String>,
}

/// The summary of `user`'s access to `scan`. With `grants` (a request made
/// with an API token) the permissions are narrowed to what the token allows
/// on this scan; the role and reasons still describe the user.
pub fn access_summary(
    user: &User,
    groups: &[GroupName],
    scan: &ScanRef,
    grants: Option<&DatasetGrants>,
) -> AccessSummary {
    let is_owner = scan.is_owned_by(user);
    let shared_groups: Vec<String> = scan
        .shared_groups_of(groups)
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut access_reason = Vec::new();
    if user.is_admin() {
        access_reason.push("admin_role".to_string());
    }
    if is_owner {
        access_reason.push("owner".to_string());
    }
    if !shared_groups.is_empty() {
        access_reason.push(format!("group_member: {}", shared_groups.join(", ")));
    }
    if access_reason.is_empty() {
        access_reason.push("global_role".to_string());
    }
    let permissions = match grants {
        Some(grants) => token_scan_permissions(user, groups, scan, grants),
        None => scan_permissions(user, groups, scan),
    };
    AccessSummary {
        effective_role: effective_role(user, groups, scan),
        permissions,
        access_reason,
        is_owner,
        shared_groups,
    }
}

fn role_value<S: Serializer>(role: &Option<Role>, s: S) -> Result<S::Ok, S::Error> {
    match role {
        Some(role) => s.serialize_str(role.value()),
        None => s.serialize_none(),
    }
}

fn permission_values<S: Serializer>(perms: &BTreeSet<Permission>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(perms.iter().map(|p| p.value()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::Username;
    use chrono::Utc;

    #[test]
    fn serializes_like_python() {
        let name = Username::parse("alice").unwrap();
        let alice = User::new(name, "", String::new(), [Role::Reader], Utc::now());
        let scan = ScanRef {
            owner: Some("alice".into()),
            sharing: vec!["lab".into()],
            ..ScanRef::new("s")
        };
        let groups = [GroupName::parse("lab").unwrap()];
        let json = serde_json::to_value(access_summary(&alice, &groups, &scan, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "effective_role": "contributor",
                "permissions": ["read", "write", "create"],
                "access_reason": ["owner", "group_member: lab"],
                "is_owner": true,
                "shared_groups": ["lab"],
            })
        );
    }

    #[test]
    fn no_role_serializes_as_null() {
        let name = Username::parse("nobody").unwrap();
        let nobody = User::new(name, "", String::new(), [], Utc::now());
        let summary = access_summary(&nobody, &[], &ScanRef::new("s"), None);
        let json = serde_json::to_value(summary).unwrap();
        assert_eq!(json["effective_role"], serde_json::Value::Null);
        assert_eq!(json["access_reason"], serde_json::json!(["global_role"]));
    }
}
