//! Failed-login lockout (contract §1): 3 failures lock for 900 s by default;
//! a locked account answers exactly like a wrong password.

use std::time::Duration;

use crate::helpers::{assert_error, Gen, TestApp};

both_generations!(three_failures_lock_the_account);

async fn fail(app: &TestApp, gen: Gen, user: &str) {
    let reply = app.try_login(gen, user, "wrong-password").await;
    assert_error(&reply, 401, "invalid_credentials");
}

async fn three_failures_lock_the_account(gen: Gen) {
    let app = TestApp::test_mode();
    let wrong = app.try_login(gen, "guest", "wrong-password").await;
    fail(&app, gen, "guest").await;
    fail(&app, gen, "guest").await;
    let locked = app.try_login(gen, "guest", "guest").await;
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
    let app = TestApp::test_mode();
    fail(&app, Gen::Current, "guest").await;
    fail(&app, Gen::Legacy, "guest").await;
    fail(&app, Gen::Current, "guest").await;
    assert_error(
        &app.try_login(Gen::Legacy, "guest", "guest").await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_counter() {
    let app = TestApp::test_mode();
    for _ in 0..3 {
        fail(&app, Gen::Current, "guest").await;
        fail(&app, Gen::Current, "guest").await;
        app.try_login(Gen::Current, "guest", "guest")
            .await
            .expect_status(200);
    }
}

#[tokio::test]
async fn failures_are_counted_per_user_case_insensitively() {
    let app = TestApp::test_mode();
    fail(&app, Gen::Current, "GUEST").await;
    fail(&app, Gen::Current, "Guest").await;
    fail(&app, Gen::Current, "guest").await;
    assert_error(
        &app.try_login(Gen::Current, "guest", "guest").await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn the_attempt_limit_is_configurable() {
    let app = TestApp::test_mode_with(&["--max-failed-attempts", "5"]);
    for _ in 0..4 {
        fail(&app, Gen::Current, "guest").await;
    }
    app.try_login(Gen::Current, "guest", "guest")
        .await
        .expect_status(200);
    for _ in 0..5 {
        fail(&app, Gen::Current, "guest").await;
    }
    assert_error(
        &app.try_login(Gen::Current, "guest", "guest").await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn the_lock_expires_after_the_lockout_duration() {
    let app = TestApp::test_mode_with(&["--lockout-duration", "1"]);
    for _ in 0..3 {
        fail(&app, Gen::Current, "guest").await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let reply = app.try_login(Gen::Current, "guest", "guest").await;
    reply.expect_status(200);
    assert_eq!(reply.body["user"]["username"], "guest", "{reply:?}");
}

#[tokio::test]
async fn the_default_lock_outlasts_a_few_seconds() {
    let app = TestApp::test_mode();
    for _ in 0..3 {
        fail(&app, Gen::Current, "guest").await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_error(
        &app.try_login(Gen::Current, "guest", "guest").await,
        401,
        "invalid_credentials",
    );
}
