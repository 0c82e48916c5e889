//! Failed-login lockout (contract §1): 3 failures lock for 900 s by default;
//! a locked account answers exactly like a wrong password.

use std::time::Duration;

use crate::helpers::{assert_error, Gen, TestApp, STRONG_PW};

both_generations!(three_failures_lock_the_account);

/// A test-mode server with the account `alice` (`STRONG_PW`), the subject
/// of these tests: `guest` is public and never locks.
async fn app_with_alice(extra: &[&str]) -> TestApp {
    let app = TestApp::test_mode_with(extra);
    let admin = app.admin_token().await;
    app.register(&admin, "alice", "Alice", STRONG_PW)
        .await
        .expect_status(201);
    app
}

async fn fail(app: &TestApp, gen: Gen, user: &str) {
    let reply = app.try_login(gen, user, "wrong-password").await;
    assert_error(&reply, 401, "invalid_credentials");
}

async fn three_failures_lock_the_account(gen: Gen) {
    let app = app_with_alice(&[]).await;
    let wrong = app.try_login(gen, "alice", "wrong-password").await;
    fail(&app, gen, "alice").await;
    fail(&app, gen, "alice").await;
    let locked = app.try_login(gen, "alice", STRONG_PW).await;
    assert_error(&locked, 401, "invalid_credentials");
    assert_eq!(
        locked.body, wrong.body,
        "a locked account must look like a wrong password"
    );
    // Another account is not affected.
    app.try_login(gen, "admin", "admin")
        .await
        .expect_status(200);
}

#[tokio::test]
async fn failures_on_both_generations_add_up() {
    let app = app_with_alice(&[]).await;
    fail(&app, Gen::Current, "alice").await;
    fail(&app, Gen::Legacy, "alice").await;
    fail(&app, Gen::Current, "alice").await;
    assert_error(
        &app.try_login(Gen::Legacy, "alice", STRONG_PW).await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_counter() {
    let app = app_with_alice(&[]).await;
    for _ in 0..3 {
        fail(&app, Gen::Current, "alice").await;
        fail(&app, Gen::Current, "alice").await;
        app.try_login(Gen::Current, "alice", STRONG_PW)
            .await
            .expect_status(200);
    }
}

#[tokio::test]
async fn failures_are_counted_per_user_case_insensitively() {
    let app = app_with_alice(&[]).await;
    fail(&app, Gen::Current, "ALICE").await;
    fail(&app, Gen::Current, "Alice").await;
    fail(&app, Gen::Current, "alice").await;
    assert_error(
        &app.try_login(Gen::Current, "alice", STRONG_PW).await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn the_attempt_limit_is_configurable() {
    let app = app_with_alice(&["--max-failed-attempts", "5"]).await;
    for _ in 0..4 {
        fail(&app, Gen::Current, "alice").await;
    }
    app.try_login(Gen::Current, "alice", STRONG_PW)
        .await
        .expect_status(200);
    for _ in 0..5 {
        fail(&app, Gen::Current, "alice").await;
    }
    assert_error(
        &app.try_login(Gen::Current, "alice", STRONG_PW).await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn the_lock_expires_after_the_lockout_duration() {
    let app = app_with_alice(&["--lockout-duration", "1"]).await;
    for _ in 0..3 {
        fail(&app, Gen::Current, "alice").await;
    }
    app.pass(Duration::from_millis(2500)).await;
    let reply = app.try_login(Gen::Current, "alice", STRONG_PW).await;
    reply.expect_status(200);
    assert_eq!(reply.body["user"]["username"], "alice", "{reply:?}");
}

#[tokio::test]
async fn the_default_lock_outlasts_a_few_seconds() {
    let app = app_with_alice(&[]).await;
    for _ in 0..3 {
        fail(&app, Gen::Current, "alice").await;
    }
    app.pass(Duration::from_millis(2500)).await;
    assert_error(
        &app.try_login(Gen::Current, "alice", STRONG_PW).await,
        401,
        "invalid_credentials",
    );
}

/// `guest` is the public account with a published password: wrong guesses
/// at it must not lock every anonymous reader out.
#[tokio::test]
async fn the_public_guest_account_never_locks() {
    let app = TestApp::test_mode();
    for _ in 0..6 {
        fail(&app, Gen::Current, "guest").await;
    }
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
}
