//! JSON as Python's `json` module reads and writes it.
//!
//! Reading is lenient like Python's: the non-standard tokens `NaN`,
//! `Infinity` and `-Infinity` are accepted and become `null` (we never hold
//! or write non-finite numbers), numbers too large for an `f64` (Python
//! reads `1e400` as `inf`) become `null`, and a lone UTF-16 surrogate
//! escape (Python keeps it in the string) becomes U+FFFD. Duplicate keys
//! keep the last value at the first key's position, as Python's `dict` does.
//!
//! Writing reproduces `json.dumps(value, indent=4)` with the default
//! `ensure_ascii=True`, with or without `sort_keys=True`, byte for byte.
//!
//! Known differences, all on inputs Python itself rarely meets: integers
//! beyond the `u64`/`i64` range are read as floats (Python keeps them
//! exact), and nesting deeper than 128 levels is refused (Python allows
//! about 1000).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::DataError;

/// Parses `bytes` as Python's `json.loads` would, mapping `NaN`,
/// `Infinity` and `-Infinity` (outside strings) to `null`.
///
/// The error is a short description with a line number, free of paths and
/// library wording.
pub fn parse_lenient(bytes: &[u8]) -> Result<Value, String> {
    // Standard JSON, by far the common case, parses in one pass; only text
    // serde_json refuses (or reads `-0` from) is rewritten and parsed again.
    match serde_json::from_slice(bytes) {
        Ok(value) if !has_negative_zero(&value) => Ok(value),
        _ => serde_json::from_slice(&rewrite_python_extensions(bytes))
            .map_err(|e| describe_error(&e)),
    }
}

/// Why a request body is refused by [`parse_request_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The same key twice in one object: which value counts would depend on
    /// the parser, so the request is ambiguous (and refused).
    DuplicateKey(String),
    /// Not JSON (a short description with a line number).
    Invalid(String),
}

/// Parses a request body as standard JSON (no `NaN`, no `Infinity`),
/// refusing an object with the same key twice: which value counts would
/// depend on the parser (Python keeps the last one; a proxy or another
/// parser in front of us may keep the first), so the request is ambiguous.
pub fn parse_strict_body(bytes: &[u8]) -> Result<Value, BodyError> {
    no_duplicates(bytes).map_err(classify)
}

/// [`parse_strict_body`], but reading Python's extensions as
/// [`parse_lenient`] does: for the data routes, whose Python clients may
/// send what `json.dumps` writes.
pub fn parse_request_body(bytes: &[u8]) -> Result<Value, BodyError> {
    match no_duplicates(bytes) {
        Ok(value) if !has_negative_zero(&value) => Ok(value),
        Err(e) if duplicate_key_of(&e).is_some() => Err(classify(e)),
        _ => no_duplicates(&rewrite_python_extensions(bytes)).map_err(classify),
    }
}

fn no_duplicates(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = NoDuplicates.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

fn classify(e: serde_json::Error) -> BodyError {
    match duplicate_key_of(&e) {
        Some(key) => BodyError::DuplicateKey(key),
        None => BodyError::Invalid(describe_error(&e)),
    }
}

const DUPLICATE_KEY: &str = "duplicate key ";

fn duplicate_key_of(e: &serde_json::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.strip_prefix(DUPLICATE_KEY)?;
    // serde_json appends " at line L column C" to custom errors.
    let end = rest.rfind(" at line ").unwrap_or(rest.len());
    Some(rest[..end].trim_matches('\'').to_string())
}

/// A serde seed building a [`Value`] that fails on a repeated object key.
/// serde_json's own `Value` keeps the last duplicate and has no option to
/// refuse it, hence this visitor (the recursion limit stays serde_json's).
struct NoDuplicates;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicates {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicates {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NoDuplicates)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "{DUPLICATE_KEY}'{key}'"
                )));
            }
            let value = map.next_value_seed(NoDuplicates)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// serde_json reads the integer `-0` as the float `-0.0`; Python reads the
/// int `0`, and `-0.0` is rare enough to parse such documents twice.
fn has_negative_zero(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()),
        Value::Array(items) => items.iter().any(has_negative_zero),
        Value::Object(map) => map.values().any(has_negative_zero),
        _ => false,
    }
}

/// Reads and parses a JSON file leniently; a missing file is `Ok(None)`.
///
/// Errors name neither the path nor the library: the caller knows which
/// scan or file it was reading and says so.
pub fn read_json_file(path: &Path) -> Result<Option<Value>, DataError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io("cannot read a JSON file", e)),
    };
    parse_lenient(&bytes)
        .map(Some)
        .map_err(|msg| DataError::Corrupt(format!("invalid JSON file: {msg}")))
}

/// `json.dumps(value, sort_keys=True, indent=4)`: Python's layout of
/// `files.json` and metadata files.
pub fn to_python_json_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, true);
    out
}

/// `json.dumps(value, indent=4)`: keys in their stored order, as Python
/// writes `timelapse.json`.
pub fn to_python_json_unsorted_indent4(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0, false);
    out
}

