//! A real nginx asks `/api/v1/authz/verify` before every request
//! (`auth_request`), reporting the original method and URI: the
//! configuration docs/api.md shows, proven. nginx serves the database's
//! files itself under `/files/` and proxies everything else to our data
//! API; the verification decides per method and path, as the data API
//! would. Skipped (and passing) where nginx is not installed; `.ci/run`
//! installs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::server::{new_db_dir, ServeCommand, ServerProcess};

/// docs/api.md's `server` block body: `{db}` (the database directory) and
/// `{auth}` (our `host:port`) are filled in.
const PROTECTED: &str = r#"
        # The scans' files, served by nginx itself.
        location /files/ {
            auth_request /_auth;
            # Who the request belongs to, for the logs or the upstream.
            auth_request_set $plantdb_user $upstream_http_x_plantdb_user;
            add_header X-User $plantdb_user always;
            alias {db}/;
        }

        # Everything else: the PlantDB API.
        location / {
            auth_request /_auth;
            auth_request_set $plantdb_user $upstream_http_x_plantdb_user;
            add_header X-User $plantdb_user always;
            proxy_pass http://{auth};
            proxy_set_header X-PlantDB-User $plantdb_user;
        }

        location = /_auth {
            internal;
            proxy_pass http://{auth}/api/v1/authz/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Authorization $http_authorization;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
        }
"#;

const SECRET: &str = "the plant scans\n";
const PASSWORD: &str = "Correct-Horse-7-battery";
const ADMIN_PASSWORD: &str = "Adm1n-Pa55-for-tests";

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
fn config(dir: &Path, port: u16, auth: &str, db: &Path) -> String {
    let d = dir.display();
    let locations = PROTECTED
        .replace("{db}", &db.display().to_string())
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
    base: String,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, auth: &str, db: &Path) -> Nginx {
        let port = free_port();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, port, auth, db)).unwrap();
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
            base: format!("http://127.0.0.1:{port}"),
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

/// A scan directory: `alice_scan` is alice's; it holds `images/scan.txt`.
fn write_scan(root: &Path, id: &str, metadata: Value) {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("metadata")).unwrap();
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::write(dir.join("images").join("scan.txt"), SECRET).unwrap();
    let files =
        json!({"filesets": [{"id": "images", "files": [{"id": "scan", "file": "scan.txt"}]}]});
    std::fs::write(dir.join("files.json"), files.to_string()).unwrap();
    std::fs::write(
        dir.join("metadata").join("metadata.json"),
        metadata.to_string(),
    )
    .unwrap();
}

/// `plantdb-auth serve` on `db` on a free port: the server (killed when
/// dropped) and the `host:port` it announced.
fn start_ours(db: &Path) -> (ServerProcess, String) {
    let ours = ServeCommand::new()
        .args(["--db", db.to_str().unwrap(), "--no-rate-limits"])
        .args(["--argon2-memory", "256", "--argon2-iterations", "1"])
        .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .start();
    let addr = ours.addr().to_owned();
    (ours, addr)
}

async fn call(
    client: &Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.request(method, url).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    resp.json().await.unwrap_or(Value::Null)
}

async fn login(client: &Client, api: &str, user: &str, password: &str) -> (String, String) {
    let body = json!({"username": user, "password": password});
    let pair = call(
        client,
        Method::POST,
        format!("{api}/auth/login"),
        None,
        body,
    )
    .await;
    let token = |k: &str| pair[k].as_str().unwrap().to_string();
    (token("access_token"), token("refresh_token"))
}

/// The tokens the tests present to nginx.
struct Tokens {
    admin: String,
    /// alice (reader, owner of `alice_scan`): access, refresh and an API
    /// token granting read on every scan.
    access: String,
    refresh: String,
    api: String,
    /// bob (reader).
    bob: String,
}

