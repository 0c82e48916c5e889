//! `GET/DELETE /api/v1/auth/sessions`, `POST /api/v1/auth/logout-all` and
//! `GET/DELETE /api/v1/auth/api-tokens`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::{new_db_dir, Pair, Server, USER_PW};

const SESSIONS: &str = "/api/v1/auth/sessions";
const API_TOKENS: &str = "/api/v1/auth/api-tokens";
const LOGOUT_ALL: &str = "/api/v1/auth/logout-all";

/// A server on a new database with the readers alice and bob.
async fn with_users() -> (TempDir, Server, String) {
    let dir = new_db_dir();
    let server = Server::start(dir.path(), &[]);
    let admin = server.admin().await;
    server.register(&admin, "alice").await;
    server.register(&admin, "bob").await;
    (dir, server, admin)
}

fn utc(value: &Value) -> DateTime<FixedOffset> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    let t = DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(t.offset().local_minus_utc(), 0, "{text} is not UTC");
    t
}

fn keys(item: &Value) -> BTreeSet<&str> {
    item.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Logs `user` in and returns the tokens and the id of the new session.
async fn session(server: &Server, user: &str) -> (Pair, String) {
    let pair = server.login(user, USER_PW).await;
    let before: BTreeSet<String> = server.session_ids(&pair.access).await.into_iter().collect();
    let fresh = server.login(user, USER_PW).await;
    let after = server.session_ids(&fresh.access).await;
    let id = after.into_iter().find(|id| !before.contains(id)).unwrap();
    (fresh, id)
}

#[tokio::test]
async fn sessions_lists_the_caller_s_own_sessions_without_tokens() {
    let (_dir, server, admin) = with_users().await;
    let a1 = server.login("alice", USER_PW).await;
    let a2 = server.login("alice", USER_PW).await;
    server.login("bob", USER_PW).await;
    let reply = server.get(SESSIONS, &a1.access).await;
    let list = reply.ok().as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    for item in list {
        let want = BTreeSet::from(["id", "username", "created_at", "expires_at"]);
        assert_eq!(keys(item), want);
        assert_eq!(item["username"], "alice");
        let lifetime = utc(&item["expires_at"]) - utc(&item["created_at"]);
        assert!(
            (86_390..=86_400).contains(&lifetime.num_seconds()),
            "{item}"
        );
    }
    let text = reply.body.to_string();
    for token in [&a1.access, &a1.refresh, &a2.access, &a2.refresh] {
        assert!(!text.contains(token.as_str()), "a token leaked: {text}");
    }
    // A user manager sees everyone's.
    let all = server.get(SESSIONS, &admin).await;
    let users: BTreeSet<&str> = all
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, BTreeSet::from(["admin", "alice", "bob"]));
}

#[tokio::test]
async fn deleting_a_session_ends_its_tokens_and_only_those() {
    let (_dir, server, _) = with_users().await;
    let (doomed, id) = session(&server, "alice").await;
    let (kept, _) = session(&server, "alice").await;
    let reply = server
        .delete(&format!("{SESSIONS}/{id}"), &kept.access)
        .await;
    assert!(reply.text("message").contains(&id), "{reply:?}");
    assert_eq!(server.validation(&doomed.access).await, 401);
    server
        .refresh(&doomed.refresh)
        .await
        .fails(401, "invalid_token");
    assert_eq!(server.validation(&kept.access).await, 200);
    assert!(!server.session_ids(&kept.access).await.contains(&id));
    let again = server
        .delete(&format!("{SESSIONS}/{id}"), &kept.access)
        .await;
    again.fails(404, "not_found");
}

