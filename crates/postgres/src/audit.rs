//! Audit events in PostgreSQL: every instance appends to one table, so the
//! trail of a deployment is in one place (`auth_audit`, JSON per event).

use std::sync::Arc;

use serde_json::Value;

use crate::Shared;

/// Appends audit events to `auth_audit`.
#[derive(Clone)]
pub struct PgAuditLog {
    shared: Arc<Shared>,
}

impl PgAuditLog {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PgAuditLog { shared }
    }

    /// Appends one event in the background: the request that caused it
    /// never waits for the audit write.
    pub fn record(&self, event: Value) {
        let pool = self.shared.pool.clone();
        self.shared.bridge.handle().spawn(async move {
            let written = async {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                client
                    .execute("INSERT INTO auth_audit (event) VALUES ($1)", &[&event])
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            if let Err(e) = written {
                // Not `tracing`: this runs inside the audit layer's output.
                eprintln!("audit log: cannot write to PostgreSQL: {e}");
            }
        });
    }
}
