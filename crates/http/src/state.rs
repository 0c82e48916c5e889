//! Shared state of the HTTP adapter.

use std::sync::Arc;

use plantdb_auth_service::AuthDb;

use crate::error::ApiError;
use crate::hash_pool::HashPool;
use crate::rate_limit::{RateLimiter, RateLimits};

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Deployment prefix (`/plantdb`), in front of both API generations.
    pub url_prefix: Option<String>,
    /// Honour `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_proxy: bool,
    /// `None` switches rate limiting off (benchmarks only).
    pub rate_limits: Option<RateLimits>,
    /// Allowed CORS origins; empty means any origin (the Python server's default).
    pub cors_origins: Vec<String>,
    /// Argon2 jobs running at once.
    pub hash_workers: usize,
    /// Require a valid token for `GET login?username=` (stops enumeration).
    pub restrict_username_check: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            url_prefix: None,
            trust_proxy: false,
            rate_limits: Some(RateLimits::default()),
            cors_origins: Vec::new(),
            hash_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            restrict_username_check: false,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<AuthDb>,
    pub config: Arc<HttpConfig>,
    pub limiter: Option<Arc<RateLimiter>>,
    /// Argon2 runs there (see `hash_pool`); `None` if its threads could
    /// not be started (then hashing falls back to the blocking pool).
    hash_pool: Option<Arc<HashPool>>,
}

impl AppState {
    pub fn new(db: Arc<AuthDb>, config: HttpConfig) -> Self {
        let limiter = config.rate_limits.map(|l| Arc::new(RateLimiter::new(l)));
        let hash_pool = match HashPool::new(config.hash_workers) {
            Ok(pool) => Some(Arc::new(pool)),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the password-hashing threads: logins will fail");
                None
            }
        };
        AppState {
            db,
            config: Arc::new(config),
            limiter,
            hash_pool,
        }
    }

    /// Runs a use-case that hashes passwords on the hashing pool: at most
    /// `hash_workers` at a time, never on the async workers.
    pub async fn hashing<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&AuthDb) -> T + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.hash_pool.as_ref().ok_or_else(ApiError::internal)?;
        let db = self.db.clone();
        pool.run(move || job(&db)).await.ok_or_else(|| {
            tracing::error!("a password-hashing job failed");
            ApiError::internal()
        })
    }

    /// Runs a use-case that writes to disk on the blocking pool.
    pub async fn blocking<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&AuthDb) -> T + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        // Keeps the request's span (and its request id) in the job's logs.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| job(&db)))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "blocking task failed");
                ApiError::internal()
            })
    }

    /// Hashing threads idle right now.
    pub fn hash_slots_free(&self) -> usize {
        self.hash_pool
            .as_ref()
            .map_or(0, |p| p.workers().saturating_sub(p.running()))
    }

    /// Argon2 jobs waiting for a free thread right now.
    pub fn hash_queue_depth(&self) -> usize {
        self.hash_pool.as_ref().map_or(0, |p| p.waiting())
    }
}
