//! Listing filters (`filterQuery`, `fuzzy`, `timelapse_id`, `sort`) as
//! PlantDB 0.17 applies them: `partial_match` of `commons/utils.py`, called
//! by `_filter_query` and `_sort_scans` of `commons/fsdb/core.py`.
//!
//! The HTTP layer parses the parameters with the functions here, builds one
//! [`Filter`] per request and asks it about each item's metadata.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use crate::DataError;

/// Compiled size limit of one fuzzy pattern (the regex crate's own unit).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache limit of one fuzzy pattern.
const PATTERN_DFA_LIMIT: usize = 1 << 20;
/// Nesting limit of one fuzzy pattern.
const PATTERN_NEST_LIMIT: u32 = 64;
/// Distinct fuzzy patterns one filter may hold.
const MAX_PATTERNS: usize = 256;

const NOT_AN_OBJECT: &str = "filterQuery must be a JSON object, e.g. {\"owner\": \"bob\"}";

/// A `filterQuery` ready to test items, with its fuzzy patterns compiled
/// once.
#[derive(Debug, Clone)]
pub struct Filter {
    query: Map<String, Value>,
    fuzzy: bool,
    /// Every distinct string of the query, compiled when `fuzzy`.
    patterns: HashMap<String, Regex>,
}

impl Filter {
    /// Builds a filter. With `fuzzy`, every string value of the query is a
    /// regular expression; one the `regex` crate refuses (Python-only
    /// syntax such as backreferences or look-around) or one over the size
    /// limits is `InvalidInput`.
    pub fn new(query: Map<String, Value>, fuzzy: bool) -> Result<Filter, DataError> {
        let mut patterns = HashMap::new();
        if fuzzy {
            for value in query.values() {
                compile_strings(value, &mut patterns)?;
            }
        }
        Ok(Filter {
            query,
            fuzzy,
            patterns,
        })
    }

    pub fn query(&self) -> &Map<String, Value> {
        &self.query
    }

    pub fn fuzzy(&self) -> bool {
        self.fuzzy
    }

    /// Whether an item with this (own-level) metadata is kept: every key of
    /// the query matches the metadata's value for it, a missing key
    /// counting as `{}`.
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        let missing = Value::Object(Map::new());
        self.query
            .iter()
            .all(|(key, q)| self.match_value(q, metadata.get(key).unwrap_or(&missing)))
    }

    /// `partial_match(q, v, fuzzy)`.
    fn match_value(&self, q: &Value, v: &Value) -> bool {
        match (q, v) {
            (Value::Object(q), Value::Object(v)) => q
                .iter()
                .all(|(key, qv)| v.get(key).is_some_and(|vv| self.match_value(qv, vv))),
            (Value::Array(q), Value::Array(v)) => {
                q.len() <= v.len()
                    && q.iter()
                        .all(|qi| v.iter().any(|vi| self.match_value(qi, vi)))
            }
            (Value::String(q), Value::String(v)) if self.fuzzy => self
                .patterns
                .get(q)
                .is_some_and(|re| matches_at_start(re, v)),
            _ => python_eq(q, v),
        }
    }
}

/// Python's `re.match`: a match that starts at the beginning of `text`.
/// The leftmost match starts at 0 whenever any match does, so this equals
/// compiling `^(?:q)`, without letting a pattern like `a)|(b` escape the
/// group.
fn matches_at_start(re: &Regex, text: &str) -> bool {
    re.find(text).is_some_and(|m| m.start() == 0)
}

