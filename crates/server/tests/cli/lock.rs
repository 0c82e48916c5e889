//! The CLI and a running server never write the same database at once, and
//! what the CLI writes is what the server serves next.

use serde_json::json;

use crate::helpers::{Cli, PW};
use crate::server::{Server, ADMIN_PW};

const NEW_PW: &str = "Another-Horse-8-battery";

#[tokio::test]
async fn every_command_is_refused_while_a_server_holds_the_database() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let server = Server::start(cli.path(), &[]);
    let lock = cli.path().join(".plantdb-auth").join("lock");
    let pid = std::fs::read_to_string(lock).unwrap().trim().to_string();
    let expected = format!(
        "error: the database at {} is in use by a running plantdb-auth server (pid {pid}): stop it first, or use the HTTP API (see docs/operations.md, 'Administration')",
        cli.path().display()
    );
    let commands: [&[&str]; 6] = [
        &["user", "list"],
        &["user", "deactivate", "alice"],
        &["group", "add", "lab"],
        &["session", "list"],
        &["token", "revoke", "some-id"],
        &["user", "passwd", "alice", "--password-stdin"],
    ];
    for args in commands {
        let err = cli.fails_with(args, Some(&format!("{NEW_PW}\n")), "in use");
        assert_eq!(err.trim(), expected, "{args:?}");
    }
    // Nothing was changed behind the server's back.
    assert_eq!(
        server
            .validation(&server.login("alice", PW).await.access)
            .await,
        200
    );
    server.stop();
    cli.ok(&["user", "list"]);
}

#[tokio::test]
async fn accounts_made_by_the_cli_log_in_over_http() {
    let cli = Cli::new();
    cli.add_user("alice", &["contributor"]);
    cli.add_user("carol", &[]);
    let server = Server::start(cli.path(), &[]);
    let alice = server.login("alice", PW).await;
    let carol = server.login("carol", PW).await;
    let me = server.get("/api/v1/auth/me", &alice.access).await;
    assert_eq!(me.ok()["roles"], json!(["contributor"]));
    server.stop();

    // A reset ends the account's sessions; a deactivation refuses logins.
    cli.ok_with(
        &["user", "passwd", "alice", "--password-stdin"],
        Some(&format!("{NEW_PW}\n")),
    );
    cli.ok(&["user", "deactivate", "carol"]);
    let server = Server::start(cli.path(), &[]);
    assert_eq!(server.validation(&alice.access).await, 401);
    assert_eq!(login_status(&server, "alice", PW).await, 401);
    server.login("alice", NEW_PW).await;
    assert_eq!(server.validation(&carol.access).await, 401);
    assert_eq!(login_status(&server, "carol", PW).await, 401);
    assert_eq!(login_status(&server, "admin", ADMIN_PW).await, 200);
}

async fn login_status(server: &Server, user: &str, password: &str) -> u16 {
    let body = json!({"username": user, "password": password});
    server.post("/api/v1/auth/login", None, body).await.status
}
