//! Starting `plantdb-auth serve --store <url>` processes and talking to them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const ADMIN_PW: &str = "Adm1n-Pa55-for-pg-tests";
/// The consistency bound the README promises, plus scheduling slack.
pub const BOUND: Duration = Duration::from_millis(1500);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_plantdb-auth")
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(store: &str, db: &Path) -> Server {
        let mut child = Command::new(bin())
            .args([
                "serve",
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--store",
                store,
            ])
            .arg("--db")
            .arg(db)
            .args(["--log-level", "warn"])
            .env_remove("JWT_SECRET_KEY")
            .env_remove("ROMI_DB")
            .env_remove("PLANTDB_STORE")
            .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("plantdb-auth listening on ") {
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(url);
                }
            }
        });
        let base = rx
            .recv_timeout(STARTUP_TIMEOUT)
            .unwrap_or_else(|_| panic!("server on {store} did not start"));
        Server { child, base }
    }

    /// SIGKILL: no graceful shutdown, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
