//! One `groups.json` entry <-> [`Group`], as `GroupManager` reads and writes it.

use serde_json::{Map, Value};

use super::fields::{self, Record};
use crate::model::{Group, GroupName, Username};

const KNOWN_KEYS: [&str; 4] = ["users", "description", "created_at", "created_by"];

#[derive(Debug)]
pub(super) enum Decoded {
    Group(Box<Group>),
    Refused { reason: String },
}

pub(super) fn decode(name: &str, value: &Value) -> Result<Decoded, String> {
    let Value::Object(rec) = value else {
        return Err(format!("must be an object, found {value}"));
    };
    let name = match GroupName::parse(name) {
        Ok(n) => n,
        Err(e) => {
            return Ok(Decoded::Refused {
                reason: e.to_string(),
            })
        }
    };
    let group = Group {
        users: members(rec, &name)?,
        description: fields::optional_str(rec, "description")?.map(str::to_string),
        created_at: fields::timestamp(rec, "created_at")?,
        created_by: creator(rec, &name)?,
        extra: fields::unknown_keys(rec, &KNOWN_KEYS),
        name,
    };
    Ok(Decoded::Group(Box::new(group)))
}

/// Members whose names we refuse cannot log in here; they are dropped with
/// a warning rather than making the whole database unusable.
fn members(rec: &Record, group: &GroupName) -> Result<Vec<Username>, String> {
    let mut out: Vec<Username> = Vec::new();
    for item in fields::str_list(rec, "users")? {
        match item.map(Username::parse) {
            Ok(Ok(name)) if !out.contains(&name) => out.push(name),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(group = %group, error = %e, "skipping group member"),
            Err(v) => tracing::warn!(group = %group, value = %v, "skipping non-string member"),
        }
    }
    Ok(out)
}

fn creator(rec: &Record, group: &GroupName) -> Result<Option<Username>, String> {
    let Some(raw) = fields::optional_str(rec, "created_by")? else {
        return Ok(None);
    };
    match Username::parse(raw) {
        Ok(name) => Ok(Some(name)),
        Err(e) => {
            tracing::warn!(group = %group, creator = raw, error = %e, "ignoring group creator");
            Ok(None)
        }
    }
}

pub(super) fn encode(group: &Group) -> Value {
    let mut rec = Map::new();
    let users: Vec<_> = group.users.iter().map(|u| u.as_str()).collect();
    rec.insert("users".into(), users.into());
    rec.insert(
        "description".into(),
        group
            .description
            .as_deref()
            .map_or(Value::Null, Value::from),
    );
    rec.insert(
        "created_at".into(),
        fields::timestamp_value(group.created_at),
    );
    rec.insert(
        "created_by".into(),
        group
            .created_by
            .as_ref()
            .map_or(Value::Null, |u| u.as_str().into()),
    );
    fields::append_extra(&mut rec, &group.extra);
    Value::Object(rec)
}
