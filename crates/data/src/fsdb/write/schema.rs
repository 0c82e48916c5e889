//! Python's biological metadata check (`fsdb/metadata_schema.py`, §9.4):
//! the MIAPPE sections, when present, must have the listed types; other
//! keys are free. Python raises a `ValueError` (500); we answer 400 with the
//! same list of problems.

use serde_json::{Map, Value};

use crate::DataError;

/// The type a field must have.
#[derive(Clone, Copy)]
enum Rule {
    /// Python `str`.
    Str,
    /// Python `(int, float)`, which `bool` passes (a subclass of `int`).
    Number,
    /// A nested object with its own fields.
    Object(&'static [(&'static str, Rule)]),
}

const INVESTIGATION: &[(&str, Rule)] = &[
    ("identifier", Rule::Str),
    ("title", Rule::Str),
    ("description", Rule::Str),
];

const STUDY: &[(&str, Rule)] = &[
    ("identifier", Rule::Str),
    ("title", Rule::Str),
    ("startDate", Rule::Str),
    ("endDate", Rule::Str),
    (
        "growthFacility",
        Rule::Object(&[("name", Rule::Str), ("country", Rule::Str)]),
    ),
    ("environment", Rule::Object(&[("photoperiod", Rule::Str)])),
    ("experimentalDesign", Rule::Object(&[("type", Rule::Str)])),
    (
        "experimentalFactors",
        Rule::Object(&[("treatment", Rule::Str)]),
    ),
];

const BIOLOGICAL_MATERIAL: &[(&str, Rule)] = &[
    ("biologicalMaterialId", Rule::Str),
    (
        "organism",
        Rule::Object(&[("genus", Rule::Str), ("species", Rule::Str)]),
    ),
    (
        "materialSource",
        Rule::Object(&[("id", Rule::Str), ("name", Rule::Str)]),
    ),
    ("ageDays", Rule::Number),
    ("sample", Rule::Str),
];

const OBSERVED_VARIABLE: &[(&str, Rule)] = &[
    ("trait", Rule::Str),
    ("method", Rule::Str),
    ("scale", Rule::Str),
];

/// Python's `SCAN_BIOLOGICAL_SCHEMA`, in its order.
const SECTIONS: &[(&str, &[(&str, Rule)])] = &[
    ("investigation", INVESTIGATION),
    ("study", STUDY),
    ("biologicalMaterial", BIOLOGICAL_MATERIAL),
    ("observedVariable", OBSERVED_VARIABLE),
];

/// Checks the MIAPPE sections of scan metadata (the whole document on
/// creation, the incoming keys on update). Errors:
/// [`DataError::InvalidInput`] `Invalid biological metadata: <problems>`,
/// problems joined with `"; "` in Python's wording, e.g.
/// `'biologicalMaterial.ageDays' must be int or float, got str`.
pub fn validate_biological_metadata(metadata: &Map<String, Value>) -> Result<(), DataError> {
    let mut errors = Vec::new();
    for (section, fields) in SECTIONS {
        if let Some(block) = metadata.get(*section) {
            check(block, fields, section, &mut errors);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DataError::InvalidInput(format!(
            "Invalid biological metadata: {}",
            errors.join("; ")
        )))
    }
}

fn check(block: &Value, fields: &[(&str, Rule)], path: &str, errors: &mut Vec<String>) {
    let map = match block {
        Value::Null => return,
        Value::Object(map) => map,
        _ => {
            errors.push(format!("'{path}' must be an object"));
            return;
        }
    };
    for (key, rule) in fields {
        let Some(value) = map.get(*key) else {
            continue;
        };
        let here = format!("{path}.{key}");
        match rule {
            Rule::Object(inner) => check(value, inner, &here, errors),
            Rule::Str => {
                if !value.is_null() && !value.is_string() {
                    errors.push(format!("'{here}' must be str, got {}", python_type(value)));
                }
            }
            Rule::Number => {
                if !matches!(value, Value::Null | Value::Number(_) | Value::Bool(_)) {
                    errors.push(format!(
                        "'{here}' must be int or float, got {}",
                        python_type(value)
                    ));
                }
            }
        }
    }
}

/// The Python type name of a parsed JSON value.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(v: Value) -> Result<(), String> {
        let Value::Object(map) = v else {
            panic!("not an object")
        };
        validate_biological_metadata(&map).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_and_absent_sections_pass() {
        validate(json!({})).unwrap();
        validate(json!({"study": null, "other": 3})).unwrap();
        validate(json!({
            "investigation": {"identifier": "I1", "title": null, "extra": 1},
            "study": {"growthFacility": {"name": "g", "country": null}, "environment": null},
            "biologicalMaterial": {"ageDays": 12.5, "organism": {"genus": "A"}},
            "observedVariable": {"trait": "t"}
        }))
        .unwrap();
        validate(json!({"biologicalMaterial": {"ageDays": true}})).unwrap();
    }

    #[test]
    fn problems_are_listed_in_python_wording() {
        let err = validate(json!({
            "investigation": "x",
            "study": {"title": 3, "growthFacility": {"country": ["FR"]}, "environment": 1},
            "biologicalMaterial": {"ageDays": "12", "organism": {"species": {}}},
            "observedVariable": {"scale": 1.5}
        }))
        .unwrap_err();
        assert_eq!(
            err,
            "Invalid biological metadata: 'investigation' must be an object; \
             'study.title' must be str, got int; \
             'study.growthFacility.country' must be str, got list; \
             'study.environment' must be an object; \
             'biologicalMaterial.organism.species' must be str, got dict; \
             'biologicalMaterial.ageDays' must be int or float, got str; \
             'observedVariable.scale' must be str, got float"
        );
    }
}
