//! Bounds on what a client controls in an audit line: a failed login
//! records the username it was given, which can be 64 KiB of anything.
//! Every string value is cut to [`FIELD_MAX`] bytes, with characters that
//! could forge or hide lines in a terminal or a viewer escaped, and a
//! whole line to [`LINE_MAX`] bytes.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// Longest string value kept whole, in bytes (escapes included).
pub const FIELD_MAX: usize = 256;
/// Longest line, in bytes, its newline included.
pub const LINE_MAX: usize = 1024;
/// Fields kept when a line is over [`LINE_MAX`]: what happened and when.
const KEPT: [&str; 4] = ["ts", "level", "event", "dropped"];

/// Control, line-separator and bidirectional-override characters.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `value` escaped and cut to [`FIELD_MAX`] bytes on a character boundary,
/// then marked `…(truncated, N bytes)` with its original length.
pub fn sanitize(value: &str) -> String {
    sanitize_prefix(value, value.len())
}

/// [`sanitize`] of a value of which only `prefix` was kept (`total` bytes).
fn sanitize_prefix(prefix: &str, total: usize) -> String {
    let mut out = String::with_capacity(prefix.len().min(FIELD_MAX) + 32);
    let mut cut = prefix.len() < total;
    for c in prefix.chars() {
        let before = out.len();
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
        if out.len() > FIELD_MAX {
            out.truncate(before);
            cut = true;
            break;
        }
    }
    if cut {
        let _ = write!(out, "…(truncated, {total} bytes)");
    }
    out
}

/// Keeps the first bytes written to it and counts the rest, so that a
/// huge `Debug` value is never copied whole.
#[derive(Default)]
struct Capture {
    text: String,
    total: usize,
}

/// Enough input for [`FIELD_MAX`] bytes of output, and a quote.
const CAPTURE_MAX: usize = FIELD_MAX + 8;

impl fmt::Write for Capture {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        let mut end = CAPTURE_MAX.saturating_sub(self.text.len()).min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        Ok(())
    }
}

/// [`sanitize`] of a `Debug` (or `%Display`) field, without its quotes.
pub fn sanitize_debug(value: &dyn fmt::Debug) -> String {
    let mut capture = Capture::default();
    let _ = write!(capture, "{value:?}");
    let complete = capture.text.len() == capture.total;
    let mut text = capture.text.as_str();
    let mut total = capture.total;
    if let Some(rest) = text.strip_prefix('"') {
        text = rest;
        total -= 1;
        // A cut string still had its closing quote in `total`.
        if let Some(rest) = text.strip_suffix('"').filter(|_| complete) {
            text = rest;
            total -= 1;
        } else if !complete {
            total = total.saturating_sub(1);
        }
    }
    sanitize_prefix(text, total)
}

/// The event as one line of at most [`LINE_MAX`] bytes, newline included,
/// and the fields that line holds: while it is too long the longest field
/// is dropped (never `ts`, `level`, `event`) and named in `dropped`.
pub fn bounded_line(mut fields: Map<String, Value>) -> (Map<String, Value>, Vec<u8>) {
    let mut dropped = Vec::new();
    loop {
        let mut line = serde_json::to_vec(&fields).unwrap_or_default();
        if line.len() < LINE_MAX {
            line.push(b'\n');
            return (fields, line);
        }
        let Some(longest) = longest_droppable(&fields) else {
            return bounded_line(oversized(fields, dropped.len()));
        };
        fields.remove(&longest);
        dropped.push(Value::String(longest));
        fields.insert("dropped".into(), Value::Array(dropped.clone()));
    }
}

fn longest_droppable(fields: &Map<String, Value>) -> Option<String> {
    fields
        .iter()
        .filter(|(name, _)| !KEPT.contains(&name.as_str()))
        .max_by_key(|(name, value)| name.len() + value.to_string().len())
        .map(|(name, _)| name.clone())
}

/// The last resort, for an event whose kept fields alone are too long
/// (no event logged by this server has them).
fn oversized(fields: Map<String, Value>, dropped: usize) -> Map<String, Value> {
    let mut small: Map<String, Value> = ["ts", "level"]
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .filter(|(_, v)| v.as_str().is_some_and(|s| s.len() <= 64))
        .collect();
    small.insert("event".into(), Value::from("oversized"));
    small.insert("dropped".into(), Value::from(dropped + 1));
    small
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_are_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(1000);
        let cut = sanitize(&long);
        let (kept, marker) = cut.split_once('…').unwrap();
        assert!(kept.len() <= FIELD_MAX && kept.len() > FIELD_MAX - 2);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(marker, "(truncated, 2000 bytes)");
        assert_eq!(sanitize("alice"), "alice");
        assert_eq!(sanitize(&"a".repeat(FIELD_MAX)), "a".repeat(FIELD_MAX));
    }

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        let forged = "bob\n{\"event\":\"login_ok\"}\u{1b}[2K\u{202e}\u{85}";
        assert_eq!(
            sanitize(forged),
            "bob\\u{a}{\"event\":\"login_ok\"}\\u{1b}[2K\\u{202e}\\u{85}"
        );
        // An escape is never split by the cut.
        let cut = sanitize(&format!("{}\n", "a".repeat(FIELD_MAX - 2)));
        assert!(cut.starts_with(&format!("{}…", "a".repeat(FIELD_MAX - 2))));
    }

    #[test]
    fn debug_values_are_captured_bounded_and_unquoted() {
        assert_eq!(sanitize_debug(&"x\ty"), "x\\ty");
        let huge = "z".repeat(100_000);
        let cut = sanitize_debug(&huge);
        assert!(cut.starts_with(&"z".repeat(FIELD_MAX)));
        assert!(cut.ends_with("(truncated, 100000 bytes)"), "{cut}");
        let display = format_args!("{}", "w".repeat(300));
        assert!(sanitize_debug(&display).ends_with("(truncated, 300 bytes)"));
    }

    #[test]
    fn lines_are_bounded_by_dropping_the_longest_fields() {
        let mut fields = Map::new();
        fields.insert("ts".into(), json!("2026-01-01T00:00:00.000000Z"));
        fields.insert("event".into(), json!("permission_denied"));
        for name in ["a", "b", "c", "d", "e"] {
            fields.insert(name.into(), json!(sanitize(&"\"".repeat(400))));
        }
        fields.insert("user".into(), json!("alice"));
        let (kept, line) = bounded_line(fields);
        assert!(line.len() <= LINE_MAX && line.ends_with(b"\n"));
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, Value::Object(kept));
        assert_eq!(parsed["event"], "permission_denied");
        assert_eq!(parsed["user"], "alice");
        assert!(!parsed["dropped"].as_array().unwrap().is_empty());
    }
}
