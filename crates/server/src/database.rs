//! Opening a PlantDB database: the FSDB files, the signing key, the
//! durable session store (or all of it in PostgreSQL with `--store`).
//! Shared by the server and the admin CLI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use plantdb_auth_core::clock::{Clock, SystemClock};
use plantdb_auth_core::password::{HashParams, PasswordPolicy};
use plantdb_auth_core::session::{
    load_retired, RetiredKey, SessionConfig, SessionStore, SigningKey, SqliteSessionStore,
};
use plantdb_auth_core::store::fsdb::{self, Fsdb};
use plantdb_auth_core::store::{GroupStore, LockoutPolicy, UserStore};
use plantdb_auth_postgres::{PgAuditLog, PgStores, DEFAULT_POOL_SIZE};
use plantdb_auth_service::{ApiTokenPolicy, AuthDb, Backend, Settings, ThrottlePolicy};

use crate::settings::ServeArgs;

pub const KEY_FILE: &str = "jwt.key";
pub const SESSIONS_FILE: &str = "sessions.sqlite3";
/// The key a `key rotate` retired, with the time it stops verifying.
pub const RETIRED_KEY_FILE: &str = "jwt.key.retired";

/// An open database; the FSDB handle (absent with PostgreSQL, where
/// several instances share the database) holds the write lock while alive.
pub struct Database {
    pub db: Arc<AuthDb>,
    pub root: PathBuf,
    /// Where the signing key, the sessions and the audit log live
    /// (`--state-dir`, default `<root>/.plantdb-auth`).
    pub state_dir: PathBuf,
    /// The shared audit trail with `--store postgres://...`; `None`: the
    /// audit log file in the database directory.
    pub audit: Option<PgAuditLog>,
    /// The PostgreSQL stores (`--store`), for what is not a user, group or
    /// session: the shared signing key.
    pub pg: Option<Arc<PgStores>>,
    _fsdb: Option<Fsdb>,
}

/// Where users, groups, sessions and the signing key come from.
struct Stores {
    users: Arc<dyn UserStore>,
    groups: Arc<dyn GroupStore>,
    sessions: Arc<dyn SessionStore>,
    key: SigningKey,
    /// A key `key rotate` retired that still verifies (FSDB, key file only).
    retired: Option<RetiredKey>,
    fsdb: Option<Fsdb>,
    audit: Option<PgAuditLog>,
    pg: Option<Arc<PgStores>>,
}

/// Makes `root` a database if it does not exist or is an empty directory;
/// refuses a non-empty directory without the `romidb` marker.
pub fn prepare_root(root: &Path) -> anyhow::Result<()> {
    let empty_dir = root.is_dir()
        && std::fs::read_dir(root)
            .with_context(|| format!("cannot read {}", root.display()))?
            .next()
            .is_none();
    if !root.exists() || empty_dir {
        fsdb::create_root(root)?;
        return Ok(());
    }
    anyhow::ensure!(
        fsdb::is_fsdb_root(root),
        "{} is not a PlantDB database (no 'romidb' marker file). Point --db at a PlantDB database, or at a new or empty directory",
        root.display()
    );
    Ok(())
}

fn secret_from_env() -> anyhow::Result<Option<String>> {
    crate::secrets::from_env(crate::secrets::JWT_SECRET_KEY)
}

fn signing_key(state_dir: &Path) -> anyhow::Result<SigningKey> {
    match secret_from_env()? {
        Some(secret) => Ok(SigningKey::from_secret(&secret)?),
        None => Ok(SigningKey::load_or_create(&state_dir.join(KEY_FILE))?),
    }
}

