//! `plantdb-auth serve` settings: defaults, then the configuration file
//! (`config_file`), then environment variables (the Python server's
//! names), then flags. Validated once at start.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML configuration file: one key per flag (`port = 5000`). Flags
    /// and environment variables win over it. Default: the first of
    /// ~/.config/plantdb-auth/config.toml and /etc/plantdb-auth/config.toml.
    #[arg(long, env = "PLANTDB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PlantDB database root (a directory with a `romidb` marker). Created if
    /// missing or empty. Default: $XDG_DATA_HOME/plantdb-auth/db (or ~/.local/share/...).
    #[arg(long, env = "ROMI_DB", visible_alias = "db-path")]
    pub db: Option<PathBuf>,
    /// Where the signing key, the sessions and the audit log are kept
    /// (created, mode 0700; outside the database). Default:
    /// <db>/.plantdb-auth. The database's write lock stays there.
    #[arg(long, env = "PLANTDB_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where users, groups and sessions live. Absent: the FSDB files and SQLite
    /// under --db. postgres://user:password@host:port/database: PostgreSQL,
    /// shared by several instances (--db then only holds the scans).
    /// The URL holds a password: it is never printed (`--help` shows no
    /// value); `PLANTDB_STORE_FILE` may name a file holding it instead.
    #[arg(
        long,
        env = "PLANTDB_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// With --store: how long, in seconds, to wait at start for a
    /// PostgreSQL server that cannot be reached (down, still starting)
    /// before giving up with an error; 0 tries once.
    #[arg(
        long,
        env = "PLANTDB_STORE_CONNECT_WAIT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub store_connect_wait: u64,
    /// Address to listen on (the Python server uses 0.0.0.0; we default to loopback).
    #[arg(long, env = "PLANTDB_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the startup line tells which).
    #[arg(long, env = "PLANTDB_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Serve a fresh temporary database with admin/admin and guest/guest.
    #[arg(long, env = "PLANTDB_TEST_MODE")]
    pub test: bool,
    /// Behind reverse proxies: the addresses or networks (comma-separated)
    /// whose X-Forwarded-For is believed; bare `--proxy` trusts a proxy on
    /// this host (127.0.0.0/8, ::1). The client is the rightmost entry that
    /// is not a trusted proxy.
    #[arg(long, env = "PLANTDB_TRUSTED_PROXIES", num_args = 0.., value_delimiter = ',', value_name = "ADDR|NET")]
    pub proxy: Option<Vec<String>>,
    /// Forward auth (/api/v1/authz/verify): the answer to an original
    /// request that matches no PlantDB route, for a valid token: allow
    /// (200) or deny (403). Without a token it is 401 either way.
    #[arg(
        long,
        env = "PLANTDB_AUTHZ_UNMAPPED",
        default_value = "deny",
        value_name = "allow|deny"
    )]
    pub authz_unmapped: plantdb_auth_service::admin::UnmappedPolicy,
    /// Deployment prefix in front of every route, e.g. /plantdb.
    #[arg(long, env = "PLANTDB_URL_PREFIX")]
    pub url_prefix: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace, or an EnvFilter spec).
    #[arg(long, env = "PLANTDB_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Write logs as JSON lines.
    #[arg(long, env = "PLANTDB_LOG_JSON")]
    pub log_json: bool,
    /// Write an access log: one JSON line per request (time, request id,
    /// client, method, path, route, status, duration, size) appended to
    /// this file, or `-` for standard output. Off by default.
    #[arg(long, env = "PLANTDB_ACCESS_LOG", value_name = "FILE|-")]
    pub access_log: Option<PathBuf>,
    /// Size at which the audit log is rotated, in bytes (at least 16384).
    #[arg(long, env = "PLANTDB_AUDIT_MAX_BYTES", default_value_t = 10 << 20)]
    pub audit_max_bytes: u64,
    /// Rotated audit log files kept (audit.log.1 ... audit.log.N).
    #[arg(long, env = "PLANTDB_AUDIT_KEEP", default_value_t = 5)]
    pub audit_keep: usize,
    /// Refusals (failed logins, denials) of one client written to the audit
    /// log in a row; beyond, they are counted in `suppressed` lines.
    #[arg(long, env = "PLANTDB_AUDIT_REFUSAL_BURST", default_value_t = 20)]
    pub audit_refusal_burst: u32,
    /// Refusals of one client written per hour after the burst.
    #[arg(long, env = "PLANTDB_AUDIT_REFUSALS_PER_HOUR", default_value_t = 60)]
    pub audit_refusals_per_hour: u32,
    /// Refusals of all clients together written per hour (after a burst of
    /// 10 times --audit-refusal-burst).
    #[arg(
        long,
        env = "PLANTDB_AUDIT_REFUSALS_TOTAL_PER_HOUR",
        default_value_t = 720
    )]
    pub audit_refusals_total_per_hour: u32,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "SESSION_TIMEOUT", default_value_t = 900)]
    pub session_timeout: i64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "REFRESH_TIMEOUT", default_value_t = 86400)]
    pub refresh_timeout: i64,
    /// Live sessions per user; a login beyond it ends that user's oldest session.
    #[arg(long, env = "PLANTDB_MAX_SESSIONS_PER_USER", default_value_t = 10)]
    pub max_sessions_per_user: usize,
    /// Live sessions of the shared `guest` account in all (its per-user cap
    /// applies per client address); beyond it guest logins get a 429.
    #[arg(long, env = "PLANTDB_MAX_GUEST_SESSIONS", default_value_t = 10_000)]
    pub max_guest_sessions: usize,
    /// Consecutive failed logins that lock an account.
    #[arg(long, env = "PLANTDB_MAX_FAILED_ATTEMPTS", default_value_t = 3)]
    pub max_failed_attempts: u32,
    /// How long a locked account stays locked, in seconds.
    #[arg(long, env = "PLANTDB_LOCKOUT_DURATION", default_value_t = 900)]
    pub lockout_duration: i64,
    /// Switch rate limiting off. For benchmarks only, never in production.
    #[arg(long, env = "PLANTDB_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// POST login requests per client IP per minute.
    #[arg(long, env = "PLANTDB_RATE_LIMIT_LOGIN", default_value_t = 20)]
    pub rate_limit_login: u32,
    /// Register requests per client IP per minute.
    #[arg(long, env = "PLANTDB_RATE_LIMIT_REGISTER", default_value_t = 5)]
    pub rate_limit_register: u32,
    /// GET login?username= requests per client IP per minute.
    #[arg(long, env = "PLANTDB_RATE_LIMIT_LOGIN_CHECK", default_value_t = 120)]
    pub rate_limit_login_check: u32,
    /// Health requests per client IP per minute.
    #[arg(long, env = "PLANTDB_RATE_LIMIT_HEALTH", default_value_t = 120)]
    pub rate_limit_health: u32,
    /// Longest API-token lifetime a user may request, in seconds (default 30 days).
    #[arg(
        long,
        env = "PLANTDB_API_TOKEN_MAX_LIFETIME",
        default_value_t = 2_592_000
    )]
    pub api_token_max_lifetime: i64,
    /// Live API tokens one user may hold.
    #[arg(long, env = "PLANTDB_MAX_API_TOKENS", default_value_t = 50)]
    pub max_api_tokens: usize,
    /// API tokens one user may mint per 15 minutes.
    #[arg(long, env = "PLANTDB_API_TOKEN_MINTS", default_value_t = 30)]
    pub api_token_mints: u32,
    /// Password changes (and resets) per account per 15 minutes.
    #[arg(
        long,
        env = "PLANTDB_PASSWORD_CHANGES_PER_ACCOUNT",
        default_value_t = 5
    )]
    pub password_changes_per_account: u32,
    /// Password changes per client address per 15 minutes.
    #[arg(
        long,
        env = "PLANTDB_PASSWORD_CHANGES_PER_ADDRESS",
        default_value_t = 20
    )]
    pub password_changes_per_address: u32,
    /// Milliseconds between two password checks of an account under attack
    /// (one that failed --max-failed-attempts times lately, from any address).
    #[arg(long, env = "PLANTDB_LOGIN_SLOWDOWN_MS", default_value_t = 1000)]
    pub login_slowdown_ms: u64,
    /// Serve /metrics on this address (e.g. 127.0.0.1:9464) instead of the
    /// main port, to anyone who can reach it.
    #[arg(long, env = "PLANTDB_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,
    /// Serve /metrics on the main port to holders of this bearer token
    /// (also from PLANTDB_METRICS_TOKEN_FILE). Without it and without
    /// --metrics-listen, /metrics answers only local, unproxied clients.
    #[arg(long, env = "PLANTDB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Allowed CORS origin (repeatable). Default: any origin, like the Python server.
    #[arg(
        long = "cors-origin",
        env = "PLANTDB_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Minimum length of new passwords (15 recommended).
    #[arg(long, env = "PLANTDB_MIN_PASSWORD_LENGTH", default_value_t = 8)]
    pub min_password_length: usize,
    /// Argon2id memory for new hashes, in KiB.
    #[arg(long, env = "PLANTDB_ARGON2_MEMORY", default_value_t = 19456)]
    pub argon2_memory: u32,
    /// Argon2id iterations for new hashes.
    #[arg(long, env = "PLANTDB_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Argon2id lanes for new hashes.
    #[arg(long, env = "PLANTDB_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,
    /// Password hashes computed at once (default: number of cores).
    #[arg(long, env = "PLANTDB_HASH_WORKERS")]
    pub hash_workers: Option<usize>,
    /// Require a valid token for GET login?username= (hides which accounts exist).
    #[arg(long, env = "PLANTDB_RESTRICT_USERNAME_CHECK")]
    pub restrict_username_check: bool,
    /// A build of the ROMI web viewer (plant-3d-explorer, built with
    /// PUBLIC_URL=/viewer) to serve: landing page at /, scan pages at /viewer/<scan>.
    #[arg(long, env = "PLANTDB_VIEWER_DIR", value_name = "DIR")]
    pub viewer: Option<PathBuf>,
    /// With --test: start with an empty database instead of the demo scans.
    #[arg(long, env = "PLANTDB_NO_DEMO")]
    pub no_demo: bool,
    /// Data API: seconds after which listings re-read the database directory
    /// (scans added or removed by other programs appear within this delay).
    #[arg(long, env = "PLANTDB_RELIST_INTERVAL", default_value_t = 5)]
    pub relist_interval: u64,
    /// Largest JSON body of a data write (and of an upload's metadata field), in bytes.
    #[arg(long, env = "PLANTDB_MAX_JSON_BODY", default_value_t = 8 << 20)]
    pub max_json_body: u64,
    /// Largest uploaded file or scan archive, in bytes (default 8 GiB).
    #[arg(long, env = "PLANTDB_MAX_UPLOAD_SIZE", default_value_t = 8 << 30)]
    pub max_upload_size: u64,
    /// Largest total uncompressed size of an uploaded archive, in bytes
    /// (default: 4 times --max-upload-size).
    #[arg(long, env = "PLANTDB_MAX_ARCHIVE_EXPANDED_SIZE")]
    pub max_archive_expanded_size: Option<u64>,
    /// Seconds an upload may send nothing before it is abandoned (408).
    #[arg(long, env = "PLANTDB_UPLOAD_STALL_TIMEOUT", default_value_t = 60)]
    pub upload_stall_timeout: u64,
    /// Seconds a client may take to send a request's line and headers
    /// (counted from the connection's opening, or from its first byte on a
    /// kept-alive connection); slower ones are disconnected.
    #[arg(long, env = "PLANTDB_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request, or for
    /// the client to read a response, before it is closed.
    #[arg(long, env = "PLANTDB_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Slowest accepted request body, in bytes per second, averaged over the
    /// time the server waits for it after --body-timeout (408 below it).
    #[arg(long, env = "PLANTDB_BODY_MIN_RATE", default_value_t = 1024)]
    pub body_min_rate: u64,
    /// Seconds a request body may take before --body-min-rate applies.
    #[arg(long, env = "PLANTDB_BODY_TIMEOUT", default_value_t = 20)]
    pub body_timeout: u64,
    /// Connections served at once; beyond it, a new connection replaces the
    /// longest-waiting one that has no request in progress, or waits.
    #[arg(long, env = "PLANTDB_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds between purges of expired sessions (hidden: for tests).
    #[arg(long, default_value_t = 60, hide = true)]
    pub purge_interval: u64,
}

