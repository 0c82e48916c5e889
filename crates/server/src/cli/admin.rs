//! What the admin commands (`user`, `group`, `session`, `token`, `key`)
//! share: finding the database (flags, environment, configuration file),
//! reaching the running server through its admin socket or else opening the
//! database as its local operator, and printing tables or JSON.
//!
//! The commands call the same service functions as the HTTP API, with
//! the operator ([`Caller::operator`]) as their caller instead of a token holder: whoever can open the
//! database directory (or the server's admin socket, mode 0600 in its state
//! directory) can already rewrite every file in it, so the CLI acts with
//! admin rights and no login. Audit events say `by="operator"`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use clap::{Args, CommandFactory, FromArgMatches};
use parking_lot::Mutex;
use plantdb_auth_core::store::{fsdb, StoreError};
use plantdb_auth_postgres::PgStores;
use plantdb_auth_service::{AuthDb, AuthError, Caller};

use super::password::{read_new_password, PasswordSource};
use super::{Cli, Command};
use crate::admin_socket::{self, Request};
use crate::database::{self, Database};
use crate::settings::{default_db_dir, ServeArgs};
use crate::{audit, config_file, telemetry};

/// Where the docs explain the alternatives.
const README_HINT: &str = "see docs/operations.md, 'Administration'";

/// Options of every admin command.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PlantDB database root, as for `serve` (default: the configuration
    /// file's `db`, else $XDG_DATA_HOME/plantdb-auth/db).
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
    /// The server's --state-dir (signing key, sessions, audit log, admin socket).
    #[arg(long, env = "PLANTDB_STATE_DIR", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// The server's configuration file (default: PLANTDB_CONFIG, else
    /// ~/.config/plantdb-auth/config.toml, else /etc/plantdb-auth/config.toml).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON (for scripts) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The database an admin command is about, and the settings `serve` would
/// use on it (configuration file and environment), so that the CLI applies
/// the same password policy and Argon2 parameters as the server.
pub struct Target {
    root: PathBuf,
    serve: ServeArgs,
}

impl Target {
    /// Flags and environment first, then the configuration file.
    pub fn resolve(args: &DbArgs) -> anyhow::Result<Target> {
        let mut serve = serve_settings(args.config.as_deref())?;
        let root = args
            .db
            .clone()
            .or_else(|| serve.db.clone())
            .unwrap_or_else(default_db_dir);
        serve.db = Some(root.clone());
        if args.store.is_some() {
            serve.store = args.store.clone();
        }
        if args.state_dir.is_some() {
            serve.state_dir = args.state_dir.clone();
        }
        Ok(Target { root, serve })
    }

    /// Where the server's admin socket would be (nothing is created).
    pub fn socket_path(&self) -> anyhow::Result<PathBuf> {
        let state_dir = match &self.serve.state_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => std::env::current_dir()?.join(dir),
            None => self.root.join(fsdb::STATE_DIR),
        };
        Ok(state_dir.join(admin_socket::SOCKET_FILE))
    }
}

/// `serve`'s settings without flags: the configuration file's values and
/// the environment's.
fn serve_settings(config: Option<&Path>) -> anyhow::Result<ServeArgs> {
    let mut argv: Vec<OsString> = vec!["plantdb-auth".into(), "serve".into()];
    if let Some(file) = config {
        argv.push("--config".into());
        argv.push(file.into());
    }
    let (cmd, _) = config_file::apply(Cli::command(), &argv)?;
    let invalid = |e: clap::Error| {
        anyhow!(
            "invalid settings in the environment or the configuration file: {}",
            e.render().to_string().trim()
        )
    };
    let matches = cmd.try_get_matches_from(&argv).map_err(invalid)?;
    match Cli::from_arg_matches(&matches).map_err(invalid)?.command {
        Command::Serve(serve) => Ok(*serve),
        _ => bail!("internal: the serve settings did not parse as serve"),
    }
}

/// An open database, held (locked) until dropped, or the running server's
/// service when the command came through its admin socket. The command's
/// answer is collected, then printed (or sent back) when it ends.
pub struct Admin {
    db: Arc<AuthDb>,
    state_dir: PathBuf,
    /// The PostgreSQL stores (`--store`), where the key is kept too.
    pg: Option<Arc<PgStores>>,
    pub json: bool,
    output: Mutex<String>,
    /// Set when running inside the server for an admin-socket client.
    remote: Option<Remote>,
    _database: Option<Database>,
}

/// What an admin-socket client sent beside its command line.
struct Remote {
    /// The new password the client read at its own terminal or stdin.
    password: Option<String>,
}

impl Admin {
    /// Opens the database named by `target`, or explains why it cannot.
    pub fn open(target: Target, json: bool) -> anyhow::Result<Admin> {
        let Target { root, mut serve } = target;
        serve.resolve_secrets()?;
        serve.validate()?;
        if serve.store.is_none() && !fsdb::is_fsdb_root(&root) {
            return Err(anyhow!(
                "there is no PlantDB database at {}\nhint: name it with --db DIR (or ROMI_DB, or `db` in the configuration file); `plantdb-auth serve --db DIR` creates one on its first start",
                root.display()
            ));
        }
        refuse_root_on_anothers_files(&root, &serve)?;
        let audit = telemetry::init(&log_level(), false);
        let database = database::open(&root, &serve).map_err(|e| in_use(e, &root))?;
        let state_dir = database.state_dir.clone();
        if state_dir.is_dir() {
            if let Err(e) = audit.attach(&state_dir, audit::Rotation::default()) {
                tracing::warn!(error = %e, "the audit log cannot be written");
            }
        }
        Ok(Admin {
            db: database.db.clone(),
            state_dir,
            pg: database.pg.clone(),
            json,
            output: Mutex::new(String::new()),
            remote: None,
            _database: Some(database),
        })
    }

