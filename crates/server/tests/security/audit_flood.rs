//! The audit log cannot be erased by flooding it: thousands of refusals
//! (denied requests of the public `guest` account, then failed logins under
//! a thousand 16 KiB usernames from a thousand addresses) leave an earlier
//! login in the retained
//! files, every line bounded, and what was held back counted in
//! `suppressed` lines.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::{assert_error, new_db_dir, Options, Server, HEAVY};

const MAX_BYTES: u64 = 32 * 1024;
const KEEP: usize = 6;
/// The server's bound on a line, its newline included.
const LINE_MAX: usize = 1024;
/// The defaults: 20 per client, 10 times that for all clients together.
const TOTAL_BURST: usize = 200;
const TOTAL_PER_HOUR: f64 = 720.0;
const NAME_BYTES: usize = 16 * 1024;
const WORKERS: usize = 32;
const DENIALS: usize = 3000;
const FAILED_LOGINS: usize = 1000;

/// What one request of the flood is.
#[derive(Clone)]
enum Refusal {
    /// A user listing by an account without the right (cheap: no hashing).
    Denied(Arc<String>),
    /// A failed login as a fresh 16 KiB username.
    FailedLogin,
}

/// Sends `count` refusals, `WORKERS` at a time.
async fn flood(server: &Arc<Server>, count: usize, refusal: Refusal) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..WORKERS {
        let (server, next, refusal) = (Arc::clone(server), Arc::clone(&next), refusal.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                match &refusal {
                    Refusal::Denied(token) => {
                        let req = server.request(Method::GET, "/api/v1/users");
                        let reply = server.send(req.bearer_auth(token.as_str())).await;
                        assert_eq!(reply.status.as_u16(), 403, "{reply:?}");
                    }
                    Refusal::FailedLogin => {
                        // Each from its own address (any of 127/8 reaches
                        // the server): a flood from a thousand clients.
                        let source: std::net::IpAddr =
                            [127, 1, (i / 250) as u8, (i % 250 + 1) as u8].into();
                        let client = reqwest::Client::builder()
                            .local_address(source)
                            .timeout(Duration::from_secs(30))
                            .build()
                            .unwrap_or_else(|e| panic!("client: {e}"));
                        let name = format!("{i:05}{}", "B".repeat(NAME_BYTES));
                        let body =
                            serde_json::json!({"username": name, "password": "Wrong-password-42"});
                        let req = client.post(server.url("/api/v1/auth/login")).json(&body);
                        let reply = server.send(req).await;
                        assert_error(&reply, 401, &["invalid_credentials"], "flooded login");
                    }
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap_or_else(|e| panic!("flood worker: {e}"));
    }
}

/// Every retained line, oldest first, as text.
fn audit_lines(db: &Path) -> Vec<String> {
    let state = db.join(".plantdb-auth");
    let mut files: Vec<String> = (1..=KEEP).rev().map(|n| format!("audit.log.{n}")).collect();
    files.push("audit.log".into());
    assert!(
        state.join("audit.log.1").exists(),
        "the flood never rotated the log: the test proves nothing"
    );
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(state.join(f)).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_failed_logins_cannot_push_older_events_out() {
    let _heavy = HEAVY.lock().await;
    let dir = new_db_dir();
    // Rate limits stay off (the helpers' default): every request comes from
    // 127.0.0.1, and this plays a flood from as many addresses as it takes.
    // One client's window reopens every second, so that a summary is due
    // within the test; the other limits are the defaults.
    let opts = Options::on_db(dir.path()).cheap_hashing().args(&[
        "--audit-max-bytes",
        &MAX_BYTES.to_string(),
        "--audit-keep",
        &KEEP.to_string(),
        "--audit-refusals-per-hour",
        "3600",
    ]);
    let server = Arc::new(Server::start(opts.patient(Duration::from_secs(30))));
    server.admin_token().await;
    let started = Instant::now();
    // One client (guest, refused again and again), then a client per name.
    let guest = Arc::new(server.login("guest", "guest").await.0);
    flood(&server, DENIALS, Refusal::Denied(guest)).await;
    flood(&server, FAILED_LOGINS, Refusal::FailedLogin).await;
    let flood = started.elapsed();
    // Successes are never held back, flood or not.
    server.admin_token().await;

    let lines = audit_lines(dir.path());
    let too_long: Vec<usize> = lines
        .iter()
        .map(String::len)
        .filter(|len| len + 1 > LINE_MAX)
        .collect();
    assert!(
        too_long.is_empty(),
        "lines over {LINE_MAX} bytes: {too_long:?}"
    );
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |name: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == name).collect() };

    let logins: Vec<&Value> = of("login_ok");
    let users: Vec<&str> = logins.iter().filter_map(|e| e["user"].as_str()).collect();
    assert_eq!(
        users,
        ["admin", "guest", "admin"],
        "the earlier login was pushed out"
    );

    let denials = of("permission_denied");
    let refusals = of("login_failed");
    let allowed = TOTAL_BURST + (flood.as_secs_f64() * TOTAL_PER_HOUR / 3600.0).ceil() as usize;
    assert!(
        denials.len() + refusals.len() <= allowed,
        "{} refusals written in {flood:?} (at most {allowed})",
        denials.len() + refusals.len()
    );
    // The name is a 5-digit number and the padding.
    let marker = format!("…(truncated, {} bytes)", NAME_BYTES + 5);
    assert!(
        refusals.iter().any(|e| e["user"]
            .as_str()
            .is_some_and(|u| u.ends_with(&marker) && u.len() < 300)),
        "no username truncated with {marker:?}"
    );

    let summaries = of("suppressed");
    let one_client = summaries
        .iter()
        .find(|e| e["user"] == "guest")
        .unwrap_or_else(|| panic!("no summary of guest's refusals: {summaries:?}"));
    let held_denials = one_client["events"]["permission_denied"].as_u64();
    assert!(held_denials.is_some_and(|n| n > 0), "{one_client}");
    let held: u64 = summaries.iter().filter_map(|e| e["count"].as_u64()).sum();
    let sent = DENIALS + FAILED_LOGINS;
    assert!(held as usize + denials.len() + refusals.len() <= sent);
}