/// Python's `repr(float)`: the shortest digits that read back to `x`, in
/// scientific notation when the decimal exponent is below -4 or at least
/// 16 (`1e-05`, `1.5e+16`), else positional with at least one fractional
/// digit (`1.0`, `0.0001`). Non-finite values give `nan`, `inf`, `-inf`.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest round-trip digits, e.g. `1.2345e-7`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    format!("{sign}{}", place_point(&digits, exponent))
}

/// Lays out significant `digits` (first digit before the point) with the
/// decimal `exponent` the way Python's float repr does.
fn place_point(digits: &str, exponent: i32) -> String {
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs());
    }
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
    } else {
        let (int_part, fraction) = digits.split_at(int_len);
        format!("{int_part}.{fraction}")
    }
}

fn write_value(out: &mut String, value: &Value, level: usize, sort_keys: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_ascii_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                item_start(out, i, level + 1);
                write_value(out, item, level + 1, sort_keys);
            }
            container_end(out, level, ']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                // Byte order of UTF-8 is code point order, as Python sorts.
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                item_start(out, i, level + 1);
                write_ascii_string(out, key);
                out.push_str(": ");
                write_value(out, item, level + 1, sort_keys);
            }
            container_end(out, level, '}');
        }
    }
}

/// With `indent`, Python ends each item with `","` and puts every item on
/// its own line.
fn item_start(out: &mut String, index: usize, level: usize) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    push_indent(out, level);
}

fn container_end(out: &mut String, level: usize, close: char) {
    out.push('\n');
    push_indent(out, level);
    out.push(close);
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&python_float_repr(f));
    }
}

/// Python's `ensure_ascii` string: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`,
/// `\f`, and `\uXXXX` (lowercase, surrogate pairs beyond the BMP) for every
/// other character outside printable ASCII.
fn write_ascii_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Describes a parse error by kind and line only (line numbers survive the
/// rewrite, columns do not).
fn describe_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of data",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    };
    format!("{kind} at line {}", e.line())
}

