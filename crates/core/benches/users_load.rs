#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Opening a database whose `users.json` holds 10 000 users (what a server
//! start costs in the FSDB), and reading one user from the loaded store.

mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use plantdb_auth_core::model::Username;
use plantdb_auth_core::store::fsdb::Fsdb;
use plantdb_auth_core::store::UserStore;

const USERS: usize = 10_000;

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    support::write_database(&root, USERS).unwrap();
    let size = std::fs::metadata(root.join("users.json")).unwrap().len();
    let mut group = c.benchmark_group("users_json");
    group.sample_size(20);
    group.bench_function(format!("open_10k_users_{}KiB", size / 1024), |b| {
        // Each open takes the database lock; dropping releases it.
        b.iter(|| drop(black_box(Fsdb::open(&root).unwrap())))
    });
    let fsdb = Fsdb::open(&root).unwrap();
    let name = Username::parse(&support::username(USERS / 2)).unwrap();
    group.bench_function("get_one_of_10k", |b| {
        b.iter(|| fsdb.users.get(black_box(&name)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
