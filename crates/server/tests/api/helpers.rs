//! Spawning the real `plantdb-auth` binary and talking to it over HTTP.
//!
//! Every test starts its own server (a child process on 127.0.0.1, port 0) so
//! that tests never share sessions, rate-limit budgets or lockout counters.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Admin password given to servers started on a `--db` directory.
pub const ADMIN_PW: &str = "Adm1n-Pa55-for-tests";
/// A password that passes the registration policy.
pub const STRONG_PW: &str = "Correct-Horse-7-battery";

/// How long a server may take to print its `listening on` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const LISTENING: &str = "listening on http://127.0.0.1:";

/// Environment variables the server reads: cleared so the developer's shell
/// never leaks into a test.
const SERVER_ENV: &[&str] = &[
    "JWT_SECRET_KEY",
    "PLANTDB_ADMIN_PASSWORD",
    "ROMI_DB",
    "SESSION_TIMEOUT",
    "REFRESH_TIMEOUT",
];

/// The two API generations served side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gen {
    /// plantdb-server 0.17: `/api/v1/...`.
    Current,
    /// plantdb-server 0.15: routes at the root.
    Legacy,
}

pub const GENS: [Gen; 2] = [Gen::Current, Gen::Legacy];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Login,
    Register,
    Logout,
    Validation,
    Refresh,
    CreateApiToken,
}

pub const ALL_ROUTES: [Route; 7] = [
    Route::Health,
    Route::Login,
    Route::Register,
    Route::Logout,
    Route::Validation,
    Route::Refresh,
    Route::CreateApiToken,
];

impl Gen {
    /// The path of `route` in this generation (without any deployment prefix).
    pub fn path(self, route: Route) -> &'static str {
        match (self, route) {
            (Gen::Current, Route::Health) => "/api/v1/health",
            (Gen::Current, Route::Login) => "/api/v1/auth/login",
            (Gen::Current, Route::Register) => "/api/v1/auth/register",
            (Gen::Current, Route::Logout) => "/api/v1/auth/logout",
            (Gen::Current, Route::Validation) => "/api/v1/auth/token/validation",
            (Gen::Current, Route::Refresh) => "/api/v1/auth/token/refresh",
            (Gen::Current, Route::CreateApiToken) => "/api/v1/auth/token/create-api-token",
            (Gen::Legacy, Route::Health) => "/health",
            (Gen::Legacy, Route::Login) => "/login",
            (Gen::Legacy, Route::Register) => "/register",
            (Gen::Legacy, Route::Logout) => "/logout",
            (Gen::Legacy, Route::Validation) => "/token-validation",
            (Gen::Legacy, Route::Refresh) => "/token-refresh",
            (Gen::Legacy, Route::CreateApiToken) => "/create-api-token",
        }
    }
}

/// Writes each test body once and runs it for both generations:
/// `both_generations!(foo)` turns `async fn foo(gen: Gen)` into the tests
/// `foo::current` and `foo::legacy`.
macro_rules! both_generations {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn current() {
                    super::$name($crate::helpers::Gen::Current).await
                }
                #[tokio::test]
                async fn legacy() {
                    super::$name($crate::helpers::Gen::Legacy).await
                }
            }
        )*
    };
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The raw body, shown in failure messages when it is not JSON.
    #[allow(dead_code)]
    pub text: String,
    /// The body parsed as JSON, `Value::Null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("read response body");
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

    /// A string field of the body, panicking with the whole reply if absent.
    pub fn str_field(&self, key: &str) -> &str {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string field {key:?} in {self:?}"))
    }

    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status: {self:?}");
        self
    }
}

/// Asserts the contract's error shape: `status`, a JSON object with `error` and
/// `message` (same non-empty text) and `code`. Returns the body.
pub fn assert_error(reply: &Reply, status: u16, code: &str) -> Value {
    assert_error_one_of(reply, status, &[code])
}

/// Like [`assert_error`] where the contract leaves the choice between a few codes.
pub fn assert_error_one_of(reply: &Reply, status: u16, codes: &[&str]) -> Value {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "unexpected status: {reply:?}"
    );
    let content_type = reply.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "error without a JSON content type: {reply:?}"
    );
    let error = reply.body.get("error").and_then(Value::as_str);
    let message = reply.body.get("message").and_then(Value::as_str);
    assert!(
        error.is_some_and(|e| !e.is_empty()),
        "no non-empty \"error\" string: {reply:?}"
    );
    assert_eq!(
        error, message,
        "\"error\" and \"message\" differ: {reply:?}"
    );
    let code = reply.body.get("code").and_then(Value::as_str).unwrap_or("");
    assert!(
        codes.contains(&code),
        "code {code:?} not in {codes:?}: {reply:?}"
    );
    reply.body.clone()
}

