#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `register_user` as the HTTP adapter drives it: the JSON body read at the
//! edge (`RegisterBody`: every missing field, then the caller, then the
//! fields' types and syntax), then the use-case's rules.

#[path = "../../service/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use plantdb_auth_core::model::{Permission, Role, User, Username};
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_core::session::TokenError;
use plantdb_auth_http::payload::RegisterBody;
use plantdb_auth_service::caller::ACCESS_ONLY;
use plantdb_auth_service::{
    authenticate, authenticate_user, create_api_token, register_user, ApiTokenRequest, AuthError,
};
use serde_json::{json, Value};
use support::{TestDb, GOOD_PASSWORD};

fn newcomer(username: &str) -> Value {
    json!({"username": username, "fullname": "New Comer", "password": GOOD_PASSWORD})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn register(t: &TestDb, body: Value, token: Option<&str>) -> Result<Username, AuthError> {
    let body: RegisterBody = serde_json::from_value(body).unwrap();
    let (caller, new_user) = body.with_caller(|| authenticate(&t.db, token, ACCESS_ONLY))?;
    register_user(&t.db, &caller, &new_user)
}

fn roles(list: &[Role]) -> BTreeSet<Role> {
    list.iter().copied().collect()
}

fn invalid_input(result: Result<impl std::fmt::Debug, AuthError>) -> String {
    match result {
        Err(AuthError::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn token_error(result: Result<impl std::fmt::Debug, AuthError>) -> TokenError {
    match result {
        Err(AuthError::Token(e)) => e,
        other => panic!("expected a Token error, got {other:?}"),
    }
}

fn api_token_for(t: &TestDb, access: &str) -> String {
    let request = ApiTokenRequest {
        lifetime: 3600,
        grants: DatasetGrants::from_json(&json!({"*": ["read"]})).unwrap(),
    };
    let caller = authenticate(&t.db, Some(access), ACCESS_ONLY).unwrap();
    create_api_token(&t.db, &caller, &request).unwrap().token
}

// ---- register_user ----------------------------------------------------

#[test]
fn register_stores_a_lower_case_reader_who_can_log_in() {
    let t = TestDb::new();
    let name = register(&t, newcomer("Alice.Smith"), Some(&t.admin_token())).unwrap();
    assert_eq!(name.as_str(), "alice.smith");
    let stored = t.user("alice.smith");
    assert_eq!(stored.fullname, "New Comer");
    assert_eq!(stored.roles, roles(&[Role::Reader]));
    assert!(stored.is_active);
    assert!(t
        .db
        .hasher()
        .verify(GOOD_PASSWORD, &stored.password_hash)
        .is_match());
    let login = authenticate_user(&t.db, "ALICE.smith", GOOD_PASSWORD).unwrap();
    assert_eq!(login.user.username, "alice.smith");
}

#[test]
fn register_names_every_missing_field() {
    let t = TestDb::new();
    let admin = t.admin_token();
    let fields = ["username", "fullname", "password"];
    for mask in 1u8..8 {
        let mut body = newcomer("bob");
        let missing: Vec<&str> = (0..3)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| fields[i])
            .collect();
        for (n, field) in missing.iter().enumerate() {
            // Absent and null both count as missing.
            if n % 2 == 0 {
                body.as_object_mut().unwrap().remove(*field);
            } else {
                body[*field] = Value::Null;
            }
        }
        let msg = match register(&t, body, Some(&admin)) {
            Err(AuthError::MissingField(msg)) => msg,
            other => panic!("{missing:?}: expected MissingField, got {other:?}"),
        };
        let head = msg.split('.').next().unwrap();
        for field in fields {
            assert_eq!(head.contains(field), missing.contains(&field), "{msg}");
        }
    }
    assert!(!t.exists("bob"));
}

#[test]
fn register_without_a_token_is_no_auth_user() {
    let t = TestDb::new();
    for token in [None, Some(""), Some("   ")] {
        let result = register(&t, newcomer("bob"), token);
        assert!(
            matches!(result, Err(AuthError::NoAuthUser(_))),
            "{token:?}: {result:?}"
        );
    }
    assert!(!t.exists("bob"));
}

#[test]
fn register_with_a_bad_token_is_a_token_error() {
    let t = TestDb::new();
    let admin = t.admin_login();
    let api = api_token_for(&t, &admin.tokens.access_token);
    let garbage = token_error(register(&t, newcomer("bob"), Some("not.a.jwt")));
    assert!(matches!(garbage, TokenError::Malformed(_)), "{garbage:?}");
    for not_access in [&admin.tokens.refresh_token, &api] {
        let e = token_error(register(&t, newcomer("bob"), Some(not_access)));
        assert!(matches!(e, TokenError::WrongKind { .. }), "{e:?}");
    }
    t.advance(900 + 3);
    let e = token_error(register(
        &t,
        newcomer("bob"),
        Some(&admin.tokens.access_token),
    ));
    assert_eq!(e, TokenError::Expired);
    assert!(!t.exists("bob"));
}

#[test]
fn register_needs_manage_users() {
    let t = TestDb::new();
    for (name, role) in [("rita", Role::Reader), ("carl", Role::Contributor)] {
        let caller = t.user_session(name, &[role]).tokens.access_token;
        match register(&t, newcomer("bob"), Some(&caller)) {
            Err(AuthError::PermissionDenied(msg)) => assert!(msg.contains("manage_users"), "{msg}"),
            other => panic!("{role}: expected PermissionDenied, got {other:?}"),
        }
    }
    assert!(!t.exists("bob"));
}

#[test]
fn register_refuses_invalid_usernames() {
    let t = TestDb::new();
    let admin = t.admin_token();
    let long = "a".repeat(65);
    for bad in ["", "../../etc", long.as_str(), "josé", "a b", ".."] {
        let msg = invalid_input(register(&t, newcomer(bad), Some(&admin)));
        assert!(msg.contains("Invalid username"), "{bad:?}: {msg}");
    }
    let max = "a".repeat(64);
    assert_eq!(
        register(&t, newcomer(&max), Some(&admin)).unwrap().as_str(),
        max
    );
}

#[test]
fn register_applies_the_password_policy_with_a_reason() {
    let t = TestDb::new();
    let admin = t.admin_token();
    for (password, reason) in [
        ("Sh0rt!", "too short"),
        ("password", "common"),
        ("newbie-was-here-2026", "username"),
        ("My-PlantDB-Secret", "plantdb"),
    ] {
        let body = with(newcomer("newbie"), "password", json!(password));
        let msg = invalid_input(register(&t, body, Some(&admin)));
        assert!(msg.contains(reason), "{password:?}: {msg}");
    }
    assert!(!t.exists("newbie"));
}

#[test]
fn register_refuses_non_string_fields_and_bad_fullnames() {
    let t = TestDb::new();
    let admin = t.admin_token();
    let cases = [
        ("username", json!(42)),
        ("fullname", json!(["New", "Comer"])),
        ("password", json!(true)),
        ("fullname", json!("x".repeat(257))),
        ("fullname", json!("New\nComer")),
        ("roles", json!("admin")),
        ("roles", json!([1])),
    ];
    for (key, value) in cases {
        let body = with(newcomer("bob"), key, value.clone());
        let msg = invalid_input(register(&t, body, Some(&admin)));
        assert!(msg.contains(key), "{key}={value}: {msg}");
    }
    assert!(!t.exists("bob"));
}

#[test]
fn register_refuses_a_taken_name_in_any_case() {
    let t = TestDb::new();
    let admin = t.admin_token();
    register(&t, newcomer("bob"), Some(&admin)).unwrap();
    for again in ["bob", "BOB", "Guest"] {
        match register(&t, newcomer(again), Some(&admin)) {
            Err(AuthError::UserExists(msg)) => {
                assert!(msg.contains(&again.to_lowercase()), "{msg}")
            }
            other => panic!("{again}: expected UserExists, got {other:?}"),
        }
    }
    assert_eq!(t.user("guest").fullname, "PlantDB Guest");
}

#[test]
fn register_assigns_optional_roles_within_the_callers_rank() {
    let t = TestDb::new();
    let admin = t.admin_token();
    let body = with(newcomer("carl"), "roles", json!(["Role.CONTRIBUTOR"]));
    register(&t, body, Some(&admin)).unwrap();
    assert_eq!(t.user("carl").roles, roles(&[Role::Contributor]));
    register(
        &t,
        with(newcomer("empty"), "roles", json!([])),
        Some(&admin),
    )
    .unwrap();
    assert_eq!(t.user("empty").roles, roles(&[Role::Reader]));

    let msg = invalid_input(register(
        &t,
        with(newcomer("owen"), "roles", json!(["owner"])),
        Some(&admin),
    ));
    assert!(msg.contains("owner"), "{msg}");

    // A reader granted manage_users may create users, but not above itself.
    let manager = t.user_session("mona", &[Role::Reader]);
    t.db.users()
        .update(&Username::parse("mona").unwrap(), &mut |u: &mut User| {
            u.extra_permissions.insert(Permission::ManageUsers);
            Ok(())
        })
        .unwrap();
    let token = manager.tokens.access_token;
    let up = register(
        &t,
        with(newcomer("eve"), "roles", json!(["admin"])),
        Some(&token),
    );
    assert!(matches!(up, Err(AuthError::PermissionDenied(_))), "{up:?}");
    assert!(!t.exists("eve"));
    register(&t, newcomer("eve"), Some(&token)).unwrap();
}
