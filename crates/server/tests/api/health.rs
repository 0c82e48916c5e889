//! `GET health`.

use reqwest::Method;

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

/// Liveness and readiness for probes, on both generations, and the
/// `healthcheck` subcommand that asks them.
#[tokio::test]
async fn live_and_ready_probes_and_the_healthcheck_command() {
    let app = TestApp::test_mode();
    for path in ["/api/v1/health/live", "/health/live"] {
        let reply = app.request(Method::GET, &app.url(path)).await;
        reply.expect_status(200);
        assert_eq!(reply.body["status"], "alive", "{reply:?}");
    }
    for path in ["/api/v1/health/ready", "/health/ready"] {
        let reply = app.request(Method::GET, &app.url(path)).await;
        reply.expect_status(200);
        assert_eq!(reply.body["status"], "ready", "{reply:?}");
        for check in ["store", "storage", "sessions", "data"] {
            assert_eq!(reply.body["checks"][check], "ok", "{check}: {reply:?}");
        }
    }
    let port = app.port.to_string();
    let ok = std::process::Command::new(crate::support::server::BIN)
        .args(["healthcheck", "--port", &port])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("ready"),
        "{ok:?}"
    );
    let live = std::process::Command::new(crate::support::server::BIN)
        .args(["healthcheck", "--live", "--port", &port])
        .output()
        .unwrap();
    assert!(live.status.success(), "{live:?}");
    app.kill();
    let down = std::process::Command::new(crate::support::server::BIN)
        .args(["healthcheck", "--port", &port])
        .output()
        .unwrap();
    assert!(!down.status.success(), "a stopped server passed: {down:?}");
    let why = String::from_utf8_lossy(&down.stderr);
    assert!(
        why.contains("--port"),
        "the error should say what to check: {why}"
    );
}

/// The PostgreSQL URL holds a password: `--help` never prints it, whatever
/// the environment holds.
#[tokio::test]
async fn help_never_prints_the_store_password() {
    for command in [&["serve", "--help"][..], &["user", "list", "--help"][..]] {
        let out = std::process::Command::new(crate::support::server::BIN)
            .args(command)
            .env(
                "PLANTDB_STORE",
                "postgres://lab:Sup3r-Secret@db.example/plantdb",
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("PLANTDB_STORE"), "{text}");
        assert!(
            !text.contains("Sup3r-Secret"),
            "{command:?} printed the password"
        );
    }
}

/// Secrets may come from files (`*_FILE`), as Docker and systemd
/// credentials provide them; a missing one stops the start with its name.
#[tokio::test]
async fn secrets_come_from_files_and_a_missing_one_is_named() {
    let dir = new_db_dir();
    let secrets = tempfile::tempdir().unwrap();
    let pw_file = secrets.path().join("admin_password");
    std::fs::write(&pw_file, "File-given-passphrase-9\n").unwrap();
    let app = TestApp::spawn(
        &["--no-rate-limits", "--db", dir.path().to_str().unwrap()],
        &[("PLANTDB_ADMIN_PASSWORD_FILE", pw_file.to_str().unwrap())],
    );
    app.login("admin", "File-given-passphrase-9").await;
    app.kill();
    let missing = secrets.path().join("nope");
    let out = std::process::Command::new(crate::support::server::BIN)
        .args(["serve", "--port", "0", "--db", dir.path().to_str().unwrap()])
        .env("JWT_SECRET_KEY_FILE", &missing)
        .env_remove("JWT_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("JWT_SECRET_KEY_FILE"), "{why}");
}
