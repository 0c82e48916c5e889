//! The two id grammars of the data API (data-api.md §0, §1.8).
//!
//! Hand-written byte checks rather than regexes: they run on every request
//! and are simple enough to read.

use crate::DataError;

/// An id as it may appear in a request path: `^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$`.
/// A leading `.` is refused, so `.` and `..` never reach the filesystem.
pub fn is_lookup_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    match bytes.first() {
        None => false,
        Some(b'.') => false,
        Some(_) if bytes.len() > 255 => false,
        Some(_) => bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')),
    }
}

/// An id being created: `^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$` (Python's `VALID_ID_RE`).
pub fn is_new_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphanumeric() && bytes.len() <= 128 => bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')),
        _ => false,
    }
}

/// Checks a path id; `what` names it in the error ("scan", "fileset", ...).
pub fn lookup(what: &str, id: &str) -> Result<(), DataError> {
    if is_lookup_id(id) {
        Ok(())
    } else {
        Err(DataError::InvalidInput(format!(
            "Invalid {what} id '{}': use 1-255 characters among letters, digits, '_', '-' and '.', not starting with '.'",
            printable(id)
        )))
    }
}

/// Checks an id to create.
pub fn new_id(what: &str, id: &str) -> Result<(), DataError> {
    if is_new_id(id) {
        Ok(())
    } else {
        Err(DataError::InvalidInput(format!(
            "Invalid {what} id '{}': use 1-128 characters among letters, digits, '_' and '-', starting with a letter or digit",
            printable(id)
        )))
    }
}

/// An id echoed in a message: control characters escaped, length capped.
pub fn printable(id: &str) -> String {
    let mut out: String = id.chars().take(80).flat_map(char::escape_debug).collect();
    if id.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ids() {
        for ok in ["a", "arabidopsis_B2", "x.y", "0", "-a", "_", "a..b"] {
            assert!(is_lookup_id(ok), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "é", "a%2Fb", &long] {
            assert!(!is_lookup_id(bad), "{bad}");
        }
        assert!(is_lookup_id(&"a".repeat(255)));
    }

    #[test]
    fn new_ids() {
        for ok in ["a", "Scan_01-x", "0abc"] {
            assert!(is_new_id(ok), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in ["", "_a", "-a", "a.b", "a b", &long] {
            assert!(!is_new_id(bad), "{bad}");
        }
        assert!(is_new_id(&"a".repeat(128)));
    }
}
