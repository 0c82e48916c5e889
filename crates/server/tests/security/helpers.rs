//! Starting the real `plantdb-auth` binary and probing it like an attacker
//! would: every reply is checked for 5xx, leaked internals and slowness.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

pub use crate::support::server::new_db_dir;
use crate::support::server::{ServeCommand, ServerProcess};

/// The raw 64-byte HS512 key given to servers as `JWT_SECRET_KEY`, so that
/// tests can sign tokens exactly as the server does.
pub const KEY_HEX: &str = "3f8a1c5e9b2d4f6071a3c5e7092b4d6f8a1c3e5f7092b4d6e8f0a2c4e6081a3c\
                           5e7f9b1d3f5a7c9e0b2d4f6a8c0e1f3a5c7e9b0d2f4a6c8e0f1b3d5f7a9c1e3a";
/// Admin password of servers started on a `--db` directory.
pub const ADMIN_PW: &str = "Adm1n-Pa55-for-security";
/// A password that passes the registration policy.
pub const STRONG_PW: &str = "Correct-Horse-7-battery";
/// Longest time any single request may take, hostile or not.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(10);

/// Text that must never reach a client: paths, source locations, panics,
/// storage and library names.
const INTERNALS: &[&str] = &[
    "/tmp",
    "/home",
    "/work",
    "src/",
    ".rs:",
    "panicked",
    "backtrace",
    "sqlite",
    "users.json",
    "jwt.key",
    "jsonwebtoken",
    "argon2",
    "hyper::",
    "axum::",
    "tokio",
];

/// A response read whole, with how long it took.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }

    pub fn str_field(&self, key: &str) -> &str {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string field {key:?} in {self:?}"))
    }

    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status: {self:?}");
        self
    }
}

/// The checks every reply passes: no 5xx, no internals, answered in time.
pub fn assert_safe(reply: &Reply, what: &str) {
    assert!(
        !reply.status.is_server_error(),
        "{what}: a 5xx answer: {reply:?}"
    );
    assert!(
        reply.elapsed < REQUEST_BUDGET,
        "{what}: took {:?}",
        reply.elapsed
    );
    if reply.status.is_client_error() {
        let lower = reply.text.to_lowercase();
        for needle in INTERNALS {
            assert!(
                !lower.contains(needle),
                "{what}: the body leaks {needle:?}: {}",
                reply.text
            );
        }
    }
}

/// The contract's error shape: `status`, `error` == `message`, and a code
/// among `codes`.
pub fn assert_error(reply: &Reply, status: u16, codes: &[&str], what: &str) {
    assert_safe(reply, what);
    assert_eq!(reply.status.as_u16(), status, "{what}: {reply:?}");
    let error = reply.body.get("error").and_then(Value::as_str);
    assert!(
        error.is_some_and(|e| !e.is_empty()),
        "{what}: no error text: {reply:?}"
    );
    assert_eq!(
        error,
        reply.body.get("message").and_then(Value::as_str),
        "{what}: error and message differ"
    );
    assert!(
        codes.contains(&reply.code()),
        "{what}: code {:?} not in {codes:?}: {reply:?}",
        reply.code()
    );
}

/// How to start a server.
#[derive(Debug, Default)]
pub struct Options {
    pub args: Vec<String>,
    /// `--db DIR`; `None` means `--test` (admin/admin, guest/guest).
    pub db: Option<PathBuf>,
    /// Rate limits stay on (the default is `--no-rate-limits`).
    pub rate_limits: bool,
    /// Client-side timeout per request (default [`REQUEST_BUDGET`]).
    pub timeout: Option<Duration>,
}

impl Options {
    pub fn test_mode() -> Options {
        Options::default()
    }

    pub fn on_db(dir: &Path) -> Options {
        Options {
            db: Some(dir.to_path_buf()),
            ..Options::default()
        }
    }

    pub fn arg(mut self, a: &str) -> Options {
        self.args.push(a.to_owned());
        self
    }

