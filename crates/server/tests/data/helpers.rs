//! The test application, in process: the same startup function as the
#![allow(dead_code)] // shared by every test file; each uses a subset
//! binary (`startup::build`), on 127.0.0.1 port 0, over a temporary
//! database; one shared HTTP client.

use std::path::{Path, PathBuf};

use clap::Parser;
use plantdb_auth::cli::{Cli, Command};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

pub struct TestApp {
    pub url: String,
    pub root: PathBuf,
    pub client: reqwest::Client,
    _dir: Option<TempDir>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Removes what earlier runs of this binary left in cargo's test
/// temporary directory (once per process).
fn clean_earlier_runs() -> PathBuf {
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("data-demo-template-") || name.starts_with("data-scratch-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        base
    })
    .clone()
}

/// The demo scans, generated once per test process (it takes seconds in
/// debug builds) under cargo's test temporary directory, then copied.
fn demo_template() -> &'static Path {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = clean_earlier_runs().join(format!("data-demo-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        plantdb_data::demo::write_demo_database(&dir).unwrap();
        dir
    })
}

/// A new directory outside every test database (under cargo's test
/// temporary directory; removed by the next run).
pub fn scratch_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = clean_earlier_runs()
        .join(format!("data-scratch-{}", std::process::id()))
        .join(n.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a directory tree (regular files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A new database directory holding the demo scans.
pub fn demo_db() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(demo_template(), dir.path());
    std::fs::write(dir.path().join("romidb"), b"").unwrap();
    dir
}

/// An empty database directory (just the `romidb` marker).
pub fn empty_db() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("romidb"), b"").unwrap();
    dir
}

/// Builds a database with `build`, then serves it with extra flags.
pub async fn spawn_with(build: impl FnOnce(&Path), extra: &[&str]) -> TestApp {
    let dir = empty_db();
    build(dir.path());
    let root = dir.path().to_path_buf();
    spawn_on(&root, extra, Some(dir)).await
}

/// The demo scans plus what `build` adds.
pub async fn spawn_demo_with(build: impl FnOnce(&Path), extra: &[&str]) -> TestApp {
    let dir = demo_db();
    build(dir.path());
    let root = dir.path().to_path_buf();
    spawn_on(&root, extra, Some(dir)).await
}

/// A raw HTTP answer (for paths an URL library would normalise).
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Starts a server on `root` with extra `serve` flags.
pub async fn spawn_on(root: &Path, extra: &[&str], dir: Option<TempDir>) -> TestApp {
    let root_text = root.to_string_lossy().into_owned();
    let mut argv = vec![
        "plantdb-auth",
        "serve",
        "--db",
        root_text.as_str(),
        "--port",
        "0",
        "--no-rate-limits",
        "--argon2-memory",
        "64",
        "--argon2-iterations",
        "1",
        "--log-level",
        "warn",
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    std::env::set_var("PLANTDB_ADMIN_PASSWORD", "admin-Password-1");
    let app = plantdb_auth::startup::build(*args).await.unwrap();
    let url = app.url.clone();
    let root = app.root.clone();
    let task = tokio::spawn(async move {
        let _ = app.run_until_stopped().await;
    });
    TestApp {
        url,
        root,
        client: reqwest::Client::new(),
        _dir: dir,
        task,
    }
}

/// A server on a fresh demo database.
pub async fn spawn_demo() -> TestApp {
    let dir = demo_db();
    let root = dir.path().to_path_buf();
    spawn_on(&root, &[], Some(dir)).await
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = r.status();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {user}");
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// GET with extra request headers.
    pub async fn get_h(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// GET with a JSON body (Python's `get_json()` on a GET).
    pub async fn get_body(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn get_json_with(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self.get_with(path, token).await;
        let status = r.status();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.bytes().await.unwrap().to_vec())
    }

    /// Sends `GET <path>` exactly as written (no normalisation of `..`
    /// or percent-escapes), HTTP/1.0 so that the body is not chunked.
    pub async fn raw_get(&self, path: &str) -> Raw {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.url.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Raw {
            status,
            headers,
            body: buf[split + 4..].to_vec(),
        }
    }

    /// An admin access token.
    pub async fn admin(&self) -> String {
        self.login("admin", self.admin_password()).await
    }

    pub fn admin_password(&self) -> &'static str {
        "admin-Password-1"
    }
}

/// Percent-encodes a query-string value.
pub fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The ids of a JSON array of strings.
pub fn ids(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("not a list of ids: {v}"))
}

/// Asserts our error body: `{"error", "message", "code"}` without paths.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert_eq!(body["error"].as_str().unwrap(), msg);
    assert!(!msg.contains("/tmp"), "no filesystem path in {msg}");
}
