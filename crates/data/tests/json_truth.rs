//! `json` against truth tables of CPython's `json` and `repr(float)`
//! (`tests/data/json_truth.json`, written by `scripts/gen_filter_truth.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plantdb_data::json::{
    parse_lenient, python_float_repr, to_python_json_sorted, to_python_json_unsorted_indent4,
};
use serde_json::Value;

fn truth() -> Value {
    serde_json::from_str(include_str!("data/json_truth.json")).unwrap()
}

fn rows<'a>(truth: &'a Value, key: &str) -> &'a Vec<Value> {
    truth[key].as_array().unwrap()
}

#[test]
fn float_repr_agrees_with_python() {
    let truth = truth();
    for row in rows(&truth, "float_repr") {
        let bits = u64::from_str_radix(row["bits"].as_str().unwrap(), 16).unwrap();
        let x = f64::from_bits(bits);
        let want = row["repr"].as_str().unwrap();
        assert_eq!(python_float_repr(x), want, "bits {bits:016x}");
        assert_eq!(to_python_json_sorted(&Value::from(x)), want);
    }
}

#[test]
fn dumps_agree_with_python() {
    let truth = truth();
    for row in rows(&truth, "dumps") {
        let input = row["input"].as_str().unwrap();
        let value = parse_lenient(input.as_bytes()).unwrap();
        assert_eq!(
            to_python_json_sorted(&value),
            row["sorted"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(
            to_python_json_unsorted_indent4(&value),
            row["unsorted"].as_str().unwrap(),
            "{input}"
        );
    }
}

#[test]
fn lenient_parse_agrees_with_python() {
    let truth = truth();
    for row in rows(&truth, "lenient") {
        let input = row["input"].as_str().unwrap();
        let got = parse_lenient(input.as_bytes());
        if row["error"].as_bool().unwrap() {
            assert!(got.is_err(), "Python refuses {input:?}, we read {got:?}");
        } else {
            let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
            // Compare in Python's layout: 0 and -0 are the same int there.
            assert_eq!(
                to_python_json_sorted(&got),
                to_python_json_sorted(&row["value"]),
                "{input:?}"
            );
        }
    }
}