    pub fn args(mut self, list: &[&str]) -> Options {
        self.args.extend(list.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Cheap Argon2 so storms of registrations stay fast.
    pub fn cheap_hashing(self) -> Options {
        self.args(&["--argon2-memory", "1024", "--argon2-iterations", "1"])
    }

    /// For storms, where requests queue behind each other's disk writes.
    pub fn patient(mut self, timeout: Duration) -> Options {
        self.timeout = Some(timeout);
        self
    }

    pub fn with_rate_limits(mut self) -> Options {
        self.rate_limits = true;
        self
    }
}

/// A running server with a known signing key, killed (SIGKILL) when dropped.
pub struct Server {
    process: ServerProcess,
    pub port: u16,
    pub client: reqwest::Client,
    pub admin_password: String,
}

impl Server {
    pub fn start(opts: Options) -> Server {
        Self::try_start(&opts).unwrap_or_else(|out| panic!("server did not start:\n{out}"))
    }

    /// `Err` (with the server's output) if it exits or never prints its address.
    pub fn try_start(opts: &Options) -> Result<Server, String> {
        let mut cmd = ServeCommand::new();
        let admin_password = match &opts.db {
            Some(dir) => {
                cmd = cmd.arg("--db").arg(dir);
                ADMIN_PW
            }
            None => {
                cmd = cmd.arg("--test");
                "admin"
            }
        };
        if !opts.rate_limits {
            cmd = cmd.arg("--no-rate-limits");
        }
        let process = cmd
            .args(&opts.args)
            .env("JWT_SECRET_KEY", KEY_HEX)
            .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)
            .env("PLANTDB_LOG_LEVEL", "warn")
            .try_start()
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(opts.timeout.unwrap_or(REQUEST_BUDGET))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Server {
            port: process.port(),
            process,
            client,
            admin_password: admin_password.to_owned(),
        })
    }

    pub fn output(&self) -> String {
        self.process.output()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's resident memory in KiB (Linux), if readable.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGKILL: a crash, not a graceful stop.
    pub fn kill(self) {
        self.process.kill();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends a request and reads the reply; a transport error is a failure.
    pub async fn send(&self, req: RequestBuilder) -> Reply {
        let started = Instant::now();
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e:?}; server output:\n{}", self.output()));
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
            elapsed: started.elapsed(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn post_json(&self, path: &str, bearer: Option<&str>, body: &Value) -> Reply {
        let mut req = self.request(Method::POST, path).json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        self.send(req).await
    }

    pub async fn try_login(&self, user: &str, password: &str) -> Reply {
        let body = json!({"username": user, "password": password});
        self.post_json("/api/v1/auth/login", None, &body).await
    }

    /// Logs in and returns `(access, refresh)`.
    pub async fn login(&self, user: &str, password: &str) -> (String, String) {
        let reply = self.try_login(user, password).await;
        reply.expect(200);
        (
            reply.str_field("access_token").to_owned(),
            reply.str_field("refresh_token").to_owned(),
        )
    }

    pub async fn admin_token(&self) -> String {
        let pw = self.admin_password.clone();
        self.login("admin", &pw).await.0
    }

    pub async fn register(&self, token: &str, user: &str, password: &str) -> Reply {
        let body = json!({"username": user, "fullname": "Test User", "password": password});
        self.post_json("/api/v1/auth/register", Some(token), &body)
            .await
    }

    /// `POST /api/v1/auth/token/validation` with `Authorization: Bearer <token>`.
    pub async fn validate(&self, token: &str) -> Reply {
        let req = self
            .request(Method::POST, "/api/v1/auth/token/validation")
            .bearer_auth(token);
        self.send(req).await
    }

    pub async fn exists(&self, user: &str) -> bool {
        let path = format!("/api/v1/auth/login?username={user}");
        let reply = self.send(self.request(Method::GET, &path)).await;
        reply.expect(200);
        reply.body["exists"].as_bool() == Some(true)
    }
}

/// The user names in `<root>/users.json`; `Err` if it is not a JSON array
/// of user objects.
pub fn users_in_file(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join("users.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("users.json does not parse ({e}): {} bytes", bytes.len()))?;
    let list = value.as_array().ok_or("users.json is not an array")?;
    list.iter()
        .map(|u| {
            u.get("username")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("a user without a username: {u}"))
        })
        .collect()
}

/// Serializes the tests whose measurements or load would disturb each other.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
