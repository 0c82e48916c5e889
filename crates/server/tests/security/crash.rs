//! Crash safety: `kill -9` at random moments of a registration storm. After
//! every crash the database opens, `users.json` parses, and every user whose
//! registration was acknowledged (201) exists; so does every session.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{new_db_dir, users_in_file, Options, Server, HEAVY, STRONG_PW};

const ROUNDS: usize = 20;
const WORKERS: usize = 6;
/// The kill lands this long (ms) into the storm, at random.
const KILL_AFTER_MS: std::ops::Range<u64> = 20..1000;

/// xorshift64*: reproducible with `SECURITY_CRASH_SEED`, no extra crate.
struct Rng(u64);

impl Rng {
    fn from_env_or_clock() -> Rng {
        let seed = std::env::var("SECURITY_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("crash test: SECURITY_CRASH_SEED={seed}");
        Rng(seed)
    }

    fn range(&mut self, r: std::ops::Range<u64>) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        r.start + self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % (r.end - r.start)
    }
}

/// Registers users one after another until the server dies; returns the
/// names it was told were created.
async fn storm_worker(
    port: u16,
    admin: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let url = format!("http://127.0.0.1:{port}/api/v1/auth/register");
    let mut acknowledged = Vec::new();
    for k in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("{prefix}-{k}");
        let body = json!({"username": name, "fullname": "Storm", "password": STRONG_PW});
        let sent = client
            .post(&url)
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await;
        match sent.map(|r| r.status().as_u16()) {
            Ok(201) => acknowledged.push(name),
            Ok(status) => assert!(status < 500, "{name}: {status}"),
            // The kill: the connection dies mid-request. Unacknowledged.
            Err(_) => break,
        }
    }
    acknowledged
}

fn assert_all_stored(root: &std::path::Path, acknowledged: &BTreeSet<String>, when: &str) {
    let stored: BTreeSet<String> = users_in_file(root)
        .unwrap_or_else(|e| panic!("{when}: {e}"))
        .into_iter()
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{when}: acknowledged but lost: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_registration_storm_loses_no_acknowledged_user() {
    let _heavy = HEAVY.lock().await;
    let started = Instant::now();
    let dir = new_db_dir();
    let opts = Options::on_db(dir.path()).cheap_hashing();
    let mut rng = Rng::from_env_or_clock();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut last_session: Option<String> = None;
    for round in 0..ROUNDS {
        let server = Server::try_start(&opts)
            .unwrap_or_else(|out| panic!("round {round}: the database did not open:\n{out}"));
        if let Some(token) = &last_session {
            let reply = server.validate(token).await;
            assert_eq!(
                reply.status, 200,
                "round {round}: a session was lost: {reply:?}"
            );
        }
        let admin = server.admin_token().await;
        last_session = Some(admin.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (admin, stop, acked) =
                    (admin.clone(), Arc::clone(&stop), Arc::clone(&acknowledged));
                let port = server.port;
                tokio::spawn(async move {
                    let names = storm_worker(port, admin, format!("r{round}-w{w}"), stop).await;
                    if let Ok(mut set) = acked.lock() {
                        set.extend(names);
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.range(KILL_AFTER_MS))).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await
                .unwrap_or_else(|e| panic!("round {round}: worker: {e}"));
        }
        let acked = acknowledged.lock().map(|s| s.clone()).unwrap_or_default();
        assert_all_stored(dir.path(), &acked, &format!("after kill {round}"));
    }
    let acked = acknowledged.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(!acked.is_empty(), "no registration was ever acknowledged");
    let server = Server::try_start(&opts).unwrap_or_else(|out| panic!("final start:\n{out}"));
    for name in &acked {
        assert!(server.exists(name).await, "{name} lost after restart");
    }
    eprintln!(
        "crash test: {ROUNDS} kills, {} acknowledged users, {:?}",
        acked.len(),
        started.elapsed()
    );
}
