#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Races of the service layer, many rounds each: a membership added while
//! its account is deleted, an account deleted and re-created behind the
//! server's back, a rehash-on-login racing a password reset.

mod support;

use plantdb_auth_service::caller::ACCESS_ONLY;

use plantdb_auth_core::model::Role;
use plantdb_auth_core::password::HashParams;
use plantdb_auth_service::admin::{
    add_group_member, change_password, create_group, delete_user, GroupPayload, MemberPayload,
    PasswordChange,
};
use plantdb_auth_service::{authenticate, authenticate_user, validate_token, AuthError};
use support::{TestDb, GOOD_PASSWORD};

#[test]
fn a_membership_never_outlives_its_account() {
    let t = TestDb::new();
    let admin = t.admin_token();
    let payload: GroupPayload = serde_json::from_value(serde_json::json!({"name": "lab"})).unwrap();
    authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
        .and_then(|c| create_group(&t.db, &c, &payload))
        .unwrap();
    for round in 0..30 {
        let name = format!("member{round}");
        t.add_user(&name, GOOD_PASSWORD, &[Role::Reader]);
        let member = MemberPayload {
            username: Some(name.clone()),
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
                    .and_then(|c| add_group_member(&t.db, &c, "lab", &member))
            });
            s.spawn(|| {
                authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
                    .and_then(|c| delete_user(&t.db, &c, &name))
            });
        });
        let group = t.db.groups().list().unwrap();
        let lab = group.iter().find(|g| g.name.as_str() == "lab").unwrap();
        assert!(
            !lab.users.iter().any(|u| u.as_str() == name),
            "round {round}: {name} is still a member after being deleted"
        );
    }
}

#[test]
fn an_account_recreated_behind_the_servers_back_inherits_no_token() {
    let t = TestDb::new();
    t.add_user("bob", GOOD_PASSWORD, &[Role::Reader]);
    let token = t.login("bob", GOOD_PASSWORD).tokens.access_token;
    assert!(validate_token(&t.db, Some(&token)).is_ok());
    // A tool edits users.json: bob goes, a new bob comes a little later.
    t.delete_user("bob");
    t.advance(5);
    t.add_user("bob", GOOD_PASSWORD, &[Role::Reader]);
    assert!(matches!(
        validate_token(&t.db, Some(&token)),
        Err(AuthError::Token(_))
    ));
    // The new bob's own logins work.
    let fresh = t.login("bob", GOOD_PASSWORD).tokens.access_token;
    assert!(validate_token(&t.db, Some(&fresh)).is_ok());
}

#[test]
fn a_rehash_on_login_never_undoes_a_reset() {
    // Old (cheaper) parameters make every login rewrite the hash.
    let t = TestDb::new();
    let old = HashParams {
        m_cost: 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let admin = t.admin_token();
    for round in 0..20 {
        let name = format!("carol{round}");
        let hash = plantdb_auth_core::password::PasswordHasher::new(old)
            .unwrap()
            .hash(GOOD_PASSWORD)
            .unwrap();
        t.add_user_with_hash(&name, hash, &[Role::Reader]);
        let new_pw = format!("Another-good-passphrase-{round}");
        let change = PasswordChange {
            current_password: None,
            new_password: Some(new_pw.clone()),
        };
        let (login, reset) = std::thread::scope(|s| {
            let login = s.spawn(|| authenticate_user(&t.db, &name, GOOD_PASSWORD));
            let reset = s.spawn(|| {
                authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
                    .and_then(|c| change_password(&t.db, &c, &name, &change))
            });
            (login.join().unwrap(), reset.join().unwrap())
        });
        reset.unwrap();
        if let Ok(result) = login {
            assert!(
                validate_token(&t.db, Some(&result.tokens.access_token)).is_err(),
                "round {round}: a session of the old password survived the reset"
            );
        }
        assert!(
            authenticate_user(&t.db, &name, GOOD_PASSWORD).is_err(),
            "round {round}: the old password works again"
        );
        t.login(&name, &new_pw);
    }
}

#[test]
fn a_login_racing_a_deactivation_leaves_no_session() {
    use plantdb_auth_service::admin::{update_user, UserPatch};
    let t = TestDb::new();
    let admin = t.admin_token();
    for round in 0..20 {
        let name = format!("dan{round}");
        t.add_user(&name, GOOD_PASSWORD, &[Role::Reader]);
        let patch: UserPatch =
            serde_json::from_value(serde_json::json!({"is_active": false})).unwrap();
        let (login, off) = std::thread::scope(|s| {
            let login = s.spawn(|| authenticate_user(&t.db, &name, GOOD_PASSWORD));
            let off = s.spawn(|| {
                authenticate(&t.db, Some(admin.as_str()), ACCESS_ONLY)
                    .and_then(|c| update_user(&t.db, &c, &name, &patch))
            });
            (login.join().unwrap(), off.join().unwrap())
        });
        off.unwrap();
        if let Ok(result) = login {
            assert!(
                validate_token(&t.db, Some(&result.tokens.access_token)).is_err(),
                "round {round}: a session survived the deactivation"
            );
        }
    }
}
