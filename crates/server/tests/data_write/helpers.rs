//! The test application, in process (the binary's own `startup::build`, on
//! 127.0.0.1 port 0, over a temporary database), and what the write tests
//! send: JSON posts, hand-built multipart bodies, users, groups, API tokens.
#![allow(dead_code)] // shared by every test file; each uses a subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use plantdb_auth::cli::{Cli, Command};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const ADMIN_PW: &str = "admin-Password-1";
pub const USER_PW: &str = "a-Strong-Password-42";

pub struct TestApp {
    pub url: String,
    pub root: PathBuf,
    pub client: reqwest::Client,
    _dir: TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An empty database directory (just the `romidb` marker).
pub fn empty_db() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("romidb"), b"").unwrap();
    dir
}

/// A server on an empty database, with extra `serve` flags.
pub async fn spawn(extra: &[&str]) -> TestApp {
    let dir = empty_db();
    let root_text = dir.path().to_string_lossy().into_owned();
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
        "error",
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    std::env::set_var("PLANTDB_ADMIN_PASSWORD", ADMIN_PW);
    let app = plantdb_auth::startup::build(*args).await.unwrap();
    let url = app.url.clone();
    let root = app.root.clone();
    let task = tokio::spawn(async move {
        let _ = app.run_until_stopped().await;
    });
    TestApp {
        url,
        root,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        _dir: dir,
        task,
    }
}

/// A response, read whole: status and body (JSON, `Null` if it is not).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub async fn read(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            bytes,
        }
    }

    /// Asserts the status and returns the body.
    pub fn expect(&self, status: u16, what: &str) -> &Value {
        assert_eq!(
            self.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        &self.body
    }

    /// Asserts an error: the status, our error body and its code.
    pub fn expect_error(&self, status: u16, code: &str, what: &str) -> &Value {
        self.expect(status, what);
        assert_error(&self.body, code, what);
        &self.body
    }

    pub fn message(&self) -> String {
        self.body["message"].as_str().unwrap_or("").to_string()
    }
}

/// Asserts our error body: `{"error", "message", "code"}`, no filesystem path.
pub fn assert_error(body: &Value, code: &str, what: &str) {
    assert_eq!(body["code"], code, "{what}: {body}");
    let msg = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no message in {body}"));
    assert_eq!(body["error"].as_str(), Some(msg), "{what}: {body}");
    assert!(!msg.contains("/tmp"), "{what}: a filesystem path in {msg}");
}

/// A multipart/form-data body built by hand.
pub struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    pub fn new() -> Form {
        Form {
            boundary: "----plantdbTestBoundary7MA4YWxkTrZu0gW".to_string(),
            body: Vec::new(),
        }
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: &str) -> Form {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file part.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, data: &[u8]) -> Form {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole body, closing delimiter included.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (self.content_type(), self.body)
    }
}

/// The usual upload form: `file`, `ext` and optional `metadata`.
pub fn upload_form(data: &[u8], ext: &str, metadata: Option<&str>) -> Form {
    let mut form = Form::new()
        .file("file", "blob.bin", "application/octet-stream", data)
        .text("ext", ext);
    if let Some(m) = metadata {
        form = form.text("metadata", m);
    }
    form
}

/// A zip-upload form: the field `zip_file`.
pub fn zip_form(data: &[u8]) -> Form {
    Form::new().file("zip_file", "scan.zip", "application/zip", data)
}

