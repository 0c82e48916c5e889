//! Authorization decisions for the scan server: the RBAC rules of
//! contract §1, asked over HTTP instead of linked in. Reverse proxies ask
//! [`super::forward`].

use plantdb_auth_core::model::{GroupName, Permission};
use plantdb_auth_core::rbac::{
    access_summary, can_change_scan_metadata, token_permissions, token_scan_permissions,
    AccessSummary, MetadataChangeDenied, ScanRef,
};
use serde_json::Value;

use crate::caller::{authenticate, Caller, ACCESS_OR_API};
use crate::{AuthDb, AuthError};

/// `POST /authz/scan`: `{"scan": {"id", "owner", "sharing"}, "permission"}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ScanQuery {
    pub scan: Option<Value>,
    /// Defaults to `read`.
    pub permission: Option<Value>,
}

/// `POST /authz/scan-metadata`: the scan's access metadata before and after.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MetadataQuery {
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// Whether the caller holds the permission, and why it has the access it has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanDecision {
    pub allowed: bool,
    #[serde(flatten)]
    pub summary: AccessSummary,
}

fn present<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a Value, AuthError> {
    value
        .filter(|v| !v.is_null())
        .ok_or_else(|| AuthError::MissingField(format!("Missing required field: {name}")))
}

fn invalid(field: &str, what: &str) -> AuthError {
    AuthError::InvalidInput(format!("Field '{field}' must be {what}"))
}

/// The access-relevant metadata of a scan. `id` (the dataset name that
/// API-token patterns match) is required only where a decision is asked.
fn parse_scan(value: &Value, field: &str, id_required: bool) -> Result<ScanRef, AuthError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(field, "an object with id, owner and sharing"))?;
    let id = match object.get("id").filter(|v| !v.is_null()) {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(invalid(&format!("{field}.id"), "a string")),
        None if id_required => {
            return Err(AuthError::MissingField(format!(
                "Missing required field: {field}.id"
            )))
        }
        None => String::new(),
    };
    let owner = match object.get("owner").filter(|v| !v.is_null()) {
        Some(Value::String(owner)) => Some(owner.clone()),
        Some(_) => return Err(invalid(&format!("{field}.owner"), "a string")),
        None => None,
    };
    let sharing = match object.get("sharing").filter(|v| !v.is_null()) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|g| g.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| invalid(&format!("{field}.sharing"), "a list of group names"))?,
        Some(_) => {
            return Err(invalid(
                &format!("{field}.sharing"),
                "a list of group names",
            ))
        }
        None => Vec::new(),
    };
    Ok(ScanRef { id, owner, sharing })
}

fn parse_permission(value: Option<&Value>) -> Result<Permission, AuthError> {
    match value.filter(|v| !v.is_null()) {
        None => Ok(Permission::Read),
        Some(Value::String(text)) => text
            .parse()
            .map_err(|e| AuthError::InvalidInput(format!("Invalid permission: {e}"))),
        Some(_) => Err(invalid("permission", "a permission name such as \"read\"")),
    }
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
    token: Option<&str>,
    query: &ScanQuery,
) -> Result<ScanDecision, AuthError> {
    let caller = authenticate(db, token, ACCESS_OR_API)?;
    let scan = parse_scan(present(query.scan.as_ref(), "scan")?, "scan", true)?;
    let permission = parse_permission(query.permission.as_ref())?;
    let groups = group_names(db, &caller)?;
    let summary = access_summary(&caller.user, &groups, &scan, caller.grants().as_ref());
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
    token: Option<&str>,
    query: &MetadataQuery,
) -> Result<Option<String>, AuthError> {
    let caller = authenticate(db, token, ACCESS_OR_API)?;
    let old = parse_scan(present(query.old.as_ref(), "old")?, "old", false)?;
    let new = parse_scan(present(query.new.as_ref(), "new")?, "new", false)?;
    let groups = group_names(db, &caller)?;
    let verdict = can_change_scan_metadata(&caller.user, &groups, &old, &new)
        .and_then(|()| token_allows_change(&caller, &groups, &old, &new));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scans_parse_with_python_defaults() {
        let scan = parse_scan(&json!({"id": "s", "owner": null}), "scan", true).unwrap();
        assert_eq!(scan, ScanRef::new("s"));
        assert_eq!(scan.owner(), "guest");
        let scan = parse_scan(&json!({"owner": "a", "sharing": ["g"]}), "old", false).unwrap();
        assert_eq!(scan.sharing, vec!["g".to_string()]);
        assert_eq!(scan.id, "");
    }

    #[test]
    fn malformed_scans_and_permissions_are_refused() {
        let missing = parse_scan(&json!({}), "scan", true).unwrap_err();
        assert!(matches!(missing, AuthError::MissingField(_)));
        for bad in [
            json!([]),
            json!({"id": 1}),
            json!({"id": "s", "owner": 2}),
            json!({"id": "s", "sharing": "g"}),
            json!({"id": "s", "sharing": [1]}),
        ] {
            let err = parse_scan(&bad, "scan", true).unwrap_err();
            assert!(matches!(err, AuthError::InvalidInput(_)), "{bad}");
        }
        assert_eq!(parse_permission(None).unwrap(), Permission::Read);
        assert_eq!(
            parse_permission(Some(&json!("Permission.DELETE"))).unwrap(),
            Permission::Delete
        );
        assert!(parse_permission(Some(&json!("fly"))).is_err());
        assert!(parse_permission(Some(&json!(3))).is_err());
    }
}
