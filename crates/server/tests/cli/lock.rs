//! The CLI on a running server goes through its admin socket (changes take
//! effect at once); without the socket it never writes the database the
//! server holds; what the CLI writes is what the server serves next.

use serde_json::json;

use crate::helpers::{Cli, PW};
use crate::server::{Server, ADMIN_PW};

const NEW_PW: &str = "Another-Horse-8-battery";

#[tokio::test]
async fn commands_run_on_the_running_server_through_its_admin_socket() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    cli.add_user("carol", &[]);
    let server = Server::start(cli.path(), &[]);
    let socket = cli.path().join(".plantdb-auth").join("admin.sock");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the admin socket is private");
    }
    let alice = server.login("alice", PW).await;
    let carol = server.login("carol", PW).await;

    // Reads see the server's live state.
    let sessions = cli.json(&["session", "list", "--user", "alice"]);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");

    // A reset ends alice's session at once; the new password works over HTTP.
    let out = cli.ok_with(
        &["user", "passwd", "alice", "--password-stdin"],
        Some(&format!("{NEW_PW}\n")),
    );
    assert!(out.contains("Password of alice changed"), "{out}");
    assert_eq!(server.validation(&alice.access).await, 401);
    assert_eq!(login_status(&server, "alice", PW).await, 401);
    let alice = server.login("alice", NEW_PW).await;

    // Revoking and deactivating take effect without a restart.
    cli.ok(&["session", "revoke", "--user", "alice"]);
    assert_eq!(server.validation(&alice.access).await, 401);
    cli.ok(&["user", "deactivate", "carol"]);
    assert_eq!(server.validation(&carol.access).await, 401);
    assert_eq!(login_status(&server, "carol", PW).await, 401);
    cli.ok(&["user", "activate", "carol"]);
    server.login("carol", PW).await;

    // A new account and a group, usable at once.
    cli.ok_with(
        &[
            "user",
            "add",
            "dave",
            "--fullname",
            "Dave",
            "--password-stdin",
        ],
        Some(&format!("{PW}\n")),
    );
    server.login("dave", PW).await;
    cli.ok(&["group", "add", "lab", "--member", "dave"]);
    let members = cli.json(&["group", "show", "lab"])["users"].clone();
    assert!(
        members.as_array().unwrap().contains(&json!("dave")),
        "{members}"
    );

    // The server's errors come back as the CLI's, with the exit code.
    let err = cli.fails(&["user", "show", "nobody"], "does not exist");
    assert!(err.contains("hint: "), "{err}");

    // Every command is in the audit log with who ran it.
    let log = cli.audit_log();
    assert!(log.contains(r#""event":"admin_command""#), "{log}");
    assert!(log.contains(r#""via":"admin_socket""#), "{log}");
    server.stop();
    assert!(
        !socket.exists(),
        "the socket is removed when the server stops"
    );
}

#[tokio::test]
async fn key_rotation_on_the_running_server_keeps_or_ends_old_tokens() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let server = Server::start(cli.path(), &[]);
    let before = server.login("alice", PW).await;
    let out = cli.ok(&["key", "rotate", "--grace", "3600"]);
    assert!(
        out.contains("The running server signs with the new key now"),
        "{out}"
    );
    // The old key still verifies; new tokens are signed with the new one.
    assert_eq!(server.validation(&before.access).await, 200);
    let after = server.login("alice", PW).await;
    assert_ne!(jwt_signature(&before.access), jwt_signature(&after.access));
    cli.ok(&["key", "rotate", "--grace", "0"]);
    assert_eq!(server.validation(&before.access).await, 401);
    assert_eq!(server.validation(&after.access).await, 401);
    let fresh = server.login("alice", PW).await;
    assert_eq!(server.validation(&fresh.access).await, 200);
    // A restart reads the same key: the fresh token stays valid.
    server.stop();
    let server = Server::start(cli.path(), &[]);
    assert_eq!(server.validation(&fresh.access).await, 200);
}

fn jwt_signature(token: &str) -> String {
    token.rsplit('.').next().unwrap().to_string()
}

#[tokio::test]
async fn without_a_reachable_admin_socket_the_cli_leaves_the_database_alone() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let server = Server::start(cli.path(), &[]);
    let socket = cli.path().join(".plantdb-auth").join("admin.sock");
    std::fs::remove_file(&socket).unwrap();
    let lock = cli.path().join(".plantdb-auth").join("lock");
    let pid = std::fs::read_to_string(lock).unwrap().trim().to_string();
    let expected = format!(
        "error: the database at {} is in use by a running plantdb-auth server (pid {pid}) and its admin socket did not answer\nhint: no admin socket answered at {}: give the server's --state-dir (or --config), or use the HTTP API (see docs/operations.md, 'Administration')",
        cli.path().display(),
        socket.display()
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
async fn a_socket_left_by_a_killed_server_does_not_stop_the_cli() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let server = Server::start(cli.path(), &[]);
    server.kill();
    assert!(cli.path().join(".plantdb-auth").join("admin.sock").exists());
    let out = cli.ok(&["user", "list"]);
    assert!(out.contains("alice"), "{out}");
    // The next server replaces the stale socket and answers on it.
    let server = Server::start(cli.path(), &[]);
    cli.ok(&["user", "deactivate", "alice"]);
    assert_eq!(login_status(&server, "alice", PW).await, 401);
}

#[tokio::test]
async fn only_the_servers_user_may_use_the_admin_socket() {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root || !setpriv.exists() {
        eprintln!("skipped: needs root and setpriv to run the CLI as another user");
        return;
    }
    let cli = Cli::new();
    let server = Server::start(cli.path(), &[]);
    // The database itself is readable by everyone (as the Python server
    // leaves it); the state directory and the socket are not.
    let as_nobody = || {
        let mut cmd = crate::helpers::program("/usr/bin/setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_plantdb-auth"))
            .args(["user", "list", "--db"])
            .arg(cli.path());
        let run = crate::helpers::run(cmd, None);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        run.stderr
    };
    let err = as_nobody();
    assert!(err.contains("is not open to this user"), "{err}");
    // Even if an admin opens the files up, the server checks who connects.
    use std::os::unix::fs::PermissionsExt;
    let state = cli.path().join(".plantdb-auth");
    for (path, mode) in [
        (cli.path().to_path_buf(), 0o755),
        (state.clone(), 0o755),
        (state.join("admin.sock"), 0o666),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let err = as_nobody();
    assert!(
        err.contains("only the server's user and root may use the admin socket"),
        "{err}"
    );
    server.stop();
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
#[tokio::test]
async fn the_cli_finds_the_database_and_state_directory_in_the_configuration_file() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\nstate-dir = {:?}\n",
            cli.path().to_str().unwrap(),
            state.path().join("state").to_str().unwrap()
        ),
    )
    .unwrap();
    let by_config = |args: &[&str], via_env: bool| {
        let mut cmd = crate::helpers::bin();
        cmd.args(args);
        match via_env {
            true => cmd.env("PLANTDB_CONFIG", &config),
            false => cmd.arg("--config").arg(&config),
        };
        crate::helpers::run(cmd, None)
    };
    // Server stopped: the CLI opens the database the file names.
    let run = by_config(&["user", "list"], false);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("alice"), "{run:?}");
    // Server running with the same file: the CLI reaches its socket in the
    // state directory the file names.
    let server = Server::start(cli.path(), &["--config", config.to_str().unwrap()]);
    assert!(state.path().join("state").join("admin.sock").exists());
    let run = by_config(&["user", "deactivate", "alice"], true);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(login_status(&server, "alice", PW).await, 401);
    // A broken file is named, and nothing runs.
    std::fs::write(&config, "no-such-setting = 1\n").unwrap();
    let run = by_config(&["user", "list"], false);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("unknown setting 'no-such-setting'"),
        "{run:?}"
    );
}

#[tokio::test]
async fn root_does_not_write_a_database_that_belongs_to_another_user() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(cli.path())
        .status()
        .unwrap();
    assert!(chown.success());
    // As root: refused, with the command to run instead; nothing changed.
    let err = cli.fails(&["user", "deactivate", "alice"], "belongs to user");
    assert!(err.contains("sudo -u "), "{err}");
    // As the owner: done, and the files stay the owner's.
    let mut cmd = crate::helpers::program("/usr/bin/setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_plantdb-auth"))
        .args(["user", "deactivate", "alice", "--db"])
        .arg(cli.path());
    let run = crate::helpers::run(cmd, None);
    assert_eq!(run.code, 0, "{run:?}");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(cli.path().join("users.json"))
        .unwrap()
        .uid();
    assert_eq!(owner, 65534);
}
