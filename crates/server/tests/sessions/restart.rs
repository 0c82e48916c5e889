//! Session state across a restart of the binary, graceful or a crash: live
//! tokens stay valid, every revocation holds, reuse detection remembers.

use serde_json::json;

use crate::helpers::{new_db_dir, Server, USER_PW};

#[derive(Clone, Copy)]
enum Stop {
    Graceful,
    Crash,
}

async fn everything_survives(stop: Stop) {
    let dir = new_db_dir();
    let server = Server::start(dir.path(), &[]);
    let admin = server.admin().await;
    server.register(&admin, "alice").await;
    server.register(&admin, "bob").await;

    let kept = server.login("alice", USER_PW).await;
    let logged_out = server.login("alice", USER_PW).await;
    server.logout(&logged_out.access).await.ok();
    let before = server.session_ids(&kept.access).await;
    let deleted = server.login("alice", USER_PW).await;
    let after = server.session_ids(&kept.access).await;
    let doomed_id = after.into_iter().find(|id| !before.contains(id)).unwrap();
    let path = format!("/api/v1/auth/sessions/{doomed_id}");
    server.delete(&path, &kept.access).await.ok();
    let rotated = server.login("alice", USER_PW).await;
    let rotation = server.refresh(&rotated.refresh).await;
    let rotated_access = rotation.text("access_token");
    let (api_kept, api_kept_id) = server
        .mint(&kept.access, 3600, json!({"*": ["read"]}))
        .await;
    let (api_revoked, api_revoked_id) = server
        .mint(&kept.access, 3600, json!({"*": ["read"]}))
        .await;
    let path = format!("/api/v1/auth/api-tokens/{api_revoked_id}");
    server.delete(&path, &kept.access).await.ok();
    let bob = [
        server.login("bob", USER_PW).await,
        server.login("bob", USER_PW).await,
    ];
    let logout_all = server
        .post("/api/v1/auth/logout-all", Some(&bob[0].access), json!({}))
        .await;
    logout_all.ok();
    let sessions_before = server.session_ids(&kept.access).await;
    match stop {
        Stop::Graceful => server.stop(),
        Stop::Crash => server.kill(),
    }

    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.validation(&kept.access).await, 200);
    assert_eq!(server.validation(&rotated_access).await, 200);
    assert_eq!(server.validation(&api_kept).await, 200);
    assert_eq!(server.session_ids(&kept.access).await, sessions_before);
    assert_eq!(server.api_token_ids(&kept.access).await, [api_kept_id]);
    for dead in [&logged_out, &deleted, &bob[0], &bob[1]] {
        assert_eq!(server.validation(&dead.access).await, 401);
        server
            .refresh(&dead.refresh)
            .await
            .fails(401, "invalid_token");
    }
    assert_eq!(server.validation(&api_revoked).await, 401);
    // Refresh still works...
    let renewed = server.refresh(&kept.refresh).await;
    assert_eq!(server.validation(&renewed.text("access_token")).await, 200);
    // ...and a token rotated before the restart is still known as spent:
    // presenting it again ends its whole session.
    server
        .refresh(&rotated.refresh)
        .await
        .fails(401, "invalid_token");
    assert_eq!(server.validation(&rotated_access).await, 401);
    let descendant = server.refresh(&rotation.text("refresh_token")).await;
    descendant.fails(401, "invalid_token");
}

#[tokio::test]
async fn sessions_and_revocations_survive_a_graceful_restart() {
    everything_survives(Stop::Graceful).await;
}

#[tokio::test]
async fn sessions_and_revocations_survive_a_crash() {
    everything_survives(Stop::Crash).await;
}
