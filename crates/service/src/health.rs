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
