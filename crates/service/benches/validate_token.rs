#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `validate_token` (the hot path of the HTTP server) over the production
//! stores: `users.json` with 10 000 users (FSDB) and 100 000 live sessions
//! in the session manager's index.

#[path = "../../core/benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::password::HashParams;
use plantdb_auth_core::session::SigningKey;
use plantdb_auth_core::store::fsdb::Fsdb;
use plantdb_auth_service::{validate_token, AuthDb, Backend, Settings};

const USERS: usize = 10_000;
const SESSIONS: usize = 100_000;
const THREADS: usize = 2;

fn auth_db(root: &std::path::Path) -> (AuthDb, Fsdb) {
    support::write_database(root, USERS).unwrap();
    let fsdb = Fsdb::open(root).unwrap();
    let cheap = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let backend = Backend {
        users: fsdb.users.clone(),
        groups: fsdb.groups.clone(),
        sessions: support::populated_store(SESSIONS),
        key: SigningKey::random(),
        retired_key: None,
        root: Some(root.to_path_buf()),
    };
    let settings = Settings {
        hash: cheap,
        ..Settings::default()
    };
    let db = match AuthDb::open(backend, settings, Arc::new(SystemClock)) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot build the service: {e}");
            std::process::exit(1);
        }
    };
    (db, fsdb)
}

/// `iters` validations split over `THREADS` threads; the time per
/// validation is wall time / iters, so lock contention shows as a slowdown.
fn parallel(db: &AuthDb, token: &str, iters: u64) -> Duration {
    let per_thread = iters / THREADS as u64 + 1;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..per_thread {
                    validate_token(db, black_box(Some(token))).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _fsdb) = auth_db(&dir.path().join("db"));
    let user = support::username(USERS / 2);
    let access = db.sessions().login(&user).unwrap().access_token;
    let (api, _) = db
        .sessions()
        .create_api_token(&user, "real_plant_*/Permission.READ", 3600)
        .unwrap();
    let mut group = c.benchmark_group("validate_token_100k_sessions");
    group.bench_function("access_token", |b| {
        b.iter(|| validate_token(&db, black_box(Some(&access))).unwrap())
    });
    group.bench_function("api_token", |b| {
        b.iter(|| validate_token(&db, black_box(Some(&api))).unwrap())
    });
    group.bench_function("unknown_token", |b| {
        b.iter(|| validate_token(&db, black_box(Some("not.a.jwt"))).unwrap_err())
    });
    group.bench_function(format!("access_token_{THREADS}_threads"), |b| {
        b.iter_custom(|iters| parallel(&db, &access, iters))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
