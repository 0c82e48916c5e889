//! The whole router over in-memory stores, for unit tests of this crate.

use std::sync::Arc;

use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::password::HashParams;
use plantdb_auth_service::{AuthDb, Backend, Settings};

use crate::{router, AppState, HttpConfig};

/// An empty database (no accounts), cheap Argon2, rate limits off.
pub(crate) fn app(prefix: Option<&str>) -> axum::Router {
    let cheap = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let settings = Settings {
        hash: cheap,
        ..Settings::default()
    };
    let db = AuthDb::open(Backend::memory(), settings, Arc::new(SystemClock)).unwrap();
    let config = HttpConfig {
        url_prefix: prefix.map(str::to_string),
        rate_limits: None,
        ..HttpConfig::default()
    };
    router(AppState::new(Arc::new(db), config))
}
