//! Running the real `plantdb-auth serve` binary as a child process: start it
//! on port 0, wait for its startup line
//! `plantdb-auth listening on http://127.0.0.1:PORT[/prefix] (database: DIR)`,
//! keep everything it prints for failure messages, and kill it on drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_plantdb-auth");

/// How long a server may take to print its `listening on` line by default.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variables the server reads: removed from every server's
/// environment so that the developer's shell never leaks into a test. A test
/// sets the ones it wants with [`ServeCommand::env`].
pub const SERVER_ENV: &[&str] = &[
    "JWT_SECRET_KEY",
    "PLANTDB_ADMIN_PASSWORD",
    "ROMI_DB",
    "PLANTDB_STORE",
    "PLANTDB_URL_PREFIX",
    "PLANTDB_LOG_LEVEL",
    "SESSION_TIMEOUT",
    "REFRESH_TIMEOUT",
    "PLANTDB_MAX_SESSIONS_PER_USER",
    "PLANTDB_MAX_FAILED_ATTEMPTS",
    "PLANTDB_LOCKOUT_DURATION",
    "PLANTDB_API_TOKEN_MAX_LIFETIME",
    "PLANTDB_MIN_PASSWORD_LENGTH",
    "PLANTDB_HEADER_TIMEOUT",
    "PLANTDB_IDLE_TIMEOUT",
    "PLANTDB_BODY_TIMEOUT",
    "PLANTDB_BODY_MIN_RATE",
    "PLANTDB_MAX_CONNECTIONS",
    "JWT_SECRET_KEY_FILE",
    "PLANTDB_ADMIN_PASSWORD_FILE",
    "PLANTDB_STORE_FILE",
    "PLANTDB_STORE_CONNECT_WAIT",
    "PLANTDB_HOST",
    "PLANTDB_PORT",
    "PLANTDB_TEST_MODE",
    "PLANTDB_NO_RATE_LIMITS",
    "PLANTDB_NO_DEMO",
    "PLANTDB_HASH_WORKERS",
    "PLANTDB_CORS_ORIGINS",
    "PLANTDB_RESTRICT_USERNAME_CHECK",
    "PLANTDB_METRICS_LISTEN",
    "PLANTDB_METRICS_TOKEN",
    "PLANTDB_METRICS_TOKEN_FILE",
    "PLANTDB_CONFIG",
    "PLANTDB_ACCESS_LOG",
    "PLANTDB_STATE_DIR",
];

const LISTENING: &str = "listening on ";

/// A new, empty database directory (holding the `romidb` marker file).
pub fn new_db_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("create temp dir: {e}"));
    std::fs::write(dir.path().join("romidb"), b"")
        .unwrap_or_else(|e| panic!("write romidb marker: {e}"));
    dir
}

/// What a startup line announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// The URL as printed, deployment prefix included.
    pub url: String,
    /// Scheme, host and port: the URL without the prefix.
    pub origin: String,
    /// `host:port`.
    pub addr: String,
    pub port: u16,
}

impl Listening {
    /// Reads `... listening on http://HOST:PORT[/prefix] ...`; `None` for any
    /// other line (or a port that does not parse, or port 0).
    pub fn parse(line: &str) -> Option<Listening> {
        let url = line.split_once(LISTENING)?.1.split_whitespace().next()?;
        let (scheme, rest) = url.split_once("://")?;
        let addr = rest.split('/').next()?;
        let port = addr.rsplit_once(':')?.1.parse().ok().filter(|p| *p != 0)?;
        Some(Listening {
            url: url.to_owned(),
            origin: format!("{scheme}://{addr}"),
            addr: addr.to_owned(),
            port,
        })
    }
}

/// `plantdb-auth listening on http://127.0.0.1:PORT[/prefix] (database: ...)`
/// -> `http://127.0.0.1:PORT`.
pub fn origin_of(line: &str) -> Option<String> {
    Listening::parse(line).map(|l| l.origin)
}

/// `plantdb-auth serve --port 0 --host 127.0.0.1`, to which a test adds its
/// arguments and environment before starting it.
pub struct ServeCommand {
    cmd: Command,
    /// The arguments, for failure messages.
    args: Vec<String>,
    startup_timeout: Duration,
}