fn compile_strings(value: &Value, patterns: &mut HashMap<String, Regex>) -> Result<(), DataError> {
    match value {
        Value::String(s) if !patterns.contains_key(s) => {
            if patterns.len() >= MAX_PATTERNS {
                return Err(DataError::invalid(format!(
                    "filterQuery holds more than {MAX_PATTERNS} distinct patterns"
                )));
            }
            patterns.insert(s.clone(), compile_pattern(s)?);
        }
        Value::Array(items) => {
            for item in items {
                compile_strings(item, patterns)?;
            }
        }
        Value::Object(map) => {
            for item in map.values() {
                compile_strings(item, patterns)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn compile_pattern(pattern: &str) -> Result<Regex, DataError> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_DFA_LIMIT)
        .nest_limit(PATTERN_NEST_LIMIT)
        .build()
        .map_err(|e| {
            let shown = abbreviate(pattern);
            DataError::invalid(match e {
                regex::Error::CompiledTooBig(_) => {
                    format!("fuzzy pattern {shown:?} is too large")
                }
                _ => format!(
                    "fuzzy pattern {shown:?} is not a supported regular expression \
                     (no look-around or backreferences)"
                ),
            })
        })
}

fn abbreviate(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Python's `==` on decoded JSON: numbers by value across int and float,
/// `True == 1`, `False == 0`, containers structurally.
fn python_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| python_eq(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| python_eq(x, y)))
        }
        _ => match (PyNumber::of(a), PyNumber::of(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// A JSON number or bool as Python compares it.
#[derive(Debug, Clone, Copy)]
enum PyNumber {
    Int(i128),
    Float(f64),
}

impl PyNumber {
    fn of(value: &Value) -> Option<PyNumber> {
        match value {
            Value::Bool(b) => Some(PyNumber::Int(i128::from(*b))),
            Value::Number(n) => Some(if let Some(i) = n.as_i64() {
                PyNumber::Int(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                PyNumber::Int(i128::from(u))
            } else {
                PyNumber::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            _ => None,
        }
    }
}

impl PartialEq for PyNumber {
    /// Exact comparison, as Python compares an int with a float.
    fn eq(&self, other: &PyNumber) -> bool {
        match (*self, *other) {
            (PyNumber::Int(a), PyNumber::Int(b)) => a == b,
            (PyNumber::Float(a), PyNumber::Float(b)) => a == b,
            (PyNumber::Int(i), PyNumber::Float(f)) | (PyNumber::Float(f), PyNumber::Int(i)) => {
                // Every JSON integer fits well inside 2^127, so an integral
                // float in that range converts exactly.
                f.fract() == 0.0 && f.abs() < 1.7e38 && f as i128 == i
            }
        }
    }
}

/// Decodes a `filterQuery` (or `query`) URL parameter: a JSON object
/// (Python's extensions such as `NaN` read as `null`).
pub fn parse_filter_text(text: &str) -> Result<Map<String, Value>, DataError> {
    match crate::json::parse_lenient(text.as_bytes()) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(DataError::invalid(NOT_AN_OBJECT)),
    }
}

/// Checks the `filterQuery` of a JSON body: `null` means no filter (as in
/// Python), an object is the filter, anything else is `InvalidInput`.
pub fn filter_from_body(value: &Value) -> Result<Option<Map<String, Value>>, DataError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map.clone())),
        _ => Err(DataError::invalid(NOT_AN_OBJECT)),
    }
}

/// A boolean URL parameter such as `fuzzy`: `true`, `1`, `yes`, `on` or
/// `false`, `0`, `no`, `off`, empty (any case); anything else is
/// `InvalidInput` naming the parameter.
pub fn parse_bool(name: &str, text: &str) -> Result<bool, DataError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(DataError::invalid(format!(
            "{name} must be true or false (also 1/0, yes/no, on/off)"
        ))),
    }
}

/// Adds `timelapse_id` to a query as Python does: `{"timelapse": {"id":
/// id}}`, merged into (and overriding the `id` of) an existing `timelapse`
/// object, and nothing when `timelapse` holds something else.
pub fn add_timelapse_id(query: &mut Map<String, Value>, id: &str) {
    let entry = query
        .entry("timelapse")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(timelapse) = entry {
        timelapse.insert("id".to_owned(), Value::String(id.to_owned()));
    }
}

/// Case-insensitive substring search of the viewer's search box (§13.1)
/// over the scan id and the `plant` and `species` of its scan-info
/// document (non-string values are not searched).
pub fn text_search_matches(needle: &str, id: &str, plant: &Value, species: &Value) -> bool {
    let needle = needle.to_lowercase();
    let hit = |text: &str| text.to_lowercase().contains(&needle);
    hit(id) || plant.as_str().is_some_and(hit) || species.as_str().is_some_and(hit)
}

/// The order of a listing (`sort` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Ascending id (ours; Python lists in discovery order).
    #[default]
    Id,
    /// `timelapse.scheduled`: by [`timelapse_sort_key`], ties by id.
    TimelapseScheduled,
}

impl SortOrder {
    /// `timelapse.scheduled` is the only sort Python knows; any other
    /// value, or none, means no sorting, i.e. id order.
    pub fn parse(value: Option<&str>) -> SortOrder {
        match value {
            Some("timelapse.scheduled") => SortOrder::TimelapseScheduled,
            _ => SortOrder::Id,
        }
    }

    /// Sorts `items` by id, then (stably) by the timelapse key if asked.
    pub fn sort<T>(
        self,
        items: &mut [T],
        id: impl Fn(&T) -> &str,
        metadata: impl Fn(&T) -> &Map<String, Value>,
    ) {
        items.sort_by(|a, b| id(a).cmp(id(b)));
        if self == SortOrder::TimelapseScheduled {
            items.sort_by_cached_key(|item| timelapse_sort_key(metadata(item)));
        }
    }
}

