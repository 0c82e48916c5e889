//! `kill -9` in the middle of a stream of logins and logouts. After a
//! restart every token a client received is valid unless it was revoked,
//! and every revocation the server acknowledged holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{new_db_dir, Pair, Server};

const CLIENTS: usize = 4;
/// Logins answered before the crash, across all clients.
const LOGINS_BEFORE_CRASH: usize = 60;

/// What one client knows when the server disappears.
#[derive(Default)]
struct Ledger {
    /// Logins answered 200, never logged out.
    live: Vec<Pair>,
    /// Logouts answered 200.
    revoked: Vec<Pair>,
    /// A logout sent when the server died: either outcome is correct.
    unknown: Vec<Pair>,
}

/// Logs in, and logs out every other session, until the server is gone.
async fn client(server: Arc<Server>, logins: Arc<AtomicUsize>) -> Ledger {
    let mut ledger = Ledger::default();
    let mut round = 0u64;
    loop {
        round += 1;
        let Ok(pair) = server.try_login("guest", "guest").await else {
            return ledger;
        };
        ledger.live.push(pair);
        logins.fetch_add(1, Ordering::SeqCst);
        if round % 2 == 1 {
            let pair = ledger.live.remove(0);
            match server
                .try_call(
                    reqwest::Method::POST,
                    "/api/v1/auth/logout",
                    Some(&pair.access),
                    None,
                )
                .await
            {
                Ok(reply) => {
                    assert_eq!(reply.status, 200, "{reply:?}");
                    ledger.revoked.push(pair);
                }
                Err(_) => {
                    ledger.unknown.push(pair);
                    return ledger;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_loses_no_token_and_no_acknowledged_revocation() {
    let dir = new_db_dir();
    // No cap: an eviction would end sessions the test expects alive.
    let args = ["--max-sessions-per-user", "100000"];
    let server = Arc::new(Server::start(dir.path(), &args));
    let logins = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(client(Arc::clone(&server), Arc::clone(&logins))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while logins.load(Ordering::SeqCst) < LOGINS_BEFORE_CRASH {
        assert!(Instant::now() < deadline, "too slow:\n{}", server.output());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    let mut all = Ledger::default();
    for c in clients {
        let ledger = c.await.unwrap();
        all.live.extend(ledger.live);
        all.revoked.extend(ledger.revoked);
        all.unknown.extend(ledger.unknown);
    }
    assert!(!all.revoked.is_empty(), "no logout before the crash");

    let server = Server::start(dir.path(), &args);
    for pair in &all.live {
        assert_eq!(server.validation(&pair.access).await, 200, "lost a session");
    }
    for pair in &all.revoked {
        assert_eq!(server.validation(&pair.access).await, 401, "logout undone");
        server
            .refresh(&pair.refresh)
            .await
            .fails(401, "invalid_token");
    }
    for pair in &all.unknown {
        let status = server.validation(&pair.access).await;
        assert!(status == 200 || status == 401, "{status}");
    }
    // Refresh halves too (after validation: a refresh ends its access token).
    for pair in &all.live {
        server.refresh(&pair.refresh).await.ok();
    }
}
