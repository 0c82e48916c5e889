//! Shared state of the HTTP adapter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use plantdb_auth_service::AuthDb;
use tokio::sync::Semaphore;

use crate::error::ApiError;
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
    hash_slots: Arc<Semaphore>,
    /// Argon2 jobs waiting for a slot (the metrics' queue depth).
    hash_waiting: Arc<AtomicUsize>,
}

/// Counts a job as waiting for as long as it lives, even if the request is
/// dropped while it waits (the client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    pub fn new(db: Arc<AuthDb>, config: HttpConfig) -> Self {
        let limiter = config.rate_limits.map(|l| Arc::new(RateLimiter::new(l)));
        let hash_slots = Arc::new(Semaphore::new(config.hash_workers.max(1)));
        AppState {
            db,
            config: Arc::new(config),
            limiter,
            hash_slots,
            hash_waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs a use-case that hashes passwords: on the blocking pool, at most
    /// `hash_workers` at a time, never on the async workers.
    pub async fn hashing<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&AuthDb) -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = {
            let _waiting = Waiting::enter(&self.hash_waiting);
            self.hash_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ApiError::internal())?
        };
        // The permit goes with the job: if the request is dropped while
        // Argon2 runs, the slot stays taken until the hash is done, so at
        // most `hash_workers` hashes (and their memory) exist at once.
        self.blocking(move |db| {
            let _permit = permit;
            job(db)
        })
        .await
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

    /// Argon2 jobs waiting for a slot right now.
    pub fn hash_slots_free(&self) -> usize {
        self.hash_slots.available_permits()
    }

    /// Argon2 jobs waiting for a free slot right now.
    pub fn hash_queue_depth(&self) -> usize {
        self.hash_waiting.load(Ordering::Relaxed)
    }
}
