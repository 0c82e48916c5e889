//! Typed access to the fields of one JSON record, with the Python server's
//! defaults. Errors are plain reasons; the caller adds the file and record.

use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::model::{format_py_datetime, parse_py_datetime};

pub(super) type Record = Map<String, Value>;

pub(super) fn required_str<'a>(rec: &'a Record, key: &str) -> Result<&'a str, String> {
    match rec.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("'{key}' must be a string, found {other}")),
        None => Err(format!("'{key}' is missing")),
    }
}

pub(super) fn optional_str<'a>(rec: &'a Record, key: &str) -> Result<Option<&'a str>, String> {
    match rec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("'{key}' must be a string or null, found {other}")),
    }
}

pub(super) fn bool_or(rec: &Record, key: &str, default: bool) -> Result<bool, String> {
    match rec.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("'{key}' must be true or false, found {other}")),
    }
}

pub(super) fn count_or_zero(rec: &Record, key: &str) -> Result<u32, String> {
    match rec.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .ok_or_else(|| format!("'{key}' must be a non-negative integer, found {n}")),
        Some(other) => Err(format!("'{key}' must be an integer, found {other}")),
    }
}

/// A list of strings (missing or null: empty). Non-string items are returned
/// as `Err` items so the caller can skip them like unknown values.
pub(super) fn str_list<'a>(
    rec: &'a Record,
    key: &str,
) -> Result<Vec<Result<&'a str, &'a Value>>, String> {
    match rec.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().map(|v| v.as_str().ok_or(v)).collect()),
        Some(other) => Err(format!("'{key}' must be a list, found {other}")),
    }
}

/// A timestamp as Python's `datetime.fromisoformat` reads it; a value we
/// cannot read is an error rather than a silent `None`, since writing the
/// record back would otherwise erase it (e.g. unlock a locked account).
pub(super) fn timestamp(rec: &Record, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    let Some(raw) = optional_str(rec, key)? else {
        return Ok(None);
    };
    parse_py_datetime(raw)
        .or_else(|| date_only(raw))
        .map(Some)
        .ok_or_else(|| format!("'{key}' is not an ISO 8601 date-time: {raw:?}"))
}

/// `fromisoformat` also accepts a bare date, meaning local midnight.
fn date_only(raw: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Local
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn timestamp_value(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_py_datetime(t)))
}

/// Everything but `known`, in file order: fields a newer Python server (or
/// an operator) added, which we must write back unchanged.
pub(super) fn unknown_keys(rec: &Record, known: &[&str]) -> Record {
    rec.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Appends `extra` after the known fields; a known field always wins so a
/// stray `extra` entry can never shadow real data.
pub(super) fn append_extra(rec: &mut Record, extra: &Record) {
    for (k, v) in extra {
        if !rec.contains_key(k) {
            rec.insert(k.clone(), v.clone());
        }
    }
}
