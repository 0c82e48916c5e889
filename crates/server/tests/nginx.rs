//! A real nginx protects a static directory with `auth_request` against
//! `GET /api/v1/authz/verify`: the configuration the README shows, proven.
//! Skipped (and passing) where nginx is not installed; `.ci/run` installs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::server::{ServeCommand, ServerProcess};

/// The README's `server` block body: `{static}` and `{auth}` are filled in.
const PROTECTED: &str = r#"
        location /files/ {
            auth_request /_auth;
            # Who the request belongs to, for the logs or the upstream.
            auth_request_set $plantdb_user $upstream_http_x_plantdb_user;
            add_header X-User $plantdb_user always;
            alias {static}/;
        }

        location = /_auth {
            internal;
            proxy_pass http://{auth}/api/v1/authz/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Authorization $http_authorization;
            proxy_set_header X-Original-URI $request_uri;
        }
"#;

const SECRET: &str = "the plant scans\n";
const PASSWORD: &str = "Correct-Horse-7-battery";

fn nginx_binary() -> Option<PathBuf> {
    let default = PathBuf::from("/usr/sbin/nginx");
    if default.is_file() {
        return Some(default);
    }
    let out = Command::new("which").arg("nginx").output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Everything in `dir`; one process (`master_process off`), so killing the
/// child stops nginx, and it reads the files as whoever runs the test.
fn config(dir: &Path, port: u16, auth: &str) -> String {
    let d = dir.display();
    let locations = PROTECTED
        .replace("{static}", &format!("{d}/static"))
        .replace("{auth}", auth);
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"#
    )
}

/// nginx as a child process, killed when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, port: u16, auth: &str) -> Nginx {
        std::fs::create_dir_all(dir.join("static")).unwrap();
        std::fs::write(dir.join("static").join("scan.txt"), SECRET).unwrap();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, port, auth)).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Nginx {
            child,
            dir: dir.to_path_buf(),
        };
        nginx.wait_listening(port);
        nginx
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn wait_listening(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nginx exited with {status}:\n{}", self.log());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx is not listening on {port}:\n{}", self.log());
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `plantdb-auth serve --test` (admin/admin) on a free port: the server
/// (killed when dropped) and the `host:port` it announced.
fn start_ours() -> (ServerProcess, String) {
    let ours = ServeCommand::new()
        .args(["--test", "--no-rate-limits"])
        .args(["--argon2-memory", "256", "--argon2-iterations", "1"])
        .start();
    let addr = ours.addr().to_owned();
    (ours, addr)
}

async fn post(client: &Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    resp.json().await.unwrap()
}

/// The tokens the test presents to nginx.
struct Tokens {
    access: String,
    refresh: String,
    api: String,
}

/// admin registers alice; alice logs in and mints an API token.
async fn alice_tokens(client: &Client, api: &str) -> Tokens {
    let login = |user: &str, password: &str| {
        let body = json!({"username": user, "password": password});
        post(client, format!("{api}/auth/login"), None, body)
    };
    let admin = login("admin", "admin").await;
    let admin = admin["access_token"].as_str().unwrap().to_string();
    let alice = json!({"username": "alice", "fullname": "Alice", "password": PASSWORD});
    post(client, format!("{api}/auth/register"), Some(&admin), alice).await;
    let pair = login("alice", PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap().to_string();
    let grant = json!({"token_exp": 600, "datasets": {"*": ["read"]}});
    let url = format!("{api}/auth/token/create-api-token");
    let minted = post(client, url, Some(&access), grant).await;
    Tokens {
        refresh: pair["refresh_token"].as_str().unwrap().to_string(),
        api: minted["api_token"].as_str().unwrap().to_string(),
        access,
    }
}

struct Answer {
    status: u16,
    user: Option<String>,
    body: String,
}

async fn fetch(base: &str, path: &str, token: Option<&str>) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let user = resp
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.unwrap();
    Answer { status, user, body }
}

#[tokio::test]
async fn nginx_auth_request_protects_a_static_directory() {
    let Some(binary) = nginx_binary() else {
        println!("skipped: nginx not installed (apt-get install nginx)");
        return;
    };
    let (_ours, auth) = start_ours();
    let client = Client::new();
    let api = format!("http://{auth}/api/v1");
    let alice = alice_tokens(&client, &api).await;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let nginx = Nginx::start(&binary, dir.path(), port, &auth);
    let base = format!("http://127.0.0.1:{port}");
    let file = "/files/scan.txt";

    let denied = fetch(&base, file, None).await;
    assert_eq!(denied.status, 401, "no token:\n{}", nginx.log());
    assert!(!denied.body.contains(SECRET.trim()));
    assert_eq!(fetch(&base, file, Some("not-a-jwt")).await.status, 401);
    assert_eq!(fetch(&base, file, Some(&alice.refresh)).await.status, 401);

    let granted = fetch(&base, file, Some(&alice.access)).await;
    assert_eq!(granted.status, 200, "access token:\n{}", nginx.log());
    assert_eq!(granted.body, SECRET);
    assert_eq!(granted.user.as_deref(), Some("alice"));
    let by_api = fetch(&base, file, Some(&alice.api)).await;
    assert_eq!(by_api.status, 200, "API token:\n{}", nginx.log());
    assert_eq!(by_api.body, SECRET);

    // The verification location is not reachable from outside.
    assert_eq!(
        fetch(&base, "/_auth", Some(&alice.access)).await.status,
        404
    );

    let url = format!("{api}/auth/logout");
    post(&client, url, Some(&alice.access), json!({})).await;
    assert_eq!(fetch(&base, file, Some(&alice.access)).await.status, 401);
    // Logging out ends the session, not the API token.
    assert_eq!(fetch(&base, file, Some(&alice.api)).await.status, 200);
}