/// The key `key rotate` retired, while it still verifies; none when the
/// key comes from `JWT_SECRET_KEY`.
fn retired_key(state_dir: &Path) -> anyhow::Result<Option<RetiredKey>> {
    if secret_from_env()?.is_some() {
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp();
    Ok(load_retired(&state_dir.join(RETIRED_KEY_FILE))?.filter(|r| r.retire_at > now))
}

fn fsdb_stores(root: &Path, state_dir: &Path) -> anyhow::Result<Stores> {
    let fsdb = Fsdb::open(root)?;
    Ok(Stores {
        users: fsdb.users.clone(),
        groups: fsdb.groups.clone(),
        sessions: Arc::new(SqliteSessionStore::open(&state_dir.join(SESSIONS_FILE))?),
        key: signing_key(state_dir)?,
        retired: retired_key(state_dir)?,
        fsdb: Some(fsdb),
        audit: None,
        pg: None,
    })
}

/// PostgreSQL: the key is JWT_SECRET_KEY, else one kept in the database so
/// that every instance signs with it. An unreachable server is waited for
/// (`--store-connect-wait`); the errors never hold the URL's password.
fn postgres_stores(url: &str, args: &ServeArgs) -> anyhow::Result<Stores> {
    let wait = std::time::Duration::from_secs(args.store_connect_wait);
    let pg = PgStores::open_waiting(url, DEFAULT_POOL_SIZE, wait)
        .context("cannot open the PostgreSQL store (--store / PLANTDB_STORE)")?;
    let (key, retired) = match secret_from_env()? {
        Some(secret) => (SigningKey::from_secret(&secret)?, None),
        None => (pg.signing_key()?, live_retired_key(&pg)?),
    };
    Ok(Stores {
        users: pg.users.clone(),
        groups: pg.groups.clone(),
        sessions: pg.sessions.clone(),
        key,
        retired,
        fsdb: None,
        audit: Some(pg.audit_log()),
        pg: Some(Arc::new(pg)),
    })
}

/// The key a `key rotate` retired in PostgreSQL, while it still verifies.
fn live_retired_key(pg: &PgStores) -> anyhow::Result<Option<RetiredKey>> {
    let now = chrono::Utc::now().timestamp();
    Ok(pg.retired_signing_key()?.filter(|r| r.retire_at > now))
}

/// Every instance follows a `key rotate` on the shared store at once: the
/// listener reads the keys again and hands them to the session manager.
fn follow_key_rotations(pg: &Arc<PgStores>, db: &Arc<AuthDb>) {
    let store = Arc::downgrade(pg);
    let service = Arc::downgrade(db);
    pg.on_key_change(move || {
        let (Some(pg), Some(db)) = (store.upgrade(), service.upgrade()) else {
            return;
        };
        match pg
            .signing_key()
            .map_err(anyhow::Error::from)
            .and_then(|key| Ok((key, live_retired_key(&pg)?)))
        {
            Ok((key, retired)) => {
                db.sessions().replace_keys(&key, retired.as_ref());
                tracing::info!("the signing key was rotated: signing with the new key");
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot read the rotated signing key")
            }
        }
    });
}

pub fn hash_params(args: &ServeArgs) -> HashParams {
    HashParams {
        m_cost: args.argon2_memory,
        t_cost: args.argon2_iterations,
        p_cost: args.argon2_parallelism,
    }
}

/// `--state-dir`, created private (0700) if missing; default
/// `<root>/.plantdb-auth`. Another directory may not lie inside the
/// database, where the data routes' directory walks would meet it.
pub fn state_dir(root: &Path, args: &ServeArgs) -> anyhow::Result<PathBuf> {
    let default = root.join(fsdb::STATE_DIR);
    let Some(dir) = &args.state_dir else {
        return Ok(default);
    };
    let dir = if dir.is_absolute() {
        dir.clone()
    } else {
        std::env::current_dir()?.join(dir)
    };
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot create the state directory {} (--state-dir): check its parent's permissions",
            dir.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let canonical = dir.canonicalize()?;
    let root_canonical = root.canonicalize()?;
    anyhow::ensure!(
        canonical == root_canonical.join(fsdb::STATE_DIR) || !canonical.starts_with(&root_canonical),
        "--state-dir {} lies inside the database {}: choose a directory outside it (e.g. /var/lib/plantdb-auth)",
        canonical.display(),
        root_canonical.display()
    );
    Ok(canonical)
}

/// Opens the database at `root` with the given settings.
pub fn open(root: &Path, args: &ServeArgs) -> anyhow::Result<Database> {
    open_with_clock(root, args, Arc::new(SystemClock))
}

/// [`open`] with the service's clock given (the in-process test server
/// moves it forward instead of sleeping).
pub fn open_with_clock(
    root: &Path,
    args: &ServeArgs,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Database> {
    let state_dir = state_dir(root, args)?;
    let stores = match &args.store {
        Some(url) => postgres_stores(url, args)?,
        None => fsdb_stores(root, &state_dir)?,
    };
    let backend = Backend {
        users: stores.users,
        groups: stores.groups,
        sessions: stores.sessions,
        key: stores.key,
        retired_key: stores.retired,
        root: Some(root.to_path_buf()),
    };
    let db = AuthDb::open(backend, settings(args), clock)
        .context("cannot open the service (check --argon2-* and the session store)")?;
    let db = Arc::new(db);
    if let (Some(pg), None) = (&stores.pg, secret_from_env()?) {
        follow_key_rotations(pg, &db);
    }
    Ok(Database {
        db,
        root: root.to_path_buf(),
        state_dir,
        audit: stores.audit,
        pg: stores.pg,
        _fsdb: stores.fsdb,
    })
}

/// The service's policies from `serve`'s flags.
pub fn settings(args: &ServeArgs) -> Settings {
    Settings {
        hash: hash_params(args),
        password_policy: PasswordPolicy {
            min_length: args.min_password_length,
        },
        lockout: LockoutPolicy {
            max_failed_attempts: args.max_failed_attempts,
            lockout_duration: chrono::Duration::seconds(args.lockout_duration),
        },
        api_tokens: ApiTokenPolicy {
            max_lifetime: args.api_token_max_lifetime,
            max_per_user: args.max_api_tokens,
        },
        throttle: throttle_policy(args),
        sessions: SessionConfig {
            access_ttl: args.session_timeout,
            refresh_ttl: args.refresh_timeout,
            max_sessions_per_user: args.max_sessions_per_user,
            leeway: 2,
            max_shared_sessions: args.max_guest_sessions,
        },
    }
}

/// The service's throttles; the per-account and per-address budgets are
/// rate limits, off with `--no-rate-limits` (benchmarks) like the others.
fn throttle_policy(args: &ServeArgs) -> ThrottlePolicy {
    let budget = |n: u32| if args.no_rate_limits { u32::MAX } else { n };
    ThrottlePolicy {
        slowdown: std::time::Duration::from_millis(args.login_slowdown_ms),
        password_changes_per_account: budget(args.password_changes_per_account),
        password_changes_per_address: budget(args.password_changes_per_address),
        api_token_mints: budget(args.api_token_mints),
        ..ThrottlePolicy::default()
    }
}
