//! What the admin commands (`user`, `group`, `session`, `token`) share:
//! opening the database as its local operator, refusing one that a running
//! server holds, and printing tables or JSON.
//!
//! The commands call the same service functions as the HTTP API, with
//! [`Credentials::Operator`] instead of a bearer token: whoever can open the
//! database directory can already rewrite every file in it, so the CLI acts
//! with admin rights and no login. Audit events say `by="operator"`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::{Args, Parser};
use plantdb_auth_core::store::{fsdb, StoreError};
use plantdb_auth_service::{AuthDb, AuthError, Credentials};

use crate::database::{self, Database};
use crate::settings::{default_db_dir, ServeArgs};
use crate::{audit, telemetry};

/// How the CLI authenticates to the service layer.
pub const OPERATOR: Credentials<'static> = Credentials::Operator;

/// Where the docs explain the alternative to the CLI.
const README_HINT: &str = "see docs/operations.md, 'Administration'";

/// Options of every admin command.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PlantDB database root, as for `serve` (default: $XDG_DATA_HOME/plantdb-auth/db).
    #[arg(
        long,
        env = "ROMI_DB",
        visible_alias = "db-path",
        value_name = "DIR",
        global = true
    )]
    pub db: Option<PathBuf>,
    /// PostgreSQL store, as for `serve --store`.
    #[arg(
        long,
        env = "PLANTDB_STORE",
        hide_env_values = true,
        value_name = "URL",
        global = true
    )]
    pub store: Option<String>,
    /// The server's --state-dir (signing key, sessions, audit log).
    #[arg(long, env = "PLANTDB_STATE_DIR", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Print JSON (for scripts) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The settings `serve` would use without flags, environment included, so
/// that the CLI applies the same password policy and Argon2 parameters.
#[derive(Debug, Parser)]
struct ServeDefaults {
    #[command(flatten)]
    serve: ServeArgs,
}

/// An open database, held (locked) until dropped.
pub struct Admin {
    database: Database,
    pub json: bool,
}

impl Admin {
    /// Opens the database named by `args`, or explains why it cannot.
    pub fn open(args: &DbArgs) -> anyhow::Result<Admin> {
        let root = args.db.clone().unwrap_or_else(default_db_dir);
        let mut serve = ServeDefaults::try_parse_from(["plantdb-auth"])
            .map_err(|e| anyhow!("invalid settings in the environment: {e}"))?
            .serve;
        serve.db = Some(root.clone());
        serve.store = args.store.clone();
        serve.state_dir = args.state_dir.clone();
        serve.resolve_secrets()?;
        serve.validate()?;
        if serve.store.is_none() && !fsdb::is_fsdb_root(&root) {
            return Err(anyhow!(
                "there is no PlantDB database at {}\nhint: name it with --db DIR (or ROMI_DB); `plantdb-auth serve --db DIR` creates one on its first start",
                root.display()
            ));
        }
        let audit = telemetry::init(&log_level(), false);
        let database = database::open(&root, &serve).map_err(|e| in_use(e, &root))?;
        let state_dir = database.state_dir.clone();
        if state_dir.is_dir() {
            if let Err(e) = audit.attach(&state_dir, audit::Rotation::default()) {
                tracing::warn!(error = %e, "the audit log cannot be written");
            }
        }
        Ok(Admin {
            database,
            json: args.json,
        })
    }

    pub fn db(&self) -> &AuthDb {
        &self.database.db
    }

    /// Where the signing key, the sessions and the audit log live.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.database.state_dir
    }
}

/// Warnings only: stdout is the command's answer, stderr its problems.
fn log_level() -> String {
    std::env::var("PLANTDB_LOG_LEVEL").unwrap_or_else(|_| "warn".into())
}

/// The process holding the lock wrote its pid into the lock file.
fn lock_holder(lock: &str) -> String {
    std::fs::read_to_string(lock)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| "unknown".into())
}

fn in_use(error: anyhow::Error, root: &Path) -> anyhow::Error {
    let locked = error
        .chain()
        .find_map(|e| match e.downcast_ref::<StoreError>() {
            Some(StoreError::Locked { lock, .. }) => Some(lock.clone()),
            _ => None,
        });
    match locked {
        Some(lock) => anyhow!(
            "the database at {} is in use by a running plantdb-auth server (pid {}): stop it first, or use the HTTP API ({README_HINT})",
            root.display(),
            lock_holder(&lock)
        ),
        None => error,
    }
}

/// A service error as the CLI reports it: the message, then what to do.
pub fn fail(error: AuthError) -> anyhow::Error {
    let hint = match &error {
        AuthError::NotFound(_) => {
            "`plantdb-auth user list` (or `group list`, `session list`, `token list`) shows what exists"
        }
        AuthError::MissingField(_) | AuthError::InvalidInput(_) => {
            "run the command with --help for the accepted values"
        }
        AuthError::Internal(_) => "the database files may be damaged or unreadable",
        _ => return anyhow!("{error}"),
    };
    anyhow!("{error}\nhint: {hint}")
}

/// Writes the command's answer; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
}

/// Prints `value` as JSON with `--json`, else the human text.
pub fn answer(admin: &Admin, value: serde_json::Value, human: impl FnOnce() -> String) {
    if admin.json {
        print(&serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        print(&human());
    }
}

/// Left-aligned columns, two spaces apart; the last one is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| match i == last {
                true => c.to_string(),
                false => format!("{c:<width$}", width = widths[i]),
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

/// One record as aligned `key: value` lines.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let lines: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect();
    lines.join("\n")
}

/// A missing value in a table.
pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

/// Runs a blocking admin command off the async runtime (the stores may
/// block on their own runtime, as the PostgreSQL one does).
pub async fn run(
    command: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(command)
        .await
        .map_err(|e| anyhow!("the command stopped unexpectedly: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let rows = vec![
            vec!["alice".to_string(), "reader".to_string()],
            vec!["bo".to_string(), "admin".to_string()],
        ];
        assert_eq!(
            table(&["NAME", "ROLES"], &rows),
            "NAME   ROLES\nalice  reader\nbo     admin"
        );
    }

    #[test]
    fn an_unreadable_lock_file_names_no_pid() {
        assert_eq!(lock_holder("/nonexistent/lock"), "unknown");
    }

    #[test]
    fn service_errors_carry_a_hint() {
        let text = fail(AuthError::NotFound("User 'x' does not exist".into())).to_string();
        assert!(
            text.starts_with("User 'x' does not exist\nhint: "),
            "{text}"
        );
        let text = fail(AuthError::Conflict("taken".into())).to_string();
        assert_eq!(text, "taken");
    }
}
