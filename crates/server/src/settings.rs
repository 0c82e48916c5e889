//! `plantdb-auth serve` settings: defaults, then environment variables
//! (the Python server's names), then flags. Validated once at start.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// PlantDB database root (a directory with a `romidb` marker). Created if
    /// missing or empty. Default: $XDG_DATA_HOME/plantdb-auth/db (or ~/.local/share/...).
    #[arg(long, env = "ROMI_DB", visible_alias = "db-path")]
    pub db: Option<PathBuf>,
    /// Where users, groups and sessions live. Absent: the FSDB files and SQLite
    /// under --db. postgres://user:password@host:port/database: PostgreSQL,
    /// shared by several instances (--db then only holds the scans).
    #[arg(long, env = "PLANTDB_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Address to listen on (the Python server uses 0.0.0.0; we default to loopback).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the startup line tells which).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Serve a fresh temporary database with admin/admin and guest/guest.
    #[arg(long)]
    pub test: bool,
    /// Behind a trusted reverse proxy: take the client IP from X-Forwarded-For.
    #[arg(long)]
    pub proxy: bool,
    /// Deployment prefix in front of every route, e.g. /plantdb.
    #[arg(long, env = "PLANTDB_URL_PREFIX")]
    pub url_prefix: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace, or an EnvFilter spec).
    #[arg(long, env = "PLANTDB_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Write logs as JSON lines.
    #[arg(long)]
    pub log_json: bool,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "SESSION_TIMEOUT", default_value_t = 900)]
    pub session_timeout: i64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "REFRESH_TIMEOUT", default_value_t = 86400)]
    pub refresh_timeout: i64,
    /// Live sessions per user; a login beyond it ends that user's oldest session.
    #[arg(long, env = "PLANTDB_MAX_SESSIONS_PER_USER", default_value_t = 10)]
    pub max_sessions_per_user: usize,
    /// Consecutive failed logins that lock an account.
    #[arg(long, env = "PLANTDB_MAX_FAILED_ATTEMPTS", default_value_t = 3)]
    pub max_failed_attempts: u32,
    /// How long a locked account stays locked, in seconds.
    #[arg(long, env = "PLANTDB_LOCKOUT_DURATION", default_value_t = 900)]
    pub lockout_duration: i64,
    /// Switch rate limiting off. For benchmarks only, never in production.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// POST login requests per client IP per minute.
    #[arg(long, default_value_t = 20)]
    pub rate_limit_login: u32,
    /// Register requests per client IP per minute.
    #[arg(long, default_value_t = 5)]
    pub rate_limit_register: u32,
    /// GET login?username= requests per client IP per minute.
    #[arg(long, default_value_t = 120)]
    pub rate_limit_login_check: u32,
    /// Health requests per client IP per minute.
    #[arg(long, default_value_t = 120)]
    pub rate_limit_health: u32,
    /// Longest API-token lifetime a user may request, in seconds (default 30 days).
    #[arg(
        long,
        env = "PLANTDB_API_TOKEN_MAX_LIFETIME",
        default_value_t = 2_592_000
    )]
    pub api_token_max_lifetime: i64,
    /// Allowed CORS origin (repeatable). Default: any origin, like the Python server.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Minimum length of new passwords (15 recommended).
    #[arg(long, env = "PLANTDB_MIN_PASSWORD_LENGTH", default_value_t = 8)]
    pub min_password_length: usize,
    /// Argon2id memory for new hashes, in KiB.
    #[arg(long, default_value_t = 19456)]
    pub argon2_memory: u32,
    /// Argon2id iterations for new hashes.
    #[arg(long, default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Argon2id lanes for new hashes.
    #[arg(long, default_value_t = 1)]
    pub argon2_parallelism: u32,
    /// Password hashes computed at once (default: number of cores).
    #[arg(long)]
    pub hash_workers: Option<usize>,
    /// Require a valid token for GET login?username= (hides which accounts exist).
    #[arg(long)]
    pub restrict_username_check: bool,
    /// Seconds between purges of expired sessions (hidden: for tests).
    #[arg(long, default_value_t = 60, hide = true)]
    pub purge_interval: u64,
}

impl ServeArgs {
    /// Rejects settings that cannot work, with what to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("--session-timeout", self.session_timeout),
            ("--refresh-timeout", self.refresh_timeout),
            ("--lockout-duration", self.lockout_duration),
            ("--api-token-max-lifetime", self.api_token_max_lifetime),
        ];
        for (name, value) in positive {
            anyhow::ensure!(
                value > 0,
                "{name} must be a positive number of seconds (got {value})"
            );
        }
        anyhow::ensure!(
            self.purge_interval > 0,
            "--purge-interval must be at least 1 second"
        );
        anyhow::ensure!(
            self.max_sessions_per_user > 0,
            "--max-sessions-per-user must be at least 1"
        );
        anyhow::ensure!(
            self.max_failed_attempts > 0,
            "--max-failed-attempts must be at least 1"
        );
        anyhow::ensure!(
            self.min_password_length > 0,
            "--min-password-length must be at least 1"
        );
        if let Some(store) = &self.store {
            anyhow::ensure!(
                plantdb_auth_postgres::is_postgres_url(store),
                "--store must be a postgres:// or postgresql:// URL (omit it to keep users in the FSDB files)"
            );
        }
        if let Some(prefix) = &self.url_prefix {
            anyhow::ensure!(
                prefix.is_empty() || prefix.starts_with('/'),
                "--url-prefix must start with '/' (got {prefix:?})"
            );
        }
        Ok(())
    }
}

/// The default database directory for a new user.
pub fn default_db_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(dir) => dir.join("plantdb-auth").join("db"),
        None => PathBuf::from("plantdb-data"),
    }
}
