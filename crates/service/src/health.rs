//! The health check: the database is reachable and how many scans it has.

use plantdb_auth_core::store::fsdb;

use crate::{AuthDb, AuthError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseHealth {
    pub location: String,
    pub scan_count: usize,
}

pub fn health(db: &AuthDb) -> Result<DatabaseHealth, AuthError> {
    match &db.root {
        Some(root) => Ok(DatabaseHealth {
            location: root.display().to_string(),
            scan_count: fsdb::scan_count(root)?,
        }),
        None => Ok(DatabaseHealth {
            location: "memory".into(),
            scan_count: 0,
        }),
    }
}
