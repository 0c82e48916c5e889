//! The whole router over in-memory stores, for unit tests of this crate.

use std::sync::Arc;

use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::password::{HashParams, PasswordHasher, PasswordPolicy};
use plantdb_auth_core::session::{MemorySessionStore, SessionConfig, SessionManager, SigningKey};
use plantdb_auth_core::store::memory::{MemoryGroupStore, MemoryUserStore};
use plantdb_auth_core::store::LockoutPolicy;
use plantdb_auth_service::{ApiTokenPolicy, AuthDb};

use crate::{router, AppState, HttpConfig};

/// An empty database (no accounts), cheap Argon2, rate limits off.
pub(crate) fn app(prefix: Option<&str>) -> axum::Router {
    let clock = Arc::new(SystemClock);
    let sessions = SessionManager::new(
        &SigningKey::random(),
        Arc::new(MemorySessionStore::default()),
        clock.clone(),
        SessionConfig::default(),
    )
    .unwrap();
    let cheap = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let db = AuthDb {
        users: Arc::new(MemoryUserStore::default()),
        groups: Arc::new(MemoryGroupStore::default()),
        sessions,
        hasher: PasswordHasher::new(cheap).unwrap(),
        policy: PasswordPolicy::default(),
        lockout: LockoutPolicy::default(),
        api_tokens: ApiTokenPolicy::default(),
        throttle: Default::default(),
        storage: Default::default(),
        clock,
        root: None,
    };
    let config = HttpConfig {
        url_prefix: prefix.map(str::to_string),
        rate_limits: None,
        ..HttpConfig::default()
    };
    router(AppState::new(Arc::new(db), config))
}
