//! The FSDB files themselves: formats, corruption handling, locking,
//! atomic writes, and compatibility with the Python PlantDB package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use plantdb_auth_core::model::{
    format_py_datetime, parse_py_datetime, Group, GroupName, Permission, Role, User, Username,
};
use plantdb_auth_core::store::fsdb::{
    create_root, is_fsdb_root, scan_count, Fsdb, GROUPS_FILE, LOCK_FILE, STATE_DIR, USERS_FILE,
};
use plantdb_auth_core::store::{GroupStore, StoreError, UserStore};
use proptest::prelude::*;
use serde_json::{json, Value};

fn name(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn new_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    create_root(dir.path()).unwrap();
    dir
}

fn root_with(users: &str, groups: &str) -> tempfile::TempDir {
    let dir = new_root();
    fs::write(dir.path().join(USERS_FILE), users).unwrap();
    fs::write(dir.path().join(GROUPS_FILE), groups).unwrap();
    dir
}

/// Reopens a database whose previous handle was just dropped. Another test
/// of this binary may be starting Python at that moment: between its fork
/// and exec the child briefly shares our open file descriptions, flock
/// included, so the release can lag by a few milliseconds.
fn reopen(path: &Path) -> Fsdb {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match Fsdb::open(path) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn user(s: &str) -> User {
    let now = Utc::now().trunc_subsecs(6);
    User::new(
        name(s),
        format!("{s} full"),
        format!("$argon2id$h-{s}"),
        [Role::Reader],
        now,
    )
}

#[test]
fn missing_or_blank_files_mean_no_users_or_groups() {
    let dir = new_root();
    for content in [None, Some(""), Some("  \n\t")] {
        if let Some(c) = content {
            fs::write(dir.path().join(USERS_FILE), c).unwrap();
            fs::write(dir.path().join(GROUPS_FILE), c).unwrap();
        }
        let db = Fsdb::open(dir.path()).unwrap();
        assert!(db.users.list().unwrap().is_empty());
        assert!(db.groups.list().unwrap().is_empty());
    }
}

#[test]
fn corrupt_files_are_reported_by_name_and_left_untouched() {
    let cases = [
        "{not json",
        r#"{"alice": {"role": "admin"}}"#,
        r#"[{"fullname": "No Name", "password_hash": "h"}]"#,
        r#"[{"username": "nohash"}]"#,
        r#"[{"username": "alice", "password_hash": "h", "locked_until": "tomorrow"}]"#,
        "[1]",
    ];
    for bad in cases {
        let dir = root_with(bad, "");
        let err = Fsdb::open(dir.path()).unwrap_err();
        let StoreError::Corrupt { ref path, .. } = err else {
            panic!("{bad}: {err}")
        };
        assert!(path.ends_with(USERS_FILE), "{path}");
        assert!(err.to_string().contains(USERS_FILE));
        assert_eq!(
            fs::read_to_string(dir.path().join(USERS_FILE)).unwrap(),
            bad
        );
    }
    let dir = root_with("[]", r#"["lab"]"#);
    let err = Fsdb::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { ref path, .. } if path.ends_with(GROUPS_FILE)));
    assert_eq!(
        fs::read_to_string(dir.path().join(GROUPS_FILE)).unwrap(),
        r#"["lab"]"#
    );
}

#[test]
fn unknown_roles_and_permissions_are_skipped() {
    let users = json!([{"username": "alice", "fullname": "A", "password_hash": "h",
        "roles": ["reader", "superhero", "ADMIN"], "created_at": "2026-01-29T17:19:13.313677",
        "_extra_permissions": ["delete", "fly"]}]);
    let dir = root_with(&users.to_string(), "");
    let db = Fsdb::open(dir.path()).unwrap();
    let alice = db.users.get(&name("alice")).unwrap().unwrap();
    assert_eq!(alice.roles, [Role::Reader, Role::Admin].into());
    assert_eq!(alice.extra_permissions, [Permission::Delete].into());
}

