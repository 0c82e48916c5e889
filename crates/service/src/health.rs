//! The health check: the database is reachable and how many scans it has.

use plantdb_auth_core::store::fsdb;

use crate::{AuthDb, AuthError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseHealth {
    pub location: String,
    pub scan_count: usize,
    /// Why writes fail (a full disk), while they do: the server is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_error: Option<String>,
}

pub fn health(db: &AuthDb) -> Result<DatabaseHealth, AuthError> {
    match &db.root {
        Some(root) => Ok(DatabaseHealth {
            location: root.display().to_string(),
            scan_count: fsdb::scan_count(root)?,
            storage_error: db.storage.degraded(),
        }),
        None => Ok(DatabaseHealth {
            location: "memory".into(),
            scan_count: 0,
            storage_error: db.storage.degraded(),
        }),
    }
}

/// What `/health/ready` checks, each `"ok"` or what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: std::collections::BTreeMap<&'static str, &'static str>,
}

/// Whether the server can serve requests now: the user store answers (a
/// query for PostgreSQL), writes succeed (no full disk), and the session
/// state follows the other instances. Details go to the log only.
pub fn readiness(db: &AuthDb) -> Readiness {
    let mut checks = std::collections::BTreeMap::new();
    let store = match db.users.ping() {
        Ok(()) => "ok",
        Err(e) => {
            tracing::error!(error = %e, "readiness: the user store does not answer");
            "unreachable"
        }
    };
    checks.insert("store", store);
    let storage = if db.storage.degraded().is_some() {
        "failing"
    } else {
        "ok"
    };
    checks.insert("storage", storage);
    let sessions = if db.sessions.accepting_tokens() {
        "ok"
    } else {
        "stale"
    };
    checks.insert("sessions", sessions);
    Readiness {
        ready: checks.values().all(|v| *v == "ok"),
        checks,
    }
}
