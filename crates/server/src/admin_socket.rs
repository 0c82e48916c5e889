//! The admin socket: how the admin CLI works on a running server, so that
//! unlocking, resetting a password or revoking sessions needs no downtime.
//!
//! The server listens on `<state-dir>/admin.sock`, a Unix socket of mode
//! 0600 in a 0700 directory: only the server's own user (and root) can
//! connect, the same people who could stop the server and edit its files.
//! The kernel's peer credentials are checked as well. A client sends one
//! JSON request, its command line (the CLI parses it first, so only valid
//! commands are sent) and the new password it read at its own terminal or
//! stdin; it half-closes, and the server parses the command line again,
//! runs it in-process with operator rights on its live service (sessions
//! end at once, the running key rotates), and answers with the output.
//!
//! Why not `--url` with a token: the operator of a lab server already has a
//! shell on it; a token would be one more secret to create, store and
//! rotate, and would open the admin commands to the network.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use plantdb_auth_service::AuthDb;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::cli::admin::Admin;
use crate::cli::{run_admin, Cli};

/// The socket's name in the state directory.
pub const SOCKET_FILE: &str = "admin.sock";
/// A request is a command line and a password: small.
const MAX_REQUEST: u64 = 64 * 1024;
/// A listing of every account or session can be long, not unbounded.
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;
/// How long a client may take to send its request once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client waits for the answer (an Argon2 hash takes ~0.1 s;
/// a queue of other admin commands may be ahead).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections handled at once; more are answered "busy".
const MAX_CLIENTS: usize = 8;

/// What the CLI sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The command line after the program's name.
    pub argv: Vec<String>,
    /// The new password of `user add` / `user passwd`, read by the client.
    pub password: Option<String>,
}

/// What the server answers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    /// The command's standard output.
    pub output: String,
    /// Why the command failed (then the CLI exits 1).
    pub error: Option<String>,
}

// ---- client ----

/// Connects to a running server's admin socket. `None` when no server
/// listens there (no socket, or a stale one a crash left behind).
pub fn connect(path: &Path) -> anyhow::Result<Option<std::os::unix::net::UnixStream>> {
    use std::io::ErrorKind;
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(stream) => Ok(Some(stream)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            Ok(None)
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(anyhow!(
            "the running server's admin socket {} is not open to this user\nhint: run the command as the user the server runs as (e.g. `sudo -u plantdb plantdb-auth ...`) or as root",
            path.display()
        )),
        Err(e) => Err(anyhow!(
            "cannot connect to the admin socket {}: {e}\nhint: check that the server runs and that --state-dir names its state directory",
            path.display()
        )),
    }
}

/// Sends `request` and waits for the answer.
pub fn call(
    mut stream: std::os::unix::net::UnixStream,
    request: &Request,
) -> anyhow::Result<Response> {
    let lost = |e: std::io::Error| {
        anyhow!("the connection to the running server's admin socket failed: {e}")
    };
    stream
        .set_read_timeout(Some(RESPONSE_TIMEOUT))
        .map_err(lost)?;
    stream
        .set_write_timeout(Some(REQUEST_TIMEOUT))
        .map_err(lost)?;
    let body = serde_json::to_vec(request)?;
    // A server that refuses the client answers without reading the
    // request: the write then fails, and the answer says why.
    let sent = stream
        .write_all(&body)
        .and_then(|()| stream.shutdown(std::net::Shutdown::Write));
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE)
        .read_to_end(&mut answer)
        .map_err(lost)?;
    if answer.is_empty() {
        if let Err(e) = sent {
            return Err(lost(e));
        }
    }
    serde_json::from_slice(&answer).map_err(|_| {
        anyhow!("the running server gave no valid answer on its admin socket: check its log (it may have stopped)")
    })
}

// ---- server ----

/// The bound socket; the file is removed when this is dropped.
pub struct AdminSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The server's user: peers must be it or root.
    owner: u32,
}

/// What the commands run on.
#[derive(Clone)]
pub struct AdminContext {
    pub db: Arc<AuthDb>,
    pub state_dir: PathBuf,
    pub pg: Option<Arc<plantdb_auth_postgres::PgStores>>,
}

impl AdminSocket {
    /// Listens on `<state_dir>/admin.sock`, replacing a stale socket. `None`
    /// (with a warning) when another live server answers there, or the path
    /// is too long for a Unix socket: the server still runs, the CLI then
    /// needs it stopped.
    pub fn bind(state_dir: &Path) -> Option<AdminSocket> {
        let path = state_dir.join(SOCKET_FILE);
        match Self::try_bind(&path) {
            Ok(socket) => Some(socket),
            Err(e) => {
                tracing::warn!(socket = %path.display(), error = %format!("{e:#}"), "no admin socket: the admin CLI needs the server stopped");
                None
            }
        }
    }

