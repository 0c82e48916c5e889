//! The server in the test's own process: built by the binary's startup
//! function (`startup::build_with_clock`) from the same `serve` arguments,
//! on 127.0.0.1 port 0, on its own multi-threaded runtime in its own thread
//! (as in a process, the test's runtime never runs the server's work), with
//! a clock the test moves forward instead of sleeping through an expiry.
//!
//! What needs a real process stays on [`super::server::ServeCommand`]:
//! crashes, restarts, signals, environment variables, the server's output.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use plantdb_auth::cli::{Cli, Command};
use plantdb_auth_core::clock::ShiftedClock;

use super::server::SERVER_ENV;

pub struct InProcessServer {
    pub url: String,
    pub port: u16,
    clock: Arc<ShiftedClock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Why a server cannot run in process: the test process has server
/// variables of its own, which the in-process parse would read.
pub fn blocked_by_environment() -> Option<&'static str> {
    SERVER_ENV
        .iter()
        .copied()
        .find(|name| std::env::var_os(name).is_some())
}

impl InProcessServer {
    /// `plantdb-auth serve --host 127.0.0.1 --port 0 <args>`; `None` when
    /// the test process's environment would change the arguments' meaning
    /// (then the caller starts a process instead).
    pub fn start(args: &[&str]) -> Option<InProcessServer> {
        if let Some(name) = blocked_by_environment() {
            eprintln!("the test process sets {name}: the server runs as a child process instead");
            return None;
        }
        let mut argv = vec![
            "plantdb-auth",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let Command::Serve(serve) = cli.command else {
            panic!("not a serve command: {argv:?}")
        };
        let clock = Arc::new(ShiftedClock::new());
        let server_clock = clock.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the in-process server");
            runtime.block_on(async move {
                let app = match plantdb_auth::startup::build_with_clock(*serve, server_clock).await
                {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(app.url.clone()));
                tokio::select! {
                    _ = app.run_until_stopped() => {},
                    _ = stop_rx => {},
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
        });
        let url = match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(url)) => url,
            Ok(Err(e)) => panic!("the in-process server did not start ({argv:?}): {e}"),
            Err(e) => panic!("the in-process server did not start ({argv:?}): {e}"),
        };
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .split(['/', '?'])
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        Some(InProcessServer {
            url,
            port,
            clock,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Moves the server's clock forward: tokens, sessions and lockouts
    /// expire as if `by` had passed.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.clock.advance(by);
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
