#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! JWT signing and validation (HS512), alone and through the session
//! manager with 100k live sessions in its index.

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use plantdb_auth_core::session::{Claims, SigningKey, TokenKind, AUDIENCE, ISSUER};

const ACCESS: &[TokenKind] = &[TokenKind::Access];
const SESSIONS: usize = 100_000;

fn claims() -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: ISSUER.into(),
        sub: "admin".into(),
        aud: AUDIENCE.into(),
        exp: now + 900,
        iat: now,
        jti: plantdb_auth_core::session::new_token_id(),
        kind: TokenKind::Access,
        datasets: None,
        nbf: None,
    }
}

fn sign(c: &mut Criterion) {
    let key = SigningKey::random();
    let encoding = EncodingKey::from_secret(key.as_bytes());
    let mut header = Header::new(Algorithm::HS512);
    header.typ = Some("JWT".into());
    let claims = claims();
    c.bench_function("jwt/sign_hs512", |b| {
        b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding).unwrap())
    });
}

fn validate(c: &mut Criterion) {
    let key = SigningKey::random();
    let manager = support::manager(&key, SESSIONS);
    let pair = manager.login("bench").unwrap();
    let token = pair.access_token;
    let mut group = c.benchmark_group("jwt");
    group.bench_function("decode_hs512", |b| {
        b.iter(|| manager.decode(black_box(&token)).unwrap())
    });
    group.bench_function("validate_100k_sessions", |b| {
        b.iter(|| manager.validate(black_box(&token), ACCESS).unwrap())
    });
    let forged = format!("{}x", &token[..token.len() - 1]);
    group.bench_function("reject_bad_signature", |b| {
        b.iter(|| manager.validate(black_box(&forged), ACCESS).unwrap_err())
    });
    group.finish();
}

/// A login's session work (two signatures, the per-user cap, the store):
/// everything a login costs besides Argon2. The per-user cap reads the
/// user's own sessions (the index by user), so the cost should not grow
/// with the number of other sessions.
fn login(c: &mut Criterion) {
    let key = SigningKey::random();
    let mut group = c.benchmark_group("session_login");
    for sessions in [1_000, SESSIONS] {
        let manager = support::manager(&key, sessions);
        group.bench_function(format!("{sessions}_sessions"), |b| {
            b.iter_batched(
                || format!("fresh{}", rand::random::<u32>()),
                |user| manager.login(&user).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Refresh (rotation) and revocation of one session among 1 000 and 100 000
/// others: both touch only the session's own tokens (the index by family),
/// so the two sizes should cost the same.
fn refresh_and_revoke(c: &mut Criterion) {
    let key = SigningKey::random();
    let mut group = c.benchmark_group("session_scale");
    for sessions in [1_000, SESSIONS] {
        let manager = support::manager(&key, sessions);
        group.bench_function(format!("refresh_{sessions}_sessions"), |b| {
            b.iter_batched(
                || {
                    let user = format!("fresh{}", rand::random::<u32>());
                    manager.login(&user).unwrap().refresh_token
                },
                |token| manager.refresh(&token).unwrap(),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("revoke_{sessions}_sessions"), |b| {
            b.iter_batched(
                || {
                    let user = format!("fresh{}", rand::random::<u32>());
                    manager.login(&user).unwrap().session_id
                },
                |family| manager.revoke_family(&family).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, sign, validate, login, refresh_and_revoke);
criterion_main!(benches);