#[test]
fn unknown_keys_and_refused_records_survive_a_rewrite() {
    let users = json!([
        {"username": "José", "fullname": "J", "password_hash": "h", "roles": [], "created_at": null},
        {"username": "alice", "fullname": "A", "password_hash": "h", "roles": ["reader"],
         "created_at": "2026-01-29T17:19:13.313677", "theme": {"dark": true}, "zz": [1, "x"]},
    ]);
    let groups = json!({
        "lab": {"users": ["alice"], "description": null, "created_at": "2026-01-29T17:19:13",
                "created_by": "alice", "color": "green"},
        "bad name": {"users": [], "created_at": "2026-01-29T17:19:13", "created_by": "x"},
    });
    let dir = root_with(&users.to_string(), &groups.to_string());
    let db = Fsdb::open(dir.path()).unwrap();
    assert_eq!(
        db.users.list().unwrap().len(),
        1,
        "the refused username is not a user here"
    );
    db.users.set_fullname(&name("alice"), "Alice").unwrap();
    db.users.create(user("bob")).unwrap();
    db.groups
        .add_member(&GroupName::parse("lab").unwrap(), &name("bob"))
        .unwrap();

    let written = read_json(&dir.path().join(USERS_FILE));
    assert_eq!(written[0], users[0], "kept verbatim, in place");
    assert_eq!(written[1]["theme"], json!({"dark": true}));
    assert_eq!(written[1]["zz"], json!([1, "x"]));
    assert_eq!(written[1]["fullname"], "Alice");
    assert_eq!(written[2]["username"], "bob", "new users are appended");
    let written = read_json(&dir.path().join(GROUPS_FILE));
    assert_eq!(written["lab"]["color"], "green");
    assert_eq!(written["lab"]["users"], json!(["alice", "bob"]));
    assert_eq!(written["bad name"], groups["bad name"]);
}

#[test]
fn naive_and_offset_timestamps_both_load() {
    let users = json!([{"username": "alice", "fullname": "A", "password_hash": "h", "roles": [],
        "created_at": "2026-01-29T17:19:13.313677", "last_login": "2026-01-29T17:19:13.313677+00:00",
        "locked_until": "2026-01-29T18:19:13+01:00", "password_last_change": "2026-01-29"}]);
    let dir = root_with(&users.to_string(), "");
    let db = Fsdb::open(dir.path()).unwrap();
    let alice = db.users.get(&name("alice")).unwrap().unwrap();
    let expected = Utc.with_ymd_and_hms(2026, 1, 29, 17, 19, 13).unwrap();
    assert_eq!(alice.last_login.unwrap().trunc_subsecs(0), expected);
    assert_eq!(alice.locked_until, Some(expected));
    assert_eq!(
        alice.created_at,
        parse_py_datetime("2026-01-29T17:19:13.313677")
    );
    assert!(alice.password_last_change.is_some());
}

#[test]
fn the_database_is_locked_while_open() {
    let dir = new_root();
    let first = Fsdb::open(dir.path()).unwrap();
    let err = Fsdb::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    let lock = dir.path().join(STATE_DIR).join(LOCK_FILE);
    assert_eq!(first.lock_path(), lock);
    let pid: u32 = fs::read_to_string(&lock).unwrap().trim().parse().unwrap();
    assert_eq!(pid, std::process::id());
    // A store handle that outlives its Fsdb keeps the database locked.
    let users = first.users.clone();
    drop(first);
    assert!(matches!(
        Fsdb::open(dir.path()),
        Err(StoreError::Locked { .. })
    ));
    drop(users);
    reopen(dir.path());
}