/// The key of `_sort_scans(..., "timelapse.scheduled")`:
/// `(str(tl.get("scheduled") or ""), int(tl.get("index")) or 0)`, or
/// `("", 0)` when `timelapse` is not an object.
///
/// `str()` is Python's: a string as is, `1`, `1.5`, `True`, and Python's
/// repr of lists and objects (`['a', 1]`); falsy values (`null`, `false`,
/// `0`, `""`, `[]`, `{}`) give `""`. `int()` is Python's: bools 0/1,
/// floats truncated, strings of ASCII digits (with `+`/`-`, surrounding
/// whitespace, single `_` between digits); anything else 0. Integers
/// beyond `i64` saturate (Python's are unbounded), and non-ASCII digits,
/// which Python's `int()` accepts, give 0.
pub fn timelapse_sort_key(metadata: &Map<String, Value>) -> (String, i64) {
    let Some(Value::Object(timelapse)) = metadata.get("timelapse") else {
        return (String::new(), 0);
    };
    let scheduled = match timelapse.get("scheduled") {
        Some(value) if python_truthy(value) => python_str(value),
        _ => String::new(),
    };
    let index = timelapse.get("index").map_or(0, python_int);
    (scheduled, index)
}

fn python_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Python's `int(value)` for a decoded JSON value, 0 where Python raises
/// `ValueError` or `TypeError`.
fn python_int(value: &Value) -> i64 {
    match value {
        Value::Bool(b) => i64::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i,
            (None, Some(_), _) => i64::MAX,
            // `as` truncates toward zero and saturates, like int() bounded.
            (None, None, Some(f)) => f as i64,
            _ => 0,
        },
        Value::String(s) => python_int_str(s).unwrap_or(0),
        _ => 0,
    }
}

/// `int(text)` in base 10: optional sign, ASCII digits with single
/// underscores between them, surrounding whitespace allowed.
fn python_int_str(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let valid_underscores =
        !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    if digits.is_empty()
        || !valid_underscores
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let magnitude = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    Some(if negative { -magnitude } else { magnitude })
}

/// Python's `str(value)` for a decoded JSON value.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        _ => {
            let mut out = String::new();
            push_python_repr(&mut out, value);
            out
        }
    }
}

/// Python's `repr(value)` for a decoded JSON value.
fn push_python_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&crate::json::python_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => push_python_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_python_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_python_str_repr(out, key);
                out.push_str(": ");
                push_python_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no
/// `"`. Control characters and a few invisible ones are escaped; Python
/// also escapes other non-printable code points (unassigned, private use),
/// which we print as they are.
fn push_python_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_python_unprintable(c) => {
                let code = u32::from(c);
                out.push_str(&match code {
                    0..=0xff => format!("\\x{code:02x}"),
                    0x100..=0xffff => format!("\\u{code:04x}"),
                    _ => format!("\\U{code:08x}"),
                });
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Control characters, separators other than the space, and common
/// format characters: what `str.isprintable()` refuses in practice.
fn is_python_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{a0}'
                | '\u{ad}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200f}'
                | '\u{2028}'..='\u{202f}'
                | '\u{205f}'..='\u{2064}'
                | '\u{3000}'
                | '\u{feff}'
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_equality() {
        assert!(python_eq(&json!(1), &json!(1.0)));
        assert!(python_eq(&json!(true), &json!(1.0)));
        assert!(python_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!python_eq(&json!(i64::MAX), &json!(9.223372036854776e18)));
        assert!(python_eq(
            &json!([1, {"a": false}]),
            &json!([1.0, {"a": 0}])
        ));
        assert!(!python_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!python_eq(&json!(null), &json!({})));
        assert!(!python_eq(&json!("1"), &json!(1)));
    }

    #[test]
    fn python_int_of_strings() {
        let cases = [
            (" 5 ", Some(5)),
            ("1_000", Some(1000)),
            ("-0", Some(0)),
            ("+7", Some(7)),
            ("\u{2003}5\u{85}", Some(5)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("+", None),
            ("- 1", None),
            ("1.0", None),
            ("0x1", None),
            ("\u{1c}5", None),
        ];
        for (text, want) in cases {
            assert_eq!(python_int_str(text), want, "{text:?}");
        }
    }

    #[test]
    fn python_str_of_values() {
        let cases = [
            (json!("x"), "x"),
            (json!(1), "1"),
            (json!(1.0), "1.0"),
            (json!(true), "True"),
            (json!([null, "it's", "\"'"]), r#"[None, "it's", '"\'']"#),
            (json!({"k": ["\u{1}\u{a0}\n"]}), r"{'k': ['\x01\xa0\n']}"),
        ];
        for (value, want) in cases {
            assert_eq!(python_str(&value), want, "{value}");
        }
    }

    #[test]
    fn patterns_are_compiled_once_per_distinct_string() {
        let query = json!({"a": "x.*", "b": ["x.*", {"c": "y"}], "d": 1});
        let filter = Filter::new(query.as_object().unwrap().clone(), true).unwrap();
        let mut compiled: Vec<&String> = filter.patterns.keys().collect();
        compiled.sort();
        assert_eq!(compiled, ["x.*", "y"]);
    }
}
