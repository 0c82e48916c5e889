//! Accepting and serving connections, with the protections `axum::serve`
//! lacks: a header timeout (slowloris), a minimum rate for request bodies,
//! an idle timeout for kept-alive connections and for clients that stop
//! reading, a bound on connections served at once, and the JSON error body
//! on hyper's own answers to unparsable requests. Graceful shutdown stops
//! accepting, closes idle connections and finishes requests in progress.

mod body;
mod conn;
mod io;
mod slots;
mod state;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use body::BodyRate;
pub use state::Timeouts;

use slots::Slots;
use state::ConnState;

/// Longest request line and headers together (431 beyond): room for the
/// 8 KiB tokens the server accepts and for cookies, while 1024 connections
/// stay within 64 MiB of head buffers.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Descriptors kept for everything but client connections (database and
/// log files, scans being read, PostgreSQL) when the open-file limit is
/// lower than the connection bound.
const RESERVED_DESCRIPTORS: u64 = 256;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub timeouts: Timeouts,
    pub body: BodyRate,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and returns once every request in progress is answered.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Slots::new(connection_bound(limits.max_connections));
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses leave in one or two writes; without NODELAY the second
        // waits for the client's delayed ACK (40 ms per small response).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let conn = Arc::new(ConnState::new(limits.timeouts));
        let slot = tokio::select! {
            slot = slots.acquire(Arc::clone(&conn)) => slot,
            () = &mut shutdown => break,
        };
        let task = conn::serve_connection(stream, peer, router.clone(), limits.body, conn, slot);
        tokio::spawn(task);
    }
    drop(listener);
    slots.shutdown();
    slots.all_closed().await;
}

/// As `axum::serve`: a client that gave up is nothing; running out of
/// descriptors (or memory) is waited out rather than spun on.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// `requested`, lowered (with a warning) when the process may not open that
/// many descriptors: the bound must bite before the descriptors run out.
fn connection_bound(requested: usize) -> u32 {
    let requested = u32::try_from(requested).unwrap_or(u32::MAX);
    let Some(limit) = open_file_limit() else {
        return requested;
    };
    let allowed = limit.saturating_sub(RESERVED_DESCRIPTORS).max(limit / 2);
    let allowed = u32::try_from(allowed).unwrap_or(u32::MAX).max(1);
    if allowed < requested {
        tracing::warn!(
            requested,
            allowed,
            open_file_limit = limit,
            "--max-connections lowered to fit the open-file limit (raise it with `ulimit -n` or LimitNOFILE=)"
        );
        return allowed;
    }
    requested
}

/// The soft limit on open files (Linux), if known and finite.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
