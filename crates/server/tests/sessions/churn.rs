//! Churn: logins, rotations, logouts and API tokens by the hundred, and the
//! session store shrinks back once they expire (the periodic purge).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{new_db_dir, sessions_file, Server};

const ROUNDS: usize = 3;
const LOGINS_PER_ROUND: usize = 10;

fn rows(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(sessions_file(db)).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0))
        .unwrap()
}

async fn churn(server: &Server) {
    for i in 0..LOGINS_PER_ROUND {
        let pair = server.login("guest", "guest").await;
        // A rotation leaves the spent refresh token behind for reuse detection.
        let rotated = server.refresh(&pair.refresh).await;
        let access = rotated.text("access_token");
        if i % 2 == 0 {
            server.logout(&access).await.ok();
        } else {
            server.mint(&access, 1, json!({"*": ["read"]})).await;
        }
    }
}

#[tokio::test]
async fn expired_sessions_are_purged_so_storage_stays_bounded() {
    let dir = new_db_dir();
    let args = [
        "--session-timeout",
        "1",
        "--refresh-timeout",
        "2",
        "--purge-interval",
        "1",
    ];
    let server = Server::start(dir.path(), &args);
    for round in 0..ROUNDS {
        churn(&server).await;
        let peak = rows(dir.path());
        assert!(
            peak >= LOGINS_PER_ROUND as i64,
            "round {round}: {peak} rows"
        );
        // Lifetimes of 2 s at most, 2 s of leeway, a purge every second.
        let deadline = Instant::now() + Duration::from_secs(15);
        while rows(dir.path()) > 0 {
            assert!(Instant::now() < deadline, "round {round}: never purged");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    server.stop();
}
