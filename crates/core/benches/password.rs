#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Argon2id at our default parameters (OWASP: m=19456 KiB, t=2, p=1) and at
//! the legacy ones of argon2-cffi / the Python server (m=65536 KiB, t=3, p=4).
//! `verify/*` is the cost of one login; `bench/compare.py` reads
//! `verify/default` to check the login-latency target.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use plantdb_auth_core::password::{HashParams, PasswordHasher};

const PASSWORD: &str = "lilac-tractor-harbour-91";

fn argon2(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for (name, params) in [
        ("default", HashParams::default()),
        ("legacy", HashParams::LEGACY),
    ] {
        let hasher = PasswordHasher::new(params).unwrap();
        let phc = hasher.hash(PASSWORD).unwrap();
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| hasher.verify(black_box(PASSWORD), black_box(&phc)))
        });
        group.bench_function(format!("hash/{name}"), |b| {
            b.iter(|| hasher.hash(black_box(PASSWORD)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, argon2);
criterion_main!(benches);
