//! `plantdb-auth group ...`.

use serde_json::json;

use crate::helpers::Cli;

fn with_users() -> Cli {
    let cli = Cli::new();
    cli.add_user("admin", &["admin"]);
    cli.add_user("alice", &[]);
    cli.add_user("bob", &[]);
    cli
}

#[test]
fn add_records_the_creator_as_a_member() {
    let cli = with_users();
    let out = cli.ok(&[
        "group",
        "add",
        "lab",
        "--description",
        "The lab",
        "--member",
        "alice",
    ]);
    assert!(out.starts_with("Group lab created"), "{out}");
    let lab = cli.json(&["group", "show", "lab"]);
    assert_eq!(lab["users"], json!(["admin", "alice"]));
    assert_eq!(lab["created_by"], "admin");
    assert_eq!(lab["description"], "The lab");
    let team = cli.json(&["group", "add", "team", "--creator", "bob"]);
    assert_eq!(team["users"], json!(["bob"]));
    assert_eq!(team["created_by"], "bob");
    assert!(cli
        .audit_log()
        .contains(r#""event":"group_created","group":"team","by":"operator""#));
}

#[test]
fn add_refuses_a_taken_name_an_unknown_member_or_creator() {
    let cli = with_users();
    cli.ok(&["group", "add", "lab"]);
    cli.fails(&["group", "add", "lab"], "Group 'lab' already exists");
    cli.fails(
        &["group", "add", "x", "--member", "nobody"],
        "User 'nobody' does not exist",
    );
    cli.fails(
        &["group", "add", "x", "--creator", "nobody"],
        "User 'nobody' does not exist",
    );
    cli.fails(&["group", "add", "bad name!"], "Invalid group name");
    let bare = Cli::new();
    bare.fails(&["group", "add", "lab"], "User 'admin' does not exist");
}

#[test]
fn list_and_show() {
    let cli = with_users();
    cli.ok(&["group", "add", "b-team", "--creator", "bob"]);
    cli.ok(&["group", "add", "a-team", "--member", "alice"]);
    let table = cli.ok(&["group", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    assert!(
        lines[1].starts_with("a-team ") && lines[1].contains("admin,alice"),
        "{table}"
    );
    assert!(lines[2].starts_with("b-team "), "{table}");
    assert_eq!(cli.json(&["group", "list"]).as_array().unwrap().len(), 2);
    let shown = cli.ok(&["group", "show", "a-team"]);
    assert!(
        shown.contains("members:") && shown.contains("admin, alice"),
        "{shown}"
    );
    cli.fails(&["group", "show", "nope"], "Group 'nope' does not exist");
}

#[test]
fn add_member_and_remove_member() {
    let cli = with_users();
    cli.ok(&["group", "add", "lab"]);
    let lab = cli.json(&["group", "add-member", "lab", "bob"]);
    assert_eq!(lab["users"], json!(["admin", "bob"]));
    cli.fails(&["group", "add-member", "lab", "nobody"], "does not exist");
    cli.fails(
        &["group", "add-member", "nope", "bob"],
        "Group 'nope' does not exist",
    );
    let lab = cli.json(&["group", "remove-member", "lab", "bob"]);
    assert_eq!(lab["users"], json!(["admin"]));
    cli.fails(&["group", "remove-member", "lab", "bob"], "not a member");
    cli.fails(
        &["group", "remove-member", "lab", "admin"],
        "always stays a member",
    );
}

#[test]
fn delete() {
    let cli = with_users();
    cli.ok(&["group", "add", "lab"]);
    assert_eq!(
        cli.ok(&["group", "delete", "lab"]).trim(),
        "Group lab deleted"
    );
    cli.fails(&["group", "delete", "lab"], "Group 'lab' does not exist");
    assert_eq!(cli.json(&["group", "list"]), json!([]));
}
