#![no_main]
//! The `fnmatch` port on arbitrary patterns and names (input: pattern, name
//! and needle, newline-separated).
//!
//! Oracles: every pattern within the length limit compiles (the translation
//! never produces a regex the engine rejects); the one-shot and compiled
//! forms agree; a pattern without metacharacters is a literal; and escaping
//! a string as Python's `glob.escape` does gives a pattern matching exactly
//! it (`[*]`, `[?]`, `[[]`), also inside `*...*`, where it agrees with
//! `str::contains`.

use libfuzzer_sys::fuzz_target;
use plantdb_auth_core::fnmatch::{fnmatchcase, Pattern, PatternError, MAX_PATTERN_LEN};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let pattern = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let needle = parts.next().unwrap_or_default();
    check_pattern(pattern, name);
    check_escaped(name, needle);
});

fn check_pattern(pattern: &str, name: &str) {
    match Pattern::new(pattern) {
        Ok(compiled) => {
            let matched = compiled.matches(name);
            assert_eq!(matched, fnmatchcase(name, pattern));
            if !pattern.contains(['*', '?', '[']) {
                assert_eq!(matched, name == pattern, "literal {pattern:?} vs {name:?}");
            }
        }
        Err(PatternError::TooLong { len, .. }) => assert!(len > MAX_PATTERN_LEN),
        Err(e @ PatternError::Compile { .. }) => panic!("{e}"),
    }
}

fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

fn check_escaped(name: &str, other: &str) {
    let exact = escape(name);
    if let Ok(pattern) = Pattern::new(&exact) {
        assert!(pattern.matches(name), "{exact:?} does not match {name:?}");
        assert_eq!(
            pattern.matches(other),
            other == name,
            "{exact:?} vs {other:?}"
        );
    }
    let inside = format!("*{exact}*");
    if let Ok(pattern) = Pattern::new(&inside) {
        assert_eq!(
            pattern.matches(other),
            other.contains(name),
            "{inside:?} vs {other:?}"
        );
    }
}
