//! Session stores: the conditional claim behind atomic rotation, on every
//! implementation; then two instances sharing one PostgreSQL schema, as two
//! servers would: what one does, the other sees within the bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use plantdb_auth_core::clock::SystemClock;
use plantdb_auth_core::model::{Role, User, Username};
use plantdb_auth_core::session::{
    MemorySessionStore, SessionChange, SessionConfig, SessionError, SessionManager, SessionStore,
    SqliteSessionStore, TokenError, TokenKind, TokenRecord,
};
use plantdb_auth_core::store::{ClientKey, LockoutPolicy, StoreError, UserStore};
use plantdb_auth_postgres::testing::{test_url, TestSchema};
use plantdb_auth_postgres::PgStores;

/// The documented consistency bound.
const BOUND: Duration = Duration::from_secs(1);
const ACCESS: &[TokenKind] = &[TokenKind::Access];

fn token(jti: &str, family: &str, kind: TokenKind) -> TokenRecord {
    let now = Utc::now().timestamp();
    TokenRecord {
        jti: jti.into(),
        kind,
        username: "alice".into(),
        family: family.into(),
        started_at: now,
        issued_at: now,
        expires_at: now + 600,
        used: false,
        datasets: None,
        compiled: Default::default(),
    }
}

fn jtis(store: &dyn SessionStore) -> Vec<String> {
    let mut out: Vec<String> = store
        .load_all()
        .unwrap()
        .into_iter()
        .map(|r| r.jti)
        .collect();
    out.sort();
    out
}

fn claim_suite(store: &dyn SessionStore) {
    store
        .apply(&[
            SessionChange::Insert(token("a1", "fa", TokenKind::Access)),
            SessionChange::Insert(token("r1", "fa", TokenKind::Refresh)),
        ])
        .unwrap();
    assert_eq!(jtis(store), ["a1", "r1"]);
    store
        .apply(&[SessionChange::ClaimRefresh("r1".into())])
        .unwrap();
    let again = store.apply(&[
        SessionChange::Insert(token("r2", "fa", TokenKind::Refresh)),
        SessionChange::ClaimRefresh("r1".into()),
    ]);
    assert!(
        matches!(again, Err(StoreError::ClaimLost { reused: true, .. })),
        "{again:?}"
    );
    assert_eq!(jtis(store), ["a1", "r1"], "a lost claim applies nothing");
    let missing = store.apply(&[SessionChange::ClaimRefresh("nope".into())]);
    assert!(matches!(
        missing,
        Err(StoreError::ClaimLost { reused: false, .. })
    ));
    store
        .apply(&[SessionChange::RemoveFamily("fa".into())])
        .unwrap();
    assert!(jtis(store).is_empty());
}

#[test]
fn memory_store_claims_once() {
    claim_suite(&MemorySessionStore::default());
}

#[test]
fn sqlite_store_claims_once() {
    let dir = tempfile::tempdir().unwrap();
    claim_suite(&SqliteSessionStore::open(&dir.path().join("s.sqlite3")).unwrap());
}

