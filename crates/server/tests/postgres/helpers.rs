//! Starting `plantdb-auth serve --store <url>` processes and talking to them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::server::{ServeCommand, ServerProcess, BIN};

pub const ADMIN_PW: &str = "Adm1n-Pa55-for-pg-tests";
/// The consistency bound docs/operations.md promises, plus scheduling slack.
pub const BOUND: Duration = Duration::from_millis(1500);

pub fn bin() -> &'static str {
    BIN
}

/// A server process, killed when dropped.
pub struct Server {
    process: ServerProcess,
    pub base: String,
}

impl Server {
    pub fn start(store: &str, db: &Path) -> Server {
        let process = ServeCommand::new()
            .args(["--store", store])
            .arg("--db")
            .arg(db)
            .args(["--log-level", "warn"])
            .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)
            .try_start()
            .unwrap_or_else(|e| panic!("server on {store} did not start: {e}"));
        Server {
            base: process.url().to_owned(),
            process,
        }
    }

    /// Everything the server printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// SIGKILL: no graceful shutdown, no chance to clean up.
    pub fn kill9(self) {
        self.process.kill();
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Logs in; returns (access, refresh).
    pub async fn login(&self, user: &str, password: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login {user}: {body}");
        let field = |k: &str| body[k].as_str().unwrap().to_string();
        (field("access_token"), field("refresh_token"))
    }

    pub async fn validates(&self, token: &str) -> bool {
        let (status, _) = self
            .post("/api/v1/auth/token/validation", Some(token), json!({}))
            .await;
        status == 200
    }
}

/// Waits until `server` answers `want` for `token`; returns how long it took.
pub async fn until_validation(server: &Server, token: &str, want: bool, what: &str) -> Duration {
    let start = Instant::now();
    while server.validates(token).await != want {
        assert!(start.elapsed() < BOUND, "{what}: not seen within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}
