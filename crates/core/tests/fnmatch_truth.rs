//! `fnmatch` agrees with CPython's `fnmatch.fnmatchcase` on every row of a
//! truth table CPython produced (`scripts/gen_fnmatch_truth.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plantdb_auth_core::fnmatch::{fnmatchcase, Pattern, MAX_PATTERN_LEN};
use proptest::prelude::*;
use serde_json::Value;

const TRUTH: &str = include_str!("fixtures/fnmatch_truth.json");

fn truth_rows() -> Vec<(String, String, bool)> {
    let doc: Value = serde_json::from_str(TRUTH).unwrap();
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let text = |i: usize| row[i].as_str().unwrap().to_string();
            (text(0), text(1), row[2].as_bool().unwrap())
        })
        .collect()
}

#[test]
fn agrees_with_cpython_on_every_row() {
    let rows = truth_rows();
    assert!(rows.len() > 1000, "truth table looks truncated");
    let wrong: Vec<String> = rows
        .iter()
        .filter(|(pattern, name, expected)| {
            Pattern::new(pattern).unwrap().matches(name) != *expected
        })
        .map(|(pattern, name, expected)| format!("{pattern:?} vs {name:?}: want {expected}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} rows disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_table_covers_the_traps() {
    let rows = truth_rows();
    for trap in [
        "[!]]", "[]]", "[", "**", "{a,b}", "^a", "a$", "[z-a]", "[-a]", "[a-]", "",
    ] {
        assert!(
            rows.iter().any(|(p, _, _)| p == trap),
            "no row for {trap:?}"
        );
    }
    assert!(rows.iter().any(|(_, n, _)| n.is_empty()));
    assert!(rows.iter().any(|(_, _, expected)| *expected));
}

#[test]
fn one_shot_function_agrees_with_compiled_pattern() {
    for (pattern, name, expected) in truth_rows().into_iter().take(200) {
        assert_eq!(
            fnmatchcase(&name, &pattern),
            expected,
            "{pattern:?} vs {name:?}"
        );
    }
}

#[test]
fn pattern_keeps_its_source() {
    let p = Pattern::new("scan_[!0]*").unwrap();
    assert_eq!(p.as_str(), "scan_[!0]*");
    assert_eq!(p.to_string(), "scan_[!0]*");
    assert_eq!(p, Pattern::new("scan_[!0]*").unwrap());
}

#[test]
fn length_cap_counts_characters_not_bytes() {
    assert!(Pattern::new(&"é".repeat(MAX_PATTERN_LEN)).is_ok());
    assert!(Pattern::new(&"é".repeat(MAX_PATTERN_LEN + 1)).is_err());
}

proptest! {
    #[test]
    fn star_matches_everything(name in any::<String>()) {
        prop_assert!(fnmatchcase(&name, "*"));
    }

    #[test]
    fn a_literal_pattern_matches_exactly_itself(
        pattern in "[^*?\\[]{0,40}",
        other in "[^*?\\[]{0,40}",
    ) {
        let compiled = Pattern::new(&pattern).unwrap();
        prop_assert!(compiled.matches(&pattern));
        prop_assert_eq!(compiled.matches(&other), other == pattern);
    }

    #[test]
    fn never_panics_on_any_pattern(pattern in ".{0,30}", name in ".{0,10}") {
        let _ = fnmatchcase(&name, &pattern);
    }
}
