//! Starting a server and talking to it over HTTP.
//!
//! Every test starts its own server on 127.0.0.1, port 0, so that tests
//! never share sessions, rate-limit budgets or lockout counters: in the
//! test's process when it can (`--test` mode, no environment variables:
//! the binary's own startup function, a clock the test moves forward
//! instead of sleeping), else the real binary as a child process (a
//! database directory reused across restarts, crashes, environment
//! variables, the server's output).

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::in_process::InProcessServer;
pub use crate::support::server::{new_db_dir, Reply};
use crate::support::server::{ServeCommand, ServerProcess};

/// Admin password given to servers started on a `--db` directory.
pub const ADMIN_PW: &str = "Adm1n-Pa55-for-tests";
/// A password that passes the registration policy.
pub const STRONG_PW: &str = "Correct-Horse-7-battery";

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

/// The api tests' checks on a [`Reply`] (the type is shared with the admin tests).
impl Reply {
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

enum Server {
    Process(ServerProcess),
    InProcess(InProcessServer),
}

/// A running server, stopped when dropped.
pub struct TestApp {
    server: Server,
    pub port: u16,
    pub client: reqwest::Client,
    /// The `--url-prefix` the server was started with ("" if none).
    pub prefix: String,
    /// The admin password for this server's database.
    pub admin_password: String,
    _db: Option<TempDir>,
}

impl TestApp {
    /// `plantdb-auth serve --port 0 --host 127.0.0.1 <args>`: in process
    /// for `--test` mode without environment variables, else as
    /// [`TestApp::process`].
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> TestApp {
        if env.is_empty() && args.contains(&"--test") {
            if let Some(server) = InProcessServer::start(args) {
                let port = server.port;
                return Self::new(Server::InProcess(server), port, args, env);
            }
        }
        Self::process(args, env)
    }

    /// Starts the binary as a child process, with the server's environment
    /// variables cleared and then `env` applied.
    pub fn process(args: &[&str], env: &[(&str, &str)]) -> TestApp {
        let server = ServeCommand::new().args(args).envs(env).start();
        let port = server.port();
        Self::new(Server::Process(server), port, args, env)
    }

    fn new(server: Server, port: u16, args: &[&str], env: &[(&str, &str)]) -> TestApp {
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
            port,
            server,
            client,
            prefix,
            admin_password,
            _db: None,
        }
    }

    /// `--test` mode (admin/admin, guest/guest) without the demo scans
    /// (the auth API needs none; writing them costs a second), no rate
    /// limits.
    pub fn test_mode() -> TestApp {
        Self::spawn(&["--test", "--no-demo", "--no-rate-limits"], &[])
    }

    /// `--test` mode plus extra flags (no demo scans, rate limits off).
    pub fn test_mode_with(extra: &[&str]) -> TestApp {
        let mut args = vec!["--test", "--no-demo", "--no-rate-limits"];
        args.extend_from_slice(extra);
        Self::spawn(&args, &[])
    }

    /// A server on a database directory (created if needed), with
    /// `PLANTDB_ADMIN_PASSWORD` = [`ADMIN_PW`] and no rate limits.
    pub fn on_db(dir: &Path, extra_env: &[(&str, &str)]) -> TestApp {
        let db = dir.to_str().expect("utf-8 temp path");
        let mut env = vec![("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)];
        env.extend_from_slice(extra_env);
        Self::process(&["--db", db, "--no-rate-limits"], &env)
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
        match &self.server {
            Server::Process(p) => p.output(),
            Server::InProcess(_) => "(an in-process server: its log is not captured)".into(),
        }
    }

    /// Stops the server at once and waits for it: a child process is
    /// killed (SIGKILL: a crash, not a graceful stop); an in-process
    /// server's runtime is dropped (its port closes).
    pub fn kill(self) {
        match self.server {
            Server::Process(p) => p.kill(),
            Server::InProcess(server) => drop(server),
        }
    }

    /// Lets `by` pass for the server: its clock jumps forward in process,
    /// a child process is waited for.
    pub async fn pass(&self, by: Duration) {
        match &self.server {
            Server::Process(_) => tokio::time::sleep(by).await,
            Server::InProcess(server) => server.advance(by),
        }
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
