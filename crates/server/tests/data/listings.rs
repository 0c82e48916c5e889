//! Listings (data-api.md §1.1, §1.9, §3.1 #4-#6, §5.4, §6): order,
//! filters, sorting, broken scans, freshness without restart, refresh.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::fixture::*;
use crate::helpers::*;

/// Four flat scans (ids chosen so that byte order differs from case-blind
/// order) and a timelapse of two scans scheduled against their id order.
fn build(root: &Path) {
    for (id, plant, owner) in [
        ("b_scan", "plant-10", "bob"),
        ("a_scan", "plant-1", "alice"),
        ("C_scan", "plant-2", "bob"),
        ("d_scan", "plant-11", "guest"),
    ] {
        simple_scan(
            root,
            id,
            json!({"owner": owner, "biologicalMaterial": {"biologicalMaterialId": plant},
                   "tags": ["x", "y"], "rating": 1}),
        );
    }
    timelapse(root, "tl1", &["tl1_a", "tl1_x"]);
    simple_scan(
        root,
        "tl1/tl1_a",
        json!({"timelapse": {"id": "tl1", "scheduled": "2026-09-03T14:00:00Z", "index": 1}}),
    );
    simple_scan(
        root,
        "tl1/tl1_x",
        json!({"timelapse": {"id": "tl1", "scheduled": "2026-09-03T10:00:00Z", "index": 0}}),
    );
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

async fn list(app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = app.get_json(&format!("/api/v1/scans{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    ids(&body)
}

fn plant_filter(plant: &str) -> String {
    enc(&json!({"biologicalMaterial": {"biologicalMaterialId": plant}}).to_string())
}

#[tokio::test]
async fn scans_are_listed_in_ascending_byte_order_of_id() {
    let app = app().await;
    assert_eq!(
        list(&app, "").await,
        ["C_scan", "a_scan", "b_scan", "d_scan", "tl1_a", "tl1_x"]
    );
}

#[tokio::test]
async fn filter_query_in_the_url_filters() {
    let app = app().await;
    let q = plant_filter("plant-1");
    assert_eq!(list(&app, &format!("?filterQuery={q}")).await, ["a_scan"]);
    let owner = enc(r#"{"owner": "bob"}"#);
    assert_eq!(
        list(&app, &format!("?filterQuery={owner}")).await,
        ["C_scan", "b_scan"]
    );
}

#[tokio::test]
async fn query_is_an_alias_of_filter_query() {
    let app = app().await;
    let q = plant_filter("plant-1");
    assert_eq!(list(&app, &format!("?query={q}")).await, ["a_scan"]);
}

#[tokio::test]
async fn filter_query_in_a_json_body_filters_and_wins_over_the_url() {
    let app = app().await;
    let body = json!({"filterQuery": {"biologicalMaterial": {"biologicalMaterialId": "plant-1"}}});
    let (status, got) = app.get_body("/api/v1/scans", &body).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(ids(&got), ["a_scan"]);
    let url = plant_filter("plant-2");
    let (status, got) = app
        .get_body(&format!("/api/v1/scans?filterQuery={url}"), &body)
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(ids(&got), ["a_scan"], "the body wins");
}

#[tokio::test]
async fn filters_match_subsets_arrays_and_numbers_by_value() {
    let app = app().await;
    // Arrays: every element of the query matches one of the metadata's.
    let q = enc(r#"{"tags": ["y"]}"#);
    assert_eq!(list(&app, &format!("?filterQuery={q}")).await.len(), 4);
    // Numbers compare by value (1 == 1.0); a missing key is {}.
    let q = enc(r#"{"rating": 1.0}"#);
    assert_eq!(list(&app, &format!("?filterQuery={q}")).await.len(), 4);
    let q = enc(r#"{"nope": {}}"#);
    assert_eq!(list(&app, &format!("?filterQuery={q}")).await.len(), 6);
    let q = enc(r#"{"nope": "x"}"#);
    assert!(list(&app, &format!("?filterQuery={q}")).await.is_empty());
}

#[tokio::test]
async fn fuzzy_true_is_a_regex_at_the_start_and_false_means_false() {
    let app = app().await;
    let q = plant_filter("plant-1");
    for yes in ["true", "1", "yes", "on", "TRUE", "True"] {
        assert_eq!(
            list(&app, &format!("?filterQuery={q}&fuzzy={yes}")).await,
            ["a_scan", "b_scan", "d_scan"],
            "fuzzy={yes}"
        );
    }
    for no in ["false", "0", "no", "off", "", "FALSE"] {
        assert_eq!(
            list(&app, &format!("?filterQuery={q}&fuzzy={no}")).await,
            ["a_scan"],
            "fuzzy={no}"
        );
    }
    // Anchored at the start only: "lant" does not match "plant-1".
    let q = plant_filter("lant");
    assert!(list(&app, &format!("?filterQuery={q}&fuzzy=true"))
        .await
        .is_empty());
    let q = plant_filter("plant-1[01]");
    assert_eq!(
        list(&app, &format!("?filterQuery={q}&fuzzy=true")).await,
        ["b_scan", "d_scan"]
    );
}

#[tokio::test]
async fn a_bad_fuzzy_value_is_400() {
    let app = app().await;
    let (status, body) = app.get_json("/api/v1/scans?fuzzy=maybe").await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_input");
}

#[tokio::test]
async fn a_filter_query_that_is_not_a_json_object_is_400() {
    let app = app().await;
    for bad in ["not json", "[1, 2]", "\"owner\"", "42", "{\"owner\": "] {
        for route in ["/api/v1/scans", "/api/v1/scans/info"] {
            let (status, body) = app
                .get_json(&format!("{route}?filterQuery={}", enc(bad)))
                .await;
            assert_eq!(status, 400, "{route} filterQuery={bad}: {body}");
            assert_error(&body, "invalid_input");
        }
        let (status, body) = app
            .get_json(&format!("/api/v1/scans?query={}", enc(bad)))
            .await;
        assert_eq!(status, 400, "query={bad}: {body}");
    }
    for bad in [json!("owner"), json!([1]), json!(3)] {
        let (status, body) = app
            .get_body("/api/v1/scans", &json!({ "filterQuery": bad }))
            .await;
        assert_eq!(status, 400, "body {bad}: {body}");
        assert_error(&body, "invalid_input");
    }
}

#[tokio::test]
async fn an_unusable_fuzzy_pattern_is_400() {
    let app = app().await;
    for pattern in ["(a", "(a)\\1", "(?=a)"] {
        let q = enc(&json!({ "owner": pattern }).to_string());
        let (status, body) = app
            .get_json(&format!("/api/v1/scans?filterQuery={q}&fuzzy=true"))
            .await;
        assert_eq!(status, 400, "{pattern}: {body}");
        assert_error(&body, "invalid_input");
    }
}

#[tokio::test]
async fn a_repeated_parameter_is_400() {
    let app = app().await;
    let q = plant_filter("plant-1");
    for query in [
        "fuzzy=true&fuzzy=false".to_string(),
        format!("filterQuery={q}&filterQuery={q}"),
        // plantdb-client's encoding of a dict by requests.
        "query=owner&query=a".to_string(),
        "timelapse_id=tl1&timelapse_id=tl1".to_string(),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/scans?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_error(&body, "invalid_input");
    }
}

#[tokio::test]
async fn timelapse_id_keeps_the_scans_of_that_timelapse() {
    let app = app().await;
    assert_eq!(list(&app, "?timelapse_id=tl1").await, ["tl1_a", "tl1_x"]);
    assert!(list(&app, "?timelapse_id=nope").await.is_empty());
    let (status, infos) = app.get_json("/api/v1/scans/info?timelapse_id=tl1").await;
    assert_eq!(status, 200);
    let got: Vec<&str> = infos
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["tl1_a", "tl1_x"]);
    // Merged into a timelapse object of the filter.
    let q = enc(r#"{"timelapse": {"index": 1}}"#);
    assert_eq!(
        list(&app, &format!("?filterQuery={q}&timelapse_id=tl1")).await,
        ["tl1_a"]
    );
}

#[tokio::test]
async fn sort_timelapse_scheduled_orders_by_schedule_then_index() {
    let app = app().await;
    assert_eq!(
        list(&app, "?timelapse_id=tl1&sort=timelapse.scheduled").await,
        ["tl1_x", "tl1_a"]
    );
    // Scans without a timelapse sort first (key ("", 0)), stably by id.
    assert_eq!(
        list(&app, "?sort=timelapse.scheduled").await,
        ["C_scan", "a_scan", "b_scan", "d_scan", "tl1_x", "tl1_a"]
    );
    // Any other sort value: no sorting (ascending id).
    assert_eq!(
        list(&app, "?timelapse_id=tl1&sort=bogus").await,
        ["tl1_a", "tl1_x"]
    );
    let (status, got) = app.get_json("/api/v1/timelapses/tl1/scans").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&got), ["tl1_x", "tl1_a"], "default sort of #16");
    let (status, got) = app.get_json("/api/v1/timelapses/nope/scans").await;
    assert_eq!((status.as_u16(), got), (200, json!([])));
    let (status, got) = app.get_json("/api/v1/timelapses").await;
    assert_eq!((status.as_u16(), got), (200, json!(["tl1"])));
}

#[tokio::test]
async fn scans_info_returns_one_document_per_listed_scan_in_the_same_order() {
    let app = app().await;
    let listed = list(&app, "").await;
    let (status, infos) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 200);
    let got: Vec<String> = infos
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, listed);
    for doc in infos.as_array().unwrap() {
        assert_eq!(doc["error"], false, "{doc}");
    }
    let q = plant_filter("plant-1");
    let (_, infos) = app
        .get_json(&format!("/api/v1/scans/info?filterQuery={q}&fuzzy=true"))
        .await;
    assert_eq!(infos.as_array().unwrap().len(), 3);
}

fn build_with_broken(root: &Path) {
    build(root);
    // Metadata that is not JSON: a scan whose info cannot be computed.
    simple_scan(root, "e_corrupt_meta", json!({}))
        .write("metadata/metadata.json", b"{ this is not json");
    // files.json without "filesets", and files.json that is not JSON.
    simple_scan(root, "f_no_filesets", json!({})).write("files.json", b"{\"oops\": 1}");
    simple_scan(root, "g_bad_files_json", json!({})).write("files.json", b"{\"filesets\": [");
    // Not scans at all.
    std::fs::create_dir_all(root.join("h_no_metadata_dir")).unwrap();
    std::fs::write(
        root.join("h_no_metadata_dir/files.json"),
        b"{\"filesets\": []}",
    )
    .unwrap();
    simple_scan(root, ".hidden_scan", json!({}));
    simple_scan(root, "configs", json!({}));
    simple_scan(root, "bad id", json!({}));
}

#[tokio::test]
async fn a_scan_with_corrupt_metadata_is_a_degraded_document_and_broken_scans_are_skipped() {
    let app = spawn_with(build_with_broken, &[]).await;
    let listed = list(&app, "").await;
    assert_eq!(
        listed,
        [
            "C_scan",
            "a_scan",
            "b_scan",
            "d_scan",
            "e_corrupt_meta",
            "tl1_a",
            "tl1_x"
        ]
    );
    let (status, infos) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 200, "{infos}");
    let infos = infos.as_array().unwrap();
    assert_eq!(infos.len(), listed.len());
    for doc in infos {
        let broken = doc["id"] == "e_corrupt_meta";
        assert_eq!(doc["error"], broken, "{doc}");
    }
    let (status, doc) = app.get_json("/api/v1/scans/e_corrupt_meta").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["error"], true);
    for id in ["f_no_filesets", "g_bad_files_json"] {
        let (status, body) = app.get_json(&format!("/api/v1/scans/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn health_counts_only_served_scans() {
    let app = spawn_with(build_with_broken, &[]).await;
    let listed = list(&app, "").await;
    assert_eq!(listed.len(), 7);
    let (status, body) = app.get_json("/api/v1/health").await;
    assert_eq!(status, 200);
    // §3.1 #3: scan_count = number of served scans.
    assert_eq!(body["database"]["scan_count"], listed.len(), "{body}");
}

#[tokio::test]
async fn a_flat_scan_wins_over_a_timelapse_scan_of_the_same_id() {
    let app = spawn_with(
        |root| {
            build(root);
            simple_scan(root, "tl1_a_dup", json!({"where": "flat"}));
            simple_scan(
                root,
                "tl1/tl1_a_dup",
                json!({"where": "nested", "timelapse": {"id": "tl1"}}),
            );
        },
        &[],
    )
    .await;
    let listed = list(&app, "").await;
    assert_eq!(listed.iter().filter(|i| *i == "tl1_a_dup").count(), 1);
    let (status, md) = app.get_json("/api/v1/scans/tl1_a_dup/metadata").await;
    assert_eq!(status, 200);
    assert_eq!(md["metadata"]["where"], "flat");
}

/// Writes a scan as another program would: in a hidden staging directory,
/// then renamed into place.
fn add_scan_elsewhere(root: &Path, id: &str) {
    let staging = format!(".{id}.staging");
    simple_scan(root, &staging, json!({"added": true}));
    std::fs::rename(root.join(&staging), root.join(id)).unwrap();
}

async fn eventually(app: &TestApp, id: &str, present: bool) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..30 {
        last = list(app, "").await;
        if last.iter().any(|i| i == id) == present {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} present={present} never seen: {last:?}");
}

#[tokio::test]
async fn scans_added_or_removed_by_another_process_show_without_restart() {
    let app = spawn_with(build, &["--relist-interval", "1"]).await;
    assert!(!list(&app, "").await.contains(&"new_scan".to_string()));
    add_scan_elsewhere(&app.root, "new_scan");
    eventually(&app, "new_scan", true).await;
    let (status, doc) = app.get_json("/api/v1/scans/new_scan").await;
    assert_eq!(status, 200);
    assert_eq!(doc["error"], false, "{doc}");
    let (_, infos) = app.get_json("/api/v1/scans/info").await;
    assert!(infos
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == "new_scan"));

    std::fs::remove_dir_all(app.root.join("new_scan")).unwrap();
    eventually(&app, "new_scan", false).await;
    let (status, body) = app.get_json("/api/v1/scans/new_scan").await;
    assert_eq!(status, 404, "{body}");
    let (_, infos) = app.get_json("/api/v1/scans/info").await;
    assert!(!infos
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == "new_scan"));
}

#[tokio::test]
async fn a_new_scan_is_found_by_id_at_once_and_by_refresh() {
    // Default relist interval (5 s): a direct lookup or /refresh must not
    // wait for it.
    let app = app().await;
    add_scan_elsewhere(&app.root, "direct_scan");
    let mut found = false;
    for _ in 0..20 {
        if app.get("/api/v1/scans/direct_scan").await.status() == 200 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found,
        "a scan looked up by id appears within the miss interval"
    );
    add_scan_elsewhere(&app.root, "refreshed_scan");
    let (status, body) = app.get_json("/api/v1/refresh").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["message"],
        "Successfully reloaded entire database with 8 scans."
    );
    assert!(list(&app, "").await.contains(&"refreshed_scan".to_string()));
}

#[tokio::test]
async fn changed_metadata_on_disk_shows_in_the_scan_info() {
    let app = app().await;
    let (_, doc) = app.get_json("/api/v1/scans/a_scan").await;
    assert_eq!(doc["metadata"]["plant"], "plant-1");
    let path = app.root.join("a_scan/metadata/metadata.json");
    std::fs::write(
        &path,
        json!({"biologicalMaterial": {"biologicalMaterialId": "plant-99"}}).to_string(),
    )
    .unwrap();
    touch_by(&path, 5);
    let (_, doc) = app.get_json("/api/v1/scans/a_scan").await;
    assert_eq!(doc["metadata"]["plant"], "plant-99", "{doc}");
    let q = plant_filter("plant-99");
    assert_eq!(list(&app, &format!("?filterQuery={q}")).await, ["a_scan"]);
}

#[tokio::test]
async fn refresh_of_one_scan_and_of_an_unknown_scan() {
    let app = app().await;
    let (status, body) = app.get_json("/api/v1/refresh?scan_id=a_scan").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Successfully reloaded scan 'a_scan'.");
    let (status, body) = app.get_json("/api/v1/refresh?scan_id=tl1_x").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.get_json("/api/v1/refresh?scan_id=nope").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
    // The index is not poisoned: listings still work.
    assert_eq!(list(&app, "").await.len(), 6);
    let (status, infos) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 200);
    assert_eq!(infos.as_array().unwrap().len(), 6);
    let (status, body) = app.get_json("/api/v1/refresh?scan_id=..").await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_input");
    let (status, body) = app.get_json("/api/v1/refresh").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["message"],
        "Successfully reloaded entire database with 6 scans."
    );
}

