#![no_main]
//! Loading `users.json` from arbitrary bytes, through the public FSDB API on
//! a scratch database (in /dev/shm when there is one, for speed).
//!
//! Oracles: loading never panics; a file that loads is written back with the
//! same users (timestamps at Python's microsecond precision, unknown fields
//! exactly); the file we write loads again, and rewriting it changes nothing.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use plantdb_auth_core::model::{format_py_datetime, parse_py_datetime, User, Username};
use plantdb_auth_core::store::fsdb::{create_root, Fsdb, USERS_FILE};
use plantdb_auth_core::store::UserStore;
use tempfile::TempDir;

const SENTINEL: &str = "zz-fuzz-sentinel";

fn root() -> &'static Path {
    static ROOT: OnceLock<TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("plantdb-auth-fuzz")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a scratch directory");
        create_root(dir.path()).expect("a scratch database");
        dir
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let file = root.join(USERS_FILE);
    if fs::write(&file, data).is_err() {
        return;
    }
    let loaded = match Fsdb::open(root) {
        Ok(db) => {
            let users = list(&db);
            if !rewrite(&db, &users) {
                return;
            }
            users
        }
        Err(e) => return drop(e.to_string()),
    };
    let written = fs::read(&file).expect("the file we wrote");
    let db = Fsdb::open(root).expect("a users.json we wrote loads again");
    let reloaded: Vec<User> = list(&db)
        .into_iter()
        .filter(|u| !(loaded.is_empty() && u.username.as_str() == SENTINEL))
        .collect();
    let normalised: Vec<User> = loaded.iter().map(as_stored).collect();
    assert_eq!(normalised, reloaded, "users changed when written back");
    let users = list(&db);
    assert!(rewrite(&db, &users));
    drop(db);
    let again = fs::read(&file).expect("the file we wrote");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&again),
        "rewriting our own users.json changed it"
    );
});

fn list(db: &Fsdb) -> Vec<User> {
    db.users.list().expect("listing a loaded store")
}

/// Forces a write of the whole file: a no-op update, or a sentinel user when
/// there is nobody to update. False when the write is refused.
fn rewrite(db: &Fsdb, users: &[User]) -> bool {
    match users.first() {
        Some(user) => db.users.update(&user.username, &mut |_| Ok(())).is_ok(),
        None => {
            let Ok(name) = Username::parse(SENTINEL) else {
                return false;
            };
            let now = Utc.timestamp_opt(1_767_225_600, 0).single();
            let Some(now) = now else { return false };
            let user = User::new(name, "", "hash".into(), [], now);
            db.users.create(user).is_ok()
        }
    }
}

/// A user's timestamps as users.json holds them: naive local time to the
/// microsecond (Python's `datetime`).
fn as_stored(user: &User) -> User {
    let stored =
        |t: Option<DateTime<Utc>>| t.and_then(|t| parse_py_datetime(&format_py_datetime(t)));
    User {
        created_at: stored(user.created_at),
        last_login: stored(user.last_login),
        last_failed_attempt: stored(user.last_failed_attempt),
        locked_until: stored(user.locked_until),
        password_last_change: stored(user.password_last_change),
        ..user.clone()
    }
}
