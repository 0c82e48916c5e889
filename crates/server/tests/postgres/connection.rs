//! The connection to PostgreSQL: bad `--store` settings stop the server
//! with what to do (no PostgreSQL needed); TLS with certificate
//! verification; `/health/ready` follows the connection through an outage
//! without a restart (a TCP proxy in front of the test cluster is cut and
//! restored, so the shared cluster itself stays up for the other tests).

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use plantdb_auth_postgres::testing::{test_url, TestSchema};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{bin, Server, ADMIN_PW};
use crate::support::server::SERVER_ENV;

const CA_VAR: &str = "PLANTDB_TEST_POSTGRES_CA";

/// `plantdb-auth serve --store <store>` run to its end, with its stderr.
fn serve_fails(store: &str, extra: &[&str]) -> (Output, String, Duration) {
    let db = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    for key in SERVER_ENV {
        cmd.env_remove(key);
    }
    let start = Instant::now();
    let out = cmd
        .args(["serve", "--port", "0", "--store", store, "--db"])
        .arg(db.path())
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{store}: started: {stderr}");
    (out, stderr, start.elapsed())
}

#[test]
fn bad_store_settings_stop_the_server_with_what_to_do() {
    // Nothing listens on port 1: refused at once.
    let base = "postgres://postgres:hunter2@127.0.0.1:1/postgres";
    let cases = [
        (format!("{base}?sslmode=verify-everything"), "sslmode=verify-everything is not a valid sslmode: use disable, prefer, require, verify-ca or verify-full"),
        (format!("{base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"), "cannot read sslrootcert=/nonexistent/ca.pem"),
        (format!("{base}?sslmode=verify-ca"), "sslmode=verify-ca needs sslrootcert=PATH"),
    ];
    for (store, want) in &cases {
        let (out, stderr, took) = serve_fails(store, &[]);
        assert!(stderr.contains(want), "{store}: {stderr}");
        assert!(stderr.contains("--store (PLANTDB_STORE)"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "the password shows: {stderr}");
        assert!(
            out.stdout.is_empty() && took < Duration::from_secs(10),
            "{stderr}"
        );
    }
    let (_, stderr, took) = serve_fails(base, &["--store-connect-wait", "1"]);
    assert!(stderr.contains("--store / PLANTDB_STORE"), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:1 cannot be reached (waited"),
        "{stderr}"
    );
    assert!(
        stderr.contains("start it, or correct the host and port"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password shows: {stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {stderr}");
}

#[tokio::test]
async fn a_server_on_verify_full_tls_serves() {
    let Some(base) = test_url("a_server_on_verify_full_tls_serves") else {
        return;
    };
    let Some(ca) = std::env::var(CA_VAR).ok().filter(|c| !c.is_empty()) else {
        eprintln!(
            "a_server_on_verify_full_tls_serves: skipped: set {CA_VAR} (export {CA_VAR}=\"$(bash scripts/pg-test-cluster.sh ca)\")"
        );
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let url = format!("{}&sslmode=verify-full&sslrootcert={ca}", schema.url);
    let scans = tempfile::tempdir().unwrap();
    let server = Server::start(&url, scans.path());
    let (access, _) = server.login("admin", ADMIN_PW).await;
    assert!(server.validates(&access).await);
    assert_eq!(ready(&server).await.0, 200);
}

/// A TCP proxy to PostgreSQL that can be cut (listener closed, every
/// connection dropped) and restored on the same port.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream: upstream.to_string(),
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropped with this task: aborts every connection.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

async fn ready(server: &Server) -> (u16, Value) {
    let resp = reqwest::get(format!("{}/health/ready", server.base))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Waits (2 s at most) for `plantdb_auth_postgres_connected` to read
/// `want`: the listener sets it at each heartbeat, and the metrics recorder
/// is installed on first use, after the first ones.
async fn gauge_reads(server: &Server, want: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        let text = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = format!("plantdb_auth_postgres_connected {want}");
        if text.lines().any(|l| l == line) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Polls readiness until it answers `want`; panics after `within`.
async fn until_ready(server: &Server, want: u16, within: Duration, what: &str) -> Duration {
    let start = Instant::now();
    loop {
        let (status, body) = ready(server).await;
        if status == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what}: still {status} {body} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_postgres_connection() {
    let Some(base) = test_url("readiness_follows_the_postgres_connection") else {
        return;
    };
    let Some(upstream) = base
        .split_once('@')
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .map(str::to_string)
    else {
        eprintln!("readiness_follows_the_postgres_connection: skipped: no host:port in {base}");
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let mut proxy = Proxy::start(&upstream).await;
    let through = schema.url.replacen(&upstream, &proxy.addr.to_string(), 1);
    let scans = tempfile::tempdir().unwrap();
    let server = Server::start(&through, scans.path());
    assert_eq!(ready(&server).await.0, 200);
    assert!(gauge_reads(&server, "1").await);

    proxy.cut();
    let took = until_ready(&server, 503, Duration::from_secs(10), "after the cut").await;
    eprintln!("readiness 503 {took:?} after PostgreSQL went away");
    let (_, body) = ready(&server).await;
    assert_eq!(body["checks"]["store"], "unreachable", "{body}");
    assert!(gauge_reads(&server, "0").await);
    // The outage lasts a while: the reconnection backs off meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ready(&server).await.0, 503);

    proxy.restore().await;
    let took = until_ready(&server, 200, Duration::from_secs(30), "after the return").await;
    eprintln!("readiness 200 {took:?} after PostgreSQL came back");
    assert!(gauge_reads(&server, "1").await);
    let (access, _) = server.login("admin", ADMIN_PW).await;
    assert!(
        server.validates(&access).await,
        "serving again, same process"
    );
    let log = server.output();
    let warnings = log.matches("PostgreSQL connection lost").count();
    assert_eq!(
        warnings, 1,
        "one warning per outage, not per attempt:\n{log}"
    );
}
