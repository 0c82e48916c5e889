#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The database written by the real Python package (plantdb-commons 0.17,
//! `crates/core/tests/fixtures/python_fsdb`) works as-is: its users log in
//! through `authenticate_user`, and the users.json we write back (last_login,
//! Argon2 rehash to our parameters) is still read, and our new hashes still
//! verified, by the Python package itself (`scripts/pycompat/check_fsdb.py`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use plantdb_auth_core::clock::{Clock, FixedClock};
use plantdb_auth_core::model::parse_py_datetime;
use plantdb_auth_core::store::fsdb::Fsdb;
use plantdb_auth_service::{authenticate_user, AuthDb, AuthError, Backend, Settings};
use serde_json::{json, Value};

const LEGACY_PREFIX: &str = "$argon2id$v=19$m=65536,t=3,p=4$";
const OUR_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
/// The fixture's users that must be refused even with the right password.
const REFUSED: [&str; 2] = ["dora.disabled", "locked.out"];
/// The users given one wrong password before their successful login.
const FAILED_ONCE: [&str; 3] = ["rita.reader", "guest", "spaces.pw"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_dir() -> PathBuf {
    repo_root().join("crates/core/tests/fixtures/python_fsdb")
}

/// The venv's interpreter: `$PLANTDB_PYTHON`, else `target/pyenv/venv/bin/python`.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PLANTDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/pyenv/venv/bin/python"));
    path.exists().then_some(path)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// The fixture's users.json records by username, in file order.
fn records(users: &Value) -> Vec<(String, Value)> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["username"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn timestamp(rec: &Value, key: &str) -> Option<DateTime<Utc>> {
    rec[key]
        .as_str()
        .map(|raw| parse_py_datetime(raw).unwrap_or_else(|| panic!("{key}: {raw:?}")))
}

/// A copy of the fixture, plus keys a newer Python server (or an operator)
/// might have added: they must survive our rewrites. Inserted as text so the
/// rest stays byte-for-byte what Python wrote (`\uXXXX` escapes, surrogates).
fn prepare_copy(dir: &Path) {
    for name in ["romidb", "passwords.json"] {
        fs::copy(fixture_dir().join(name), dir.join(name)).unwrap();
    }
    let extra_user =
        r#""department": "botany", "x_custom": {"nested": [1, "two", null, 2.5], "flag": true},"#;
    insert_after(
        dir,
        "users.json",
        r#""username": "rita.reader","#,
        extra_user,
    );
    let extra_group = r#""x_group_extra": {"keep": ["me"]},"#;
    insert_after(dir, "groups.json", r#""researchers": {"#, extra_group);
}

fn insert_after(dir: &Path, file: &str, anchor: &str, text: &str) {
    let original = fs::read_to_string(fixture_dir().join(file)).unwrap();
    assert_eq!(original.matches(anchor).count(), 1, "{file}: {anchor}");
    let edited = original.replacen(anchor, &format!("{anchor} {text}"), 1);
    serde_json::from_str::<Value>(&edited).unwrap();
    fs::write(dir.join(file), edited).unwrap();
}

/// A time after every lock of the fixture except `locked.out`'s (~100 years):
/// `was.locked` was locked for 900 s when the fixture was generated.
fn test_now(users: &Value) -> DateTime<Utc> {
    let was_locked = records(users)
        .into_iter()
        .find(|(name, _)| name == "was.locked")
        .map(|(_, rec)| timestamp(&rec, "locked_until").unwrap())
        .unwrap();
    let now = Utc::now().max(was_locked + Duration::minutes(1));
    // users.json keeps microseconds, as Python does.
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap()
}

/// An `AuthDb` over `root`, built like `crates/server/src/database.rs`.
fn open_db(root: &Path, clock: Arc<dyn Clock>) -> (Fsdb, AuthDb) {
    let fsdb = Fsdb::open(root).unwrap();
    let backend = Backend {
        users: fsdb.users.clone(),
        groups: fsdb.groups.clone(),
        root: Some(fsdb.root().to_path_buf()),
        ..Backend::memory()
    };
    let db = AuthDb::open(backend, Settings::default(), clock).unwrap();
    (fsdb, db)
}

fn assert_refused(db: &AuthDb, username: &str, password: &str) {
    match authenticate_user(db, username, password) {
        Err(AuthError::InvalidCredentials) => {}
        other => panic!("{username}: expected InvalidCredentials, got {other:?}"),
    }
}

fn assert_logs_in(db: &AuthDb, username: &str, password: &str) {
    let result = authenticate_user(db, username, password)
        .unwrap_or_else(|e| panic!("{username} with its fixture password: {e:?}"));
    assert_eq!(result.user.username, username.to_lowercase());
    assert!(!result.tokens.access_token.is_empty() && !result.tokens.refresh_token.is_empty());
}

/// Every login the fixture allows, and the refusals it must give.
fn run_logins(
    db: &AuthDb,
    passwords: &BTreeMap<String, String>,
    users: &Value,
    now: DateTime<Utc>,
) {
    // Wrong passwords first (a trimmed one too: passwords are never trimmed),
    // so the successful logins below must reset the counters.
    assert_refused(db, "rita.reader", "reader-pass-42");
    assert_refused(db, "guest", "GUEST");
    assert_refused(db, "spaces.pw", passwords["spaces.pw"].trim());
    assert_refused(db, "nobody.here", "Reader-pass-42");
    let mut refused = Vec::new();
    for (name, rec) in records(users) {
        let password = &passwords[&name];
        let inactive = rec["is_active"] == json!(false);
        let locked = timestamp(&rec, "locked_until").is_some_and(|until| now < until);
        if inactive || locked {
            assert_refused(db, &name, password);
            refused.push(name);
        } else {
            assert_logs_in(db, &name, password);
        }
    }
    assert_eq!(refused, REFUSED, "the fixture's refused accounts changed");
    // Usernames are case-insensitive (the Python server is not: we differ).
    for variant in ["MixedCase.User", "MIXEDCASE.USER", "mixedcase.USER"] {
        assert_logs_in(db, variant, &passwords["mixedcase.user"]);
    }
}

fn assert_record_rewritten(name: &str, before: &Value, after: &Value, now: DateTime<Utc>) {
    let old_hash = before["password_hash"].as_str().unwrap();
    let new_hash = after["password_hash"].as_str().unwrap();
    assert!(old_hash.starts_with(LEGACY_PREFIX), "{name}: {old_hash}");
    assert!(
        new_hash.starts_with(OUR_PREFIX),
        "{name}: not rehashed: {new_hash}"
    );
    assert_eq!(
        timestamp(after, "last_login"),
        Some(now),
        "{name}: last_login"
    );
    assert_eq!(
        after["failed_attempts"],
        json!(0),
        "{name}: failed_attempts"
    );
    assert_eq!(after["locked_until"], Value::Null, "{name}: locked_until");
    // A success keeps last_failed_attempt, like the Python server.
    // Wrong guesses at the public `guest` leave no trace (they never lock it).
    let last_failure = match FAILED_ONCE.contains(&name) && name != "guest" {
        true => Some(now),
        false => timestamp(before, "last_failed_attempt"),
    };
    assert_eq!(
        timestamp(after, "last_failed_attempt"),
        last_failure,
        "{name}"
    );
}

fn assert_record_untouched(name: &str, before: &Value, after: &Value) {
    for key in ["password_hash", "failed_attempts", "is_active"] {
        assert_eq!(before[key], after[key], "{name}: {key} changed");
    }
    for key in ["last_login", "last_failed_attempt", "locked_until"] {
        assert_eq!(
            timestamp(before, key),
            timestamp(after, key),
            "{name}: {key}"
        );
    }
}

/// Python-written values we do not own are kept: naive timestamps verbatim,
/// offset ones (`legacy.utc`) as the same instant, unknown keys as they were.
fn assert_preserved(name: &str, before: &Value, after: &Value) {
    for key in ["created_at", "password_last_change"] {
        let raw = before[key].as_str().unwrap();
        let naive = !raw.contains('+');
        if naive {
            assert_eq!(after[key], before[key], "{name}: {key} rewritten");
        }
        assert_eq!(
            timestamp(before, key),
            timestamp(after, key),
            "{name}: {key}"
        );
    }
    for key in ["fullname", "roles", "_extra_permissions", "is_active"] {
        assert_eq!(sorted(&before[key]), sorted(&after[key]), "{name}: {key}");
    }
    for (key, value) in before.as_object().unwrap() {
        assert!(after.get(key).is_some(), "{name}: key {key:?} dropped");
        if key == "department" || key == "x_custom" {
            assert_eq!(&after[key], value, "{name}: unknown key {key:?} changed");
        }
    }
}

/// Python writes sets (roles, permissions) in arbitrary order.
fn sorted(value: &Value) -> Value {
    match value.as_array() {
        Some(items) => {
            let mut items = items.clone();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        None => value.clone(),
    }
}

fn check_users_file(before: &Value, after: &Value, now: DateTime<Utc>) {
    let (old, new) = (records(before), records(after));
    let names = |r: &[(String, Value)]| r.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&old),
        names(&new),
        "users.json order or membership changed"
    );
    for ((name, b), (_, a)) in old.iter().zip(&new) {
        assert_preserved(name, b, a);
        if REFUSED.contains(&name.as_str()) {
            assert_record_untouched(name, b, a);
        } else {
            assert_record_rewritten(name, b, a, now);
        }
    }
    let rita = &new.iter().find(|(n, _)| n == "rita.reader").unwrap().1;
    assert_eq!(rita["department"], json!("botany"));
}

/// Runs the real package's loader on `dir`; `None` when Python is missing.
fn python_check(dir: &Path, extra: &[&str]) -> Option<std::process::Output> {
    let python = python()?;
    let script = repo_root().join("scripts/pycompat/check_fsdb.py");
    let output = Command::new(python)
        .arg(script)
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    println!(
        "check_fsdb {extra:?}:\n{}{}",
        lossy(&output.stdout),
        lossy(&output.stderr)
    );
    Some(output)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn python_fixture_logs_in_and_stays_readable_by_python() {
    let dir = tempfile::tempdir().unwrap();
    prepare_copy(dir.path());
    let users_before = read_json(&dir.path().join("users.json"));
    let groups_before = fs::read(dir.path().join("groups.json")).unwrap();
    let passwords: BTreeMap<String, String> =
        serde_json::from_value(read_json(&dir.path().join("passwords.json"))).unwrap();
    let now = test_now(&users_before);
    {
        let (_fsdb, db) = open_db(dir.path(), Arc::new(FixedClock::new(now)));
        run_logins(&db, &passwords, &users_before, now);
    }
    let users_after = read_json(&dir.path().join("users.json"));
    check_users_file(&users_before, &users_after, now);
    let groups_after = fs::read(dir.path().join("groups.json")).unwrap();
    assert_eq!(groups_before, groups_after, "groups.json was rewritten");

    let Some(output) = python_check(dir.path(), &["--require-naive"]) else {
        println!("skipped: Python plantdb-commons not installed (run scripts/python-env.sh)");
        return;
    };
    assert!(
        output.status.success(),
        "check_fsdb.py refused our users.json"
    );
    let summary = lossy(&output.stdout);
    let expected = format!("{} passwords verified", passwords.len());
    assert!(summary.contains(&expected), "{summary}");
}