/// Copies JSON text, replacing outside strings `NaN`, `Infinity`,
/// `-Infinity` and numbers beyond the `f64` range with `null`, and inside
/// strings lone surrogate escapes with `\ufffd`. Everything else is copied
/// as is, so invalid text stays invalid.
fn rewrite_python_extensions(bytes: &[u8]) -> Vec<u8> {
    const TOKENS: [&[u8]; 3] = [b"NaN", b"Infinity", b"-Infinity"];
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            i = copy_string(bytes, i, &mut out);
        } else if let Some(token) = TOKENS.iter().find(|t| bytes[i..].starts_with(t)) {
            out.extend_from_slice(b"null");
            i += token.len();
        } else if b == b'-' || b.is_ascii_digit() {
            i = copy_number(bytes, i, &mut out);
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Copies the number token at `start`: `null` when it overflows `f64`,
/// `0` for the integer `-0`. Returns the index after it.
fn copy_number(bytes: &[u8], start: usize, out: &mut Vec<u8>) -> usize {
    let len = bytes[start..]
        .iter()
        .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .unwrap_or(bytes.len() - start);
    let token = &bytes[start..start + len];
    let overflows = std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .is_some_and(f64::is_infinite);
    if overflows {
        out.extend_from_slice(b"null");
    } else if token == b"-0" {
        out.push(b'0');
    } else {
        out.extend_from_slice(token);
    }
    start + len
}

/// Copies the string starting at the quote at `start`; returns the index
/// after its closing quote (or the end of the input).
fn copy_string(bytes: &[u8], start: usize, out: &mut Vec<u8>) -> usize {
    out.push(b'"');
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                out.push(b'"');
                return i + 1;
            }
            b'\\' if bytes.get(i + 1) == Some(&b'u') => i = copy_unicode_escape(bytes, i, out),
            b'\\' => {
                out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    bytes.len()
}

/// Copies the `\uXXXX` escape at `i` (with its low surrogate if it is a
/// high one); a lone surrogate becomes `\ufffd`. Returns the next index.
fn copy_unicode_escape(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let Some(unit) = hex_unit(bytes, i) else {
        out.extend_from_slice(b"\\u");
        return i + 2;
    };
    let is_high = (0xD800..0xDC00).contains(&unit);
    let is_low = (0xDC00..0xE000).contains(&unit);
    let next_is_low = hex_unit(bytes, i + 6).is_some_and(|u| (0xDC00..0xE000).contains(&u));
    if is_high && next_is_low {
        out.extend_from_slice(&bytes[i..i + 12]);
        i + 12
    } else if is_high || is_low {
        out.extend_from_slice(b"\\ufffd");
        i + 6
    } else {
        out.extend_from_slice(&bytes[i..i + 6]);
        i + 6
    }
}

/// The code unit of a complete `\uXXXX` escape at `i`, if there is one.
fn hex_unit(bytes: &[u8], i: usize) -> Option<u32> {
    let escape = bytes.get(i..i + 6)?;
    if !escape.starts_with(b"\\u") {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Value {
        parse_lenient(text.as_bytes()).unwrap()
    }

    #[test]
    fn python_tokens_become_null_outside_strings_only() {
        let v = parse(r#"{"a": NaN, "b": [Infinity, -Infinity, 1], "NaN": "NaN Infinity"}"#);
        assert_eq!(
            v,
            json!({"a": null, "b": [null, null, 1], "NaN": "NaN Infinity"})
        );
        assert_eq!(parse("NaN"), Value::Null);
        assert_eq!(parse(" -Infinity\n"), Value::Null);
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let v = parse(r#"["a\"NaN\\", NaN, "\\\"Infinity"]"#);
        assert_eq!(v, json!(["a\"NaN\\", null, "\\\"Infinity"]));
    }

    #[test]
    fn malformed_python_tokens_stay_invalid() {
        for text in [
            "-NaN",
            "nan",
            "NaNa",
            "[Infinit]",
            "{\"a\": Infinity1}",
            "+Infinity",
        ] {
            assert!(parse_lenient(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn overflowing_numbers_become_null_like_python_inf() {
        assert_eq!(parse("[1e400, -1e400, 1e308]"), json!([null, null, 1e308]));
        let huge_int = "9".repeat(400);
        assert_eq!(parse(&huge_int), Value::Null);
    }

    #[test]
    fn minus_zero_is_the_int_zero_as_in_python() {
        let v = parse(r#"{"a": -0, "b": -0.0, "c": [-0], "d": "-0"}"#);
        assert_eq!(
            to_python_json_sorted(&v),
            "{\n    \"a\": 0,\n    \"b\": -0.0,\n    \"c\": [\n        0\n    ],\n    \"d\": \"-0\"\n}"
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(parse(r#""\ud800x""#), json!("\u{fffd}x"));
        assert_eq!(parse(r#""\udc00""#), json!("\u{fffd}"));
        assert_eq!(parse(r#"["\ud83d\ude00", NaN]"#), json!(["😀", null]));
        assert_eq!(parse(r#""\ud83d\u0041""#), json!("\u{fffd}A"));
    }

    #[test]
    fn duplicate_keys_keep_last_value_at_first_position() {
        let v = parse(r#"{"a": 1, "b": 2, "a": 3}"#);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(v["a"], 3);
        // Same on the lenient path.
        let v = parse(r#"{"a": NaN, "b": 2, "a": 3}"#);
        assert_eq!(
            to_python_json_unsorted_indent4(&v),
            "{\n    \"a\": 3,\n    \"b\": 2\n}"
        );
    }

    #[test]
    fn key_order_is_preserved() {
        let v = parse(r#"{"z": 1, "a": 2, "m": 3}"#);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn errors_name_line_not_library() {
        let err = parse_lenient(b"{\n\"a\": NaN,\n}").unwrap_err();
        assert_eq!(err, "syntax error at line 3");
        assert_eq!(
            parse_lenient(b"[1,").unwrap_err(),
            "unexpected end of data at line 1"
        );
        assert!(
            parse_lenient("\u{feff}{}".as_bytes()).is_err(),
            "Python refuses a BOM"
        );
    }

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-7, "1.5e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e100, "1e+100"),
            (-2.5, "-2.5"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(x), want, "{x:?}");
        }
    }

    #[test]
    fn sorted_layout_is_pythons() {
        let v = json!({"b": [1, 2.0, {}], "a": {"y": [], "x": null}, "é": "ü😀\"\u{7f}"});
        let want = "{\n    \"a\": {\n        \"x\": null,\n        \"y\": []\n    },\n    \
                    \"b\": [\n        1,\n        2.0,\n        {}\n    ],\n    \
                    \"\\u00e9\": \"\\u00fc\\ud83d\\ude00\\\"\\u007f\"\n}";
        assert_eq!(to_python_json_sorted(&v), want);
        assert_eq!(to_python_json_sorted(&json!({})), "{}");
        assert_eq!(
            to_python_json_sorted(&json!("\n\t\u{1}")),
            "\"\\n\\t\\u0001\""
        );
    }

    #[test]
    fn unsorted_layout_keeps_order() {
        let v = json!({"id": "tl", "scans": ["a"], "metadata": {"z": true, "a": false}});
        let want = "{\n    \"id\": \"tl\",\n    \"scans\": [\n        \"a\"\n    ],\n    \
                    \"metadata\": {\n        \"z\": true,\n        \"a\": false\n    }\n}";
        assert_eq!(to_python_json_unsorted_indent4(&v), want);
    }

    #[test]
    fn read_json_file_missing_invalid_and_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        assert!(read_json_file(&path).unwrap().is_none());
        std::fs::write(&path, "{\"a\": NaN}").unwrap();
        assert_eq!(read_json_file(&path).unwrap(), Some(json!({"a": null})));
        std::fs::write(&path, "{oops").unwrap();
        let err = read_json_file(&path).unwrap_err();
        assert!(matches!(err, DataError::Corrupt(_)));
        assert!(!err
            .to_string()
            .contains(dir.path().to_string_lossy().as_ref()));
    }
}
