//! Request bodies read as JSON and turned into the service's typed
//! commands, with the wire's own error messages. Nothing JSON crosses into
//! the service: these are the edge.
//!
//! The bodies keep loosely typed fields (`Option<Value>`) where the answer
//! to a wrong type must be our 400 naming the field, not serde's text.

use serde_json::Value;

use plantdb_auth_core::model::Permission;
use plantdb_auth_core::rbac::{DatasetGrants, ScanRef};
use plantdb_auth_service::admin::ScanQuestion;
use plantdb_auth_service::auth::{parse_roles, parse_username};
use plantdb_auth_service::{ApiTokenRequest, AuthError, Caller, NewUser};

fn missing(name: &str) -> AuthError {
    AuthError::MissingField(format!("Missing required field: {name}"))
}

fn invalid(field: &str, what: &str) -> AuthError {
    AuthError::InvalidInput(format!("Field '{field}' must be {what}"))
}

fn present<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a Value, AuthError> {
    value.filter(|v| !v.is_null()).ok_or_else(|| missing(name))
}

fn string_field(value: Option<&Value>, name: &str) -> Result<String, AuthError> {
    match present(value, name)? {
        Value::String(s) => Ok(s.clone()),
        _ => Err(invalid(name, "a string")),
    }
}

/// `POST register`: `{"username", "fullname", "password", "roles"?}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegisterBody {
    pub username: Option<Value>,
    pub fullname: Option<Value>,
    pub password: Option<Value>,
    /// Optional (an extension): role names, default reader.
    pub roles: Option<Value>,
}

impl RegisterBody {
    /// plantdb-server names every missing field at once, before it looks
    /// at the token.
    pub fn check_present(&self) -> Result<(), AuthError> {
        let missing: Vec<&str> = [
            ("fullname", &self.fullname),
            ("password", &self.password),
            ("username", &self.username),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_ref().is_none_or(Value::is_null))
        .map(|(k, _)| k)
        .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(AuthError::MissingField(format!(
            "Missing required fields: {}. Please provide username, fullname, and password",
            missing.join(", ")
        )))
    }

    /// The adapter's order of checks: every missing field, then the
    /// caller (`caller` resolves it), then the fields' types and syntax.
    pub fn with_caller(
        &self,
        caller: impl FnOnce() -> Result<Caller, AuthError>,
    ) -> Result<(Caller, NewUser), AuthError> {
        self.check_present()?;
        let caller = caller()?;
        Ok((caller, self.command()?))
    }

    pub fn command(&self) -> Result<NewUser, AuthError> {
        let username = parse_username(&string_field(self.username.as_ref(), "username")?)?;
        let fullname = string_field(self.fullname.as_ref(), "fullname")?;
        let password = string_field(self.password.as_ref(), "password")?;
        let roles = match self.roles.as_ref().filter(|v| !v.is_null()) {
            None => Vec::new(),
            Some(value) => {
                let names = value
                    .as_array()
                    .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| invalid("roles", "a list of role names"))?;
                parse_roles(&names)?
            }
        };
        Ok(NewUser {
            username,
            fullname,
            password,
            roles,
        })
    }
}

/// `POST create-api-token`: `{"token_exp": seconds, "datasets": {pattern: [perm]}}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ApiTokenBody {
    pub token_exp: Option<Value>,
    pub datasets: Option<Value>,
}

impl ApiTokenBody {
    pub fn command(&self) -> Result<ApiTokenRequest, AuthError> {
        let datasets = self
            .datasets
            .as_ref()
            .ok_or_else(|| AuthError::MissingField("Missing \"datasets\" field".into()))?;
        let lifetime = self
            .token_exp
            .as_ref()
            .ok_or_else(|| AuthError::MissingField("Missing \"token_exp\" field".into()))?;
        let lifetime = parse_lifetime(lifetime)?;
        let grants = DatasetGrants::from_json(datasets)
            .map_err(|e| AuthError::InvalidInput(format!("Invalid 'datasets': {e}")))?;
        Ok(ApiTokenRequest { lifetime, grants })
    }
}

