#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real Python client (`plantdb-client` 0.17) against the real binary:
//! `crates/server/tests/python/client_compat.py` drives `PlantDBClient` and the
//! `rest_api` helpers through login, refresh, API tokens, register, logout.
//! Skipped (with a message) when the venv of `scripts/python-env.sh` is missing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use support::server::{origin_of, ServeCommand, ServerProcess};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's interpreter: `$PLANTDB_PYTHON`, else `target/pyenv/venv/bin/python`.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PLANTDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/pyenv/venv/bin/python"));
    path.exists().then_some(path)
}

/// `plantdb-auth serve --test` in a child process, killed on drop. Its
/// temporary database goes under `tmp` (via `TMPDIR`), so nothing is left
/// behind even though the process is killed.
struct Server {
    process: ServerProcess,
    /// Scheme, host and port, without the deployment prefix.
    origin: String,
    _tmp: tempfile::TempDir,
}

impl Server {
    fn start(extra_args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let process = ServeCommand::new()
            .args(["--test", "--no-rate-limits"])
            .args(extra_args)
            .env_clear()
            .env("TMPDIR", tmp.path())
            .env("PLANTDB_LOG_LEVEL", "info")
            .startup_timeout(STARTUP_TIMEOUT)
            .start();
        Server {
            origin: process.origin().to_owned(),
            process,
            _tmp: tmp,
        }
    }

    fn log(&self) -> String {
        self.process.output()
    }
}

/// Runs `client_compat.py` against `origin`; returns its status and output.
fn run_client(python: &Path, origin: &str, extra_args: &[&str]) -> (ExitStatus, String) {
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let script = repo_root().join("crates/server/tests/python/client_compat.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(origin)
        .args(extra_args)
        .arg("--trace")
        .env_remove("PLANTDB_PREFIX")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let status = wait_with_timeout(&mut child, CLIENT_TIMEOUT);
    let output = format!(
        "--- stdout\n{}--- stderr\n{}",
        std::fs::read_to_string(stdout).unwrap_or_default(),
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    match status {
        Some(status) => (status, output),
        None => panic!("client_compat.py did not finish in {CLIENT_TIMEOUT:?}:\n{output}"),
    }
}

/// `None` (after killing it) if the child outlives `timeout`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn check_client(server_args: &[&str], client_args: &[&str]) {
    let Some(python) = python() else {
        println!("skipped: Python plantdb-commons not installed (run scripts/python-env.sh)");
        return;
    };
    let server = Server::start(server_args);
    let (status, output) = run_client(&python, &server.origin, client_args);
    println!("{output}");
    assert!(
        status.success(),
        "client_compat.py failed ({status}) against {} {server_args:?}:\n{output}\n--- server log\n{}",
        server.origin,
        server.log()
    );
    assert!(output.contains("ok all client compatibility checks passed"));
}

#[test]
fn python_client_works_against_the_server() {
    check_client(&[], &[]);
}

#[test]
fn python_client_works_behind_a_url_prefix() {
    check_client(&["--url-prefix", "/plantdb"], &["--prefix", "/plantdb"]);
}

#[test]
fn the_startup_line_gives_the_origin() {
    let line = "plantdb-auth listening on http://127.0.0.1:4321/plantdb (database: /tmp/x/db)";
    assert_eq!(origin_of(line).as_deref(), Some("http://127.0.0.1:4321"));
    let line = "plantdb-auth listening on http://127.0.0.1:5000 (database: /tmp/x/db)";
    assert_eq!(origin_of(line).as_deref(), Some("http://127.0.0.1:5000"));
    assert_eq!(origin_of("INFO started"), None);
}
