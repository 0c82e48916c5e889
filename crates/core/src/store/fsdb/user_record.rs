//! One `users.json` record <-> [`User`], as `User.to_dict`/`from_dict` do.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::fields::{self, Record};
use crate::model::{User, Username};

const KNOWN_KEYS: [&str; 12] = [
    "username",
    "fullname",
    "password_hash",
    "roles",
    "created_at",
    "_extra_permissions",
    "last_login",
    "is_active",
    "failed_attempts",
    "last_failed_attempt",
    "locked_until",
    "password_last_change",
];

/// A record is either a user, or kept verbatim because its username is one
/// we refuse (the reason is logged by the caller).
#[derive(Debug)]
pub(super) enum Decoded {
    User(Box<User>),
    Refused { username: String, reason: String },
}

/// Fails only on what would lose data or is not a user at all; unknown roles
/// and permissions are skipped like the Python server does.
pub(super) fn decode(rec: &Record) -> Result<Decoded, String> {
    let raw_name = fields::required_str(rec, "username")?;
    let password_hash = fields::required_str(rec, "password_hash")?.to_string();
    let username = match Username::parse(raw_name) {
        Ok(name) => name,
        Err(e) => {
            return Ok(Decoded::Refused {
                username: raw_name.to_string(),
                reason: e.to_string(),
            })
        }
    };
    let user = User {
        fullname: fields::optional_str(rec, "fullname")?
            .unwrap_or_default()
            .to_string(),
        password_hash,
        roles: known_values(rec, "roles", raw_name)?,
        extra_permissions: known_values(rec, "_extra_permissions", raw_name)?,
        created_at: fields::timestamp(rec, "created_at")?,
        last_login: fields::timestamp(rec, "last_login")?,
        is_active: fields::bool_or(rec, "is_active", true)?,
        failed_attempts: fields::count_or_zero(rec, "failed_attempts")?,
        last_failed_attempt: fields::timestamp(rec, "last_failed_attempt")?,
        locked_until: fields::timestamp(rec, "locked_until")?,
        password_last_change: fields::timestamp(rec, "password_last_change")?,
        extra: fields::unknown_keys(rec, &KNOWN_KEYS),
        username,
    };
    Ok(Decoded::User(Box::new(user)))
}

fn known_values<T: FromStr + Ord>(
    rec: &Record,
    key: &str,
    username: &str,
) -> Result<BTreeSet<T>, String> {
    let mut out = BTreeSet::new();
    for item in fields::str_list(rec, key)? {
        match item.map(|s| (s, s.parse::<T>())) {
            Ok((_, Ok(v))) => {
                out.insert(v);
            }
            Ok((s, Err(_))) => {
                tracing::warn!(
                    user = username,
                    field = key,
                    value = s,
                    "skipping unknown value"
                );
            }
            Err(v) => {
                tracing::warn!(user = username, field = key, value = %v, "skipping non-string value");
            }
        }
    }
    Ok(out)
}

/// Key order follows `User.to_dict`, unknown keys come last.
pub(super) fn encode(user: &User) -> Value {
    let mut rec = Map::new();
    rec.insert("username".into(), user.username.as_str().into());
    rec.insert("fullname".into(), user.fullname.as_str().into());
    rec.insert("password_hash".into(), user.password_hash.as_str().into());
    rec.insert(
        "roles".into(),
        user.roles.iter().map(|r| r.value()).collect(),
    );
    rec.insert(
        "created_at".into(),
        fields::timestamp_value(user.created_at),
    );
    let perms: Vec<_> = user.extra_permissions.iter().map(|p| p.value()).collect();
    rec.insert("_extra_permissions".into(), perms.into());
    rec.insert(
        "last_login".into(),
        fields::timestamp_value(user.last_login),
    );
    rec.insert("is_active".into(), user.is_active.into());
    rec.insert("failed_attempts".into(), user.failed_attempts.into());
    rec.insert(
        "last_failed_attempt".into(),
        fields::timestamp_value(user.last_failed_attempt),
    );
    rec.insert(
        "locked_until".into(),
        fields::timestamp_value(user.locked_until),
    );
    rec.insert(
        "password_last_change".into(),
        fields::timestamp_value(user.password_last_change),
    );
    fields::append_extra(&mut rec, &user.extra);
    Value::Object(rec)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::Role;
    use serde_json::json;

    fn obj(v: Value) -> Record {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn python_defaults_apply() {
        let rec = obj(
            json!({"username": "Bob", "fullname": "B", "password_hash": "h",
            "roles": ["reader", "owner", 3], "created_at": "2026-01-29T17:19:13.313677"}),
        );
        let Ok(Decoded::User(u)) = decode(&rec) else {
            unreachable!()
        };
        assert_eq!(u.username.as_str(), "bob");
        assert!(u.is_active);
        assert_eq!(u.failed_attempts, 0);
        assert_eq!(u.roles, [Role::Reader].into());
        assert!(u.extra.is_empty());
    }

    #[test]
    fn bad_usernames_are_refused_not_fatal_but_bad_types_are() {
        let rec = obj(json!({"username": "a b", "password_hash": "h"}));
        assert!(matches!(decode(&rec), Ok(Decoded::Refused { .. })));
        let rec = obj(json!({"username": "ab", "password_hash": "h", "is_active": "yes"}));
        assert!(decode(&rec).is_err());
        let rec = obj(json!({"username": "ab", "password_hash": "h", "locked_until": "soon"}));
        assert!(decode(&rec).unwrap_err().contains("locked_until"));
    }
}
