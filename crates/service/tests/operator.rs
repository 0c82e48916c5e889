#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The local operator (the admin CLI) goes through the same use-cases as an
//! HTTP caller: with admin rights, without a token, and as nobody's self.

mod support;

use plantdb_auth_service::caller::ACCESS_ONLY;

use plantdb_auth_core::model::Role;
use plantdb_auth_core::session::TokenKind;
use plantdb_auth_service::admin::{
    change_password, create_group, list_users, GroupPayload, PasswordChange,
};
use plantdb_auth_service::sessions::{list_api_tokens, list_sessions, revoke_session};
use plantdb_auth_service::{authenticate, AuthDb, AuthError, Caller};
use support::{TestDb, GOOD_PASSWORD};

fn operator(db: &AuthDb) -> Caller {
    Caller::operator(db).unwrap()
}

#[test]
fn the_operator_is_an_admin_without_a_token() {
    let t = TestDb::new();
    let caller = operator(&t.db);
    assert!(caller.is_operator());
    assert!(caller.user.is_admin());
    assert_eq!(caller.username().as_str(), "operator");
    assert_eq!(caller.kind(), TokenKind::Access);
    assert!(caller.grants().is_none());
    let names: Vec<String> = list_users(&t.db, &operator(&t.db))
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["admin", "guest"]);
}

#[test]
fn an_account_named_operator_gets_an_admin_reset_not_a_self_change() {
    let t = TestDb::new();
    t.add_user("operator", GOOD_PASSWORD, &[Role::Reader]);
    let change = PasswordChange {
        current_password: None,
        new_password: Some("another-fine-password-42".into()),
    };
    change_password(&t.db, &operator(&t.db), "operator", &change).unwrap();
    t.login("operator", "another-fine-password-42");
}

#[test]
fn the_operator_sees_and_ends_everyones_sessions_and_tokens() {
    let t = TestDb::new();
    t.add_user("alice", GOOD_PASSWORD, &[Role::Reader]);
    let alice = t.login("alice", GOOD_PASSWORD).tokens;
    t.db.sessions()
        .create_api_token("alice", "*/Permission.READ", 600)
        .unwrap();
    let sessions = list_sessions(&t.db, &operator(&t.db)).unwrap();
    assert_eq!(sessions.len(), 1);
    let tokens = list_api_tokens(&t.db, &operator(&t.db)).unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].username, "alice");
    let owner = revoke_session(&t.db, &operator(&t.db), &alice.session_id).unwrap();
    assert_eq!(owner, "alice");
    assert!(list_sessions(&t.db, &operator(&t.db)).unwrap().is_empty());
}

#[test]
fn the_operator_names_the_creator_of_a_group() {
    let t = TestDb::new();
    let mut payload = GroupPayload {
        name: Some("lab".into()),
        ..GroupPayload::default()
    };
    let err = create_group(&t.db, &operator(&t.db), &payload).unwrap_err();
    assert!(matches!(err, AuthError::MissingField(_)), "{err:?}");
    payload.creator = Some("nobody".into());
    let err = create_group(&t.db, &operator(&t.db), &payload).unwrap_err();
    assert!(matches!(err, AuthError::NotFound(_)), "{err:?}");
    payload.creator = Some("admin".into());
    let group = create_group(&t.db, &operator(&t.db), &payload).unwrap();
    assert_eq!(group.created_by.as_deref(), Some("admin"));
    assert_eq!(group.users, ["admin"]);
}

#[test]
fn an_account_cannot_create_a_group_on_behalf_of_another() {
    let t = TestDb::new();
    t.add_user("alice", GOOD_PASSWORD, &[Role::Reader]);
    let token = t.admin_token();
    let payload = GroupPayload {
        name: Some("lab".into()),
        creator: Some("alice".into()),
        ..GroupPayload::default()
    };
    let err = authenticate(&t.db, Some(token.as_str()), ACCESS_ONLY)
        .and_then(|c| create_group(&t.db, &c, &payload))
        .unwrap_err();
    assert!(matches!(err, AuthError::PermissionDenied(_)), "{err:?}");
}