#[tokio::test]
async fn json_answers_are_not_cached() {
    let app = app().await;
    let r = app.get("/api/v1/scans").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn filesets_and_files_listings_filter_their_own_level() {
    let app = spawn_with(
        |root| {
            let mut s = ScanFixture::new(root, "s");
            s.metadata(json!({}));
            s.rgb("a", "a.png", &png(4, 4));
            s.file("images", "b", "b.png", &png(4, 4));
            s.file_metadata("images", "b", json!({"channel": "mask"}));
            s.file("extra_1", "x", "x.json", b"{}");
            s.fileset_metadata("extra_1", json!({"kind": "extra"}));
            s.finish();
        },
        &[],
    )
    .await;
    let (status, body) = app.get_json("/api/v1/scans/s/filesets").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"filesets": ["images", "extra_1"]}));
    let q = enc(r#"{"kind": "extra"}"#);
    let (_, body) = app
        .get_json(&format!("/api/v1/scans/s/filesets?filterQuery={q}"))
        .await;
    assert_eq!(body, json!({"filesets": ["extra_1"]}));
    let (status, body) = app.get_json("/api/v1/filesets/s/images/files").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"files": ["a", "b"]}));
    let q = enc(r#"{"channel": "rgb"}"#);
    let (_, body) = app
        .get_json(&format!("/api/v1/filesets/s/images/files?query={q}"))
        .await;
    assert_eq!(body, json!({"files": ["a"]}));
    let (_, body) = app
        .get_json(&format!(
            "/api/v1/filesets/s/images/files?filterQuery={}&fuzzy=1",
            enc(r#"{"channel": "r"}"#)
        ))
        .await;
    assert_eq!(body, json!({"files": ["a"]}));
    let (status, body) = app
        .get_json("/api/v1/filesets/s/images/files?filterQuery=nope")
        .await;
    assert_eq!(status, 400, "{body}");
    for (path, code) in [
        ("/api/v1/scans/nope/filesets", 404),
        ("/api/v1/filesets/s/nope/files", 404),
        ("/api/v1/filesets/nope/images/files", 404),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status.as_u16(), code, "{path}: {body}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn sort_keys_convert_the_index_like_python_int() {
    let app = spawn_with(
        |root| {
            timelapse(root, "tl", &["s_a", "s_b", "s_c", "s_d", "s_e"]);
            let at = "2026-09-03T10:00:00Z";
            for (id, tl) in [
                ("s_a", json!({"id": "tl", "scheduled": at, "index": "10"})),
                ("s_b", json!({"id": "tl", "scheduled": at, "index": 9})),
                ("s_c", json!({"id": "tl", "scheduled": at, "index": 1.9})),
                ("s_d", json!({"id": "tl", "scheduled": at})),
                (
                    "s_e",
                    json!({"id": "tl", "scheduled": "2026-09-03T09:00:00Z", "index": 50}),
                ),
            ] {
                simple_scan(root, &format!("tl/{id}"), json!({ "timelapse": tl }));
            }
        },
        &[],
    )
    .await;
    // (scheduled, int(index)): s_e first (earlier), then s_d (0), s_c (1),
    // s_b (9), s_a (10).
    assert_eq!(
        list(&app, "?sort=timelapse.scheduled").await,
        ["s_e", "s_d", "s_c", "s_b", "s_a"]
    );
    let (_, got) = app.get_json("/api/v1/timelapses/tl/scans").await;
    assert_eq!(ids(&got), ["s_e", "s_d", "s_c", "s_b", "s_a"]);
}

#[tokio::test]
async fn the_timelapse_document() {
    let app = app().await;
    let (status, doc) = app.get_json("/api/v1/timelapses/tl1").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(
        doc,
        json!({"id": "tl1", "created_at": "2026-09-03T09:00:00", "owner": "admin",
               "scans": ["tl1_a", "tl1_x"],
               "metadata": {"last_modified": "2026-09-03T09:00:00"},
               "counts": {"scans": 2}})
    );
    let (status, body) = app.get_json("/api/v1/timelapses/nope").await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "not_found");
    let r = app.raw_get("/api/v1/timelapses/..").await;
    assert_eq!(r.status, 400);
    // A flat scan is not a timelapse.
    let (status, _) = app.get_json("/api/v1/timelapses/a_scan").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_torn_files_json_serves_the_last_good_copy() {
    let app = app().await;
    let (_, before) = app.get_json("/api/v1/scans/a_scan").await;
    assert_eq!(before["error"], false);
    let path = app.root.join("a_scan/files.json");
    std::fs::write(&path, b"{\"filesets\": [{\"id\": \"ima").unwrap();
    touch_by(&path, 5);
    let (status, after) = app.get_json("/api/v1/scans/a_scan").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, before);
    let (status, files) = app.get_json("/api/v1/filesets/a_scan/images/files").await;
    assert_eq!(status, 200, "{files}");
    assert_eq!(files, json!({"files": ["00000_rgb"]}));
    assert!(list(&app, "").await.contains(&"a_scan".to_string()));
}

#[tokio::test]
async fn a_scan_with_a_non_object_metadata_document_is_degraded() {
    let app = spawn_with(
        |root| {
            build(root);
            simple_scan(root, "e_array", json!({})).write("metadata/metadata.json", b"[1, 2]");
        },
        &[],
    )
    .await;
    let (status, infos) = app.get_json("/api/v1/scans/info").await;
    assert_eq!(status, 200, "{infos}");
    let doc = infos
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "e_array")
        .unwrap()
        .clone();
    assert_eq!(doc["error"], true, "{doc}");
    assert_eq!(infos.as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn the_container_not_the_metadata_decides_timelapse_membership() {
    let app = spawn_with(
        |root| {
            build(root);
            timelapse(root, "tl2", &["tl2_nometa"]);
            simple_scan(root, "tl2/tl2_nometa", json!({"note": "no timelapse key"}));
            simple_scan(root, "tl2/.hidden", json!({}));
            simple_scan(root, "tl2/configs", json!({}));
            timelapse(root, ".tl_hidden", &["h1"]);
            simple_scan(
                root,
                ".tl_hidden/h1",
                json!({"timelapse": {"id": ".tl_hidden"}}),
            );
        },
        &[],
    )
    .await;
    let listed = list(&app, "").await;
    assert!(listed.contains(&"tl2_nometa".to_string()), "{listed:?}");
    for hidden in [".hidden", "configs", "h1"] {
        assert!(!listed.contains(&hidden.to_string()), "{listed:?}");
    }
    let (status, d) = app.get_json("/api/v1/scans/tl2_nometa").await;
    assert_eq!(status, 200);
    assert_eq!(d["error"], false, "{d}");
    let r = app
        .get("/api/v1/assets/files/tl2/tl2_nometa/files.json")
        .await;
    assert_eq!(r.status(), 200);
    let (_, tls) = app.get_json("/api/v1/timelapses").await;
    assert_eq!(tls, json!(["tl1", "tl2"]));
    let (_, doc) = app.get_json("/api/v1/timelapses/tl2").await;
    assert_eq!(doc["counts"], json!({"scans": 0}), "{doc}");
}

#[tokio::test]
async fn a_deleted_scan_is_gone_for_lookups_by_id() {
    // Default relist interval (5 s): lookups by id must not serve a scan
    // that is no longer on disk from the index.
    let app = app().await;
    let (status, _) = app.get_json("/api/v1/scans/b_scan").await;
    assert_eq!(status, 200);
    std::fs::remove_dir_all(app.root.join("b_scan")).unwrap();
    let mut gone = false;
    for _ in 0..20 {
        if app.get("/api/v1/scans/b_scan").await.status() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "still served 2 s after its directory was removed");
    for path in [
        "/api/v1/scans/b_scan/metadata",
        "/api/v1/filesets/b_scan/images/files",
        "/api/v1/assets/files/b_scan/files.json",
        "/api/v1/assets/archive/b_scan",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
}

#[tokio::test]
async fn routing_statuses_of_the_data_api() {
    let app = app().await;
    // Not present in Python: JSON 405 (§3.1).
    for (method, path) in [
        ("GET", "/api/v1/filesets/a_scan/images"),
        ("DELETE", "/api/v1/scans/a_scan"),
        ("DELETE", "/api/v1/files/a_scan/images/00000_rgb"),
        ("POST", "/api/v1/scans"),
        ("PUT", "/api/v1/scans/a_scan/metadata"),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_error(&body, "method_not_allowed");
    }
    // No trailing-slash tolerance except Home.
    for path in ["/api/v1/scans/", "/api/v1/scans/a_scan/", "/scans_info/"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn a_json_body_filters_scans_info_and_filesets() {
    let app = app().await;
    let body = json!({"filterQuery": {"owner": "bob"}});
    let (status, infos) = app.get_body("/api/v1/scans/info", &body).await;
    assert_eq!(status, 200, "{infos}");
    let got: Vec<&str> = infos
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["C_scan", "b_scan"]);
    let (status, fs) = app
        .get_body(
            "/api/v1/scans/a_scan/filesets",
            &json!({"filterQuery": {"nope": "x"}}),
        )
        .await;
    assert_eq!(status, 200, "{fs}");
    assert_eq!(fs, json!({"filesets": []}));
    let (status, files) = app
        .get_body(
            "/api/v1/filesets/a_scan/images/files",
            &json!({"filterQuery": {"channel": "rgb"}}),
        )
        .await;
    assert_eq!(status, 200, "{files}");
    assert_eq!(files, json!({"files": ["00000_rgb"]}));
    // A body that is not JSON counts as no body (get_json(silent=True)).
    let r = app
        .client
        .get(format!("{}/api/v1/scans", app.url))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
