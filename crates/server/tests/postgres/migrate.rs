//! `plantdb-auth migrate`: the Python-written fixture database goes to
//! PostgreSQL and back without losing anything, and its users log in to a
//! server running on the PostgreSQL copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use plantdb_auth_core::store::fsdb::Fsdb;
use plantdb_auth_core::store::{GroupStore, UserStore};
use plantdb_auth_postgres::testing::{test_url, TestSchema};
use serde_json::{json, Value};

use crate::helpers::{bin, Server};

/// Accounts of the fixture that exist but must not log in.
const REFUSED: [&str; 2] = ["dora.disabled", "locked.out"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/python_fsdb")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn migrate(from: &str, to: &str) {
    let out = Command::new(bin())
        .args(["migrate", "--from", from, "--to", to])
        .env_remove("JWT_SECRET_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "migrate {from} -> {to}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Copied"), "{stdout}");
    assert!(
        !stdout.contains("postgres@"),
        "credentials never printed: {stdout}"
    );
}

#[tokio::test]
async fn python_fixture_survives_a_round_trip_through_postgres() {
    let Some(base) = test_url("python_fixture_survives_a_round_trip_through_postgres") else {
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    let back = work.path().join("back");
    copy_dir(&fixture(), &original);

    migrate(original.to_str().unwrap(), &schema.url);
    migrate(&schema.url, back.to_str().unwrap());
    {
        // The same records; PostgreSQL keeps them in name order.
        let (before, after) = (Fsdb::open(&original).unwrap(), Fsdb::open(&back).unwrap());
        let mut users = before.users.list().unwrap();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        assert_eq!(after.users.list().unwrap(), users);
        let mut groups = before.groups.list().unwrap();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(after.groups.list().unwrap(), groups);
        assert!(users.len() > 10 && !groups.is_empty());
    }
    let key = |db: &Path| std::fs::read_to_string(db.join(".plantdb-auth/jwt.key")).ok();
    assert_eq!(key(&back), key(&original), "the signing key travels too");

    // Every fixture user logs in on a server running on the PostgreSQL copy.
    let server = Server::start(&schema.url, work.path().join("scans").as_path());
    let passwords: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("passwords.json")).unwrap()).unwrap();
    for (user, password) in passwords.as_object().unwrap() {
        let body = json!({"username": user, "password": password});
        let (status, reply) = server.post("/api/v1/auth/login", None, body).await;
        let expected = if REFUSED.contains(&user.as_str()) {
            401
        } else {
            200
        };
        assert_eq!(status, expected, "{user}: {reply}");
    }
}