impl TestApp {
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        Reply::read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, token, None, Vec::new())
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::DELETE, path, token, None, Vec::new())
            .await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some(content_type),
            body.to_vec(),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, token: Option<&str>, form: Form) -> Reply {
        let (ct, body) = form.finish();
        self.post_raw(path, token, &ct, &body).await
    }

    /// `POST /api/v1/files/<scan>/<fs>/<file>` with `file`, `ext`, `metadata`.
    #[allow(clippy::too_many_arguments)] // mirrors the route's path and fields
    pub async fn upload(
        &self,
        token: Option<&str>,
        scan: &str,
        fs: &str,
        file: &str,
        ext: &str,
        data: &[u8],
        metadata: Option<&str>,
    ) -> Reply {
        self.post_form(
            &format!("/api/v1/files/{scan}/{fs}/{file}"),
            token,
            upload_form(data, ext, metadata),
        )
        .await
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"username": user, "password": password}),
            )
            .await;
        r.expect(200, &format!("login {user}"))["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The refresh token of a new session of `user`.
    pub async fn refresh_token(&self, user: &str, password: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"username": user, "password": password}),
            )
            .await;
        r.expect(200, "login")["refresh_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PW).await
    }

    /// Registers `user` with `roles` (as admin) and returns its access token.
    pub async fn user(&self, admin: &str, user: &str, roles: &[&str]) -> String {
        let body = json!({"username": user, "fullname": format!("{user} Fullname"),
            "password": USER_PW, "roles": roles});
        self.post_json("/api/v1/auth/register", Some(admin), &body)
            .await
            .expect(201, &format!("register {user}"));
        self.login(user, USER_PW).await
    }

    /// Creates group `name` (as admin) with `users`.
    pub async fn group(&self, admin: &str, name: &str, users: &[&str]) {
        let body = json!({"name": name, "description": "test group", "users": users});
        self.post_json("/api/v1/groups", Some(admin), &body)
            .await
            .expect(201, &format!("group {name}"));
    }

    /// An API token of the holder of `access`, granting `datasets`.
    pub async fn api_token(&self, access: &str, datasets: Value) -> String {
        let body = json!({"token_exp": 3600, "datasets": datasets});
        let r = self
            .post_json("/api/v1/auth/token/create-api-token", Some(access), &body)
            .await;
        r.expect(200, "create-api-token")["api_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates scan `id` with `metadata` and asserts 201.
    pub async fn scan(&self, token: &str, id: &str, metadata: Value) {
        self.post_json(
            &format!("/api/v1/scans/{id}"),
            Some(token),
            &json!({ "metadata": metadata }),
        )
        .await
        .expect(201, &format!("create scan {id}"));
    }

    /// Creates fileset `fs` of `scan` and asserts 201.
    pub async fn fileset(&self, token: &str, scan: &str, fs: &str) {
        self.post_json(
            &format!("/api/v1/filesets/{scan}/{fs}"),
            Some(token),
            &json!({}),
        )
        .await
        .expect(201, &format!("create fileset {scan}/{fs}"));
    }

    /// The stored scan metadata, read from disk.
    pub fn scan_metadata_on_disk(&self, scan_dir: &str) -> Value {
        read_json(&self.root.join(scan_dir).join("metadata/metadata.json"))
    }

    /// `GET .../files` ids of a fileset.
    pub async fn file_ids(&self, scan: &str, fs: &str) -> Vec<String> {
        let r = self
            .get(&format!("/api/v1/filesets/{scan}/{fs}/files"), None)
            .await;
        let body = r.expect(200, "list files");
        serde_json::from_value(body["files"].clone()).unwrap()
    }
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The names in a directory (empty if it does not exist), sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every path under `dir` (relative, `/`-separated), recursively, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.push(rel);
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The hidden entries (temporaries) anywhere under `dir`.
pub fn hidden_under(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| p.split('/').any(|c| c.starts_with('.')))
        .collect()
}

/// Python's `datetime.isoformat()` of a naive time: microseconds optional.
pub fn assert_python_iso(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v}"));
    let re = regex_lite(s);
    assert!(re, "{what}: not a naive ISO timestamp: {s}");
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` without a regex crate.
fn regex_lite(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let base = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    base && (b.len() == 19 || (b.len() == 26 && b[19] == b'.' && digits(20..26)))
}

/// Deterministic bytes for a file id (for upload checks).
pub fn bytes_for(id: &str, len: usize) -> Vec<u8> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..len)
        .map(|i| {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            (h as u8) ^ (i as u8)
        })
        .collect()
}