#[tokio::test]
async fn someone_else_s_session_is_404_unless_the_caller_manages_users() {
    let (_dir, server, admin) = with_users().await;
    let (alice, id) = session(&server, "alice").await;
    let bob = server.login("bob", USER_PW).await;
    let path = format!("{SESSIONS}/{id}");
    let theirs = server.delete(&path, &bob.access).await;
    theirs.fails(404, "not_found");
    let unknown = server
        .delete(&format!("{SESSIONS}/no-such-id"), &bob.access)
        .await;
    unknown.fails(404, "not_found");
    assert_eq!(server.validation(&alice.access).await, 200);
    server.delete(&path, &admin).await.ok();
    assert_eq!(server.validation(&alice.access).await, 401);
    server
        .refresh(&alice.refresh)
        .await
        .fails(401, "invalid_token");
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_caller_and_nothing_else() {
    let (_dir, server, admin) = with_users().await;
    let sessions = [
        server.login("alice", USER_PW).await,
        server.login("alice", USER_PW).await,
        server.login("alice", USER_PW).await,
    ];
    let (api, _) = server
        .mint(&sessions[0].access, 3600, json!({"*": ["read"]}))
        .await;
    let bob = server.login("bob", USER_PW).await;
    let reply = server
        .post(LOGOUT_ALL, Some(&sessions[1].access), json!({}))
        .await;
    assert_eq!(reply.ok()["sessions_ended"], 3, "{reply:?}");
    assert!(reply.text("message").contains("alice"), "{reply:?}");
    for pair in &sessions {
        assert_eq!(server.validation(&pair.access).await, 401);
        server
            .refresh(&pair.refresh)
            .await
            .fails(401, "invalid_token");
    }
    assert_eq!(server.validation(&bob.access).await, 200);
    assert_eq!(server.validation(&admin).await, 200);
    // API tokens are for scripts: only a password change or an account
    // change ends them, not "log out everywhere".
    assert_eq!(server.validation(&api).await, 200);
    let again = server.login("alice", USER_PW).await;
    assert_eq!(server.session_ids(&again.access).await.len(), 1);
}

#[tokio::test]
async fn api_tokens_are_listed_without_the_token_itself() {
    let (_dir, server, admin) = with_users().await;
    let alice = server.login("alice", USER_PW).await;
    let scoped = json!({"scan_*": ["read"], "plant?": ["Permission.READ"]});
    let (t1, id1) = server.mint(&alice.access, 3600, scoped).await;
    let (t2, id2) = server.mint(&alice.access, 60, json!({"*": ["READ"]})).await;
    let reply = server.get(API_TOKENS, &alice.access).await;
    let list = reply.ok().as_array().unwrap();
    let by_id = |id: &str| list.iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    for item in list {
        let want = BTreeSet::from(["id", "datasets", "created_at", "expires_at"]);
        assert_eq!(keys(item), want);
    }
    let first = by_id(&id1);
    let datasets = json!({"scan_*": ["read"], "plant?": ["read"]});
    assert_eq!(first["datasets"], datasets);
    assert_eq!(by_id(&id2)["datasets"], json!({"*": ["read"]}));
    let lifetime = utc(&first["expires_at"]) - utc(&first["created_at"]);
    assert_eq!(lifetime.num_seconds(), 3600);
    let text = reply.body.to_string();
    assert!(!text.contains(&t1) && !text.contains(&t2), "a token leaked");
    // The caller's own tokens only, whoever the caller is.
    let bob = server.login("bob", USER_PW).await;
    assert!(server.api_token_ids(&bob.access).await.is_empty());
    assert!(!server.api_token_ids(&admin).await.contains(&id1));
}

#[tokio::test]
async fn an_api_token_is_revoked_by_its_owner_or_an_admin_only() {
    let (_dir, server, admin) = with_users().await;
    let alice = server.login("alice", USER_PW).await;
    let bob = server.login("bob", USER_PW).await;
    let (a1, id1) = server
        .mint(&alice.access, 3600, json!({"*": ["read"]}))
        .await;
    let (a2, id2) = server
        .mint(&alice.access, 3600, json!({"*": ["read"]}))
        .await;
    let path = |id: &str| format!("{API_TOKENS}/{id}");
    server
        .delete(&path(&id1), &bob.access)
        .await
        .fails(404, "not_found");
    assert_eq!(server.validation(&a1).await, 200);
    let reply = server.delete(&path(&id1), &alice.access).await;
    assert!(reply.text("message").contains(&id1), "{reply:?}");
    assert_eq!(server.validation(&a1).await, 401);
    assert_eq!(
        server.api_token_ids(&alice.access).await,
        std::slice::from_ref(&id2)
    );
    server
        .delete(&path(&id1), &alice.access)
        .await
        .fails(404, "not_found");
    server.delete(&path(&id2), &admin).await.ok();
    assert_eq!(server.validation(&a2).await, 401);
}

#[tokio::test]
async fn session_ids_and_api_token_ids_do_not_mix() {
    let (_dir, server, _) = with_users().await;
    let (alice, session_id) = session(&server, "alice").await;
    let (api, api_id) = server
        .mint(&alice.access, 3600, json!({"*": ["read"]}))
        .await;
    let wrong = server
        .delete(&format!("{SESSIONS}/{api_id}"), &alice.access)
        .await;
    wrong.fails(404, "not_found");
    let wrong = server
        .delete(&format!("{API_TOKENS}/{session_id}"), &alice.access)
        .await;
    wrong.fails(404, "not_found");
    assert_eq!(server.validation(&api).await, 200);
    assert_eq!(server.validation(&alice.access).await, 200);
}

#[tokio::test]
async fn an_expired_api_token_is_rejected_and_no_longer_listed() {
    let (_dir, server, _) = with_users().await;
    let alice = server.login("alice", USER_PW).await;
    let (api, _) = server.mint(&alice.access, 1, json!({"*": ["read"]})).await;
    assert_eq!(server.validation(&api).await, 200);
    // 1 s lifetime + 2 s of validation leeway + margin.
    tokio::time::sleep(Duration::from_millis(4200)).await;
    assert_eq!(server.validation(&api).await, 401);
    assert!(server.api_token_ids(&alice.access).await.is_empty());
}

#[tokio::test]
async fn these_endpoints_take_an_access_token_only() {
    let (_dir, server, _) = with_users().await;
    let alice = server.login("alice", USER_PW).await;
    let (api, _) = server
        .mint(&alice.access, 3600, json!({"*": ["read"]}))
        .await;
    let endpoints = [
        (Method::GET, SESSIONS.to_owned()),
        (Method::DELETE, format!("{SESSIONS}/x")),
        (Method::POST, LOGOUT_ALL.to_owned()),
        (Method::GET, API_TOKENS.to_owned()),
        (Method::DELETE, format!("{API_TOKENS}/x")),
    ];
    for (method, path) in endpoints {
        let none = server.call(method.clone(), &path, None, None).await;
        none.fails(401, "not_authenticated");
        for token in [&alice.refresh, &api] {
            let reply = server.call(method.clone(), &path, Some(token), None).await;
            reply.fails(401, "invalid_token");
        }
    }
    assert_eq!(server.validation(&alice.access).await, 200, "nothing ended");
    let wrong_method = server
        .call(Method::PUT, SESSIONS, Some(&alice.access), None)
        .await;
    wrong_method.fails(405, "method_not_allowed");
}
