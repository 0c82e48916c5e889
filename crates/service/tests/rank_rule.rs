#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The rank rule on effective permissions: a holder of `manage_users` may
//! act only on accounts whose role ranks no higher than its own and whose
//! permissions (roles plus extra permissions) it holds too; the session
//! routes follow the same rule.

mod support;

use plantdb_auth_service::authenticate;
use plantdb_auth_service::caller::ACCESS_ONLY;

use plantdb_auth_core::model::{Permission, Role, Username};
use plantdb_auth_service::admin::{change_password, delete_user, PasswordChange};
use plantdb_auth_service::sessions::{list_sessions, revoke_session};
use plantdb_auth_service::AuthError;
use support::{TestDb, GOOD_PASSWORD};

/// `name` with `role` and the extra permissions `extra`, logged in.
fn user_with(t: &TestDb, name: &str, role: Role, extra: &[Permission]) -> String {
    t.add_user(name, GOOD_PASSWORD, &[role]);
    t.db.users()
        .update(&Username::parse(name).unwrap(), &mut |u| {
            u.extra_permissions.extend(extra.iter().copied());
            Ok(())
        })
        .unwrap();
    t.login(name, GOOD_PASSWORD).tokens.access_token
}

fn reset(new: &str) -> PasswordChange {
    PasswordChange {
        current_password: None,
        new_password: Some(new.into()),
    }
}

#[test]
fn a_delegated_user_manager_cannot_act_on_an_account_holding_a_permission_it_lacks() {
    let t = TestDb::new();
    // A contributor given manage_users (the delegation the rule is about),
    // and two readers, one of them also holding `delete`.
    let manager = user_with(&t, "manager", Role::Contributor, &[Permission::ManageUsers]);
    let target_session = user_with(&t, "deleter", Role::Reader, &[Permission::Delete]);
    user_with(&t, "plain", Role::Reader, &[]);

    let refused = authenticate(&t.db, Some(manager.as_str()), ACCESS_ONLY)
        .and_then(|c| change_password(&t.db, &c, "deleter", &reset("Another-good-pass-1")));
    match refused {
        Err(AuthError::PermissionDenied(message)) => {
            assert!(message.contains("delete"), "{message}");
        }
        other => panic!("reset of a user holding delete: {other:?}"),
    }
    assert!(matches!(
        authenticate(&t.db, Some(manager.as_str()), ACCESS_ONLY)
            .and_then(|c| delete_user(&t.db, &c, "deleter")),
        Err(AuthError::PermissionDenied(_))
    ));
    assert!(t.exists("deleter"));

    // The reader without extra permissions is within the manager's reach.
    authenticate(&t.db, Some(manager.as_str()), ACCESS_ONLY)
        .and_then(|c| change_password(&t.db, &c, "plain", &reset("Another-good-pass-2")))
        .unwrap();

    // Sessions: the deleter's session is not listed to the manager, and
    // revoking it is answered as if it did not exist.
    let listed = authenticate(&t.db, Some(manager.as_str()), ACCESS_ONLY)
        .and_then(|c| list_sessions(&t.db, &c))
        .unwrap();
    let owners: Vec<&str> = listed.iter().map(|s| s.username.as_str()).collect();
    assert!(!owners.contains(&"deleter"), "{owners:?}");
    assert!(!owners.contains(&"admin"), "{owners:?}");
    assert!(owners.contains(&"manager"), "{owners:?}");
    let deleter_session = t.db.sessions().sessions(Some("deleter")).pop().unwrap().id;
    assert!(matches!(
        authenticate(&t.db, Some(manager.as_str()), ACCESS_ONLY).and_then(|c| revoke_session(
            &t.db,
            &c,
            &deleter_session
        )),
        Err(AuthError::NotFound(_))
    ));
    assert!(t
        .db
        .sessions()
        .validate(
            &target_session,
            &[plantdb_auth_core::session::TokenKind::Access]
        )
        .is_ok());

    // An admin holds every permission: the same acts succeed.
    let admin = t.admin_token();
    let all = authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
        .and_then(|c| list_sessions(&t.db, &c))
        .unwrap();
    assert!(all.iter().any(|s| s.username == "deleter"));
    authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
        .and_then(|c| revoke_session(&t.db, &c, &deleter_session))
        .unwrap();
    authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
        .and_then(|c| change_password(&t.db, &c, "deleter", &reset("Another-good-pass-3")))
        .unwrap();
}
