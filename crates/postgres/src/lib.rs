//! plantdb-auth-postgres: the user, group and session stores in
//! PostgreSQL, so several plantdb-auth instances can share one state.
//!
//! Client: tokio-postgres with a deadpool-postgres pool, on a small runtime
//! owned by [`PgStores`] (see `bridge`). The synchronous `postgres` crate
//! would be simpler, but it calls `block_on` internally and so panics when
//! a store is used on an async worker, which the service does (token
//! validation reads the user inline); and `LISTEN/NOTIFY`, which keeps the
//! instances' in-memory state in step, needs a connection driven in the
//! background, which tokio-postgres does natively.
//!
//! What stays in memory, and how it follows other instances:
//! - users and groups: a full cache, refreshed by versioned notifications
//!   (`table`);
//! - sessions: the core `SessionManager`'s index, fed the batches other
//!   instances commit (`sessions`, `listener`).
//!
//! Changes reach every instance in milliseconds; a lost listener connection
//! is noticed within a second and the instance refuses tokens (and answers
//! 503 on `/health/ready`) until it has reconnected, with backoff, and
//! reloaded.
//!
//! Connections use TLS as the URL's libpq parameters say (`tls`); opening
//! waits a while for a server that is not up yet (`connect`).

mod audit;
mod bridge;
mod connect;
mod keys;
mod listener;
mod notify;
mod records;
mod schema;
mod sessions;
mod table;
pub mod testing;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use plantdb_auth_core::model::{Group, GroupName, User, Username};
use plantdb_auth_core::store::{
    last_admin_refusal, GroupEdit, GroupStore, StoreError, UserEdit, UserRead, UserStore,
};

use crate::bridge::Bridge;
use crate::connect::Target;
use crate::table::{Guard, Table};

pub use crate::audit::PgAuditLog;
pub use crate::connect::DEFAULT_CONNECT_WAIT;
pub use crate::listener::CONNECTED_GAUGE;
pub use crate::schema::SCHEMA_VERSION;
pub use crate::sessions::PgSessionStore;

/// Connections per instance; session writes are serialized per instance,
/// so a few suffice.
pub const DEFAULT_POOL_SIZE: usize = 8;
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// What every store of one database shares.
pub(crate) struct Shared {
    pub(crate) bridge: Bridge,
    pub(crate) pool: Pool,
    /// The `NOTIFY` channel of this schema.
    pub(crate) channel: String,
    /// Called when another instance (or the CLI) rotated the signing key.
    pub(crate) key_hook: Arc<KeyHook>,
}

/// What to run when the stored signing key changed.
pub(crate) type KeyHook = parking_lot::Mutex<Option<Box<dyn Fn() + Send + Sync>>>;

/// With its causes: "error connecting to server: Connection refused".
pub(crate) fn db_error<E: std::error::Error>(e: E) -> StoreError {
    StoreError::Backend(format!("PostgreSQL: {}", describe(&e)))
}

/// `e` and its causes, each once.
pub(crate) fn describe<E: std::error::Error + ?Sized>(e: &E) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Whether `--store` names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks a URL without connecting: its syntax, its TLS parameters and
/// the CA certificates they name (read now). Errors never hold the password.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    Target::from_url(url).map(|_| ())
}

/// An open PostgreSQL database: the three stores, listening for changes
/// made by other instances.
pub struct PgStores {
    pub users: Arc<PgUserStore>,
    pub groups: Arc<PgGroupStore>,
    pub sessions: Arc<PgSessionStore>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PgStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStores")
            .field("channel", &self.shared.channel)
            .finish_non_exhaustive()
    }
}

fn pool(target: &Target, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        target.config.clone(),
        target.tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(connect::CONNECT_TIMEOUT))
        .build()
        .map_err(db_error)
}

impl PgStores {
    /// The audit trail in `auth_audit`.
    pub fn audit_log(&self) -> PgAuditLog {
        PgAuditLog::new(self.shared.clone())
    }

    /// Connects, applies pending schema migrations, starts listening, then
    /// loads users and groups. Call from any thread. Waits up to
    /// [`DEFAULT_CONNECT_WAIT`] for a server that cannot be reached.
    pub fn open(url: &str, pool_size: usize) -> Result<PgStores, StoreError> {
        PgStores::open_waiting(url, pool_size, DEFAULT_CONNECT_WAIT)
    }

