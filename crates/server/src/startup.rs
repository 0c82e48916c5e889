//! Building and running the server; the tests start it the same way.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use plantdb_auth_core::clock::{Clock, SystemClock};
use plantdb_auth_http::metrics::MetricsAccess;
use plantdb_auth_http::proxy::TrustedProxies;
use plantdb_auth_http::{router, AppState, HttpConfig, RateLimits};
use plantdb_auth_service::data::{DataService, DataSettings};
use plantdb_auth_service::{ensure_default_accounts, AdminPassword};
use plantdb_data::fsdb::IndexSettings;
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::admin_socket::{AdminContext, AdminSocket};
use crate::database::{self, Database};
use crate::serve::{BodyRate, ConnectionLimits, Timeouts};
use crate::settings::{default_db_dir, ServeArgs};

pub struct App {
    listener: TcpListener,
    /// `--metrics-listen`: `/metrics` on its own address.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    /// How often expired sessions are purged from the store.
    purge_every: Duration,
    limits: ConnectionLimits,
    pub url: String,
    pub root: std::path::PathBuf,
    /// Key, sessions and audit log (`--state-dir`).
    pub state_dir: std::path::PathBuf,
    /// `<state-dir>/admin.sock`: the admin CLI on the running server.
    admin_socket: Option<AdminSocket>,
    /// Installed before the startup line is printed, so that a signal
    /// arriving right after it still shuts down cleanly.
    shutdown: ShutdownSignal,
    _database: Database,
    _tempdir: Option<tempfile::TempDir>,
}

fn http_config(args: &ServeArgs) -> anyhow::Result<HttpConfig> {
    let rate_limits = (!args.no_rate_limits).then_some(RateLimits {
        register: args.rate_limit_register,
        login: args.rate_limit_login,
        login_check: args.rate_limit_login_check,
        health: args.rate_limit_health,
        ..RateLimits::default()
    });
    let trusted_proxies = match &args.proxy {
        None => TrustedProxies::default(),
        Some(values) => TrustedProxies::parse(values).map_err(anyhow::Error::msg)?,
    };
    Ok(HttpConfig {
        url_prefix: args.url_prefix.clone(),
        trusted_proxies,
        authz_unmapped: args.authz_unmapped,
        rate_limits,
        cors_origins: args.cors_origins.clone(),
        hash_workers: args.hash_workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }),
        restrict_username_check: args.restrict_username_check,
        viewer_dir: args.viewer.clone(),
        max_json_body: args.max_json_body,
        max_upload_size: args.max_upload_size,
        max_archive_expanded_size: args
            .max_archive_expanded_size
            .unwrap_or(args.max_upload_size.saturating_mul(4)),
        upload_stall_timeout: Duration::from_secs(args.upload_stall_timeout.max(1)),
        access_log: match &args.access_log {
            Some(target) => Some(
                plantdb_auth_http::access_log::AccessLog::open(target).with_context(|| {
                    format!(
                        "cannot open the access log {} (--access-log): check the path and its permissions",
                        target.display()
                    )
                })?,
            ),
            None => None,
        },
        metrics_access: if args.metrics_listen.is_some() {
            MetricsAccess::Elsewhere
        } else {
            match &args.metrics_token {
                Some(token) => MetricsAccess::Token(token.clone()),
                None => MetricsAccess::Loopback,
            }
        },
    })
}

fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    ConnectionLimits {
        timeouts: Timeouts {
            header: Duration::from_secs(args.header_timeout),
            idle: Duration::from_secs(args.idle_timeout),
        },
        body: BodyRate {
            grace: Duration::from_secs(args.body_timeout),
            min_rate: args.body_min_rate,
        },
        max_connections: args.max_connections,
    }
}

fn data_settings(args: &ServeArgs) -> DataSettings {
    DataSettings {
        url_prefix: args
            .url_prefix
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string(),
        index: IndexSettings {
            relist_interval: Duration::from_secs(args.relist_interval),
            ..IndexSettings::default()
        },
        ..DataSettings::default()
    }
}

/// Opens (or creates) the database, ensures the default accounts and binds.
pub async fn build(args: ServeArgs) -> anyhow::Result<App> {
    build_with_clock(args, Arc::new(SystemClock)).await
}

