//! `plantdb-auth migrate --from <db dir | postgres://...> --to <...>`:
//! copies users, groups, live API tokens and the signing key (without it
//! the copied API tokens would not verify) between an FSDB directory and
//! PostgreSQL, either way. Login sessions are not copied: users log in
//! again. Run it with the servers stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use plantdb_auth_core::model::{Group, User};
use plantdb_auth_core::session::{
    SessionChange, SessionStore, SigningKey, SqliteSessionStore, TokenKind,
};
use plantdb_auth_core::store::fsdb::Fsdb;
use plantdb_auth_core::store::{GroupStore, StoreError, UserStore};
use plantdb_auth_postgres::{is_postgres_url, PgStores};

use crate::database::{prepare_root, KEY_FILE, SESSIONS_FILE};

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Copy from: a PlantDB database directory or a postgres:// URL.
    #[arg(long, value_name = "DB_DIR|URL")]
    pub from: String,
    /// Copy to: a PlantDB database directory (created if new or empty) or a
    /// postgres:// URL. Users and groups already there with the same name
    /// are replaced; others are kept.
    #[arg(long, value_name = "DB_DIR|URL")]
    pub to: String,
}

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    pub users: usize,
    pub groups: usize,
    pub api_tokens: usize,
    pub signing_key: bool,
}

/// One side of the copy.
struct Side {
    users: Arc<dyn UserStore>,
    groups: Arc<dyn GroupStore>,
    sessions: Arc<dyn SessionStore>,
    key: KeyPlace,
    /// Holds the FSDB write lock while copying.
    _fsdb: Option<Fsdb>,
}

enum KeyPlace {
    File(PathBuf),
    Postgres(PgStores),
}

fn open_side(spec: &str, create: bool) -> anyhow::Result<Side> {
    if is_postgres_url(spec) {
        let pg = PgStores::open(spec, 2).context("cannot open the PostgreSQL database")?;
        return Ok(Side {
            users: pg.users.clone(),
            groups: pg.groups.clone(),
            sessions: pg.sessions.clone(),
            key: KeyPlace::Postgres(pg),
            _fsdb: None,
        });
    }
    let root = Path::new(spec);
    if create {
        prepare_root(root)?;
    }
    let fsdb = Fsdb::open(root).with_context(|| format!("cannot open {}", root.display()))?;
    let state = fsdb.state_dir();
    Ok(Side {
        users: fsdb.users.clone(),
        groups: fsdb.groups.clone(),
        sessions: Arc::new(SqliteSessionStore::open(&state.join(SESSIONS_FILE))?),
        key: KeyPlace::File(state.join(KEY_FILE)),
        _fsdb: Some(fsdb),
    })
}

impl KeyPlace {
    fn read(&self) -> anyhow::Result<Option<SigningKey>> {
        match self {
            KeyPlace::Postgres(pg) => Ok(pg.stored_signing_key()?),
            KeyPlace::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => Ok(Some(SigningKey::from_secret(text.trim())?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
            },
        }
    }

    fn write(&self, key: &SigningKey) -> anyhow::Result<()> {
        match self {
            KeyPlace::Postgres(pg) => Ok(pg.set_signing_key(key)?),
            KeyPlace::File(path) => write_key_file(path, key)
                .with_context(|| format!("cannot write the signing key to {}", path.display())),
        }
    }
}

/// Replaces the key file atomically, readable by the owner only.
fn write_key_file(path: &Path, key: &SigningKey) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    tmp.write_all(hex.as_bytes())?;
    tmp.as_file().sync_all()?;
    // NamedTempFile is created with mode 0600 on Unix.
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn copy_user(to: &dyn UserStore, user: &User) -> Result<(), StoreError> {
    match to.create(user.clone()) {
        Err(StoreError::UserExists(_)) => to
            .update(&user.username, &mut |u| {
                *u = user.clone();
                Ok(())
            })
            .map(drop),
        other => other,
    }
}

fn copy_group(to: &dyn GroupStore, group: &Group) -> Result<(), StoreError> {
    match to.create(group.clone()) {
        Err(StoreError::GroupExists(_)) => to
            .update(&group.name, &mut |g| {
                *g = group.clone();
                Ok(())
            })
            .map(drop),
        other => other,
    }
}

/// Copies everything from `from` to `to`.
fn copy(from: &Side, to: &Side) -> anyhow::Result<Migrated> {
    let mut done = Migrated::default();
    for user in from.users.list()? {
        copy_user(to.users.as_ref(), &user)
            .with_context(|| format!("copying user {}", user.username))?;
        done.users += 1;
    }
    for group in from.groups.list()? {
        copy_group(to.groups.as_ref(), &group)
            .with_context(|| format!("copying group {}", group.name))?;
        done.groups += 1;
    }
    let now = chrono::Utc::now().timestamp();
    let tokens: Vec<SessionChange> = from
        .sessions
        .load_all()?
        .into_iter()
        .filter(|r| r.kind == TokenKind::Api && r.expires_at >= now)
        .map(SessionChange::Insert)
        .collect();
    to.sessions.apply(&tokens).context("copying API tokens")?;
    done.api_tokens = tokens.len();
    if let Some(key) = from.key.read()? {
        to.key.write(&key)?;
        done.signing_key = true;
    }
    Ok(done)
}

/// A location fit for messages: a URL loses its credentials.
pub fn shown(spec: &str) -> String {
    match (
        is_postgres_url(spec),
        spec.split_once("://"),
        spec.rsplit_once('@'),
    ) {
        (true, Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
        _ => spec.to_string(),
    }
}

/// Runs the copy (blocking: call it off the async workers).
pub fn run(args: &MigrateArgs) -> anyhow::Result<Migrated> {
    anyhow::ensure!(
        args.from != args.to,
        "--from and --to name the same database"
    );
    let from =
        open_side(&args.from, false).with_context(|| format!("source {}", shown(&args.from)))?;
    let to = open_side(&args.to, true).with_context(|| format!("target {}", shown(&args.to)))?;
    copy(&from, &to)
}

/// `plantdb-auth migrate`: runs the copy on a blocking thread and reports.
pub async fn execute(args: MigrateArgs) -> anyhow::Result<()> {
    let job = args.clone();
    let done = tokio::task::spawn_blocking(move || run(&job)).await??;
    let key = if done.signing_key {
        " and the signing key"
    } else {
        " (no signing key stored in the source: give the target the same JWT_SECRET_KEY)"
    };
    println!(
        "Copied {} users, {} groups, {} API tokens{key} from {} to {}",
        done.users,
        done.groups,
        done.api_tokens,
        shown(&args.from),
        shown(&args.to)
    );
    Ok(())
}