/// `token_exp`: a positive JSON integer of seconds. Python reads it with
/// `int(...)`, which also takes `"60"`, `60.9` and `true`; a lifetime is a
/// security setting, so anything but an integer is refused rather than
/// guessed at.
fn parse_lifetime(value: &Value) -> Result<i64, AuthError> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(s) if s > 0 => Ok(s),
            Some(_) => Err(AuthError::InvalidInput(
                "Field 'token_exp' must be a positive number of seconds".into(),
            )),
            // Above i64: refused by the maximum-lifetime check's wording.
            None => Ok(i64::MAX),
        },
        _ => Err(AuthError::InvalidInput(
            "Field 'token_exp' must be a JSON integer number of seconds (e.g. 3600)".into(),
        )),
    }
}

/// `POST /authz/scan`: `{"scan": {"id", "owner", "sharing"}, "permission"}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ScanQueryBody {
    pub scan: Option<Value>,
    /// Defaults to `read`.
    pub permission: Option<Value>,
}

impl ScanQueryBody {
    pub fn command(&self) -> Result<ScanQuestion, AuthError> {
        Ok(ScanQuestion {
            scan: parse_scan(present(self.scan.as_ref(), "scan")?, "scan", true)?,
            permission: parse_permission(self.permission.as_ref())?,
        })
    }
}

/// `POST /authz/scan-metadata`: the scan's access metadata before and after.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MetadataQueryBody {
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl MetadataQueryBody {
    /// `(old, new)`.
    pub fn command(&self) -> Result<(ScanRef, ScanRef), AuthError> {
        let old = parse_scan(present(self.old.as_ref(), "old")?, "old", false)?;
        let new = parse_scan(present(self.new.as_ref(), "new")?, "new", false)?;
        Ok((old, new))
    }
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
        None if id_required => return Err(missing(&format!("{field}.id"))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use plantdb_auth_core::model::Role;
    use serde_json::json;

    fn register(body: Value) -> RegisterBody {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn a_registration_names_every_missing_field_then_checks_types() {
        let err = register(json!({"username": "a"}))
            .check_present()
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::MissingField(m) if m.contains("fullname, password")),
            "{err:?}"
        );
        let body = register(json!({"username": "Bob", "fullname": "B", "password": 5}));
        body.check_present().unwrap();
        let err = body.command().unwrap_err();
        assert!(matches!(&err, AuthError::InvalidInput(m) if m.contains("'password'")));
        let new = register(
            json!({"username": "Bob", "fullname": "B", "password": "p", "roles": ["contributor"]}),
        )
        .command()
        .unwrap();
        assert_eq!(new.username.as_str(), "bob");
        assert_eq!(new.roles, vec![Role::Contributor]);
        for bad in [json!("admin"), json!([1]), json!(["owner"])] {
            let body =
                register(json!({"username": "b", "fullname": "B", "password": "p", "roles": bad}));
            assert!(
                matches!(body.command(), Err(AuthError::InvalidInput(_))),
                "{bad}"
            );
        }
        let body = register(json!({"username": "bad name!", "fullname": "B", "password": "p"}));
        assert!(matches!(body.command(), Err(AuthError::InvalidInput(_))));
    }

    #[test]
    fn lifetimes_must_be_positive_whole_seconds() {
        assert_eq!(parse_lifetime(&json!(3600)).unwrap(), 3600);
        assert_eq!(parse_lifetime(&json!(u64::MAX)).unwrap(), i64::MAX);
        for bad in [
            json!("60"),
            json!(60.0),
            json!(0),
            json!(-5),
            json!("abc"),
            json!(1.5),
            json!(null),
            json!([1]),
            json!(true),
        ] {
            assert!(parse_lifetime(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_token_requests_check_datasets_first() {
        let body = ApiTokenBody {
            token_exp: None,
            datasets: None,
        };
        assert!(
            matches!(body.command(), Err(AuthError::MissingField(m)) if m.contains("datasets"))
        );
        let body = ApiTokenBody {
            token_exp: Some(json!(60)),
            datasets: Some(json!({"p*": ["fly"]})),
        };
        assert!(matches!(body.command(), Err(AuthError::InvalidInput(_))));
        let body = ApiTokenBody {
            token_exp: Some(json!(60)),
            datasets: Some(json!({"p*": ["read"]})),
        };
        assert_eq!(body.command().unwrap().lifetime, 60);
    }

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