#[cfg(unix)]
#[test]
fn the_state_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = new_root();
    fs::create_dir(dir.path().join(STATE_DIR)).unwrap();
    fs::set_permissions(
        dir.path().join(STATE_DIR),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let db = Fsdb::open(dir.path()).unwrap();
    assert_eq!(db.state_dir(), dir.path().join(STATE_DIR));
    let mode = fs::metadata(db.state_dir()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn only_marked_directories_open() {
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path().to_path_buf(), dir.path().join("nowhere")] {
        let err = Fsdb::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
        assert!(err.to_string().contains("romidb"), "{err}");
        assert!(!is_fsdb_root(&path));
    }
    let root = dir.path().join("new/db");
    create_root(&root).unwrap();
    create_root(&root).unwrap();
    assert!(is_fsdb_root(&root));
    for scan in ["scan1", "scan2", "not_a_scan"] {
        fs::create_dir(root.join(scan)).unwrap();
    }
    fs::create_dir(root.join("scan1/metadata")).unwrap();
    fs::create_dir(root.join("scan2/metadata")).unwrap();
    Fsdb::open(&root).unwrap();
    assert_eq!(scan_count(&root).unwrap(), 2);
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_leave_no_temporary_files_and_look_like_python_json() {
    let dir = new_root();
    let db = Fsdb::open(dir.path()).unwrap();
    db.users.create(user("alice")).unwrap();
    db.users.set_fullname(&name("alice"), "Zoë").unwrap();
    db.users.delete(&name("alice")).unwrap();
    db.users.create(user("bob")).unwrap();
    let lab = GroupName::parse("lab").unwrap();
    db.groups
        .create(Group::new(lab, name("bob"), None, [], Utc::now()))
        .unwrap();
    assert_eq!(
        entries(dir.path()),
        [STATE_DIR, GROUPS_FILE, "romidb", USERS_FILE]
    );
    assert_eq!(entries(&db.state_dir()), [LOCK_FILE]);

    let text = fs::read_to_string(dir.path().join(USERS_FILE)).unwrap();
    assert!(
        text.starts_with("[\n  {\n    \"username\": \"bob\",\n    \"fullname\": "),
        "{text}"
    );
    let record = read_json(&dir.path().join(USERS_FILE))[0].clone();
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let python_order = "username fullname password_hash roles created_at _extra_permissions \
        last_login is_active failed_attempts last_failed_attempt locked_until password_last_change";
    assert_eq!(keys, python_order.split_whitespace().collect::<Vec<_>>());
}

#[test]
fn a_failed_write_changes_nothing_in_memory() {
    let dir = new_root();
    let db = Fsdb::open(dir.path()).unwrap();
    db.users.create(user("alice")).unwrap();
    // A directory in place of users.json makes the rename fail, even as root.
    let users_json = dir.path().join(USERS_FILE);
    fs::remove_file(&users_json).unwrap();
    fs::create_dir(&users_json).unwrap();
    assert!(db.users.create(user("bob")).is_err());
    assert!(db.users.set_fullname(&name("alice"), "changed").is_err());
    assert!(db.users.get(&name("bob")).unwrap().is_none());
    assert_eq!(
        db.users.get(&name("alice")).unwrap().unwrap().fullname,
        "alice full"
    );
    assert_eq!(entries(dir.path()), [STATE_DIR, "romidb", USERS_FILE]);
}

// ---- property: any user round-trips through users.json -----------------------

/// users.json holds naive local time to the microsecond.
fn as_stored(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.and_then(|t| parse_py_datetime(&format_py_datetime(t)))
}

fn timestamp() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    proptest::option::of((0i64..4_102_444_800_000_000).prop_map(DateTime::from_timestamp_micros))
        .prop_map(Option::flatten)
}

fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::collection::vec(any::<i32>(), 0..3).prop_map(Value::from),
    ]
}

