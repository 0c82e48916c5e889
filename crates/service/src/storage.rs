//! Whether the database accepts writes: a full disk (or any failing write
//! of the user store) turns logins into 503s for every kind of failure
//! alike, so that the answer never tells an existing account (whose failure
//! must be recorded) from an unknown one; health reports it as degraded.
//! The state clears at the next write that succeeds.

use parking_lot::Mutex;
use plantdb_auth_core::store::StoreError;

use crate::AuthError;

#[derive(Debug, Default)]
pub struct StorageState {
    /// Why the last write failed, while no write has succeeded since.
    failure: Mutex<Option<String>>,
}

impl StorageState {
    /// The reason writes fail, if they do.
    pub fn degraded(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    pub(crate) fn succeeded(&self) {
        let mut failure = self.failure.lock();
        if failure.take().is_some() {
            plantdb_auth_core::audit::AuditEvent::StorageRecovered.emit();
        }
    }

    /// Records a failed write; the answer every login failure gets until a
    /// write succeeds again.
    pub(crate) fn failed(&self, e: &StoreError) -> AuthError {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            plantdb_auth_core::audit::AuditEvent::StorageFailed { error: e }.emit();
        }
        *failure = Some(e.to_string());
        unavailable()
    }
}

/// Whether a store error is the storage failing (not a refusal or a
/// missing record).
pub(crate) fn is_storage_failure(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { .. } | StoreError::Backend(_))
}

pub(crate) fn unavailable() -> AuthError {
    AuthError::Busy(
        "Logins cannot be recorded right now (the server's storage is failing, e.g. a full disk): try again later".into(),
    )
}