    /// [`PgStores::open`], waiting up to `wait` for the server.
    pub fn open_waiting(
        url: &str,
        pool_size: usize,
        wait: Duration,
    ) -> Result<PgStores, StoreError> {
        let target = Target::from_url(url)?;
        let bridge = Bridge::new(2)?;
        bridge.run(connect::wait_for_server(target.clone(), wait))?;
        let pool = pool(&target, pool_size)?;
        let schema = bridge.run(schema::migrate(pool.clone()))?;
        let shared = Arc::new(Shared {
            bridge,
            pool,
            channel: notify::channel_for(&schema),
            key_hook: Arc::new(parking_lot::Mutex::new(None)),
        });
        let users = Arc::new(Table::<User>::new(shared.clone()));
        let groups = Arc::new(Table::<Group>::new(shared.clone()));
        let sessions = Arc::new(PgSessionStore::new(shared.clone()));
        start_listener(&shared, target, &users, &groups, &sessions)?;
        // After LISTEN: nothing committed from here on can be missed.
        users.reload(false)?;
        groups.reload(false)?;
        Ok(PgStores {
            users: Arc::new(PgUserStore(users)),
            groups: Arc::new(PgGroupStore(groups)),
            sessions,
            shared,
        })
    }
}

fn start_listener(
    shared: &Arc<Shared>,
    target: Target,
    users: &Arc<Table<User>>,
    groups: &Arc<Table<Group>>,
    sessions: &Arc<PgSessionStore>,
) -> Result<(), StoreError> {
    let (events_tx, events_rx) = std::sync::mpsc::channel();
    let targets = listener::Targets {
        users: Arc::downgrade(users),
        groups: Arc::downgrade(groups),
        sessions: Arc::downgrade(sessions),
        key_hook: shared.key_hook.clone(),
    };
    std::thread::Builder::new()
        .name("plantdb-auth-pg-dispatch".into())
        .spawn(move || listener::dispatch(events_rx, targets))
        .map_err(|e| StoreError::Backend(format!("cannot start the listener thread: {e}")))?;
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    shared.bridge.handle().spawn(listener::run(
        target,
        shared.channel.clone(),
        events_tx,
        ready_tx,
    ));
    ready_rx
        .recv_timeout(READY_TIMEOUT)
        .map_err(|_| StoreError::Backend("PostgreSQL listener did not start in time".into()))?
}

/// Users in PostgreSQL, served from a cache that follows other instances.
pub struct PgUserStore(Arc<Table<User>>);

/// Groups in PostgreSQL, like [`PgUserStore`].
pub struct PgGroupStore(Arc<Table<Group>>);

impl UserStore for PgUserStore {
    fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.0.get(username)
    }

    fn with_user(&self, username: &Username, read: UserRead<'_>) -> Result<bool, StoreError> {
        Ok(self.0.with(username, |user| read(user))?.is_some())
    }

    fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.0.list())
    }

    fn create(&self, user: User) -> Result<(), StoreError> {
        self.0.create(user)
    }

    fn update(&self, username: &Username, edit: UserEdit<'_>) -> Result<User, StoreError> {
        self.0.update(username, edit)
    }

    fn delete(&self, username: &Username) -> Result<(), StoreError> {
        self.0.delete(username)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.0.ping()
    }

    fn update_keeping_an_admin(
        &self,
        username: &Username,
        edit: UserEdit<'_>,
    ) -> Result<User, StoreError> {
        self.0.update_guarded(username, edit, &KEEPS_AN_ADMIN, &|| {
            last_admin_refusal(username)
        })
    }

    fn delete_keeping_an_admin(&self, username: &Username) -> Result<(), StoreError> {
        self.0
            .delete_guarded(username, &KEEPS_AN_ADMIN, &|| last_admin_refusal(username))
    }
}

/// No change leaves the store without an active admin: the row was not an
/// active admin, or stays one ($8 is_active, $4 roles: `User`'s columns),
/// or another active admin exists. (A store with no admin at all is not
/// held to it.)
const KEEPS_AN_ADMIN: Guard = Guard {
    update: "NOT (is_active AND 'admin' = ANY(roles)) OR ($8 AND 'admin' = ANY($4)) \
             OR EXISTS (SELECT 1 FROM auth_users o WHERE o.username <> $1 AND o.is_active AND 'admin' = ANY(o.roles))",
    delete: "NOT (is_active AND 'admin' = ANY(roles)) \
             OR EXISTS (SELECT 1 FROM auth_users o WHERE o.username <> $1 AND o.is_active AND 'admin' = ANY(o.roles))",
};

impl GroupStore for PgGroupStore {
    fn get(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        self.0.get(name)
    }

    fn list(&self) -> Result<Vec<Group>, StoreError> {
        Ok(self.0.list())
    }

    fn create(&self, group: Group) -> Result<(), StoreError> {
        self.0.create(group)
    }

    fn update(&self, name: &GroupName, edit: GroupEdit<'_>) -> Result<Group, StoreError> {
        self.0.update(name, edit)
    }

    fn delete(&self, name: &GroupName) -> Result<(), StoreError> {
        self.0.delete(name)
    }
}
