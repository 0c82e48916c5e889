//! The configuration file: its values are defaults that environment
//! variables and flags override; `config check` prints the effective
//! settings with secrets redacted; a bad file stops everything with its
//! name and the key.

use std::process::Command;

use crate::helpers::{new_db_dir, TestApp};
use crate::support::server::BIN;

fn check(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("config").arg("check").args(args);
    for key in crate::support::server::SERVER_ENV {
        cmd.env_remove(key);
    }
    cmd.env_remove("PLANTDB_CONFIG");
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

#[tokio::test]
async fn config_check_shows_precedence_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "port = 6100\nmax-failed-attempts = 4\nsession_timeout = 600\nstore = \"postgres://lab:Pg-Secret-1@db/plantdb\"\n",
    )
    .unwrap();
    let out = check(
        &["--config", file.to_str().unwrap(), "--port", "6200"],
        &[
            ("SESSION_TIMEOUT", "700"),
            ("JWT_SECRET_KEY", "Jwt-Secret-2"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("port = \"6200\"  # command line"), "{text}");
    assert!(
        text.contains("session-timeout = \"700\"  # environment"),
        "{text}"
    );
    assert!(
        text.contains("max-failed-attempts = \"4\"  # configuration file"),
        "{text}"
    );
    assert!(text.contains("host = \"127.0.0.1\"  # default"), "{text}");
    assert!(text.contains("store = \"<redacted>\""), "{text}");
    assert!(
        text.contains("JWT_SECRET_KEY (signing secret): set (not shown)"),
        "{text}"
    );
    assert!(
        !text.contains("Pg-Secret-1") && !text.contains("Jwt-Secret-2"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_configurations_are_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    for (content, expected) in [
        ("prot = 5000\n", "unknown setting 'prot'"),
        ("port = \"x\n", "not valid TOML"),
        ("port = \"high\"\n", "--port"),
        ("session-timeout = -5\n", "--session-timeout"),
    ] {
        std::fs::write(&file, content).unwrap();
        let out = check(&["--config", file.to_str().unwrap()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{content}: accepted");
        assert!(err.contains(expected), "{content}: {err}");
    }
    let out = check(&["--config", "/nonexistent/plantdb-auth.toml"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/plantdb-auth.toml"));
}

#[tokio::test]
async fn serve_reads_the_file_named_by_plantdb_config() {
    let db = new_db_dir();
    let conf = tempfile::tempdir().unwrap();
    let file = conf.path().join("config.toml");
    std::fs::write(&file, "url-prefix = \"/plantdb\"\nno-rate-limits = true\n").unwrap();
    let app = TestApp::spawn(
        &["--db", db.path().to_str().unwrap()],
        &[
            ("PLANTDB_CONFIG", file.to_str().unwrap()),
            ("PLANTDB_ADMIN_PASSWORD", crate::helpers::ADMIN_PW),
        ],
    );
    let reply = app
        .request(reqwest::Method::GET, &app.raw_url("/plantdb/api/v1/health"))
        .await;
    reply.expect_status(200);
}

/// `--state-dir`: the signing key, the sessions and the audit log live
/// there (sessions survive a restart through it); the database keeps only
/// its write lock; a state directory inside the database is refused.
#[tokio::test]
async fn the_state_directory_holds_key_sessions_and_audit_log() {
    let db = new_db_dir();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("state");
    let start = || {
        TestApp::spawn(
            &[
                "--no-rate-limits",
                "--db",
                db.path().to_str().unwrap(),
                "--state-dir",
                state_dir.to_str().unwrap(),
            ],
            &[("PLANTDB_ADMIN_PASSWORD", crate::helpers::ADMIN_PW)],
        )
    };
    let app = start();
    let (access, _) = app.login("admin", crate::helpers::ADMIN_PW).await;
    app.kill();
    for file in ["jwt.key", "sessions.sqlite3", "audit.log"] {
        assert!(
            state_dir.join(file).is_file(),
            "{file} is not in the state directory"
        );
        assert!(
            !db.path().join(".plantdb-auth").join(file).exists(),
            "{file} was written into the database"
        );
    }
    let again = start();
    again
        .validate(crate::helpers::Gen::Current, &access)
        .await
        .expect_status(200);
    again.kill();

    let inside = db.path().join("state");
    let out = Command::new(BIN)
        .args(["serve", "--port", "0", "--db", db.path().to_str().unwrap()])
        .args(["--state-dir", inside.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(
        why.contains("--state-dir") && why.contains("inside the database"),
        "{why}"
    );
}
