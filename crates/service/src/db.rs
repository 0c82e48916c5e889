//! `AuthDb`: everything the use-cases need, built once at startup.

use std::path::PathBuf;
use std::sync::Arc;

use plantdb_auth_core::clock::Clock;
use plantdb_auth_core::password::{PasswordHasher, PasswordPolicy};
use plantdb_auth_core::session::SessionManager;
use plantdb_auth_core::store::{GroupStore, LockoutPolicy, UserStore};

/// Limits on API tokens (contract §1: "we differ").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiTokenPolicy {
    /// Longest lifetime a caller may ask for, in seconds.
    pub max_lifetime: i64,
    /// Live API tokens one user may hold; minting more is refused (409).
    pub max_per_user: usize,
}

impl Default for ApiTokenPolicy {
    fn default() -> Self {
        ApiTokenPolicy {
            max_lifetime: 30 * 86400,
            max_per_user: 50,
        }
    }
}

/// The service's view of a PlantDB database (the `db` of the seed's functions).
pub struct AuthDb {
    pub users: Arc<dyn UserStore>,
    pub groups: Arc<dyn GroupStore>,
    pub sessions: SessionManager,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub lockout: LockoutPolicy,
    pub api_tokens: ApiTokenPolicy,
    /// In-memory throttles (login checks, password changes, minting).
    pub throttle: crate::throttle::Throttle,
    /// Whether writes to the user store fail (a full disk).
    pub storage: crate::storage::StorageState,
    pub clock: Arc<dyn Clock>,
    /// The database root, for health and scan counts; `None` for in-memory.
    pub root: Option<PathBuf>,
}

impl std::fmt::Debug for AuthDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthDb")
            .field("root", &self.root)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}