impl ServeArgs {
    /// Reads the secrets that may come from `*_FILE` variables.
    pub fn resolve_secrets(&mut self) -> anyhow::Result<()> {
        if self.store.is_none() {
            self.store = crate::secrets::from_env(crate::secrets::STORE)?;
        }
        if self.metrics_token.is_none() {
            self.metrics_token = crate::secrets::from_env("PLANTDB_METRICS_TOKEN")?;
        }
        if let Some(token) = &self.metrics_token {
            anyhow::ensure!(
                token.len() >= 16,
                "--metrics-token (PLANTDB_METRICS_TOKEN) must be at least 16 characters: generate one, e.g. `openssl rand -hex 32`"
            );
        }
        Ok(())
    }

    /// Rejects settings that cannot work, with what to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.audit_config()?;
        for origin in self.cors_origins.iter().filter(|o| !o.is_empty()) {
            anyhow::ensure!(
                axum::http::HeaderValue::from_str(origin).is_ok()
                    && !origin.contains(','),
                "--cors-origin {origin:?} is not an origin: give one like https://viewer.example.org (repeat the flag for several)"
            );
        }
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
        let connection = [
            ("--header-timeout", self.header_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--body-timeout", self.body_timeout),
            ("--body-min-rate", self.body_min_rate),
        ];
        for (name, value) in connection {
            anyhow::ensure!(value > 0, "{name} must be at least 1 (got 0)");
        }
        for (name, value) in &connection[..3] {
            anyhow::ensure!(
                *value <= 604_800,
                "{name} must be at most 604800 seconds, a week (got {value})"
            );
        }
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.max_connections),
            "--max-connections must be between 1 and 1000000 (got {})",
            self.max_connections
        );
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
            // TLS parameters and CA files, before anything starts.
            plantdb_auth_postgres::check_url(store)
                .map_err(|e| anyhow::anyhow!("--store (PLANTDB_STORE): {e}"))?;
        }
        anyhow::ensure!(
            self.store_connect_wait <= 3600,
            "--store-connect-wait must be at most 3600 seconds (got {})",
            self.store_connect_wait
        );
        if let Some(dir) = &self.viewer {
            anyhow::ensure!(
                dir.join("index.html").is_file(),
                "--viewer {} holds no index.html: point it at a build of plant-3d-explorer (the directory with index.html and static/)",
                dir.display()
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

    /// The audit log's rotation and refusal limits.
    pub fn audit_config(&self) -> anyhow::Result<crate::audit::AuditConfig> {
        anyhow::ensure!(
            self.audit_max_bytes >= 16 * 1024,
            "--audit-max-bytes must be at least 16384 (got {})",
            self.audit_max_bytes
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.audit_keep),
            "--audit-keep must be between 1 and 1000 (got {})",
            self.audit_keep
        );
        let limits = [
            ("--audit-refusal-burst", self.audit_refusal_burst),
            ("--audit-refusals-per-hour", self.audit_refusals_per_hour),
            (
                "--audit-refusals-total-per-hour",
                self.audit_refusals_total_per_hour,
            ),
        ];
        for (name, value) in limits {
            anyhow::ensure!(value > 0, "{name} must be at least 1 (got 0)");
        }
        Ok(crate::audit::AuditConfig {
            rotation: crate::audit::Rotation {
                max_bytes: self.audit_max_bytes,
                keep: self.audit_keep,
            },
            limits: crate::audit::RefusalLimits {
                burst: self.audit_refusal_burst,
                per_hour: self.audit_refusals_per_hour,
                total_per_hour: self.audit_refusals_total_per_hour,
            },
        })
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
