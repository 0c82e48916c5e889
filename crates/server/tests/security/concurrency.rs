//! Hundreds of concurrent registrations, logins and password changes: no
//! lost update, `users.json` valid JSON at every instant, no 5xx.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{new_db_dir, users_in_file, Options, Server, HEAVY, STRONG_PW};

const REGISTRATIONS: usize = 200;
const LOGINS: usize = 200;
const LOGIN_USERS: usize = 20;
const PASSWORD_CHANGES: usize = 50;

fn new_password(i: usize) -> String {
    format!("Changed-Pass-{i}-staple")
}

/// Parses `users.json` in a loop until told to stop; returns how many
/// times it did, or the first failure.
fn spawn_reader(
    root: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<u64, String>> {
    std::thread::spawn(move || {
        let mut parses = 0;
        while !stop.load(Ordering::Relaxed) {
            users_in_file(&root)?;
            parses += 1;
            // Leave the server most of the two cores.
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(parses)
    })
}

#[derive(Debug)]
enum Op {
    Register(usize),
    Login(usize),
    ChangePassword(usize),
}

/// Runs one operation; returns the status codes it received.
async fn run(server: Arc<Server>, admin: Arc<String>, op: Op) -> (Op, Vec<u16>) {
    let mut statuses = Vec::new();
    match op {
        Op::Register(i) => {
            let reply = server
                .register(&admin, &format!("new-{i}"), STRONG_PW)
                .await;
            statuses.push(reply.status.as_u16());
        }
        Op::Login(i) => {
            let reply = server
                .try_login(&format!("login-{}", i % LOGIN_USERS), STRONG_PW)
                .await;
            statuses.push(reply.status.as_u16());
        }
        Op::ChangePassword(i) => {
            let user = format!("change-{i}");
            let reply = server.try_login(&user, STRONG_PW).await;
            statuses.push(reply.status.as_u16());
            if let Some(token) = reply.body["access_token"].as_str() {
                let body = json!({"current_password": STRONG_PW, "new_password": new_password(i)});
                let path = format!("/api/v1/users/{user}/password");
                let reply = server.post_json(&path, Some(token), &body).await;
                statuses.push(reply.status.as_u16());
            }
        }
    }
    (op, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_logins_and_password_changes_lose_nothing() {
    let _heavy = HEAVY.lock().await;
    let dir = new_db_dir();
    // Every write to users.json is fsynced and they queue: be patient.
    let opts = Options::on_db(dir.path()).cheap_hashing();
    let server = Arc::new(Server::start(opts.patient(Duration::from_secs(120))));
    let admin = Arc::new(server.admin_token().await);
    for i in 0..LOGIN_USERS {
        server
            .register(&admin, &format!("login-{i}"), STRONG_PW)
            .await
            .expect(201);
    }
    for i in 0..PASSWORD_CHANGES {
        server
            .register(&admin, &format!("change-{i}"), STRONG_PW)
            .await
            .expect(201);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(dir.path().to_path_buf(), Arc::clone(&stop));
    let mut tasks = JoinSet::new();
    let ops = (0..REGISTRATIONS.max(LOGINS)).flat_map(|i| {
        let mut v = Vec::new();
        if i < REGISTRATIONS {
            v.push(Op::Register(i));
        }
        if i < LOGINS {
            v.push(Op::Login(i));
        }
        if i < PASSWORD_CHANGES {
            v.push(Op::ChangePassword(i));
        }
        v
    });
    for op in ops {
        tasks.spawn(run(Arc::clone(&server), Arc::clone(&admin), op));
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.unwrap_or_else(|e| panic!("task: {e}")));
    }
    stop.store(true, Ordering::Relaxed);
    let parses = reader.join().unwrap_or_else(|_| panic!("reader thread"));
    let parses = parses.unwrap_or_else(|e| panic!("users.json was torn mid-storm: {e}"));
    assert!(parses > 0, "the reader never ran");
    for (op, statuses) in &results {
        let expected: &[u16] = match op {
            Op::Register(_) => &[201],
            Op::Login(_) => &[200],
            Op::ChangePassword(_) => &[200, 200],
        };
        assert_eq!(
            statuses,
            expected,
            "{op:?}; server output:\n{}",
            server.output()
        );
    }
    check_outcome(&server, dir.path()).await;
    // And the same after a restart: it was all on disk.
    let server = Arc::try_unwrap(server).unwrap_or_else(|_| panic!("server still shared"));
    server.kill();
    let server = Server::start(Options::on_db(dir.path()).cheap_hashing());
    check_outcome(&server, dir.path()).await;
}

async fn check_outcome(server: &Server, root: &std::path::Path) {
    let stored: BTreeSet<String> = users_in_file(root)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = (0..REGISTRATIONS)
        .map(|i| format!("new-{i}"))
        .chain((0..LOGIN_USERS).map(|i| format!("login-{i}")))
        .chain((0..PASSWORD_CHANGES).map(|i| format!("change-{i}")))
        .chain(["admin".to_owned(), "guest".to_owned()])
        .collect();
    assert_eq!(stored, expected, "users.json lost or invented users");
    for i in 0..PASSWORD_CHANGES {
        let user = format!("change-{i}");
        server.login(&user, &new_password(i)).await;
        server.try_login(&user, STRONG_PW).await.expect(401);
        // Keep the wrong guess from adding up to a lockout on a rerun.
        server.login(&user, &new_password(i)).await;
    }
    let text = std::fs::read_to_string(root.join("users.json")).unwrap_or_default();
    let users: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    for user in users.iter().filter(|u| {
        u["username"]
            .as_str()
            .is_some_and(|n| n.starts_with("login-"))
    }) {
        assert!(!user["last_login"].is_null(), "a login was lost: {user}");
    }
    for i in 0..REGISTRATIONS {
        assert!(server.exists(&format!("new-{i}")).await, "new-{i}");
    }
}
