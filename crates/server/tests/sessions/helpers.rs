//! Runs the real `plantdb-auth` binary on a database directory, stops it
//! (gracefully or with SIGKILL) and starts it again on the same directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

pub use crate::support::server::new_db_dir;
use crate::support::server::{ServeCommand, ServerProcess};

pub const ADMIN_PW: &str = "Adm1n-Pa55-for-tests";
/// Passes the registration policy.
pub const USER_PW: &str = "Correct-Horse-7-battery";

/// Cheap Argon2 so that streams of logins measure sessions, not hashing.
const CHEAP_HASHING: &[&str] = &["--argon2-memory", "256", "--argon2-iterations", "1"];

/// The session store of a database directory.
pub fn sessions_file(dir: &Path) -> PathBuf {
    dir.join(".plantdb-auth").join("sessions.sqlite3")
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{self:?}");
        &self.body
    }

    pub fn text(&self, key: &str) -> String {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key:?} in {self:?}"))
            .to_owned()
    }

    /// An error with the contract's body and `code`.
    pub fn fails(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["code"], code, "{self:?}");
        assert_eq!(self.body["error"], self.body["message"], "{self:?}");
    }
}

/// A login's tokens.
#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

/// A running server, killed when dropped.
pub struct Server {
    process: ServerProcess,
    base: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts on `dir` with admin's password set, no rate limits, cheap hashing.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let process = ServeCommand::new()
            .arg("--db")
            .arg(dir)
            .arg("--no-rate-limits")
            .args(CHEAP_HASHING)
            .args(extra)
            .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)
            .start();
        Server {
            base: process.origin().to_owned(),
            process,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn output(&self) -> String {
        self.process.output()
    }

    /// SIGKILL: a crash, nothing gets to finish.
    pub fn kill(&self) {
        self.process.kill();
    }

    /// SIGTERM, then waits for the graceful shutdown to complete.
    pub fn stop(self) {
        match self.process.terminate(Duration::from_secs(20)) {
            Some(status) => assert!(
                status.success(),
                "unclean exit {status}:\n{}",
                self.output()
            ),
            None => panic!("no graceful stop within 20 s:\n{}", self.output()),
        }
    }

    /// One request; `Err` when the server is unreachable (killed).
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, body })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.try_call(method, path, bearer, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}; server output:\n{}", self.output()))
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.call(Method::GET, path, Some(bearer), None).await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        self.call(Method::DELETE, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    pub async fn try_login(&self, user: &str, pw: &str) -> Result<Pair, reqwest::Error> {
        let body = json!({"username": user, "password": pw});
        let reply = self
            .try_call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await?;
        assert_eq!(reply.status, 200, "login {user}: {reply:?}");
        Ok(Pair {
            access: reply.text("access_token"),
            refresh: reply.text("refresh_token"),
        })
    }

    pub async fn login(&self, user: &str, pw: &str) -> Pair {
        self.try_login(user, pw)
            .await
            .unwrap_or_else(|e| panic!("login {user}: {e}; server output:\n{}", self.output()))
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PW).await.access
    }

    /// Registers `user` (a reader) with [`USER_PW`].
    pub async fn register(&self, admin: &str, user: &str) {
        let body = json!({"username": user, "fullname": user, "password": USER_PW});
        let reply = self.post("/api/v1/auth/register", Some(admin), body).await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }

    pub async fn logout(&self, access: &str) -> Reply {
        self.call(Method::POST, "/api/v1/auth/logout", Some(access), None)
            .await
    }

    /// The status of `POST token/validation` with `token`.
    pub async fn validation(&self, token: &str) -> u16 {
        self.call(
            Method::POST,
            "/api/v1/auth/token/validation",
            Some(token),
            None,
        )
        .await
        .status
    }

    pub async fn refresh(&self, refresh: &str) -> Reply {
        let body = json!({ "refresh_token": refresh });
        self.post("/api/v1/auth/token/refresh", None, body).await
    }

    /// Mints an API token; returns `(token, id)`.
    pub async fn mint(&self, access: &str, token_exp: i64, datasets: Value) -> (String, String) {
        let body = json!({"token_exp": token_exp, "datasets": datasets});
        let reply = self
            .post("/api/v1/auth/token/create-api-token", Some(access), body)
            .await;
        reply.ok();
        (reply.text("api_token"), reply.text("id"))
    }

    /// `GET sessions` as `access`: the ids listed.
    pub async fn session_ids(&self, access: &str) -> Vec<String> {
        ids(self.get("/api/v1/auth/sessions", access).await.ok())
    }

    /// `GET api-tokens` as `access`: the ids listed.
    pub async fn api_token_ids(&self, access: &str) -> Vec<String> {
        ids(self.get("/api/v1/auth/api-tokens", access).await.ok())
    }
}

/// The `id`s of a JSON array of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}
