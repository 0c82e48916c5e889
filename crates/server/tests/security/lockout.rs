//! Lockout boundaries: the Nth consecutive failure locks, N-1 does not, a
//! success resets the count, the lock expires, an admin can lift it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, Options, Reply, Server};

/// The subject of these tests (`guest` is public and never locks).
const ALICE_PW: &str = "Walrus-long-passphrase-7";

async fn with_alice(server: &Server) {
    let admin = server.admin_token().await;
    server.register(&admin, "alice", ALICE_PW).await.expect(201);
}

async fn fail(server: &Server, user: &str) -> Reply {
    let reply = server.try_login(user, "Wrong-password-42").await;
    assert_error(&reply, 401, &["invalid_credentials"], "wrong password");
    reply
}

async fn assert_locked(server: &Server, user: &str, password: &str, wrong: &Reply) {
    let reply = server.try_login(user, password).await;
    assert_error(&reply, 401, &["invalid_credentials"], "locked account");
    assert_eq!(
        reply.text, wrong.text,
        "a lock must look like a wrong password"
    );
}

#[tokio::test]
async fn the_nth_failure_locks_and_a_success_resets_the_count() {
    let server = Server::start(Options::test_mode().args(&["--max-failed-attempts", "4"]));
    with_alice(&server).await;
    // N-1 failures do not lock; the success resets, or 6 failures would have.
    for _ in 0..2 {
        for _ in 0..3 {
            fail(&server, "alice").await;
        }
        server.login("alice", ALICE_PW).await;
    }
    let mut wrong = fail(&server, "alice").await;
    for _ in 0..3 {
        wrong = fail(&server, "alice").await;
    }
    assert_locked(&server, "alice", ALICE_PW, &wrong).await;
    // Per account: admin is unaffected.
    server.login("admin", "admin").await;
}

#[tokio::test]
async fn the_lock_expires_even_while_the_attacker_keeps_trying() {
    let lock = Duration::from_secs(4);
    let opts = Options::test_mode().cheap_hashing();
    let server = Server::start(opts.args(&["--lockout-duration", "4"]));
    with_alice(&server).await;
    let mut wrong = fail(&server, "alice").await;
    for _ in 0..2 {
        wrong = fail(&server, "alice").await;
    }
    let locked_at = Instant::now();
    // Margins keep a slow machine from crossing the boundary mid-request.
    while locked_at.elapsed() < lock - Duration::from_millis(1500) {
        assert_locked(&server, "alice", ALICE_PW, &wrong).await;
        fail(&server, "alice").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unlocked = lock + Duration::from_millis(700);
    tokio::time::sleep(unlocked.saturating_sub(locked_at.elapsed())).await;
    server.login("alice", ALICE_PW).await;
    // The success reset the count: the next lock takes N failures again.
    fail(&server, "alice").await;
    fail(&server, "alice").await;
    server.login("alice", ALICE_PW).await;
}

async fn patch_user(server: &Server, token: &str, user: &str, body: serde_json::Value) -> Reply {
    let req = server
        .request(Method::PATCH, &format!("/api/v1/users/{user}"))
        .bearer_auth(token)
        .json(&body);
    server.send(req).await
}

#[tokio::test]
async fn an_admin_can_unlock_an_account() {
    let server = Server::start(Options::test_mode());
    with_alice(&server).await;
    let (alice, _) = server.login("alice", ALICE_PW).await;
    let admin = server.admin_token().await;
    let mut wrong = fail(&server, "alice").await;
    for _ in 0..2 {
        wrong = fail(&server, "alice").await;
    }
    assert_locked(&server, "alice", ALICE_PW, &wrong).await;
    let probe = patch_user(&server, &admin, "alice", json!({"unlock": true})).await;
    assert_ne!(
        probe.status, 404,
        "needs PATCH /api/v1/users/{{u}}: {probe:?}"
    );
    probe.expect(200);
    server.login("alice", ALICE_PW).await;
    // Lock again: the account itself, or nobody at all, cannot lift it.
    for _ in 0..3 {
        fail(&server, "alice").await;
    }
    let own = patch_user(&server, &alice, "alice", json!({"unlock": true})).await;
    assert_error(&own, 403, &["forbidden"], "self-unlock");
    let anonymous = server
        .send(
            server
                .request(Method::PATCH, "/api/v1/users/alice")
                .json(&json!({"unlock": true})),
        )
        .await;
    assert_error(&anonymous, 401, &["not_authenticated"], "anonymous unlock");
    assert_locked(&server, "alice", ALICE_PW, &wrong).await;
    let unknown = patch_user(&server, &admin, "nobody", json!({"unlock": true})).await;
    assert_error(&unknown, 404, &["not_found"], "unlock unknown user");
    patch_user(&server, &admin, "ALICE", json!({"unlock": true}))
        .await
        .expect(200);
    server.login("alice", ALICE_PW).await;
}