    fn try_bind(path: &Path) -> anyhow::Result<AdminSocket> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("another running server answers on it");
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("cannot remove the stale socket"),
        }
        let listener = UnixListener::bind(path).context("cannot create the socket")?;
        // The state directory is 0700 already; the socket is kept private
        // even if the directory is not.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .context("cannot make the socket private")?;
        let owner = std::fs::metadata(path)
            .context("cannot read the socket's owner")?
            .uid();
        Ok(AdminSocket {
            listener,
            path: path.to_path_buf(),
            owner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers clients until the process ends; commands run one at a time,
    /// off the async workers.
    pub async fn serve(self, context: AdminContext) {
        let clients = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
        let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the admin socket cannot accept a client");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&clients).try_acquire_owned() else {
                tokio::spawn(refuse(
                    stream,
                    "the server is busy with other admin commands: try again",
                ));
                continue;
            };
            let context = context.clone();
            let lock = Arc::clone(&one_at_a_time);
            let owner = self.owner;
            tokio::spawn(async move {
                handle(stream, owner, context, lock).await;
                drop(permit);
            });
        }
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers `why`, after reading what is left of the request: closing a
/// Unix socket with unread data resets it, and the client would not see
/// the reason.
async fn refuse(mut stream: UnixStream, why: &str) {
    let mut rest = Vec::new();
    let mut limited = (&mut stream).take(MAX_REQUEST);
    let _ = tokio::time::timeout(Duration::from_secs(1), limited.read_to_end(&mut rest)).await;
    let response = Response {
        output: String::new(),
        error: Some(why.to_string()),
    };
    if let Ok(body) = serde_json::to_vec(&response) {
        let _ = stream.write_all(&body).await;
    }
}

async fn handle(
    mut stream: UnixStream,
    owner: u32,
    context: AdminContext,
    lock: Arc<tokio::sync::Mutex<()>>,
) {
    let (uid, pid) = match stream.peer_cred() {
        Ok(cred) => (cred.uid(), cred.pid()),
        Err(e) => {
            tracing::warn!(error = %e, "admin socket: cannot read the client's credentials");
            return;
        }
    };
    let mut body = Vec::new();
    let mut limited = (&mut stream).take(MAX_REQUEST + 1);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, limited.read_to_end(&mut body)).await;
    match read {
        Ok(Ok(_)) if body.len() as u64 <= MAX_REQUEST => {}
        Ok(Ok(_)) => return refuse(stream, "the request is too large").await,
        Ok(Err(_)) => return,
        Err(_) => return refuse(stream, "the request did not arrive in time").await,
    }
    // Checked after reading: a client refused before its request is read
    // sees its connection reset instead of the reason.
    if uid != owner && uid != 0 {
        plantdb_auth_core::audit::AuditEvent::AdminSocketRefused { uid }.emit();
        return refuse(
            stream,
            "only the server's user and root may use the admin socket",
        )
        .await;
    }
    let Ok(request) = serde_json::from_slice::<Request>(&body) else {
        return refuse(
            stream,
            "the request is not valid: use the plantdb-auth CLI of the same version",
        )
        .await;
    };
    let _turn = lock.lock().await;
    let response = tokio::task::spawn_blocking(move || run(request, context, uid, pid))
        .await
        .unwrap_or_else(|_| Response {
            output: String::new(),
            error: Some("the command stopped unexpectedly: see the server's log".into()),
        });
    match serde_json::to_vec(&response) {
        Ok(body) => {
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
        Err(e) => tracing::error!(error = %e, "admin socket: cannot encode the answer"),
    }
}

/// Parses and runs one command on the live service.
fn run(request: Request, context: AdminContext, uid: u32, pid: Option<i32>) -> Response {
    let argv = std::iter::once("plantdb-auth".to_string()).chain(request.argv);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            return Response {
                output: String::new(),
                error: Some(e.render().to_string().trim().to_string()),
            }
        }
    };
    let Some(args) = cli.command.admin_db() else {
        return Response {
            output: String::new(),
            error: Some("only the admin commands (user, group, session, token, key) run through the admin socket".into()),
        };
    };
    let admin = Admin::attached(
        context.db,
        context.state_dir,
        context.pg,
        args.json,
        request.password,
    );
    let command = command_name(&cli.command);
    plantdb_auth_core::audit::AuditEvent::AdminCommand {
        uid,
        pid: pid.unwrap_or(0),
        command,
    }
    .emit();
    let result = run_admin(&admin, cli.command);
    Response {
        output: admin.take_output(),
        error: result.err().map(|e| format!("{e:#}")),
    }
}

/// `user passwd`, `session revoke`, ...: what the command was, for the
/// audit log (its arguments are logged by the service's own events).
fn command_name(command: &crate::cli::Command) -> &'static str {
    use crate::cli::Command;
    match command {
        Command::User(_) => "user",
        Command::Group(_) => "group",
        Command::Session(_) => "session",
        Command::Token(_) => "token",
        Command::Key(_) => "key",
        _ => "other",
    }
}
