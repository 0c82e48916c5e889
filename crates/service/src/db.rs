//! `AuthDb`: everything the use-cases need, built once at startup.

use std::path::PathBuf;
use std::sync::Arc;

use plantdb_auth_core::clock::Clock;
use plantdb_auth_core::password::{HashParams, PasswordError, PasswordHasher, PasswordPolicy};
use plantdb_auth_core::session::{
    RetiredKey, SessionConfig, SessionError, SessionManager, SessionStore, SigningKey,
};
use plantdb_auth_core::store::memory::{MemoryGroupStore, MemoryUserStore};
use plantdb_auth_core::store::{GroupStore, LockoutPolicy, UserStore};

use crate::storage::StorageState;
use crate::throttle::{Throttle, ThrottlePolicy};

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

/// The service's policies: what `serve`'s flags set. `Default` is the
/// contract's defaults.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Argon2 parameters of new hashes.
    pub hash: HashParams,
    pub password_policy: PasswordPolicy,
    pub lockout: LockoutPolicy,
    pub api_tokens: ApiTokenPolicy,
    pub throttle: ThrottlePolicy,
    pub sessions: SessionConfig,
}

/// Where the service's state lives: users, groups, sessions and the
/// signing key of one backend (FSDB directory, PostgreSQL, memory).
pub struct Backend {
    pub users: Arc<dyn UserStore>,
    pub groups: Arc<dyn GroupStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub key: SigningKey,
    /// A key a rotation retired that still verifies, until its time.
    pub retired_key: Option<RetiredKey>,
    /// The database root, for health and scan counts; `None` in memory.
    pub root: Option<PathBuf>,
}

impl Backend {
    /// Everything in memory, with a random key (tests, benchmarks).
    pub fn memory() -> Backend {
        Backend {
            users: Arc::new(MemoryUserStore::default()),
            groups: Arc::new(MemoryGroupStore::default()),
            sessions: Arc::new(plantdb_auth_core::session::MemorySessionStore::default()),
            key: SigningKey::random(),
            retired_key: None,
            root: None,
        }
    }
}

/// Why the service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid Argon2 settings: {0}")]
    Hash(#[from] PasswordError),
    #[error("cannot load the sessions: {0}")]
    Sessions(#[from] SessionError),
}

/// The service's view of a PlantDB database (the `db` of the seed's
/// functions), built by [`AuthDb::open`] only.
pub struct AuthDb {
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) groups: Arc<dyn GroupStore>,
    pub(crate) sessions: SessionManager,
    pub(crate) hasher: PasswordHasher,
    pub(crate) policy: PasswordPolicy,
    pub(crate) lockout: LockoutPolicy,
    pub(crate) api_tokens: ApiTokenPolicy,
    /// In-memory throttles (login checks, password changes, minting).
    pub(crate) throttle: Throttle,
    /// Whether writes to the user store fail (a full disk).
    pub(crate) storage: StorageState,
    pub(crate) clock: Arc<dyn Clock>,
    /// The database root, for health and scan counts; `None` for in-memory.
    pub(crate) root: Option<PathBuf>,
}

impl AuthDb {
    /// The one way to build the service: a backend, the policies, a clock
    /// (the system's, or a test's fixed one). Loads the live sessions.
    pub fn open(
        backend: Backend,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<AuthDb, OpenError> {
        let mut sessions = SessionManager::new(
            &backend.key,
            backend.sessions,
            clock.clone(),
            settings.sessions,
        )?;
        if let Some(retired) = &backend.retired_key {
            sessions = sessions.with_retired_key(retired);
        }
        Ok(AuthDb {
            users: backend.users,
            groups: backend.groups,
            sessions,
            hasher: PasswordHasher::new(settings.hash)?,
            policy: settings.password_policy,
            lockout: settings.lockout,
            api_tokens: settings.api_tokens,
            throttle: Throttle::new(settings.throttle),
            storage: StorageState::default(),
            clock,
            root: backend.root,
        })
    }

    /// The user store (for what the use-cases do not cover: tests, tools).
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.users
    }

    pub fn groups(&self) -> &Arc<dyn GroupStore> {
        &self.groups
    }

    /// The session manager: purging expired sessions, swapping keys.
    pub fn sessions(&self) -> &SessionManager {
        &self.sessions
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn root(&self) -> Option<&std::path::Path> {
        self.root.as_deref()
    }

    pub fn lockout(&self) -> LockoutPolicy {
        self.lockout
    }

    /// The password hasher (tests and tools hash with the same settings).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}

impl std::fmt::Debug for AuthDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthDb")
            .field("root", &self.root)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}
