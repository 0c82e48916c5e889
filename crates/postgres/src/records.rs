//! Users and groups as table rows: one column per `users.json` /
//! `groups.json` field, unknown fields kept in `extra` (jsonb).

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use plantdb_auth_core::model::{Group, GroupName, Permission, Role, User, Username};
use plantdb_auth_core::store::StoreError;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use crate::table::{Param, Record};

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, col: &str) -> Result<T, String> {
    row.try_get(col).map_err(|e| format!("column {col}: {e}"))
}

/// Known values only; unknown ones are skipped as the FSDB store does.
fn known<T: FromStr + Ord>(values: Vec<String>, what: &str, owner: &str) -> BTreeSet<T> {
    values
        .into_iter()
        .filter_map(|v| match v.parse() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                tracing::warn!(user = owner, value = %v, "skipping unknown {what}");
                None
            }
        })
        .collect()
}

fn extra(row: &Row) -> Result<Map<String, Value>, String> {
    match get::<Value>(row, "extra")? {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

type Time = Option<DateTime<Utc>>;

impl Record for User {
    type Key = Username;
    const TABLE: &'static str = "auth_users";
    const KIND: &'static str = "u";
    const COLUMNS: &'static [&'static str] = &[
        "username",
        "fullname",
        "password_hash",
        "roles",
        "extra_permissions",
        "created_at",
        "last_login",
        "is_active",
        "failed_attempts",
        "last_failed_attempt",
        "locked_until",
        "password_last_change",
        "extra",
    ];

    fn key(&self) -> &Username {
        &self.username
    }

    fn parse_key(raw: &str) -> Option<Username> {
        Username::parse(raw).ok()
    }

    fn params(&self) -> Vec<Param> {
        let roles: Vec<String> = self.roles.iter().map(|r| r.value().to_string()).collect();
        let perms: Vec<String> = self
            .extra_permissions
            .iter()
            .map(|p| p.value().to_string())
            .collect();
        let attempts = i32::try_from(self.failed_attempts).unwrap_or(i32::MAX);
        vec![
            Box::new(self.username.as_str().to_string()),
            Box::new(self.fullname.clone()),
            Box::new(self.password_hash.clone()),
            Box::new(roles),
            Box::new(perms),
            Box::new(self.created_at),
            Box::new(self.last_login),
            Box::new(self.is_active),
            Box::new(attempts),
            Box::new(self.last_failed_attempt),
            Box::new(self.locked_until),
            Box::new(self.password_last_change),
            Box::new(Value::Object(self.extra.clone())),
        ]
    }

    fn from_row(row: &Row) -> Result<User, String> {
        let name: String = get(row, "username")?;
        let username = Username::parse(&name).map_err(|e| format!("user '{name}': {e}"))?;
        let attempts: i32 = get(row, "failed_attempts")?;
        Ok(User {
            fullname: get(row, "fullname")?,
            password_hash: get(row, "password_hash")?,
            roles: known::<Role>(get(row, "roles")?, "role", &name),
            extra_permissions: known::<Permission>(
                get(row, "extra_permissions")?,
                "permission",
                &name,
            ),
            created_at: get::<Time>(row, "created_at")?,
            last_login: get::<Time>(row, "last_login")?,
            is_active: get(row, "is_active")?,
            failed_attempts: u32::try_from(attempts).unwrap_or(0),
            last_failed_attempt: get::<Time>(row, "last_failed_attempt")?,
            locked_until: get::<Time>(row, "locked_until")?,
            password_last_change: get::<Time>(row, "password_last_change")?,
            extra: extra(row)?,
            username,
        })
    }

    fn exists_error(key: Username) -> StoreError {
        StoreError::UserExists(key)
    }

    fn not_found(key: Username) -> StoreError {
        StoreError::UserNotFound(key)
    }
}

impl Record for Group {
    type Key = GroupName;
    const TABLE: &'static str = "auth_groups";
    const KIND: &'static str = "g";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "users",
        "description",
        "created_at",
        "created_by",
        "extra",
    ];

    fn key(&self) -> &GroupName {
        &self.name
    }

    fn parse_key(raw: &str) -> Option<GroupName> {
        GroupName::parse(raw).ok()
    }

    fn params(&self) -> Vec<Param> {
        let users: Vec<String> = self.users.iter().map(|u| u.as_str().to_string()).collect();
        vec![
            Box::new(self.name.as_str().to_string()),
            Box::new(users),
            Box::new(self.description.clone()),
            Box::new(self.created_at),
            Box::new(self.created_by.as_ref().map(|u| u.as_str().to_string())),
            Box::new(Value::Object(self.extra.clone())),
        ]
    }

    fn from_row(row: &Row) -> Result<Group, String> {
        let raw: String = get(row, "name")?;
        let name = GroupName::parse(&raw).map_err(|e| format!("group '{raw}': {e}"))?;
        let users = get::<Vec<String>>(row, "users")?
            .iter()
            .filter_map(|u| Username::parse(u).ok())
            .collect();
        let created_by =
            get::<Option<String>>(row, "created_by")?.and_then(|u| Username::parse(&u).ok());
        Ok(Group {
            name,
            users,
            description: get(row, "description")?,
            created_at: get::<Time>(row, "created_at")?,
            created_by,
            extra: extra(row)?,
        })
    }

    fn exists_error(key: GroupName) -> StoreError {
        StoreError::GroupExists(key)
    }

    fn not_found(key: GroupName) -> StoreError {
        StoreError::GroupNotFound(key)
    }
}
