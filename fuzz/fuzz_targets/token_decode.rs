#![no_main]
//! `SessionManager::decode` / `validate` on hostile tokens, three ways:
//! arbitrary strings; genuine tokens with a spliced-in mutation; and tokens
//! correctly signed with the server's key over arbitrary header and claim
//! bytes (libFuzzer cannot forge HS512, so this is how it reaches the claim
//! checks behind the signature).
//!
//! Oracles: nothing but a genuine token, byte for byte, ever decodes
//! unsigned; whatever decodes satisfies every documented check (issuer,
//! audience, expiry, `iat`, `jti`, HS512 header); only genuine `jti`s validate.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use plantdb_auth_core::clock::FixedClock;
use plantdb_auth_core::session::{
    Claims, MemorySessionStore, SessionConfig, SessionManager, SigningKey, TokenKind, AUDIENCE,
    ISSUER,
};
use serde_json::Value;

/// 2026-01-01T00:00:00Z, fixed so that a crash reproduces.
const NOW: i64 = 1_767_225_600;
const ALL_KINDS: &[TokenKind] = &[TokenKind::Access, TokenKind::Refresh, TokenKind::Api];
const STANDARD_HEADER: &[u8] = br#"{"alg":"HS512","typ":"JWT"}"#;

struct Fixture {
    manager: SessionManager,
    key: EncodingKey,
    genuine: Vec<String>,
    genuine_ids: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let secret = "11".repeat(64);
        let key = SigningKey::from_secret(&secret).expect("a 128-hex-digit secret is a raw key");
        let start = Utc.timestamp_opt(NOW, 0).single().expect("a valid instant");
        let manager = SessionManager::new(
            &key,
            Arc::new(MemorySessionStore::default()),
            Arc::new(FixedClock::new(start)),
            SessionConfig::default(),
        )
        .expect("an in-memory session manager");
        let pair = manager.login("alice").expect("login");
        let (api, _) = manager
            .create_api_token("alice", "scan_*/Permission.READ", 3600)
            .expect("api token");
        let genuine = vec![pair.access_token, pair.refresh_token, api];
        let genuine_ids = genuine
            .iter()
            .map(|t| manager.decode(t).expect("a genuine token decodes").jti)
            .collect();
        Fixture {
            manager,
            key: EncodingKey::from_secret(key.as_bytes()),
            genuine,
            genuine_ids,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 3 {
        0 => unsigned(f, &String::from_utf8_lossy(rest)),
        1 => unsigned(f, &mutate(&f.genuine[usize::from(mode / 3) % 3], rest)),
        _ => signed(f, mode & 0x80 != 0, rest),
    }
});

/// A token the fuzzer wrote without the key.
fn unsigned(f: &Fixture, token: &str) {
    let genuine = f.genuine.iter().any(|g| g == token);
    if let Ok(claims) = f.manager.decode(token) {
        assert!(genuine, "forged token decoded: {token:?} -> {claims:?}");
    }
    if f.manager.validate(token, ALL_KINDS).is_ok() {
        assert!(genuine, "forged token validated: {token:?}");
    }
}

/// `token` with `bytes[3..]` spliced in at an offset chosen by `bytes[..3]`.
fn mutate(token: &str, bytes: &[u8]) -> String {
    let [hi, lo, cut, tail @ ..] = bytes else {
        return token.to_string();
    };
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (token.len() + 1);
    let end = (at + usize::from(*cut % 8)).min(token.len());
    // Genuine tokens are ASCII: every offset is a char boundary.
    format!(
        "{}{}{}",
        &token[..at],
        String::from_utf8_lossy(tail),
        &token[end..]
    )
}

/// A token signed with the server's key over fuzzer-chosen parts.
fn signed(f: &Fixture, own_header: bool, bytes: &[u8]) {
    let (header, payload) = match bytes.split_first() {
        Some((&len, rest)) if own_header => rest.split_at(usize::from(len).min(rest.len())),
        _ => (STANDARD_HEADER, bytes),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let Ok(signature) = jsonwebtoken::crypto::sign(message.as_bytes(), &f.key, Algorithm::HS512)
    else {
        return;
    };
    let token = format!("{message}.{signature}");
    match f.manager.decode(&token) {
        Ok(claims) => check_accepted(f, header, &claims, &token),
        Err(e) => drop(e.to_string()),
    }
}

fn check_accepted(f: &Fixture, header: &[u8], claims: &Claims, token: &str) {
    let header: Value = serde_json::from_slice(header).expect("accepted header is JSON");
    assert_eq!(header["alg"], "HS512", "accepted a non-HS512 header");
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    let leeway = SessionConfig::default().leeway;
    assert!(
        claims.exp.saturating_add(leeway) >= NOW,
        "expired: {claims:?}"
    );
    assert!(
        claims.iat <= NOW + leeway,
        "issued in the future: {claims:?}"
    );
    assert!(!claims.jti.is_empty());
    if f.manager.validate(token, ALL_KINDS).is_ok() {
        assert!(
            f.genuine_ids.contains(&claims.jti),
            "a token validated without a live session: {claims:?}"
        );
    }
}
