//! `plantdb-auth session ...` and `plantdb-auth token ...`: sessions and
//! API tokens made over HTTP, listed and ended by the CLI while the server
//! is stopped, dead when it starts again.

use serde_json::{json, Value};

use crate::helpers::{Cli, PW};
use crate::server::{Pair, Server};

struct Made {
    alice: Vec<Pair>,
    bob: Pair,
    api: (String, String),
}

/// Two sessions of alice, one of bob, an API token of alice; server stopped.
async fn history(cli: &Cli) -> Made {
    cli.add_user("alice", &[]);
    cli.add_user("bob", &[]);
    let server = Server::start(cli.path(), &[]);
    let alice = vec![
        server.login("alice", PW).await,
        server.login("alice", PW).await,
    ];
    let bob = server.login("bob", PW).await;
    let api = server
        .mint(&alice[0].access, 3600, json!({"plant_*": ["read"]}))
        .await;
    server.stop();
    Made { alice, bob, api }
}

fn ids(list: &Value) -> Vec<String> {
    crate::server::ids(list)
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let cli = Cli::new();
    let made = history(&cli).await;
    let all = cli.json(&["session", "list"]);
    assert_eq!(ids(&all).len(), 3, "{all}");
    let mine = cli.json(&["session", "list", "--user", "Alice"]);
    assert_eq!(ids(&mine).len(), 2, "{mine}");
    assert!(mine
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["username"] == "alice"));
    let table = cli.ok(&["session", "list", "--user", "bob"]);
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 2, "{table}");
    cli.fails(
        &["session", "list", "--user", "nobody"],
        "User 'nobody' does not exist",
    );

    // The session of bob's tokens: the one listed for bob.
    let bob_session = ids(&cli.json(&["session", "list", "--user", "bob"]))[0].clone();
    let out = cli.ok(&["session", "revoke", &bob_session]);
    assert_eq!(out.trim(), format!("Session {bob_session} of bob revoked"));
    cli.fails(&["session", "revoke", &bob_session], "not found");
    cli.fails(&["session", "revoke", &made.api.1], "not found");
    assert!(cli
        .audit_log()
        .contains(r#""event":"session_revoked","user":"bob","by":"operator""#));

    let server = Server::start(cli.path(), &[]);
    assert_eq!(server.validation(&made.bob.access).await, 401);
    assert_eq!(server.refresh(&made.bob.refresh).await.status, 401);
    for pair in &made.alice {
        assert_eq!(server.validation(&pair.access).await, 200);
    }
}

#[tokio::test]
async fn api_tokens_are_listed_and_revoked() {
    let cli = Cli::new();
    let made = history(&cli).await;
    let (token, id) = &made.api;
    let list = cli.json(&["token", "list"]);
    assert_eq!(ids(&list), vec![id.to_string()]);
    assert_eq!(list[0]["username"], "alice");
    assert_eq!(list[0]["datasets"], json!({"plant_*": ["read"]}));
    assert_eq!(cli.json(&["token", "list", "--user", "bob"]), json!([]));
    let table = cli.ok(&["token", "list", "--user", "alice"]);
    assert!(
        table.contains(id.as_str()) && table.contains("plant_*:read"),
        "{table}"
    );
    assert!(!table.contains(token.as_str()), "{table}");
    cli.fails(&["token", "list", "--user", "nobody"], "does not exist");

    let session = ids(&cli.json(&["session", "list", "--user", "bob"]))[0].clone();
    cli.fails(&["token", "revoke", &session], "not found");
    let out = cli.ok(&["token", "revoke", id]);
    assert_eq!(out.trim(), format!("API token {id} of alice revoked"));
    cli.fails(&["token", "revoke", id], "not found");
    assert_eq!(cli.json(&["token", "list"]), json!([]));

    let server = Server::start(cli.path(), &[]);
    assert_eq!(server.validation(token).await, 401);
    assert_eq!(server.validation(&made.alice[0].access).await, 200);
}

#[tokio::test]
async fn every_session_of_a_user_or_of_everyone_is_revoked_api_tokens_stay() {
    let cli = Cli::new();
    let made = history(&cli).await;
    cli.fails(
        &["session", "revoke", "--user", "nobody"],
        "User 'nobody' does not exist",
    );
    let out = cli.ok(&["session", "revoke", "--user", "alice"]);
    assert_eq!(out.trim(), "2 session(s) of alice ended");
    assert_eq!(ids(&cli.json(&["session", "list"])).len(), 1, "bob's stays");
    let all = cli.json(&["session", "revoke", "--all"]);
    assert_eq!(all["sessions_ended"], 1, "{all}");
    assert!(ids(&cli.json(&["session", "list"])).is_empty());
    assert_eq!(
        ids(&cli.json(&["token", "list"])).len(),
        1,
        "the API token stays"
    );

    let server = Server::start(cli.path(), &[]);
    for pair in made.alice.iter().chain([&made.bob]) {
        assert_eq!(server.validation(&pair.access).await, 401);
    }
    assert_eq!(server.validation(&made.api.0).await, 200);
}

#[tokio::test]
async fn a_rotated_key_verifies_old_tokens_for_the_grace_only() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let server = Server::start(cli.path(), &[]);
    let old = server.login("alice", PW).await;
    server.stop();
    let out = cli.ok(&["key", "rotate", "--grace", "3600"]);
    assert!(out.contains("Signing key rotated"), "{out}");
    assert!(cli.audit_log().contains(r#""event":"key_rotated""#));

    let server = Server::start(cli.path(), &[]);
    assert_eq!(
        server.validation(&old.access).await,
        200,
        "inside the grace"
    );
    let new = server.login("alice", PW).await;
    assert_eq!(server.validation(&new.access).await, 200);
    server.stop();

    cli.fails(&["key", "rotate", "--grace=-1"], "--grace");
    cli.ok(&["key", "rotate", "--grace", "0"]);
    let server = Server::start(cli.path(), &[]);
    assert_eq!(
        server.validation(&new.access).await,
        401,
        "grace 0 ends them"
    );
    assert_eq!(
        server.validation(&old.access).await,
        401,
        "two rotations ago"
    );
    let fresh = server.login("alice", PW).await;
    assert_eq!(server.validation(&fresh.access).await, 200);
}

/// Ids are URL-safe base64: one in 64 begins with '-', which must not be
/// taken for an option.
#[tokio::test]
async fn ids_beginning_with_a_hyphen_are_ids() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    cli.fails(&["token", "revoke", "-8HMVHicHmHabGOjl691Xw"], "not found");
    cli.fails(
        &["session", "revoke", "-8HMVHicHmHabGOjl691Xw"],
        "not found",
    );
}
