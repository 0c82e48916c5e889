//! Session lifetimes and the per-user session cap.

use std::time::Duration;

use crate::helpers::{assert_error, Gen, TestApp};

/// Lifetime 1 s + 2 s of validation leeway + margin.
const PAST_EXPIRY: Duration = Duration::from_millis(4500);

/// We differ: the cap is per user; a login beyond it evicts the oldest session.
#[tokio::test]
async fn a_login_beyond_the_cap_evicts_the_user_s_oldest_session() {
    let app = TestApp::test_mode_with(&["--max-sessions-per-user", "2"]);
    let (guest, _) = app.login("guest", "guest").await;
    let (a1, r1) = app.login("admin", "admin").await;
    let (a2, _) = app.login("admin", "admin").await;
    let (a3, r3) = app.login("admin", "admin").await;

    assert_error(&app.validate(Gen::Current, &a1).await, 401, "invalid_token");
    assert_error(&app.refresh(Gen::Current, &r1).await, 401, "invalid_token");
    assert_eq!(app.validation_status(&a2).await, 200);
    assert_eq!(app.validation_status(&a3).await, 200);
    // Other users are not affected by admin's cap.
    assert_eq!(app.validation_status(&guest).await, 200);
    // A refresh keeps the session count (it replaces a session, not adds one).
    let rotated = app.refresh(Gen::Current, &r3).await;
    rotated.expect_status(200);
    assert_eq!(app.validation_status(&a2).await, 200);
}

#[tokio::test]
async fn the_default_cap_is_ten_sessions_per_user() {
    let app = TestApp::test_mode();
    let mut tokens = Vec::new();
    for _ in 0..10 {
        tokens.push(app.login("guest", "guest").await.0);
    }
    for token in &tokens {
        assert_eq!(app.validation_status(token).await, 200);
    }
    let (eleventh, _) = app.login("guest", "guest").await;
    assert_eq!(
        app.validation_status(&tokens[0]).await,
        401,
        "oldest evicted"
    );
    assert_eq!(app.validation_status(&tokens[1]).await, 200);
    assert_eq!(app.validation_status(&eleventh).await, 200);
}

async fn access_expires_but_refresh_survives(app: &TestApp) {
    let (access, refresh) = app.login("guest", "guest").await;
    assert_eq!(app.validation_status(&access).await, 200);
    app.pass(PAST_EXPIRY).await;
    assert_error(
        &app.validate(Gen::Current, &access).await,
        401,
        "invalid_token",
    );
    let rotated = app.refresh(Gen::Current, &refresh).await;
    rotated.expect_status(200);
    assert_eq!(
        app.validation_status(rotated.str_field("access_token"))
            .await,
        200
    );
}

#[tokio::test]
async fn session_timeout_flag_sets_the_access_token_lifetime() {
    let app = TestApp::test_mode_with(&["--session-timeout", "1"]);
    access_expires_but_refresh_survives(&app).await;
}

#[tokio::test]
async fn session_timeout_env_sets_the_access_token_lifetime() {
    let app = TestApp::spawn(&["--test", "--no-rate-limits"], &[("SESSION_TIMEOUT", "1")]);
    access_expires_but_refresh_survives(&app).await;
}

async fn refresh_expires(app: &TestApp) {
    let (_, refresh) = app.login("guest", "guest").await;
    app.pass(PAST_EXPIRY).await;
    assert_error(
        &app.refresh(Gen::Current, &refresh).await,
        401,
        "invalid_token",
    );
    assert_error(
        &app.refresh(Gen::Legacy, &refresh).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn refresh_timeout_flag_sets_the_refresh_token_lifetime() {
    let app = TestApp::test_mode_with(&["--session-timeout", "1", "--refresh-timeout", "1"]);
    refresh_expires(&app).await;
}

#[tokio::test]
async fn refresh_timeout_env_sets_the_refresh_token_lifetime() {
    let app = TestApp::spawn(
        &["--test", "--no-rate-limits"],
        &[("SESSION_TIMEOUT", "1"), ("REFRESH_TIMEOUT", "1")],
    );
    refresh_expires(&app).await;
}