prop_compose! {
    fn arb_user()(
        username in "[a-z0-9_-][a-z0-9._-]{0,63}",
        fullname in ".{0,30}",
        password_hash in "\\$argon2id\\$[ -~]{0,40}",
        roles in prop::collection::btree_set(prop::sample::select(Role::ALL.to_vec()), 0..3),
        perms in prop::collection::btree_set(prop::sample::select(Permission::ALL.to_vec()), 0..4),
        times in [timestamp(), timestamp(), timestamp(), timestamp(), timestamp()],
        is_active in any::<bool>(),
        failed_attempts in any::<u32>(),
        extra in prop::collection::btree_map("x_[a-z]{1,8}", extra_value(), 0..3),
    ) -> User {
        let [created_at, last_login, last_failed_attempt, locked_until, password_last_change] =
            times.map(as_stored);
        User {
            username: name(&username), fullname, password_hash, roles, extra_permissions: perms,
            created_at, last_login, is_active, failed_attempts, last_failed_attempt,
            locked_until, password_last_change, extra: extra.into_iter().collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn users_round_trip_through_users_json(users in prop::collection::vec(arb_user(), 0..5)) {
        let mut unique: Vec<User> = Vec::new();
        for u in users {
            if !unique.iter().any(|v| v.username == u.username) {
                unique.push(u);
            }
        }
        let dir = new_root();
        {
            let db = Fsdb::open(dir.path()).unwrap();
            for u in &unique {
                db.users.create(u.clone()).unwrap();
            }
        }
        let db = reopen(dir.path());
        prop_assert_eq!(db.users.list().unwrap(), unique);
    }
}

// ---- compatibility with the Python package -----------------------------------

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PLANTDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/venv/bin/python")
        });
    path.exists().then_some(path)
}

const PY_CHECK: &str = r#"
import json, sys
from plantdb.commons.auth.models import User, Role, Permission
from plantdb.commons.auth.manager import GroupManager
with open(sys.argv[1]) as f:
    users = {u.username: u for u in map(User.from_dict, json.load(f))}
assert users["alice"].fullname == "Zo\u00eb \u00c5lice", users["alice"].fullname
assert users["alice"].roles == {Role.ADMIN, Role.READER}
assert Permission.DELETE in users["bob"]._extra_permissions
assert users["bob"]._is_locked_out() and users["bob"].failed_attempts == 3
assert users["bob"].last_login is None and not users["bob"].is_active
groups = GroupManager(groups_file=sys.argv[2])
lab = groups.get_group("lab")
assert lab.users == {"alice", "bob"} and lab.created_by == "alice", lab.users
assert lab.description == "Plant lab"
assert groups.get_group("solo").description is None
"#;

#[test]
fn python_plantdb_reads_what_we_write() {
    let Some(python) = python() else {
        println!("skipped: Python plantdb-commons not installed");
        return;
    };
    let dir = new_root();
    let db = Fsdb::open(dir.path()).unwrap();
    let mut alice = user("alice");
    alice.fullname = "Zoë Ålice".into();
    alice.roles = [Role::Admin, Role::Reader].into();
    db.users.create(alice).unwrap();
    let mut bob = user("bob");
    bob.extra_permissions.insert(Permission::Delete);
    bob.is_active = false;
    db.users.create(bob).unwrap();
    let policy = plantdb_auth_core::store::LockoutPolicy::default();
    for _ in 0..3 {
        db.users
            .record_failed_attempt(
                &name("bob"),
                &plantdb_auth_core::store::ClientKey::of(None),
                Utc::now(),
                policy,
            )
            .unwrap();
    }
    let lab = GroupName::parse("lab").unwrap();
    db.groups
        .create(Group::new(
            lab.clone(),
            name("alice"),
            Some("Plant lab".into()),
            [],
            Utc::now(),
        ))
        .unwrap();
    db.groups.add_member(&lab, &name("bob")).unwrap();
    let solo = Group::new(
        GroupName::parse("solo").unwrap(),
        name("bob"),
        None,
        [],
        Utc::now(),
    );
    db.groups.create(solo).unwrap();

    let out = std::process::Command::new(python)
        .args(["-c", PY_CHECK])
        .arg(dir.path().join(USERS_FILE))
        .arg(dir.path().join(GROUPS_FILE))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