/// A running server, killed when dropped.
pub struct TestApp {
    child: Child,
    pub port: u16,
    pub client: reqwest::Client,
    /// The `--url-prefix` the server was started with ("" if none).
    pub prefix: String,
    /// The admin password for this server's database.
    pub admin_password: String,
    output: Arc<Mutex<String>>,
    _db: Option<TempDir>,
}

impl TestApp {
    /// Starts `plantdb-auth serve --port 0 --host 127.0.0.1 <args>` with the
    /// server's environment variables cleared and then `env` applied.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> TestApp {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plantdb-auth"));
        cmd.args(["serve", "--port", "0", "--host", "127.0.0.1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in SERVER_ENV {
            cmd.env_remove(key);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn plantdb-auth");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("child stdout");
        let stderr = child.stderr.take().expect("child stderr");
        drain_stdout(stdout, Arc::clone(&output), tx);
        drain(stderr, Arc::clone(&output));
        let port = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not print {LISTENING:?}<port> (args {args:?}); output:\n{}",
                    output.lock().map(|o| o.clone()).unwrap_or_default()
                );
            }
        };
        let admin_password = if args.contains(&"--test") {
            "admin".to_owned()
        } else {
            env.iter()
                .find(|(k, _)| *k == "PLANTDB_ADMIN_PASSWORD")
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default()
        };
        let prefix = args
            .iter()
            .position(|a| *a == "--url-prefix")
            .and_then(|i| args.get(i + 1))
            .map(|p| (*p).to_owned())
            .unwrap_or_default();
        let client = new_client(true);
        TestApp {
            child,
            port,
            client,
            prefix,
            admin_password,
            output,
            _db: None,
        }
    }

    /// `--test` mode (admin/admin, guest/guest), no rate limits.
    pub fn test_mode() -> TestApp {
        Self::spawn(&["--test", "--no-rate-limits"], &[])
    }

    /// `--test` mode plus extra flags (rate limits stay off).
    pub fn test_mode_with(extra: &[&str]) -> TestApp {
        let mut args = vec!["--test", "--no-rate-limits"];
        args.extend_from_slice(extra);
        Self::spawn(&args, &[])
    }

    /// A server on a database directory (created if needed), with
    /// `PLANTDB_ADMIN_PASSWORD` = [`ADMIN_PW`] and no rate limits.
    pub fn on_db(dir: &Path, extra_env: &[(&str, &str)]) -> TestApp {
        let db = dir.to_str().expect("utf-8 temp path");
        let mut env = vec![("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)];
        env.extend_from_slice(extra_env);
        Self::spawn(&["--db", db, "--no-rate-limits"], &env)
    }

    /// A server on its own fresh temporary database directory.
    pub fn fresh_db() -> TestApp {
        let dir = new_db_dir();
        let mut app = Self::on_db(dir.path(), &[]);
        app._db = Some(dir);
        app
    }

    /// Everything the server printed so far (for failure messages).
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Kills the server (SIGKILL: a crash, not a graceful stop) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `http://127.0.0.1:<port>` + `path`, without the deployment prefix.
    pub fn raw_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// `http://127.0.0.1:<port>` + prefix + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}{}", self.port, self.prefix, path)
    }

    pub fn route(&self, gen: Gen, route: Route) -> String {
        self.url(gen.path(route))
    }

    /// Sends a request and reads the whole reply.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e:?}; server output:\n{}", self.output()));
        Reply::read(resp).await
    }

    /// `POST route` with a JSON body and an optional bearer token.
    pub async fn post(&self, gen: Gen, route: Route, bearer: Option<&str>, body: &Value) -> Reply {
        let mut req = self.client.post(self.route(gen, route)).json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        self.send(req).await
    }

    /// `POST route` with no body at all and an optional bearer token.
    pub async fn post_empty(&self, gen: Gen, route: Route, bearer: Option<&str>) -> Reply {
        let mut req = self.client.post(self.route(gen, route));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        self.send(req).await
    }

    /// `POST route` with raw bytes and the given content type.
    pub async fn post_raw(
        &self,
        gen: Gen,
        route: Route,
        bearer: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self.client.post(self.route(gen, route)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        self.send(req).await
    }

    pub async fn request(&self, method: Method, url: &str) -> Reply {
        self.send(self.client.request(method, url)).await
    }

    pub async fn get(&self, gen: Gen, route: Route) -> Reply {
        self.request(Method::GET, &self.route(gen, route)).await
    }

    /// `GET login?username=<query>` (`query` is sent verbatim).
    pub async fn check_username(&self, gen: Gen, query: &str) -> Reply {
        let url = format!("{}?{}", self.route(gen, Route::Login), query);
        self.request(Method::GET, &url).await
    }

    /// `GET login?username=U` on the current generation: does `user` exist?
    pub async fn exists(&self, user: &str) -> bool {
        let reply = self
            .check_username(Gen::Current, &format!("username={user}"))
            .await;
        reply.expect_status(200);
        reply.body["exists"]
            .as_bool()
            .unwrap_or_else(|| panic!("no boolean exists: {reply:?}"))
    }

    /// `POST login` on `gen`, returning the raw reply.
    pub async fn try_login(&self, gen: Gen, user: &str, pw: &str) -> Reply {
        self.post(
            gen,
            Route::Login,
            None,
            &json!({"username": user, "password": pw}),
        )
        .await
    }

    /// Logs in (current generation) and returns `(access, refresh)`.
    pub async fn login(&self, user: &str, pw: &str) -> (String, String) {
        self.login_on(Gen::Current, user, pw).await
    }

    pub async fn login_on(&self, gen: Gen, user: &str, pw: &str) -> (String, String) {
        let reply = self.try_login(gen, user, pw).await;
        assert_eq!(reply.status, 200, "login {user} failed: {reply:?}");
        (
            reply.str_field("access_token").to_owned(),
            reply.str_field("refresh_token").to_owned(),
        )
    }

    /// An admin access token.
    pub async fn admin_token(&self) -> String {
        let pw = self.admin_password.clone();
        self.login("admin", &pw).await.0
    }

    /// A guest access token.
    pub async fn guest_token(&self) -> String {
        self.login("guest", "guest").await.0
    }

    /// `POST register` (current generation) with `token` as bearer.
    pub async fn register(&self, token: &str, user: &str, fullname: &str, pw: &str) -> Reply {
        self.post(
            Gen::Current,
            Route::Register,
            Some(token),
            &json!({"username": user, "fullname": fullname, "password": pw}),
        )
        .await
    }

    /// `POST token/validation` with `token` as bearer.
    pub async fn validate(&self, gen: Gen, token: &str) -> Reply {
        self.post_empty(gen, Route::Validation, Some(token)).await
    }

    /// The validation status of `token` on the current generation.
    pub async fn validation_status(&self, token: &str) -> u16 {
        self.validate(Gen::Current, token).await.status.as_u16()
    }

    /// `POST token/refresh` with `{"refresh_token": token}`.
    pub async fn refresh(&self, gen: Gen, token: &str) -> Reply {
        self.post(gen, Route::Refresh, None, &json!({"refresh_token": token}))
            .await
    }

    /// `POST create-api-token` with `token` as bearer.
    pub async fn create_api_token(&self, gen: Gen, token: Option<&str>, body: &Value) -> Reply {
        self.post(gen, Route::CreateApiToken, token, body).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reqwest client; without `keep_alive` every request opens a new connection.
pub fn new_client(keep_alive: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    let builder = if keep_alive {
        builder
    } else {
        builder.pool_max_idle_per_host(0)
    };
    builder.build().expect("build reqwest client")
}

/// A new, empty database directory (holding the `romidb` marker file).
pub fn new_db_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("create temp dir");
    std::fs::write(dir.path().join("romidb"), b"").expect("write romidb marker");
    dir
}

/// Reads stdout line by line, sending the port once the `listening on` line shows up.
fn drain_stdout(
    stdout: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: mpsc::Sender<u16>,
) {
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = parse_port(&line) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(port);
                }
            }
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
}

fn drain(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
}

fn parse_port(line: &str) -> Option<u16> {
    let start = line.find(LISTENING)? + LISTENING.len();
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|p| *p != 0)
}

/// Asserts a string looks like a JWT (three non-empty base64url segments).
pub fn assert_jwt(token: &str) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWT: {token:?}");
    for part in parts {
        assert!(
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "not a base64url JWT segment in {token:?}"
        );
    }
}
