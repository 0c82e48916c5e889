#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Session manager behaviour: lifetimes on an injected clock, rotation,
//! reuse detection, the per-user cap, revocation and durability.

use std::sync::Arc;

use chrono::{Duration, Utc};
use plantdb_auth_core::clock::{Clock, FixedClock};
use plantdb_auth_core::session::{
    MemorySessionStore, SessionConfig, SessionError, SessionManager, SessionStore, SigningKey,
    SqliteSessionStore, TokenError, TokenKind,
};

const ACCESS: &[TokenKind] = &[TokenKind::Access];

fn manager_with(
    store: Arc<dyn SessionStore>,
    clock: Arc<FixedClock>,
    config: SessionConfig,
) -> SessionManager {
    let key = SigningKey::from_secret(&"11".repeat(64)).unwrap();
    SessionManager::new(&key, store, clock, config).unwrap()
}

fn setup() -> (SessionManager, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let m = manager_with(
        Arc::new(MemorySessionStore::default()),
        clock.clone(),
        SessionConfig::default(),
    );
    (m, clock)
}

fn token_err(e: SessionError) -> TokenError {
    match e {
        SessionError::Token(t) => t,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[test]
fn access_token_validates_until_it_expires_with_two_seconds_leeway() {
    let (m, clock) = setup();
    let pair = m.login("alice").unwrap();
    let v = m.validate(&pair.access_token, ACCESS).unwrap();
    assert_eq!(v.claims.sub, "alice");
    assert_eq!(v.claims.iss, "plantdb-api");
    assert_eq!(v.claims.aud, "plantdb-client");
    assert_eq!(v.claims.exp - v.claims.iat, 900);
    clock.advance(Duration::seconds(901));
    assert!(
        m.validate(&pair.access_token, ACCESS).is_ok(),
        "inside the leeway"
    );
    clock.advance(Duration::seconds(2));
    assert_eq!(
        m.validate(&pair.access_token, ACCESS).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn token_kinds_are_never_interchangeable() {
    let (m, _) = setup();
    let pair = m.login("alice").unwrap();
    assert!(matches!(
        m.validate(&pair.refresh_token, ACCESS).unwrap_err(),
        TokenError::WrongKind { .. }
    ));
    assert!(matches!(
        token_err(m.refresh(&pair.access_token).unwrap_err()),
        TokenError::WrongKind { .. }
    ));
}

#[test]
fn token_issued_in_the_future_is_refused() {
    let (m, clock) = setup();
    clock.advance(Duration::seconds(60));
    let pair = m.login("alice").unwrap();
    clock.advance(Duration::seconds(-60));
    assert_eq!(
        m.validate(&pair.access_token, ACCESS).unwrap_err(),
        TokenError::IssuedInFuture
    );
}

#[test]
fn refresh_rotates_and_kills_the_old_pair() {
    let (m, _) = setup();
    let first = m.login("alice").unwrap();
    let (second, user) = m.refresh(&first.refresh_token).unwrap();
    assert_eq!(user, "alice");
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(
        m.validate(&first.access_token, ACCESS).unwrap_err(),
        TokenError::NotLive
    );
    assert!(m.validate(&second.access_token, ACCESS).is_ok());
}

#[test]
fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let (m, _) = setup();
    let first = m.login("alice").unwrap();
    let other = m.login("alice").unwrap();
    let (second, _) = m.refresh(&first.refresh_token).unwrap();
    assert_eq!(
        token_err(m.refresh(&first.refresh_token).unwrap_err()),
        TokenError::Reused
    );
    assert_eq!(
        m.validate(&second.access_token, ACCESS).unwrap_err(),
        TokenError::NotLive
    );
    assert_eq!(
        token_err(m.refresh(&second.refresh_token).unwrap_err()),
        TokenError::NotLive
    );
    assert!(
        m.validate(&other.access_token, ACCESS).is_ok(),
        "other sessions unaffected"
    );
}

#[test]
fn concurrent_refreshes_with_one_token_yield_one_winner() {
    let (m, _) = setup();
    let m = Arc::new(m);
    let pair = m.login("alice").unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let m = m.clone();
            let token = pair.refresh_token.clone();
            std::thread::spawn(move || m.refresh(&token).ok().map(|(p, _)| p))
        })
        .collect();
    let winners: Vec<_> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(winners.len(), 1);
    // The losers presented a used token: the family is gone, winner included.
    assert!(m.validate(&winners[0].access_token, ACCESS).is_err());
    assert!(m.sessions(Some("alice")).is_empty());
}

#[test]
fn logout_revokes_access_and_refresh() {
    let (m, _) = setup();
    let pair = m.login("bob").unwrap();
    assert_eq!(m.logout(&pair.access_token).unwrap(), "bob");
    assert!(m.validate(&pair.access_token, ACCESS).is_err());
    assert!(m.refresh(&pair.refresh_token).is_err());
    assert!(m.logout(&pair.access_token).is_err());
}

#[test]
fn per_user_cap_evicts_that_users_oldest_session_only() {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let config = SessionConfig {
        max_sessions_per_user: 2,
        ..SessionConfig::default()
    };
    let m = manager_with(
        Arc::new(MemorySessionStore::default()),
        clock.clone(),
        config,
    );
    let carol = m.login("carol").unwrap();
    let a1 = m.login("alice").unwrap();
    clock.advance(Duration::seconds(1));
    let a2 = m.login("alice").unwrap();
    clock.advance(Duration::seconds(1));
    let a3 = m.login("alice").unwrap();
    assert!(m.validate(&a1.access_token, ACCESS).is_err());
    assert!(m.validate(&a2.access_token, ACCESS).is_ok());
    assert!(m.validate(&a3.access_token, ACCESS).is_ok());
    assert!(m.validate(&carol.access_token, ACCESS).is_ok());
    assert_eq!(m.sessions(Some("alice")).len(), 2);
}

#[test]
fn api_tokens_carry_datasets_and_are_revocable() {
    let (m, _) = setup();
    let (token, record) = m
        .create_api_token("alice", "scan*/Permission.READ", 3600)
        .unwrap();
    let v = m
        .validate(&token, &[TokenKind::Access, TokenKind::Api])
        .unwrap();
    assert_eq!(v.claims.kind, TokenKind::Api);
    assert_eq!(v.claims.datasets.as_deref(), Some("scan*/Permission.READ"));
    assert!(m.validate(&token, ACCESS).is_err());
    assert_eq!(m.api_tokens(Some("alice")).len(), 1);
    assert!(m.revoke_family(&record.family).unwrap());
    assert!(m.validate(&token, &[TokenKind::Api]).is_err());
    assert!(!m.revoke_family(&record.family).unwrap());
}

#[test]
fn revoke_user_ends_sessions_and_api_tokens() {
    let (m, _) = setup();
    let pair = m.login("dave").unwrap();
    let (api, _) = m.create_api_token("dave", "", 3600).unwrap();
    let keep = m.login("erin").unwrap();
    assert_eq!(m.revoke_user("dave").unwrap(), 2);
    assert!(m.validate(&pair.access_token, ACCESS).is_err());
    assert!(m.validate(&api, &[TokenKind::Api]).is_err());
    assert!(m.validate(&keep.access_token, ACCESS).is_ok());
}

#[test]
fn tokens_signed_with_another_key_are_refused() {
    let (m, _) = setup();
    let other_key = SigningKey::from_secret(&"22".repeat(64)).unwrap();
    let other = SessionManager::new(
        &other_key,
        Arc::new(MemorySessionStore::default()),
        Arc::new(FixedClock::new(Utc::now())),
        SessionConfig::default(),
    )
    .unwrap();
    let pair = other.login("alice").unwrap();
    assert_eq!(
        m.validate(&pair.access_token, ACCESS).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn sqlite_state_survives_a_restart_including_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let (alive, dead, api) = {
        let m = manager_with(
            Arc::new(SqliteSessionStore::open(&path).unwrap()),
            clock.clone(),
            SessionConfig::default(),
        );
        let alive = m.login("alice").unwrap();
        let dead = m.login("bob").unwrap();
        m.logout(&dead.access_token).unwrap();
        let (api, _) = m
            .create_api_token("alice", "*/Permission.READ", 3600)
            .unwrap();
        (alive, dead, api)
    };
    let m = manager_with(
        Arc::new(SqliteSessionStore::open(&path).unwrap()),
        clock,
        SessionConfig::default(),
    );
    assert!(m.validate(&alive.access_token, ACCESS).is_ok());
    assert!(m.validate(&api, &[TokenKind::Api]).is_ok());
    assert!(m.validate(&dead.access_token, ACCESS).is_err());
    assert!(m.refresh(&dead.refresh_token).is_err());
    assert!(m.refresh(&alive.refresh_token).is_ok());
}

#[test]
fn purge_keeps_storage_bounded_under_churn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let config = SessionConfig {
        access_ttl: 60,
        refresh_ttl: 120,
        ..SessionConfig::default()
    };
    let store = Arc::new(SqliteSessionStore::open(&path).unwrap());
    let m = manager_with(store.clone(), clock.clone(), config);
    for round in 0..5 {
        for i in 0..50 {
            let pair = m.login(&format!("user{i}")).unwrap();
            m.refresh(&pair.refresh_token).unwrap();
        }
        clock.advance(Duration::seconds(200));
        m.purge_expired().unwrap();
        assert_eq!(m.token_count(), 0, "round {round}");
        assert_eq!(store.load_all().unwrap().len(), 0);
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let (m, _) = setup();
    for t in [
        "",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "ey.ey.ey",
        &"x".repeat(20_000),
    ] {
        assert!(
            matches!(m.validate(t, ACCESS), Err(TokenError::Malformed(_))),
            "{t:.20}"
        );
    }
}

#[test]
fn the_cap_ends_the_oldest_session_even_within_one_second() {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let config = SessionConfig {
        max_sessions_per_user: 3,
        ..SessionConfig::default()
    };
    let m = manager_with(Arc::new(MemorySessionStore::default()), clock, config);
    let pairs: Vec<_> = (0..12).map(|_| m.login("alice").unwrap()).collect();
    for (i, pair) in pairs.iter().enumerate() {
        let alive = m.validate(&pair.access_token, ACCESS).is_ok();
        assert_eq!(alive, i >= 9, "session {i}");
    }
}

// ---- tokens re-signed with the right key: what only a key holder could send

/// `token` with its header and claims changed by `edit`, signed again with
/// the manager's key (so the signature is good and the `jti` is live).
fn resigned(
    token: &str,
    edit: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut parts = token.split('.');
    let mut decode = || -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    let (mut header, mut claims) = (decode(), decode());
    edit(&mut header, &mut claims);
    let key = SigningKey::from_secret(&"11".repeat(64)).unwrap();
    let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let message = format!("{}.{}", encode(&header), encode(&claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        jsonwebtoken::Algorithm::HS512,
    )
    .unwrap();
    format!("{message}.{signature}")
}

#[test]
fn the_resigning_helper_makes_tokens_the_manager_accepts() {
    let (m, _) = setup();
    let pair = m.login("alice").unwrap();
    let same = resigned(&pair.access_token, |_, _| {});
    assert!(m.validate(&same, ACCESS).is_ok());
}

#[test]
fn a_not_before_in_the_future_is_refused_until_it_passes() {
    let (m, clock) = setup();
    let pair = m.login("alice").unwrap();
    let now = clock.now().timestamp();
    let later = resigned(&pair.access_token, |_, c| c["nbf"] = (now + 300).into());
    assert_eq!(
        m.validate(&later, ACCESS).unwrap_err(),
        TokenError::NotYetValid
    );
    clock.advance(Duration::seconds(301));
    assert!(m.validate(&later, ACCESS).is_ok());
}

#[test]
fn a_critical_header_extension_is_refused() {
    let (m, _) = setup();
    let pair = m.login("alice").unwrap();
    let crit = resigned(&pair.access_token, |h, _| {
        h["crit"] = serde_json::json!(["exp"]);
    });
    assert!(matches!(
        m.validate(&crit, ACCESS).unwrap_err(),
        TokenError::Malformed(reason) if reason.contains("crit")
    ));
}

#[test]
fn a_token_cannot_outlive_its_stored_record() {
    let (m, clock) = setup();
    let pair = m.login("alice").unwrap();
    let longer = resigned(&pair.access_token, |_, c| {
        let exp = c["exp"].as_i64().unwrap();
        c["exp"] = (exp + 30 * 86400).into();
    });
    assert!(m.validate(&longer, ACCESS).is_ok());
    clock.advance(Duration::seconds(SessionConfig::default().access_ttl + 60));
    assert_eq!(
        m.validate(&longer, ACCESS).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn rotated_refresh_tokens_do_not_pile_up_and_recent_reuse_is_still_caught() {
    use plantdb_auth_core::session::KEPT_ROTATED;
    let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::default());
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let m = manager_with(store.clone(), clock.clone(), SessionConfig::default());
    let mut refresh = m.login("alice").unwrap().refresh_token;
    let mut previous = Vec::new();
    for _ in 0..200 {
        clock.advance(Duration::seconds(1));
        let (pair, _) = m.refresh(&refresh).unwrap();
        previous.push(refresh);
        refresh = pair.refresh_token;
    }
    // One access, one live refresh and the newest rotated ones, in memory
    // and in the store.
    assert!(m.token_count() <= KEPT_ROTATED + 2, "{}", m.token_count());
    assert!(store.load_all().unwrap().len() <= KEPT_ROTATED + 2);
    // The last rotated token is still recognised as reuse: the session ends.
    let reused = previous.last().unwrap();
    assert_eq!(
        token_err(m.refresh(reused).unwrap_err()),
        TokenError::Reused
    );
    assert!(m.refresh(&refresh).is_err(), "the family was revoked");
}

#[test]
fn ending_one_session_costs_the_same_among_many() {
    // Not a timing test: the family index makes revocation touch only the
    // family's own tokens, which the listing of another user shows intact.
    let (m, _) = setup();
    for i in 0..500 {
        m.login(&format!("user{i}")).unwrap();
    }
    let mine = m.login("alice").unwrap();
    assert_eq!(m.sessions(Some("alice")).len(), 1);
    assert!(m.revoke_family(&mine.session_id).unwrap());
    assert!(m.sessions(Some("alice")).is_empty());
    assert_eq!(m.sessions(None).len(), 500);
    assert_eq!(m.revoke_user("user7").unwrap(), 1);
    assert_eq!(m.sessions(None).len(), 499);
}
