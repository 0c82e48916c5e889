//! Spawning the real `plantdb-auth` binary in `--test` mode and talking to
//! it over HTTP (the approach of `tests/api/helpers.rs`, trimmed to what
//! the admin endpoints need).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Passes the password policy for every username used in these tests.
pub const STRONG_PW: &str = "Correct-Horse-7-battery";
pub const OTHER_PW: &str = "Lilac-Tractor-Harbour-91";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const LISTENING: &str = "listening on http://127.0.0.1:";
const SERVER_ENV: &[&str] = &[
    "JWT_SECRET_KEY",
    "PLANTDB_ADMIN_PASSWORD",
    "ROMI_DB",
    "SESSION_TIMEOUT",
    "REFRESH_TIMEOUT",
];

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The raw body, shown in failure messages.
    #[allow(dead_code)]
    pub text: String,
    /// `Value::Null` when the body is not JSON.
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

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
pub struct TestApp {
    child: Child,
    port: u16,
    client: reqwest::Client,
    output: Arc<Mutex<String>>,
}

impl TestApp {
    /// `plantdb-auth serve --test --no-rate-limits` on 127.0.0.1, port 0.
    pub fn spawn() -> TestApp {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plantdb-auth"));
        cmd.args(["serve", "--port", "0", "--host", "127.0.0.1"])
            .args(["--test", "--no-rate-limits"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in SERVER_ENV {
            cmd.env_remove(key);
        }
        let mut child = cmd.spawn().expect("spawn plantdb-auth");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        drain(
            child.stdout.take().expect("stdout"),
            output.clone(),
            Some(tx),
        );
        drain(child.stderr.take().expect("stderr"), output.clone(), None);
        let Ok(port) = rx.recv_timeout(STARTUP_TIMEOUT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start:\n{}", output.lock().unwrap());
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        TestApp {
            child,
            port,
            client,
            output,
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
        let url = format!("http://127.0.0.1:{}{}", self.port, path);
        let mut req = self.client.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            panic!(
                "request failed: {e}; server output:\n{}",
                self.output.lock().unwrap()
            )
        });
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
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

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects a child stream; on stdout, reports the port of the `listening on` line.
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: Option<mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        let mut tx = tx;
        for line in BufReader::new(stream).lines() {
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

fn parse_port(line: &str) -> Option<u16> {
    let start = line.find(LISTENING)? + LISTENING.len();
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|p| *p != 0)
}
