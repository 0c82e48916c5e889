//! `GET health`.

use crate::helpers::{assert_error, new_db_dir, Gen, Route, TestApp};

both_generations!(
    health_reports_a_healthy_database,
    health_counts_the_scans_of_the_database
);

async fn health_reports_a_healthy_database(gen: Gen) {
    let app = TestApp::test_mode();
    let reply = app.get(gen, Route::Health).await;
    reply.expect_status(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{reply:?}"
    );
    assert_eq!(reply.body["status"], "healthy", "{reply:?}");
    assert_eq!(
        reply.body["message"], "API is running correctly",
        "{reply:?}"
    );
    let db = &reply.body["database"];
    assert!(
        db["location"].as_str().is_some_and(|l| !l.is_empty()),
        "database.location must be a non-empty string: {reply:?}"
    );
    assert!(
        db["scan_count"].is_u64(),
        "database.scan_count must be an integer: {reply:?}"
    );
}

/// Scans are the subdirectories holding a `metadata` subdirectory and a
/// `files.json` index (data-api.md §1.1); health counts the served ones.
async fn health_counts_the_scans_of_the_database(gen: Gen) {
    let dir = new_db_dir();
    for scan in ["scan_a", "scan_b"] {
        std::fs::create_dir_all(dir.path().join(scan).join("metadata")).unwrap();
        std::fs::write(
            dir.path().join(scan).join("files.json"),
            br#"{"filesets": []}"#,
        )
        .unwrap();
    }
    // A directory with metadata/ but no files.json is not a scan.
    std::fs::create_dir_all(dir.path().join("half_scan").join("metadata")).unwrap();
    std::fs::create_dir_all(dir.path().join("not_a_scan")).unwrap();
    let app = TestApp::on_db(dir.path(), &[]);

    let reply = app.get(gen, Route::Health).await;
    reply.expect_status(200);
    assert_eq!(reply.body["status"], "healthy", "{reply:?}");
    assert_eq!(reply.body["database"]["scan_count"], 2, "{reply:?}");
    let location = reply.body["database"]["location"].as_str().unwrap_or("");
    assert_eq!(
        std::path::Path::new(location).canonicalize().ok(),
        dir.path().canonicalize().ok(),
        "database.location must be the database root: {reply:?}"
    );
}

/// `ROMI_DB` names the database like `--db` does (contract §4).
#[tokio::test]
async fn romi_db_environment_variable_selects_the_database() {
    let dir = new_db_dir();
    std::fs::create_dir_all(dir.path().join("only_scan").join("metadata")).unwrap();
    std::fs::write(
        dir.path().join("only_scan").join("files.json"),
        br#"{"filesets": []}"#,
    )
    .unwrap();
    let db = dir.path().to_str().unwrap();
    let app = TestApp::spawn(
        &["--no-rate-limits"],
        &[
            ("ROMI_DB", db),
            ("PLANTDB_ADMIN_PASSWORD", crate::helpers::ADMIN_PW),
        ],
    );
    let reply = app.get(Gen::Current, Route::Health).await;
    reply.expect_status(200);
    assert_eq!(reply.body["database"]["scan_count"], 1, "{reply:?}");
    let location = reply.body["database"]["location"]
        .as_str()
        .map(std::path::PathBuf::from);
    assert_eq!(
        location.and_then(|l| l.canonicalize().ok()),
        dir.path().canonicalize().ok(),
        "{reply:?}"
    );
    // The body is the same on both generations.
    let legacy = app.get(Gen::Legacy, Route::Health).await;
    assert_eq!(legacy.body, reply.body);
}

/// A database that cannot be read is reported as a 500 with `"status": "error"`.
#[tokio::test]
async fn health_reports_an_unreadable_database_as_500() {
    let dir = new_db_dir();
    let app = TestApp::on_db(dir.path(), &[]);
    app.get(Gen::Current, Route::Health)
        .await
        .expect_status(200);
    let path = dir.path().to_owned();
    dir.close().expect("remove the database directory");
    assert!(!path.exists());
    for gen in crate::helpers::GENS {
        let reply = app.get(gen, Route::Health).await;
        let body = assert_error(&reply, 500, "internal");
        assert_eq!(body["status"], "error", "{reply:?}");
    }
}