#[test]
fn postgres_store_claims_once() {
    let Some(base) = test_url("postgres_store_claims_once") else {
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let pg = PgStores::open(&schema.url, 2).unwrap();
    claim_suite(pg.sessions.as_ref());
}

// ---- two instances on one schema -------------------------------------------

struct Instance {
    pg: PgStores,
    sessions: Arc<SessionManager>,
}

fn instance(url: &str) -> Instance {
    let pg = PgStores::open(url, 4).unwrap();
    let key = pg.signing_key().unwrap();
    let sessions = SessionManager::new(
        &key,
        pg.sessions.clone(),
        Arc::new(SystemClock),
        SessionConfig::default(),
    )
    .unwrap();
    Instance {
        pg,
        sessions: Arc::new(sessions),
    }
}

/// Polls `check` until it holds or the bound (plus scheduling slack) passes;
/// returns how long it took.
fn within_bound(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < BOUND + Duration::from_millis(500),
            "{what}: not seen within {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

fn pair(url: &str) -> (TestSchema, Instance, Instance) {
    let schema = TestSchema::create(url).unwrap();
    let a = instance(&schema.url);
    let b = instance(&schema.url);
    (schema, a, b)
}

#[test]
fn login_logout_and_revocation_cross_instances() {
    let Some(base) = test_url("login_logout_and_revocation_cross_instances") else {
        return;
    };
    let (_schema, a, b) = pair(&base);
    let login = a.sessions.login("alice").unwrap();
    let seen = within_bound("login on A validates on B", || {
        b.sessions.validate(&login.access_token, ACCESS).is_ok()
    });
    eprintln!("login propagated in {seen:?}");
    b.sessions.logout(&login.access_token).unwrap();
    let seen = within_bound("logout on B refused on A", || {
        a.sessions.validate(&login.access_token, ACCESS).is_err()
    });
    eprintln!("logout propagated in {seen:?}");

    let other = a.sessions.login("bob").unwrap();
    within_bound("second login", || {
        b.sessions.validate(&other.access_token, ACCESS).is_ok()
    });
    // B may not have heard of this session yet: revoking the user must end
    // it all the same.
    b.sessions.revoke_user("bob").unwrap();
    assert!(b.sessions.validate(&other.access_token, ACCESS).is_err());
    within_bound("revocation on B refused on A", || {
        a.sessions.validate(&other.access_token, ACCESS).is_err()
    });
    // The login's own announcement may reach B after B's revocation: B's
    // index must still end up without the session.
    std::thread::sleep(Duration::from_millis(200));
    for m in [&a.sessions, &b.sessions] {
        assert!(m.validate(&other.access_token, ACCESS).is_err());
        assert!(m.sessions(Some("bob")).is_empty());
    }
}

#[test]
fn concurrent_refresh_on_two_instances_has_one_winner() {
    let Some(base) = test_url("concurrent_refresh_on_two_instances_has_one_winner") else {
        return;
    };
    let (_schema, a, b) = pair(&base);
    for round in 0..10 {
        let login = a.sessions.login("alice").unwrap();
        within_bound("login seen on B", || {
            b.sessions.validate(&login.access_token, ACCESS).is_ok()
        });
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [a.sessions.clone(), b.sessions.clone()]
            .into_iter()
            .map(|m| {
                let token = login.refresh_token.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    m.refresh(&token)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            winners <= 1,
            "round {round}: both instances rotated one token"
        );
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(
                        e,
                        SessionError::Token(TokenError::Reused | TokenError::NotLive)
                    ),
                    "round {round}: {e:?}"
                );
            }
        }
    }
}

#[test]
fn user_changes_and_lockout_counts_are_shared() {
    let Some(base) = test_url("user_changes_and_lockout_counts_are_shared") else {
        return;
    };
    let (_schema, a, b) = pair(&base);
    let alice = Username::parse("alice").unwrap();
    let user = User::new(
        alice.clone(),
        "Alice",
        "$argon2id$x".into(),
        [Role::Reader],
        Utc::now(),
    );
    a.pg.users.create(user).unwrap();
    within_bound("user created on A seen on B", || {
        b.pg.users.get(&alice).unwrap().is_some()
    });
    b.pg.users.set_active(&alice, false).unwrap();
    within_bound("deactivation on B seen on A", || {
        !a.pg.users.get(&alice).unwrap().unwrap().is_active
    });

    let policy = LockoutPolicy {
        max_failed_attempts: 1000,
        lockout_duration: chrono::Duration::seconds(60),
    };
    let users: [Arc<dyn UserStore>; 2] = [a.pg.users.clone(), b.pg.users.clone()];
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = users[i % 2].clone();
            let alice = alice.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .record_failed_attempt(&alice, &ClientKey::of(None), Utc::now(), policy)
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    within_bound("40 failures counted on both", || {
        users
            .iter()
            .all(|s| s.get(&alice).unwrap().unwrap().failed_attempts == 40)
    });
}

#[test]
fn lost_listener_fails_closed_then_recovers() {
    let Some(base) = test_url("lost_listener_fails_closed_then_recovers") else {
        return;
    };
    let (schema, a, b) = pair(&base);
    let kept = a.sessions.login("alice").unwrap();
    let revoked = a.sessions.login("bob").unwrap();
    within_bound("logins seen on B", || {
        b.sessions.validate(&revoked.access_token, ACCESS).is_ok()
    });
    // Cut every listener of this schema (A's and B's), then revoke on B
    // while nobody listens.
    terminate_listeners(&base, &schema.name);
    b.sessions.revoke_user("bob").unwrap();
    within_bound("revocation refused on A despite the cut", || {
        a.sessions.validate(&revoked.access_token, ACCESS).is_err()
    });
    within_bound("A accepts live tokens again after reconnecting", || {
        a.sessions.validate(&kept.access_token, ACCESS).is_ok()
    });
    assert!(a.sessions.validate(&revoked.access_token, ACCESS).is_err());
}

fn terminate_listeners(base: &str, schema: &str) {
    let sql = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'plantdb-auth listener plantdb_auth_{schema}'"
    );
    let killed = plantdb_auth_postgres::testing::execute_sql(base, &sql).unwrap();
    assert_eq!(killed, 2, "one listener per instance");
}
