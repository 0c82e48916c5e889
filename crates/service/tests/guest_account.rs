#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `guest` is public and shared: nobody can change its password or lock it,
//! and one guest user cannot see or end the sessions of the others.

mod support;

use plantdb_auth_service::caller::ACCESS_ONLY;

use plantdb_auth_core::session::TokenKind;
use plantdb_auth_service::admin::{change_password, PasswordChange};
use plantdb_auth_service::sessions::{list_sessions, logout_all, revoke_session};
use plantdb_auth_service::{authenticate, authenticate_user, AuthError};
use support::{TestDb, GUEST_PASSWORD};

#[test]
fn wrong_guesses_at_guest_never_lock_it() {
    let t = TestDb::new();
    for _ in 0..10 {
        assert!(matches!(
            authenticate_user(&t.db, "guest", "not-the-password"),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert_eq!(t.user("guest").failed_attempts, 0);
    t.login("guest", GUEST_PASSWORD);
}

#[test]
fn nobody_changes_the_guest_password() {
    let t = TestDb::new();
    let guest = t.login("guest", GUEST_PASSWORD).tokens.access_token;
    let admin = t.admin_token();
    for token in [guest.as_str(), admin.as_str()] {
        let change = PasswordChange {
            current_password: Some(GUEST_PASSWORD.into()),
            new_password: Some("a-private-passphrase-2026".into()),
        };
        assert!(matches!(
            authenticate(&t.db, Some(token), ACCESS_ONLY)
                .and_then(|c| change_password(&t.db, &c, "guest", &change)),
            Err(AuthError::PermissionDenied(_))
        ));
    }
    t.login("guest", GUEST_PASSWORD);
}

#[test]
fn a_guest_user_sees_and_ends_only_its_own_session() {
    let t = TestDb::new();
    let mine = t.login("guest", GUEST_PASSWORD).tokens;
    let theirs = t.login("guest", GUEST_PASSWORD).tokens;
    let listed = authenticate(&t.db, Some(mine.access_token.as_str()), ACCESS_ONLY)
        .and_then(|c| list_sessions(&t.db, &c))
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [mine.session_id.as_str()]);
    assert!(matches!(
        authenticate(&t.db, Some(mine.access_token.as_str()), ACCESS_ONLY)
            .and_then(|c| revoke_session(&t.db, &c, &theirs.session_id)),
        Err(AuthError::NotFound(_))
    ));
    let (_, ended) = authenticate(&t.db, Some(mine.access_token.as_str()), ACCESS_ONLY)
        .and_then(|c| logout_all(&t.db, &c))
        .unwrap();
    assert_eq!(ended, 1);
    let access = [TokenKind::Access];
    assert!(t
        .db
        .sessions()
        .validate(&theirs.access_token, &access)
        .is_ok());
    assert!(t
        .db
        .sessions()
        .validate(&mine.access_token, &access)
        .is_err());
}
