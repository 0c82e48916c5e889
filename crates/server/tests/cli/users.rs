//! `plantdb-auth user ...`.

use serde_json::{json, Value};

use crate::helpers::{bin, program, run, Cli, PW};

#[test]
fn add_creates_an_account_from_a_password_on_stdin() {
    let cli = Cli::new();
    let out = cli.ok_with(
        &[
            "user",
            "add",
            "Alice",
            "--fullname",
            "Alice A",
            "--role",
            "contributor",
            "--password-stdin",
        ],
        Some(&format!("{PW}\n")),
    );
    assert_eq!(out.trim(), "User alice created (roles: contributor)");
    let alice = cli.user("alice");
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["fullname"], "Alice A");
    assert_eq!(alice["roles"], json!(["contributor"]));
    assert_eq!(alice["is_active"], true);
    let stored = std::fs::read_to_string(cli.path().join("users.json")).unwrap();
    assert!(stored.contains("$argon2id$"), "{stored}");
    assert!(!stored.contains(PW));
    assert!(cli
        .audit_log()
        .contains(r#""event":"register","user":"alice","by":"operator""#));
}

#[test]
fn add_refuses_a_taken_name_a_weak_password_and_an_unknown_role() {
    let cli = Cli::new();
    cli.add_user("alice", &[]);
    let pw = Some("Correct-Horse-7-battery\n");
    cli.fails_with(
        &[
            "user",
            "add",
            "ALICE",
            "--fullname",
            "A",
            "--password-stdin",
        ],
        pw,
        "User 'ALICE' already exists",
    );
    cli.fails_with(
        &["user", "add", "bob", "--fullname", "B", "--password-stdin"],
        Some("short\n"),
        "Password rejected",
    );
    cli.fails_with(
        &[
            "user",
            "add",
            "bob",
            "--fullname",
            "B",
            "--role",
            "wizard",
            "--password-stdin",
        ],
        pw,
        "unknown role 'wizard'",
    );
    cli.fails_with(
        &["user", "add", "bob", "--fullname", "B", "--password-stdin"],
        Some("\n"),
        "no password on standard input",
    );
    assert_eq!(cli.json(&["user", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn passwords_never_come_from_the_command_line() {
    let cli = Cli::new();
    // No terminal and no --password-stdin: refused, with what to do.
    cli.fails(
        &["user", "add", "bob", "--fullname", "B"],
        "hint: pipe it in with --password-stdin",
    );
    cli.add_user("bob", &[]);
    cli.fails(&["user", "passwd", "bob"], "--password-stdin");
    // There is no option to give one.
    let run = cli.run(
        &["user", "add", "carol", "--fullname", "C", "--password", "x"],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    let run = cli.run(&["user", "passwd", "bob", "--password", "x"], None);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn list_and_show_print_tables_or_json() {
    let cli = Cli::new();
    cli.add_user("bob", &["admin"]);
    cli.add_user("alice", &["reader"]);
    let table = cli.ok(&["user", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("USERNAME"), "{table}");
    assert!(
        lines[1].starts_with("alice ") && lines[1].contains("reader"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("bob ") && lines[2].contains("admin"),
        "{table}"
    );
    let users = cli.json(&["user", "list"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let shown = cli.ok(&["user", "show", "BOB"]);
    assert!(
        shown.contains("username:") && shown.contains("bob"),
        "{shown}"
    );
    assert!(!shown.contains("password"), "{shown}");
    cli.fails(&["user", "show", "nobody"], "User 'nobody' does not exist");
}

#[test]
fn passwd_resets_the_password() {
    let cli = Cli::new();
    cli.add_user("bob", &[]);
    let before = std::fs::read_to_string(cli.path().join("users.json")).unwrap();
    let out = cli.ok_with(
        &["user", "passwd", "bob", "--password-stdin"],
        Some("A-whole-new-secret-42\r\n"),
    );
    assert!(out.starts_with("Password of bob changed"), "{out}");
    let after = std::fs::read_to_string(cli.path().join("users.json")).unwrap();
    assert_ne!(before, after);
    assert!(cli
        .audit_log()
        .contains(r#""event":"password_reset","user":"bob","by":"operator""#));
    cli.fails_with(
        &["user", "passwd", "nobody", "--password-stdin"],
        Some("A-whole-new-secret-42\n"),
        "User 'nobody' does not exist",
    );
    cli.fails_with(
        &["user", "passwd", "bob", "--password-stdin"],
        Some("tiny\n"),
        "Password rejected",
    );
}

/// Locks `name` as repeated failed logins would, straight in users.json.
fn lock(cli: &Cli, name: &str) {
    let path = cli.path().join("users.json");
    let mut users: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for user in users.as_array_mut().unwrap() {
        if user["username"] == name {
            user["failed_attempts"] = json!(3);
            user["locked_until"] = json!("2999-01-01T00:00:00+00:00");
        }
    }
    std::fs::write(&path, users.to_string()).unwrap();
}

#[test]
fn unlock_lifts_a_lockout() {
    let cli = Cli::new();
    cli.add_user("bob", &[]);
    lock(&cli, "bob");
    assert!(cli.user("bob")["locked_until"].is_string());
    let unlocked = cli.json(&["user", "unlock", "bob"]);
    assert_eq!(unlocked["locked_until"], Value::Null);
    assert!(cli
        .audit_log()
        .contains(r#""event":"unlock","user":"bob","by":"operator""#));
    cli.fails(&["user", "unlock", "nobody"], "does not exist");
}

#[test]
fn deactivate_and_activate() {
    let cli = Cli::new();
    cli.add_user("root", &["admin"]);
    cli.add_user("bob", &[]);
    let out = cli.ok(&["user", "deactivate", "bob"]);
    assert!(out.starts_with("User bob deactivated"), "{out}");
    assert_eq!(cli.user("bob")["is_active"], false);
    assert_eq!(cli.json(&["user", "activate", "bob"])["is_active"], true);
    cli.fails(&["user", "deactivate", "root"], "last active admin");
    cli.fails(&["user", "activate", "nobody"], "does not exist");
}

#[test]
fn roles_replaces_the_roles() {
    let cli = Cli::new();
    cli.add_user("bob", &[]);
    let bob = cli.json(&["user", "roles", "bob", "contributor", "Role.ADMIN"]);
    assert_eq!(bob["roles"], json!(["contributor", "admin"]));
    cli.fails(&["user", "roles", "bob", "wizard"], "wizard");
    assert_eq!(cli.run(&["user", "roles", "bob"], None).code, 2);
    assert_eq!(cli.user("bob")["roles"], json!(["contributor", "admin"]));
}

#[test]
fn delete_removes_the_account_and_its_memberships() {
    let cli = Cli::new();
    cli.add_user("root", &["admin"]);
    cli.add_user("bob", &[]);
    cli.ok(&[
        "group",
        "add",
        "lab",
        "--creator",
        "root",
        "--member",
        "bob",
    ]);
    let out = cli.ok(&["user", "delete", "bob"]);
    assert_eq!(out.trim(), "User bob deleted");
    cli.fails(&["user", "show", "bob"], "does not exist");
    assert_eq!(
        cli.json(&["group", "show", "lab"])["users"],
        json!(["root"])
    );
    cli.fails(&["user", "delete", "bob"], "does not exist");
    cli.fails(&["user", "delete", "root"], "last active admin");
}

#[test]
fn usage_errors_exit_2_and_a_missing_database_is_explained() {
    let cli = Cli::new();
    let run = cli.run(&["user", "frobnicate"], None);
    assert_eq!(run.code, 2, "{run:?}");
    let mut cmd = bin();
    cmd.args(["user", "list", "--db", "/nonexistent/plantdb"]);
    let run = run_cmd(cmd);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no PlantDB database at /nonexistent/plantdb"),
        "{run:?}"
    );
    assert!(run.stderr.contains("hint: "), "{run:?}");
    assert!(!std::path::Path::new("/nonexistent/plantdb").exists());
}

#[test]
fn the_database_can_come_from_romi_db() {
    let cli = Cli::new();
    cli.add_user("bob", &[]);
    let mut cmd = bin();
    cmd.args(["user", "list", "--json"])
        .env("ROMI_DB", cli.path());
    let run = run_cmd(cmd);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("\"bob\""), "{run:?}");
}

fn run_cmd(cmd: std::process::Command) -> crate::helpers::Run {
    run(cmd, None)
}

/// `script` (util-linux) runs the command on a pseudo-terminal, which is
/// where the prompt reads from.
fn on_a_terminal(cli: &Cli, args: &str, typed: &str) -> Option<crate::helpers::Run> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())?;
    let line = format!(
        "{} {args} --db {}",
        env!("CARGO_BIN_EXE_plantdb-auth"),
        cli.path().display()
    );
    let mut cmd = program(script);
    cmd.args(["-qec", &line, "/dev/null"]);
    Some(run(cmd, Some(typed)))
}

#[test]
fn passwords_are_prompted_twice_on_a_terminal() {
    let cli = Cli::new();
    let Some(done) = on_a_terminal(&cli, "user add tty --fullname T", &format!("{PW}\n{PW}\n"))
    else {
        println!("skipped: no `script` command to make a terminal");
        return;
    };
    assert_eq!(done.code, 0, "{done:?}");
    assert!(done.stdout.contains("New password: "), "{done:?}");
    assert!(done.stdout.contains("User tty created"), "{done:?}");
    let typo = format!("{PW}\nsomething-else-entirely\n");
    let refused = on_a_terminal(&cli, "user passwd tty", &typo).unwrap();
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stdout.contains("the two passwords differ"),
        "{refused:?}"
    );
}