    /// The running server's service, for a command from its admin socket.
    pub fn attached(
        db: Arc<AuthDb>,
        state_dir: PathBuf,
        pg: Option<Arc<PgStores>>,
        json: bool,
        password: Option<String>,
    ) -> Admin {
        Admin {
            db,
            state_dir,
            pg,
            json,
            output: Mutex::new(String::new()),
            remote: Some(Remote { password }),
            _database: None,
        }
    }

    pub fn db(&self) -> &AuthDb {
        &self.db
    }

    /// The caller every command acts as: the local operator, with admin
    /// rights (see the module's documentation).
    pub fn operator(&self) -> anyhow::Result<Caller> {
        Caller::operator(&self.db).map_err(fail)
    }

    /// Where the signing key, the sessions and the audit log live.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// The PostgreSQL stores, when users, groups and the key live there.
    pub fn postgres(&self) -> Option<&PgStores> {
        self.pg.as_deref()
    }

    /// Whether the command runs inside the running server.
    pub fn is_online(&self) -> bool {
        self.remote.is_some()
    }

    /// A new password: the one an admin-socket client sent, else typed at
    /// the prompt or read from stdin.
    pub fn new_password(&self, source: &PasswordSource) -> anyhow::Result<String> {
        match &self.remote {
            Some(Remote {
                password: Some(password),
            }) => Ok(password.clone()),
            Some(Remote { password: None }) => {
                bail!("the client sent no password for this command")
            }
            None => read_new_password(source),
        }
    }

    /// Adds to the command's answer.
    pub fn say(&self, text: &str) {
        let mut output = self.output.lock();
        output.push_str(text);
        if !text.ends_with('\n') {
            output.push('\n');
        }
    }

    /// The command's answer so far.
    pub fn take_output(&self) -> String {
        std::mem::take(&mut *self.output.lock())
    }
}

/// Runs an admin command: through the running server's admin socket when
/// one answers, else on the database directly (refused while a server
/// without a reachable socket holds it). `argv` is the whole command line.
pub fn execute(command: Command, argv: &[OsString]) -> anyhow::Result<()> {
    let args = command
        .admin_db()
        .ok_or_else(|| anyhow!("internal: not an admin command"))?
        .clone();
    let target = Target::resolve(&args)?;
    let socket = target.socket_path()?;
    if let Some(stream) = admin_socket::connect(&socket)? {
        let password = match command.password_source() {
            Some(source) => Some(read_new_password(source)?),
            None => None,
        };
        let request = Request {
            argv: forwarded(argv)?,
            password,
        };
        let response = admin_socket::call(stream, &request)?;
        if !response.output.is_empty() {
            print(&response.output);
        }
        return match response.error {
            None => Ok(()),
            Some(error) => Err(anyhow!(error)),
        };
    }
    let admin = Admin::open(target, args.json).map_err(|e| with_socket_hint(e, &socket))?;
    let result = super::run_admin(&admin, command);
    let output = admin.take_output();
    if !output.is_empty() {
        print(&output);
    }
    result
}

/// The command line after the program's name, as text (the server parses
/// it again).
fn forwarded(argv: &[OsString]) -> anyhow::Result<Vec<String>> {
    argv.iter()
        .skip(1)
        .map(|a| {
            a.to_str().map(str::to_string).ok_or_else(|| {
                anyhow!("an argument is not valid UTF-8: the running server cannot be sent it")
            })
        })
        .collect()
}

/// A database held by a server whose socket did not answer: say where the
/// CLI looked, since a different --state-dir or user is the usual cause.
fn with_socket_hint(error: anyhow::Error, socket: &Path) -> anyhow::Error {
    if !format!("{error:#}").contains("in use by a running plantdb-auth server") {
        return error;
    }
    anyhow!(
        "{error}\nhint: no admin socket answered at {}: give the server's --state-dir (or --config), or use the HTTP API ({README_HINT})",
        socket.display()
    )
}

/// Root writing the files of a database that belongs to another user (the
/// service's) would leave them root's, and the server could then no longer
/// write them: refused, with the command to use instead. (Through the
/// admin socket the server writes its own files, so this is only checked
/// when the CLI opens the database itself.)
fn refuse_root_on_anothers_files(root: &Path, serve: &ServeArgs) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if effective_uid() != Some(0) {
        return Ok(());
    }
    let users_file = root.join("users.json");
    let owned = if users_file.exists() {
        users_file
    } else {
        root.to_path_buf()
    };
    let Ok(meta) = std::fs::metadata(&owned) else {
        return Ok(());
    };
    if meta.uid() == 0 || serve.store.is_some() {
        return Ok(());
    }
    let owner = user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string());
    Err(anyhow!(
        "the database at {} belongs to user '{owner}': as root, the CLI would leave files the server cannot write\nhint: run it as that user: sudo -u {owner} plantdb-auth ... (or start the server: the CLI then goes through its admin socket)",
        root.display()
    ))
}

/// This process's effective user id, from /proc (no libc call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of user `uid` in /etc/passwd.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
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
            "the database at {} is in use by a running plantdb-auth server (pid {}) and its admin socket did not answer",
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
        admin.say(&serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        admin.say(&human());
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
