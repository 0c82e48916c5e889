//! Fixtures shared by the core benchmarks: a session manager holding many
//! live sessions, and a `users.json` of many users in the Python format.

// Each bench binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::session::{
    new_token_id, MemorySessionStore, SessionChange, SessionConfig, SessionManager, SessionStore,
    SigningKey, TokenKind, TokenRecord,
};
use serde_json::{json, Value};

/// A real argon2-cffi hash (of "admin"): every generated user shares it,
/// decoding cost does not depend on the hash.
pub const PHC: &str = "$argon2id$v=19$m=65536,t=3,p=4$Kv1Ml81SyU1JhO8Dv9gfsA$WEBFa5js2vcCgsgKt9AeIc44DxT750lKtu5N3dmTGqA";

/// Sessions are spread over this many users (the per-user cap is 10).
pub const SESSIONS_PER_USER: usize = 10;

pub fn username(i: usize) -> String {
    format!("user{i:05}")
}

fn record(kind: TokenKind, username: &str, family: &str, now: i64, ttl: i64) -> TokenRecord {
    TokenRecord {
        jti: new_token_id(),
        kind,
        username: username.to_string(),
        family: family.to_string(),
        started_at: now,
        issued_at: now,
        expires_at: now + ttl,
        used: false,
        datasets: None,
        compiled: Default::default(),
    }
}

/// A store holding `sessions` live login sessions (an access and a refresh
/// token each, as after a login), `SESSIONS_PER_USER` per user.
pub fn populated_store(sessions: usize) -> Arc<MemorySessionStore> {
    let store = Arc::new(MemorySessionStore::default());
    let now = chrono::Utc::now().timestamp();
    let changes: Vec<SessionChange> = (0..sessions)
        .flat_map(|i| {
            let user = username(i / SESSIONS_PER_USER);
            let family = new_token_id();
            [
                SessionChange::Insert(record(TokenKind::Access, &user, &family, now, 900)),
                SessionChange::Insert(record(TokenKind::Refresh, &user, &family, now, 86400)),
            ]
        })
        .collect();
    if let Err(e) = store.apply(&changes) {
        eprintln!("cannot fill the session store: {e}");
        std::process::exit(1);
    }
    store
}

/// A manager over [`populated_store`] on the wall clock.
pub fn manager(key: &SigningKey, sessions: usize) -> SessionManager {
    let store: Arc<dyn SessionStore> = populated_store(sessions);
    match SessionManager::new(key, store, Arc::new(SystemClock), SessionConfig::default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot build the session manager: {e}");
            std::process::exit(1);
        }
    }
}

/// One `users.json` record as plantdb-commons 0.17 writes it.
pub fn user_record(name: &str, role: &str) -> Value {
    json!({
        "username": name,
        "fullname": format!("Bench User {name}"),
        "password_hash": PHC,
        "roles": [role],
        "created_at": "2026-11-26T17:31:31.376433",
        "_extra_permissions": [],
        "last_login": "2026-11-26T17:31:34.204434",
        "is_active": true,
        "failed_attempts": 0,
        "last_failed_attempt": null,
        "locked_until": null,
        "password_last_change": "2026-11-26T17:31:31.376433"
    })
}

/// Makes `root` a PlantDB database whose `users.json` holds guest, admin
/// and `users` generated users (`user00000`, ...).
pub fn write_database(root: &Path, users: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    std::fs::write(root.join("romidb"), b"")?;
    let mut records = vec![
        user_record("guest", "reader"),
        user_record("admin", "admin"),
    ];
    records.extend((0..users).map(|i| user_record(&username(i), "contributor")));
    let text =
        serde_json::to_string_pretty(&Value::Array(records)).map_err(std::io::Error::other)?;
    std::fs::write(root.join("users.json"), text)?;
    std::fs::write(root.join("groups.json"), b"{}")
}