/// [`build`] with the service's clock given: the tests' in-process server
/// is built by this same function, with a clock they move forward.
pub async fn build_with_clock(mut args: ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    args.resolve_secrets()?;
    args.validate()?;
    let (root, tempdir) = if args.test {
        let dir = tempfile::Builder::new()
            .prefix("plantdb-auth-test-")
            .tempdir()?;
        (dir.path().join("db"), Some(dir))
    } else {
        (args.db.clone().unwrap_or_else(default_db_dir), None)
    };
    database::prepare_root(&root)?;
    if args.test && !args.no_demo {
        let created = plantdb_data::demo::write_demo_database(&root)
            .context("cannot write the demo scans into the test database")?;
        tracing::info!(scans = created.len(), "demo scans written");
    }
    let database = database::open_with_clock(&root, &args, clock)?;
    let admin = match (
        args.test,
        crate::secrets::from_env(crate::secrets::ADMIN_PASSWORD)?,
    ) {
        (true, _) => AdminPassword::TestMode,
        (false, Some(p)) => AdminPassword::Given(p),
        (false, None) => AdminPassword::Generate,
    };
    let outcome = ensure_default_accounts(&database.db, admin)?;
    if let Some(password) = outcome.generated_admin_password {
        println!("Created the 'admin' account with the password: {password}");
        println!(
            "(shown once: store it now, or set PLANTDB_ADMIN_PASSWORD before the first start)"
        );
    }
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).await.with_context(|| {
        format!("cannot listen on {addr}: is another server using this port? Try --port")
    })?;
    let local = listener.local_addr()?;
    let prefix = args.url_prefix.clone().unwrap_or_default();
    let data = DataService::open(&root, data_settings(&args))
        .map_err(|e| anyhow::anyhow!("cannot open the database's data: {e}"))?;
    let state = AppState::new(database.db.clone(), http_config(&args)?).with_data(Arc::new(data));
    let metrics_listener = match &args.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for metrics (--metrics-listen): is the port in use?")
        })?),
        None => None,
    };
    plantdb_auth_http::process_metrics::mark_start();
    let admin_socket = AdminSocket::bind(&database.state_dir);
    Ok(App {
        admin_socket,
        listener,
        metrics_listener,
        state,
        shutdown: ShutdownSignal::install(),
        purge_every: Duration::from_secs(args.purge_interval),
        limits: connection_limits(&args),
        url: format!("http://{local}{}", prefix.trim_end_matches('/')),
        root: database.root.clone(),
        state_dir: database.state_dir.clone(),
        _database: database,
        _tempdir: tempdir,
    })
}

impl App {
    /// The shared audit trail when the store is PostgreSQL.
    pub fn shared_audit_log(&self) -> Option<plantdb_auth_postgres::PgAuditLog> {
        self._database.audit.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let purge_state = self.state.clone();
        let purge_every = self.purge_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(purge_every);
            loop {
                tick.tick().await;
                let _ = purge_state
                    .blocking(|db| {
                        if let Err(e) = db.sessions().purge_expired() {
                            tracing::error!(error = %e, "purging expired sessions failed");
                        }
                    })
                    .await;
            }
        });
        // Off the startup path: timing an old Python hash takes ~100 ms.
        let calibrate_state = self.state.clone();
        tokio::spawn(
            async move { plantdb_auth_http::hash_pool::calibrate(&calibrate_state).await },
        );
        if let Some(listener) = self.metrics_listener {
            let metrics = plantdb_auth_http::metrics_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        if let Some(socket) = self.admin_socket {
            let context = AdminContext {
                db: self._database.db.clone(),
                state_dir: self.state_dir.clone(),
                pg: self._database.pg.clone(),
            };
            tracing::info!(socket = %socket.path().display(), "admin socket ready");
            tokio::spawn(socket.serve(context));
        }
        let app = router(self.state.clone());
        crate::serve::serve(self.listener, app, self.limits, self.shutdown.received()).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// SIGINT and SIGTERM handlers, registered when created.
struct ShutdownSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignal {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .map_err(|e| tracing::warn!(error = %e, "cannot install signal handlers"))
                .ok();
            ShutdownSignal { signals }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    async fn received(self) {
        #[cfg(unix)]
        match self.signals {
            Some((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested: finishing in-flight requests");
        crate::systemd::notify("STOPPING=1");
    }
}
