//! Spawning the real `plantdb-auth` binary in `--test` mode and talking to
//! it over HTTP (the approach of `tests/api/helpers.rs`, trimmed to what
//! the admin endpoints need).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::in_process::InProcessServer;
pub use crate::support::server::Reply;
use crate::support::server::{ServeCommand, ServerProcess};

/// Passes the password policy for every username used in these tests.
pub const STRONG_PW: &str = "Correct-Horse-7-battery";
pub const OTHER_PW: &str = "Lilac-Tractor-Harbour-91";

/// The admin tests' check on a [`Reply`] (the type is shared with the api tests).
impl Reply {
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status: {self:?}");
        &self.body
    }
}

/// Asserts the contract's error shape and returns the message.
pub fn assert_error(reply: &Reply, status: u16, code: &str) -> String {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "unexpected status: {reply:?}"
    );
    assert_eq!(reply.body["code"], code, "wrong code: {reply:?}");
    let message = reply.body["error"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no error text: {reply:?}");
    assert_eq!(reply.body["message"], message, "{reply:?}");
    message.to_owned()
}

/// A running server, killed when dropped.
enum Server {
    Process(ServerProcess),
    InProcess(InProcessServer),
}

pub struct TestApp {
    server: Server,
    client: reqwest::Client,
}

impl TestApp {
    /// `plantdb-auth serve --test --no-demo --no-rate-limits` on 127.0.0.1,
    /// port 0: in the test's process (the binary's startup function), or a
    /// child process when the test process sets server variables.
    pub fn spawn() -> TestApp {
        let args = ["--test", "--no-demo", "--no-rate-limits"];
        let server = match InProcessServer::start(&args) {
            Some(server) => Server::InProcess(server),
            None => Server::Process(ServeCommand::new().args(args).start()),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        TestApp { server, client }
    }

    fn origin(&self) -> String {
        match &self.server {
            Server::Process(p) => p.origin().to_string(),
            Server::InProcess(s) => format!("http://127.0.0.1:{}", s.port),
        }
    }

    fn output(&self) -> String {
        match &self.server {
            Server::Process(p) => p.output(),
            Server::InProcess(_) => "(an in-process server: its log is not captured)".into(),
        }
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let url = format!("{}{}", self.origin(), path);
        let mut req = self.client.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}; server output:\n{}", self.output()));
        Reply::read(resp).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    pub async fn try_login(&self, user: &str, pw: &str) -> Reply {
        let body = json!({"username": user, "password": pw});
        self.post("/api/v1/auth/login", None, &body).await
    }

    /// Logs in and returns `(access, refresh)`.
    pub async fn login_pair(&self, user: &str, pw: &str) -> (String, String) {
        let reply = self.try_login(user, pw).await;
        let body = reply.expect(200);
        let token = |k: &str| body[k].as_str().expect("token").to_owned();
        (token("access_token"), token("refresh_token"))
    }

    pub async fn login(&self, user: &str, pw: &str) -> String {
        self.login_pair(user, pw).await.0
    }

    pub async fn admin(&self) -> String {
        self.login("admin", "admin").await
    }

    /// Registers `user` (password [`STRONG_PW`]) with `roles` as admin.
    pub async fn register(&self, admin: &str, user: &str, roles: &[&str]) {
        let body = json!({"username": user, "fullname": format!("{user} Test"),
            "password": STRONG_PW, "roles": roles});
        self.post("/api/v1/auth/register", Some(admin), &body)
            .await
            .expect(201);
    }

    /// Registers `user` and returns its access token.
    pub async fn user(&self, admin: &str, user: &str, roles: &[&str]) -> String {
        self.register(admin, user, roles).await;
        self.login(user, STRONG_PW).await
    }

    /// An API token of the holder of `access`, granting `datasets`.
    pub async fn api_token(&self, access: &str, datasets: Value) -> String {
        let body = json!({"token_exp": 3600, "datasets": datasets});
        let reply = self
            .post("/api/v1/auth/token/create-api-token", Some(access), &body)
            .await;
        reply.expect(200)["api_token"]
            .as_str()
            .expect("api_token")
            .to_owned()
    }

    /// Creates a group as `token` and asserts 201.
    pub async fn group(&self, token: &str, name: &str, users: &[&str]) -> Value {
        let body = json!({"name": name, "description": "test group", "users": users});
        self.post("/api/v1/groups", Some(token), &body)
            .await
            .expect(201)
            .clone()
    }

    /// The status of `GET /auth/me` with `token`: is it still alive?
    pub async fn me_status(&self, token: &str) -> u16 {
        self.get("/api/v1/auth/me", Some(token))
            .await
            .status
            .as_u16()
    }
}
