//! Shared state of the HTTP adapter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use plantdb_auth_service::data::DataService;
use plantdb_auth_service::AuthDb;

use crate::error::ApiError;
use crate::hash_pool::HashPool;
use crate::rate_limit::{RateLimiter, RateLimits};

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Deployment prefix (`/plantdb`), in front of both API generations.
    pub url_prefix: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` is believed (`--proxy`).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// Forward auth's answer to a request it cannot map (`--authz-unmapped`).
    pub authz_unmapped: plantdb_auth_service::admin::UnmappedPolicy,
    /// `None` switches rate limiting off (benchmarks only).
    pub rate_limits: Option<RateLimits>,
    /// Allowed CORS origins; empty means any origin (the Python server's default).
    pub cors_origins: Vec<String>,
    /// Argon2 jobs running at once.
    pub hash_workers: usize,
    /// Require a valid token for `GET login?username=` (stops enumeration).
    pub restrict_username_check: bool,
    /// A build of the ROMI web viewer to serve at `/` and `/viewer/`.
    pub viewer_dir: Option<std::path::PathBuf>,
    /// Largest JSON body of a data write, and of an upload's `metadata` field.
    pub max_json_body: u64,
    /// Largest uploaded file or archive.
    pub max_upload_size: u64,
    /// Largest total uncompressed size of an uploaded archive.
    pub max_archive_expanded_size: u64,
    /// An upload that sends nothing for this long is abandoned.
    pub upload_stall_timeout: std::time::Duration,
    /// Who may scrape `/metrics` on the main listener.
    pub metrics_access: crate::metrics::MetricsAccess,
    /// `--access-log`: a JSON line per request, if on.
    pub access_log: Option<Arc<crate::access_log::AccessLog>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            url_prefix: None,
            trusted_proxies: Default::default(),
            authz_unmapped: Default::default(),
            rate_limits: Some(RateLimits::default()),
            cors_origins: Vec::new(),
            hash_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            restrict_username_check: false,
            viewer_dir: None,
            max_json_body: 8 << 20,
            max_upload_size: 8 << 30,
            max_archive_expanded_size: 32 << 30,
            upload_stall_timeout: std::time::Duration::from_secs(60),
            metrics_access: Default::default(),
            access_log: None,
        }
    }
}

/// What every handler shares, behind one `Arc`: axum clones the state for
/// every request (and drops it after), so one reference count to touch
/// instead of six keeps that off the hot path's profile.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: Arc<AuthDb>,
    pub config: Arc<HttpConfig>,
    pub limiter: Option<Arc<RateLimiter>>,
    /// The data API over the database directory; `None` for an in-memory
    /// store (the data routes then answer 404).
    pub data: Option<Arc<DataService>>,
    /// Argon2 runs there (see `hash_pool`); `None` if its threads could
    /// not be started (then hashing falls back to the blocking pool).
    hash_pool: Option<Arc<HashPool>>,
    /// Password-change hashing jobs queued or running (see
    /// [`AppState::account_hashing`]).
    account_jobs: Arc<AtomicUsize>,
}

/// Holds one account-management hashing slot.
struct AccountJob(Arc<AtomicUsize>);

impl Drop for AccountJob {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
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
        AppState(Arc::new(Shared {
            db,
            config: Arc::new(config),
            limiter,
            data: None,
            hash_pool,
            account_jobs: Arc::new(AtomicUsize::new(0)),
        }))
    }

    /// Serves the data API of `data` as well (before the router is built:
    /// the state is shared from then on).
    pub fn with_data(self, data: Arc<DataService>) -> Self {
        let shared = Arc::try_unwrap(self.0).unwrap_or_else(|shared| Shared {
            db: shared.db.clone(),
            config: shared.config.clone(),
            limiter: shared.limiter.clone(),
            data: None,
            hash_pool: shared.hash_pool.clone(),
            account_jobs: shared.account_jobs.clone(),
        });
        AppState(Arc::new(Shared {
            data: Some(data),
            ..shared
        }))
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

    /// [`AppState::hashing`] for password changes: at most four per hashing
    /// thread (at least 8) queued or running; beyond that a 503, so a flood
    /// of them cannot push logins to the back of a long queue.
    pub async fn account_hashing<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&AuthDb) -> T + Send + 'static,
        T: Send + 'static,
    {
        // Off with rate limits (`--no-rate-limits`, benchmarks).
        let limit = match self.config.rate_limits {
            Some(_) => self.config.hash_workers.max(1).saturating_mul(4).max(8),
            None => usize::MAX,
        };
        if self.account_jobs.fetch_add(1, Ordering::AcqRel) >= limit {
            self.account_jobs.fetch_sub(1, Ordering::AcqRel);
            return Err(plantdb_auth_service::AuthError::Busy(
                "The server is busy with other account changes: try again in a few seconds".into(),
            )
            .into());
        }
        let _slot = AccountJob(Arc::clone(&self.account_jobs));
        self.hashing(job).await
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
