//! `filter` on the examples and rules of data-api.md §6 and §13.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plantdb_data::filter::{
    add_timelapse_id, filter_from_body, parse_bool, parse_filter_text, text_search_matches,
    timelapse_sort_key, Filter, SortOrder,
};
use plantdb_data::DataError;
use serde_json::{json, Map, Value};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn scan(plant_id: &str) -> Map<String, Value> {
    object(json!({"owner": "bob", "biologicalMaterial": {"biologicalMaterialId": plant_id}}))
}

fn kept(filter: &Filter) -> Vec<&'static str> {
    [
        "plant-1", "plant-10", "plant-11", "plant-12", "plant-2", "xplant-1",
    ]
    .into_iter()
    .filter(|id| filter.matches(&scan(id)))
    .collect()
}

fn invalid_message(result: Result<Filter, DataError>) -> String {
    match result {
        Err(DataError::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn plant_1_exact_and_fuzzy() {
    let query = object(json!({"biologicalMaterial": {"biologicalMaterialId": "plant-1"}}));
    let exact = Filter::new(query.clone(), false).unwrap();
    assert_eq!(kept(&exact), ["plant-1"]);
    let fuzzy = Filter::new(query, true).unwrap();
    assert_eq!(
        kept(&fuzzy),
        ["plant-1", "plant-10", "plant-11", "plant-12"]
    );
}

#[test]
fn missing_key_matches_only_an_empty_object() {
    let metadata = scan("plant-1");
    let keeps = |q: Value| Filter::new(object(q), false).unwrap().matches(&metadata);
    assert!(keeps(json!({"missing": {}})));
    assert!(!keeps(json!({"missing": null})));
    assert!(!keeps(json!({"missing": []})));
    assert!(!keeps(json!({"missing": {"a": 1}})));
    // `{}` is a subset of every object, and equals nothing else.
    assert!(keeps(json!({"biologicalMaterial": {}})));
    assert!(!keeps(json!({"owner": {}})));
    assert!(keeps(json!({})));
}

#[test]
fn fuzzy_false_is_exact_equality() {
    let filter = Filter::new(object(json!({"owner": "b.*"})), false).unwrap();
    assert!(!filter.matches(&scan("plant-1")));
    assert!(filter.matches(&object(json!({"owner": "b.*"}))));
    // Not compiled, so Python-only syntax is fine when not fuzzy.
    assert!(Filter::new(object(json!({"owner": "(a)\\1"})), false).is_ok());
}

#[test]
fn fuzzy_is_anchored_at_the_start_only() {
    let filter = Filter::new(object(json!({"owner": "ob"})), true).unwrap();
    assert!(!filter.matches(&object(json!({"owner": "bob"}))));
    let filter = Filter::new(object(json!({"owner": "bo"})), true).unwrap();
    assert!(filter.matches(&object(json!({"owner": "bob"}))));
    // Alternatives are all anchored, and a pattern cannot close the group.
    let filter = Filter::new(object(json!({"owner": "x|o"})), true).unwrap();
    assert!(!filter.matches(&object(json!({"owner": "bob"}))));
    let filter = Filter::new(object(json!({"owner": "x)|(o"})), true);
    assert!(invalid_message(filter).contains("x)|(o"));
}

#[test]
fn numbers_and_bools_compare_as_in_python() {
    let keeps = |q: Value, v: Value| {
        Filter::new(object(json!({ "k": q })), true)
            .unwrap()
            .matches(&object(json!({ "k": v })))
    };
    assert!(keeps(json!(1), json!(1.0)));
    assert!(keeps(json!(true), json!(1)));
    assert!(keeps(json!(false), json!(0.0)));
    assert!(!keeps(json!(true), json!(2)));
    assert!(!keeps(json!("1"), json!(1)));
    assert!(!keeps(
        json!(9007199254740993u64),
        json!(9007199254740992.0)
    ));
    assert!(keeps(json!(u64::MAX), json!(u64::MAX)));
    assert!(keeps(
        json!([1, {"a": true}]),
        json!([{"a": 1, "b": 2}, 1.0, 3])
    ));
    assert!(!keeps(json!([1, 1, 1]), json!([1, 1])));
    assert!(keeps(json!([1, 1]), json!([1, 2])));
}

#[test]
fn unsupported_patterns_are_invalid_input() {
    for pattern in ["(a)\\1", "(?=a)", "(?<!a)b", "a\\Z", "(", "a{2,1}"] {
        let result = Filter::new(object(json!({"k": [{"x": pattern}]})), true);
        let msg = invalid_message(result);
        assert!(msg.contains("not a supported regular expression"), "{msg}");
    }
    let huge = Filter::new(object(json!({"k": "(?:\\w{100}){100}"})), true);
    assert!(invalid_message(huge).contains("too large"));
    let many: Vec<String> = (0..300).map(|i| format!("p{i}")).collect();
    let too_many = Filter::new(object(json!({ "k": many })), true);
    assert!(invalid_message(too_many).contains("distinct patterns"));
    let long = "(".repeat(500);
    let msg = invalid_message(Filter::new(object(json!({ "k": long })), true));
    assert!(msg.len() < 200, "the pattern is abbreviated: {msg}");
}

#[test]
fn filter_text_must_be_an_object() {
    assert_eq!(
        parse_filter_text(r#"{"owner": "bob", "n": NaN}"#).unwrap(),
        object(json!({"owner": "bob", "n": null}))
    );
    for text in ["", "bob", "[1]", "\"x\"", "null", "{"] {
        let err = parse_filter_text(text).unwrap_err();
        assert!(matches!(err, DataError::InvalidInput(_)), "{text}");
        assert!(err
            .to_string()
            .starts_with("filterQuery must be a JSON object"));
    }
    assert_eq!(filter_from_body(&json!(null)).unwrap(), None);
    assert_eq!(
        filter_from_body(&json!({"a": 1})).unwrap(),
        Some(object(json!({"a": 1})))
    );
    assert!(filter_from_body(&json!("{}")).is_err());
}

#[test]
fn booleans_are_explicit() {
    for text in ["true", "1", "yes", "on", "TRUE", "On"] {
        assert!(parse_bool("fuzzy", text).unwrap(), "{text}");
    }
    for text in ["false", "0", "no", "off", "", "False", "OFF"] {
        assert!(!parse_bool("fuzzy", text).unwrap(), "{text}");
    }
    for text in ["2", "y", " true", "enable"] {
        let err = parse_bool("fuzzy", text).unwrap_err();
        assert!(err.to_string().starts_with("fuzzy must be"), "{text}");
    }
}

#[test]
fn timelapse_id_is_added_like_python() {
    let mut query = Map::new();
    add_timelapse_id(&mut query, "tl_1");
    assert_eq!(Value::Object(query), json!({"timelapse": {"id": "tl_1"}}));

    let mut query = object(json!({"owner": "bob", "timelapse": {"id": "x", "index": 0}}));
    add_timelapse_id(&mut query, "tl_1");
    assert_eq!(
        Value::Object(query),
        json!({"owner": "bob", "timelapse": {"id": "tl_1", "index": 0}})
    );

    let mut query = object(json!({"timelapse": "tl_2"}));
    add_timelapse_id(&mut query, "tl_1");
    assert_eq!(Value::Object(query), json!({"timelapse": "tl_2"}));
}

#[test]
fn timelapse_scheduled_sort_of_the_test_suite() {
    let mut scans = vec![
        (
            "tl_api_01_1",
            object(
                json!({"timelapse": {"id": "tl", "scheduled": "2026-09-03T14:00:00Z", "index": 1}}),
            ),
        ),
        (
            "tl_api_01_0",
            object(
                json!({"timelapse": {"id": "tl", "scheduled": "2026-09-03T10:00:00Z", "index": 0}}),
            ),
        ),
        ("a_no_timelapse", Map::new()),
    ];
    let order = SortOrder::parse(Some("timelapse.scheduled"));
    order.sort(&mut scans, |s| s.0, |s| &s.1);
    let ids: Vec<&str> = scans.iter().map(|s| s.0).collect();
    assert_eq!(ids, ["a_no_timelapse", "tl_api_01_0", "tl_api_01_1"]);

    SortOrder::parse(None).sort(&mut scans, |s| s.0, |s| &s.1);
    assert_eq!(scans[2].0, "tl_api_01_1");
    assert_eq!(SortOrder::parse(Some("id")), SortOrder::Id);
    assert_eq!(SortOrder::parse(Some("")), SortOrder::Id);
}

#[test]
fn sort_key_edge_cases() {
    let key = |tl: Value| timelapse_sort_key(&object(json!({ "timelapse": tl })));
    assert_eq!(
        key(json!({"index": "99999999999999999999"})),
        (String::new(), i64::MAX)
    );
    assert_eq!(key(json!({"index": -1e300})), (String::new(), i64::MIN));
    assert_eq!(
        key(json!({"scheduled": 2.0, "index": "\t-4\n"})),
        ("2.0".to_owned(), -4)
    );
    assert_eq!(key(json!({"scheduled": null})), (String::new(), 0));
}

#[test]
fn viewer_text_search() {
    let plant = json!("Plant-3");
    let species = json!("Arabidopsis thaliana");
    assert!(text_search_matches("ARABI", "scan_1", &plant, &species));
    assert!(text_search_matches("plant-3", "scan_1", &plant, &species));
    assert!(text_search_matches("SCAN", "scan_1", &plant, &species));
    assert!(text_search_matches("", "scan_1", &plant, &species));
    assert!(!text_search_matches("tomato", "scan_1", &plant, &species));
    assert!(!text_search_matches("1", "scan", &json!(1), &json!(null)));
}