impl ServeCommand {
    /// The server variables ([`SERVER_ENV`]) are removed from its environment.
    pub fn new() -> ServeCommand {
        let mut cmd = Command::new(BIN);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in SERVER_ENV {
            cmd.env_remove(key);
        }
        ServeCommand {
            cmd,
            args: Vec::new(),
            startup_timeout: STARTUP_TIMEOUT,
        }
        .args(["serve", "--port", "0", "--host", "127.0.0.1"])
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> ServeCommand {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self.cmd.arg(arg);
        self
    }

    pub fn args<I>(self, args: I) -> ServeCommand
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        args.into_iter().fold(self, ServeCommand::arg)
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> ServeCommand {
        self.cmd.env(key, value);
        self
    }

    pub fn envs<'a>(self, vars: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> ServeCommand {
        vars.into_iter().fold(self, |cmd, (k, v)| cmd.env(k, v))
    }

    /// Starts from an empty environment (variables set before are dropped).
    pub fn env_clear(mut self) -> ServeCommand {
        self.cmd.env_clear();
        self
    }

    pub fn startup_timeout(mut self, timeout: Duration) -> ServeCommand {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server and waits for its `listening on` line; panics (with
    /// everything the server printed) if it does not come.
    pub fn start(self) -> ServerProcess {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`ServeCommand::start`], `Err` if the server exits or never
    /// prints its address in time (the process is killed then).
    pub fn try_start(mut self) -> Result<ServerProcess, StartError> {
        let mut child = self.cmd.spawn().map_err(|e| StartError {
            args: self.args.clone(),
            timeout: self.startup_timeout,
            status: None,
            output: format!("spawn {BIN}: {e}"),
        })?;
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let mut drains = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            drains.push(drain(stdout, Arc::clone(&log), Some(tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            drains.push(drain(stderr, Arc::clone(&log), None));
        }
        match rx.recv_timeout(self.startup_timeout) {
            Ok(listening) => Ok(ServerProcess {
                pid: child.id(),
                child: Mutex::new(child),
                listening,
                log,
            }),
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                // The pipes are closed now: the drains end after the last lines.
                for handle in drains {
                    let _ = handle.join();
                }
                Err(StartError {
                    args: self.args,
                    timeout: self.startup_timeout,
                    status,
                    output: read_log(&log),
                })
            }
        }
    }
}

impl Default for ServeCommand {
    fn default() -> ServeCommand {
        ServeCommand::new()
    }
}

/// A server that did not announce its address.
#[derive(Debug)]
pub struct StartError {
    pub args: Vec<String>,
    pub timeout: Duration,
    /// Its exit status if it had exited by itself.
    pub status: Option<ExitStatus>,
    /// Everything it printed (stdout and stderr).
    pub output: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plantdb-auth {:?} did not print {LISTENING:?}<url> within {:?} (exit status {:?}); output:\n{}",
            self.args, self.timeout, self.status, self.output
        )
    }
}

/// A running server, killed (SIGKILL) and reaped when dropped.
pub struct ServerProcess {
    child: Mutex<Child>,
    pid: u32,
    listening: Listening,
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn port(&self) -> u16 {
        self.listening.port
    }

    /// The URL the server announced, deployment prefix included.
    pub fn url(&self) -> &str {
        &self.listening.url
    }

    /// `http://127.0.0.1:PORT`, without the prefix.
    pub fn origin(&self) -> &str {
        &self.listening.origin
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.listening.addr
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        read_log(&self.log)
    }

    /// SIGKILL: a crash, nothing gets to finish. Waits for the process to go.
    pub fn kill(&self) {
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM (through `kill(1)`: the workspace forbids unsafe code), then
    /// waits up to `within` for the process to exit; `None`, after a SIGKILL,
    /// if it is still running then.
    pub fn terminate(&self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child();
        let pid = self.pid.to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap_or_else(|e| panic!("kill -TERM {pid}: {e}"));
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("wait for {pid}: {e}"),
            }
        }
        let _ = child.kill();
        None
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_log(log: &Mutex<String>) -> String {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Copies a child's stream into `log` line by line; on stdout (`tx`), sends
/// the first `listening on` line it sees.
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    mut tx: Option<mpsc::Sender<Listening>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(listening) = tx.as_ref().and_then(|_| Listening::parse(&line)) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(listening);
                }
            }
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.push_str(&line);
            log.push('\n');
        }
    })
}

/// A response, read whole. Each test binary adds the checks it needs in its
/// own `impl Reply` block.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The raw body, shown in failure messages when it is not JSON.
    pub text: String,
    /// The body parsed as JSON, `Value::Null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("read response body: {e}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