/// admin registers alice and bob; alice mints an API token.
async fn tokens(client: &Client, api: &str) -> Tokens {
    let (admin, _) = login(client, api, "admin", ADMIN_PASSWORD).await;
    for user in ["alice", "bob"] {
        let body = json!({"username": user, "fullname": user, "password": PASSWORD});
        call(
            client,
            Method::POST,
            format!("{api}/auth/register"),
            Some(&admin),
            body,
        )
        .await;
    }
    let (access, refresh) = login(client, api, "alice", PASSWORD).await;
    let grant = json!({"token_exp": 600, "datasets": {"*": ["read"]}});
    let url = format!("{api}/auth/token/create-api-token");
    let minted = call(client, Method::POST, url, Some(&access), grant).await;
    Tokens {
        bob: login(client, api, "bob", PASSWORD).await.0,
        api: minted["api_token"].as_str().unwrap().to_string(),
        admin,
        access,
        refresh,
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    user: Option<String>,
    /// nginx's own refusals are HTML; ours (from upstream) are JSON.
    json: bool,
    body: String,
}

async fn send(base: &str, method: Method, path: &str, token: Option<&str>) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.request(method.clone(), format!("{base}{path}"));
    if method == Method::POST {
        req = req.json(&json!({"metadata": {"note": "via nginx"}}));
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let user = header("x-user").filter(|u| !u.is_empty());
    let json = header("content-type").is_some_and(|t| t.starts_with("application/json"));
    let body = resp.text().await.unwrap();
    Answer {
        status,
        user,
        json,
        body,
    }
}

async fn fetch(base: &str, path: &str, token: Option<&str>) -> Answer {
    send(base, Method::GET, path, token).await
}

#[tokio::test]
async fn nginx_auth_request_protects_a_static_directory() {
    let Some(binary) = nginx_binary() else {
        println!("skipped: nginx not installed (apt-get install nginx)");
        return;
    };
    let db = new_db_dir();
    write_scan(db.path(), "alice_scan", json!({"owner": "alice"}));
    let (_ours, auth) = start_ours(db.path());
    let client = Client::new();
    let api = format!("http://{auth}/api/v1");
    let alice = tokens(&client, &api).await;
    // Reads without a token act as guest: deactivated, reads are private.
    let url = format!("{api}/users/guest");
    let body = json!({"is_active": false});
    call(&client, Method::PATCH, url, Some(&alice.admin), body).await;

    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&binary, dir.path(), &auth, db.path());
    let base = nginx.base.clone();
    let file = "/files/alice_scan/images/scan.txt";

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

    // nginx would serve any file of the directory; the verification only
    // lets through files inside a scan (data-api.md §3.3).
    for path in [
        "/files/users.json",
        "/files/romidb",
        "/files/.plantdb-auth/jwt.key",
    ] {
        let answer = fetch(&base, path, Some(&alice.admin)).await;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert!(!answer.body.contains("password_hash"));
    }
    // A grant that does not cover the scan.
    let grant = json!({"token_exp": 600, "datasets": {"other_*": ["read"]}});
    let url = format!("{api}/auth/token/create-api-token");
    let narrow = call(&client, Method::POST, url, Some(&alice.access), grant).await;
    let narrow = narrow["api_token"].as_str().unwrap();
    assert_eq!(fetch(&base, file, Some(narrow)).await.status, 403);

    // The verification location is not reachable from outside.
    assert_eq!(
        fetch(&base, "/_auth", Some(&alice.access)).await.status,
        404
    );

    let url = format!("{api}/auth/logout");
    call(&client, Method::POST, url, Some(&alice.access), json!({})).await;
    assert_eq!(fetch(&base, file, Some(&alice.access)).await.status, 401);
    // Logging out ends the session, not the API token.
    assert_eq!(fetch(&base, file, Some(&alice.api)).await.status, 200);
}

#[tokio::test]
async fn nginx_auth_request_decides_per_method_in_front_of_the_data_api() {
    let Some(binary) = nginx_binary() else {
        println!("skipped: nginx not installed (apt-get install nginx)");
        return;
    };
    let db = new_db_dir();
    write_scan(db.path(), "alice_scan", json!({"owner": "alice"}));
    let (_ours, auth) = start_ours(db.path());
    let client = Client::new();
    let t = tokens(&client, &format!("http://{auth}/api/v1")).await;
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&binary, dir.path(), &auth, db.path());
    let base = nginx.base.clone();
    let scan = "/api/v1/scans/alice_scan";
    let metadata = "/api/v1/scans/alice_scan/metadata";
    let (alice, bob, admin) = (
        Some(t.access.as_str()),
        Some(t.bob.as_str()),
        Some(t.admin.as_str()),
    );

    // Reads: guest without a token, anyone with one; the upstream answers.
    for token in [None, bob] {
        let answer = fetch(&base, scan, token).await;
        assert_eq!(answer.status, 200, "{answer:?}\n{}", nginx.log());
        assert!(answer.json && answer.body.contains("alice_scan"));
    }
    assert_eq!(fetch(&base, scan, bob).await.user.as_deref(), Some("bob"));
    // Writes: the owner passes to the upstream, which writes.
    let written = send(&base, Method::POST, metadata, alice).await;
    assert_eq!(written.status, 200, "{written:?}\n{}", nginx.log());
    assert!(written.body.contains("via nginx"), "{written:?}");
    // The refusals come from nginx (HTML), not from the upstream (JSON).
    let rows = [
        (Method::POST, metadata, None, 401),
        (Method::POST, metadata, bob, 403),
        (Method::DELETE, scan, alice, 403),
        (Method::POST, "/api/v1/scans/new_scan", alice, 403),
        (Method::GET, "/api/v1/scans/no_such_scan", bob, 403),
        // Unmapped: denied by default, even for admin (the upstream would serve it).
        (Method::GET, "/api/v1/users", admin, 403),
        (Method::GET, "/api/v1/users", None, 401),
        // nginx matches the normalised path; we judge the raw one.
        (Method::GET, "/files/%2e%2e/users.json", admin, 403),
        (
            Method::GET,
            "/api/v1/assets/files/alice_scan/%2e%2e/%2e%2e/users.json",
            admin,
            403,
        ),
    ];
    for (method, path, token, status) in rows {
        let answer = send(&base, method.clone(), path, token).await;
        assert_eq!(
            answer.status,
            status,
            "{method} {path}: {answer:?}\n{}",
            nginx.log()
        );
        assert!(
            !answer.json,
            "{method} {path}: not refused by nginx: {answer:?}"
        );
    }
    // admin may delete: the verification passes and the upstream answers
    // (it has no DELETE route: its JSON 405).
    let answer = send(&base, Method::DELETE, scan, admin).await;
    assert_eq!(answer.status, 405, "{answer:?}");
    assert!(answer.json, "{answer:?}");
    // Logging in needs no token, through the proxy as well.
    let body = json!({"username": "bob", "password": PASSWORD});
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
}
