#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The seed's use-cases over an in-memory `AuthDb`: every success and every
//! error path, asserting the exact `AuthError` variant.

mod support;

use std::collections::BTreeSet;

use plantdb_auth_core::clock::Clock;
use plantdb_auth_core::model::{Role, User, Username};
use plantdb_auth_core::password::{HashParams, PasswordHasher, MAX_PASSWORD_BYTES};
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_core::session::TokenError;
use plantdb_auth_service::caller::ACCESS_ONLY;
use plantdb_auth_service::{
    authenticate, authenticate_user, check_username_exists, create_api_token,
    ensure_default_accounts, logout_user, refresh_token, validate_token, AdminPassword,
    ApiTokenRequest, AuthError, UserInfo,
};
use serde_json::json;
use support::{TestDb, ADMIN_PASSWORD, CHEAP_PHC_PREFIX, GOOD_PASSWORD, GUEST_PASSWORD};

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

fn assert_invalid_credentials(result: Result<impl std::fmt::Debug, AuthError>, case: &str) {
    match result {
        Err(e @ AuthError::InvalidCredentials) => assert_eq!(e.to_string(), "Invalid credentials"),
        other => panic!("{case}: expected InvalidCredentials, got {other:?}"),
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

// ---- check_username_exists --------------------------------------------

#[test]
fn username_existence_is_case_insensitive_and_invalid_names_do_not_exist() {
    let t = TestDb::new();
    for (name, expected) in [
        ("guest", true),
        ("GUEST", true),
        ("Admin", true),
        ("nobody", false),
        ("", false),
        ("../../etc", false),
        ("josé", false),
    ] {
        assert_eq!(
            check_username_exists(&t.db, name).unwrap(),
            expected,
            "{name:?}"
        );
    }
    assert!(!check_username_exists(&t.db, &"a".repeat(65)).unwrap());
}

// ---- authenticate_user ------------------------------------------------

#[test]
fn login_returns_tokens_that_validate_and_the_user() {
    let t = TestDb::new();
    t.add_user("alice", GOOD_PASSWORD, &[Role::Reader]);
    let login = authenticate_user(&t.db, "Alice", GOOD_PASSWORD).unwrap();
    let expected = UserInfo {
        username: "alice".into(),
        fullname: "Full alice".into(),
    };
    assert_eq!(login.user, expected);
    let access = login.tokens.access_token.as_str();
    assert_eq!(validate_token(&t.db, Some(access)).unwrap(), expected);
    assert_ne!(login.tokens.access_token, login.tokens.refresh_token);
    assert_eq!(t.user("alice").last_login, Some(t.now()));
    assert!(refresh_token(&t.db, Some(&login.tokens.refresh_token)).is_ok());
}

/// The contract's "same Argon2 work" cannot be observed without timing:
/// `PasswordHasher` has no hook counting verifications. This pins the
/// outcome: every refusal is the same variant with the same text.
#[test]
fn unknown_wrong_locked_and_deactivated_all_fail_as_invalid_credentials() {
    let t = TestDb::new();
    t.add_user("alice", GOOD_PASSWORD, &[Role::Reader]);
    t.add_user("locked", GOOD_PASSWORD, &[Role::Reader]);
    t.add_user("gone", GOOD_PASSWORD, &[Role::Reader]);
    let until = t.now() + chrono::Duration::seconds(60);
    t.db.users()
        .update(&Username::parse("locked").unwrap(), &mut |u: &mut User| {
            u.locked_until = Some(until);
            Ok(())
        })
        .unwrap();
    t.set_active("gone", false);
    for (who, password, case) in [
        ("nobody", GOOD_PASSWORD, "unknown user"),
        ("josé", GOOD_PASSWORD, "invalid username"),
        ("", GOOD_PASSWORD, "empty username"),
        ("alice", "wrong-password-here", "wrong password"),
        ("alice", "", "empty password"),
        ("locked", GOOD_PASSWORD, "locked, right password"),
        ("gone", GOOD_PASSWORD, "deactivated, right password"),
    ] {
        assert_invalid_credentials(authenticate_user(&t.db, who, password), case);
    }
    assert!(!t.exists("nobody"));
}

#[test]
fn the_third_failure_locks_until_the_lock_expires() {
    let t = TestDb::builder().lockout(3, 900).build();
    t.add_user("carol", GOOD_PASSWORD, &[Role::Reader]);
    for attempt in 1..=3u32 {
        t.advance(1);
        assert_invalid_credentials(authenticate_user(&t.db, "carol", "nope-nope-nope"), "wrong");
        assert_eq!(t.user("carol").failed_attempts, attempt);
        let locked = t.user("carol").is_locked(t.now());
        assert_eq!(locked, attempt == 3, "after failure {attempt}");
    }
    let until = t.user("carol").locked_until.unwrap();
    assert_eq!(until, t.now() + chrono::Duration::seconds(900));
    assert_invalid_credentials(authenticate_user(&t.db, "carol", GOOD_PASSWORD), "locked");
    t.advance(899);
    assert_invalid_credentials(authenticate_user(&t.db, "carol", GOOD_PASSWORD), "1 s left");
    t.advance(1);
    authenticate_user(&t.db, "carol", GOOD_PASSWORD).unwrap();
    let carol = t.user("carol");
    assert_eq!((carol.failed_attempts, carol.locked_until), (0, None));
}

#[test]
fn a_success_resets_the_failure_counter() {
    let t = TestDb::new();
    t.add_user("dave", GOOD_PASSWORD, &[Role::Reader]);
    for _ in 0..2 {
        let _ = authenticate_user(&t.db, "dave", "nope-nope-nope");
    }
    assert_eq!(t.user("dave").failed_attempts, 2);
    t.login("dave", GOOD_PASSWORD);
    assert_eq!(t.user("dave").failed_attempts, 0);
    for _ in 0..2 {
        let _ = authenticate_user(&t.db, "dave", "nope-nope-nope");
    }
    t.login("dave", GOOD_PASSWORD);
}

#[test]
fn an_overlong_password_is_refused_before_any_check() {
    let t = TestDb::new();
    t.add_user("erin", GOOD_PASSWORD, &[Role::Reader]);
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    for who in ["erin", "nobody"] {
        let msg = invalid_input(authenticate_user(&t.db, who, &long));
        assert!(msg.contains("too long"), "{msg}");
    }
    assert_eq!(t.user("erin").failed_attempts, 0, "not counted as a try");
    let at_limit = "x".repeat(MAX_PASSWORD_BYTES);
    assert_invalid_credentials(authenticate_user(&t.db, "erin", &at_limit), "1024 bytes");
}

#[test]
fn passwords_are_compared_exactly() {
    // Room for three wrong tries without a lockout.
    let t = TestDb::builder().lockout(10, 900).build();
    t.add_user("fred", GOOD_PASSWORD, &[Role::Reader]);
    let upper = GOOD_PASSWORD.to_uppercase();
    for variant in [
        format!("{GOOD_PASSWORD} "),
        format!(" {GOOD_PASSWORD}"),
        upper,
    ] {
        assert_invalid_credentials(authenticate_user(&t.db, "fred", &variant), &variant);
    }
    t.login("fred", GOOD_PASSWORD);
}

#[test]
fn login_rehashes_a_hash_made_with_other_parameters() {
    let t = TestDb::new();
    let older = PasswordHasher::new(HashParams {
        m_cost: 128,
        t_cost: 1,
        p_cost: 1,
    })
    .unwrap();
    let old_hash = older.hash(GOOD_PASSWORD).unwrap();
    t.add_user_with_hash("gina", old_hash.clone(), &[Role::Reader]);
    t.login("gina", GOOD_PASSWORD);
    let new_hash = t.user("gina").password_hash;
    assert!(new_hash.starts_with(CHEAP_PHC_PREFIX), "{new_hash}");
    assert_ne!(new_hash, old_hash);
    t.login("gina", GOOD_PASSWORD);
    assert_eq!(t.user("gina").password_hash, new_hash, "no second rehash");
    assert_invalid_credentials(authenticate_user(&t.db, "gina", "nope-nope-nope"), "wrong");
}

#[test]
fn a_python_argon2_cffi_hash_logs_in_and_is_upgraded() {
    let t = TestDb::new();
    // Written by argon2-cffi 25.1: `PasswordHasher().hash("admin")`.
    let phc = "$argon2id$v=19$m=65536,t=3,p=4$Kv1Ml81SyU1JhO8Dv9gfsA$WEBFa5js2vcCgsgKt9AeIc44DxT750lKtu5N3dmTGqA";
    t.add_user_with_hash("legacy", phc.into(), &[Role::Admin]);
    t.login("legacy", "admin");
    assert!(t.user("legacy").password_hash.starts_with(CHEAP_PHC_PREFIX));
    t.login("legacy", "admin");
}

// ---- logout_user ------------------------------------------------------

#[test]
fn logout_ends_the_access_and_refresh_tokens_of_that_session_only() {
    let t = TestDb::new();
    let one = t.user_session("hana", &[Role::Reader]).tokens;
    let two = t.login("hana", GOOD_PASSWORD).tokens;
    assert_eq!(logout_user(&t.db, Some(&one.access_token)).unwrap(), "hana");
    let e = token_error(validate_token(&t.db, Some(&one.access_token)));
    assert_eq!(e, TokenError::NotLive);
    let e = token_error(refresh_token(&t.db, Some(&one.refresh_token)));
    assert_eq!(e, TokenError::NotLive);
    assert!(validate_token(&t.db, Some(&two.access_token)).is_ok());
}

#[test]
fn logout_without_a_token_is_no_auth_user_and_with_a_dead_one_a_token_error() {
    let t = TestDb::new();
    let login = t.admin_login().tokens;
    let api = api_token_for(&t, &login.access_token);
    let expired = t.login("guest", GUEST_PASSWORD).tokens.access_token;
    let refresh = login.refresh_token.clone();
    logout_user(&t.db, Some(&login.access_token)).unwrap();
    t.advance(900 + 3);
    for (token, case) in [(None, "no token"), (Some(""), "empty")] {
        let result = logout_user(&t.db, token);
        assert!(
            matches!(result, Err(AuthError::NoAuthUser(_))),
            "{case}: {result:?}"
        );
    }
    let dead: [(&str, &str); 5] = [
        ("garbage", "garbage"),
        (&refresh, "refresh token"),
        (&api, "api token"),
        (&login.access_token, "second logout"),
        (&expired, "expired"),
    ];
    for (token, case) in dead {
        let result = logout_user(&t.db, Some(token));
        assert!(
            matches!(result, Err(AuthError::Token(_))),
            "{case}: {result:?}"
        );
    }
}

// ---- validate_token ---------------------------------------------------

#[test]
fn access_and_api_tokens_validate() {
    let t = TestDb::new();
    let access = t.login("guest", GUEST_PASSWORD).tokens.access_token;
    let guest = UserInfo {
        username: "guest".into(),
        fullname: "PlantDB Guest".into(),
    };
    assert_eq!(validate_token(&t.db, Some(&access)).unwrap(), guest);
    let api = api_token_for(&t, &access);
    assert_eq!(validate_token(&t.db, Some(&api)).unwrap(), guest);
}

#[test]
fn validate_refuses_refresh_expired_and_foreign_tokens() {
    let t = TestDb::new();
    let admin = t.admin_login().tokens;
    let guest = t.login("guest", GUEST_PASSWORD).tokens.access_token;
    let e = token_error(validate_token(&t.db, Some(&admin.refresh_token)));
    assert!(matches!(e, TokenError::WrongKind { .. }), "{e:?}");
    let e = token_error(validate_token(&t.db, Some("a.b.c")));
    assert!(matches!(e, TokenError::Malformed(_)), "{e:?}");

    // The guest's signature on the admin's claims: a privilege escalation try.
    let parts: Vec<&str> = guest.split('.').collect();
    let admin_claims = admin.access_token.split('.').nth(1).unwrap();
    let forged = format!("{}.{}.{}", parts[0], admin_claims, parts[2]);
    assert_eq!(
        token_error(validate_token(&t.db, Some(&forged))),
        TokenError::BadSignature
    );
    let stranger = TestDb::new().admin_token();
    let e = token_error(validate_token(&t.db, Some(&stranger)));
    assert_eq!(e, TokenError::BadSignature);

    t.advance(900 + 3);
    assert_eq!(
        token_error(validate_token(&t.db, Some(&guest))),
        TokenError::Expired
    );
    let none = validate_token(&t.db, None);
    assert!(matches!(none, Err(AuthError::NoAuthUser(_))), "{none:?}");
}

#[test]
fn tokens_die_with_a_deactivated_or_deleted_account() {
    let t = TestDb::new();
    let ivan = t.user_session("ivan", &[Role::Reader]).tokens.access_token;
    let api = api_token_for(&t, &ivan);
    t.set_active("ivan", false);
    for token in [&ivan, &api] {
        assert_eq!(
            token_error(validate_token(&t.db, Some(token))),
            TokenError::NotLive
        );
    }
    let jane = t.user_session("jane", &[Role::Reader]).tokens.access_token;
    t.delete_user("jane");
    assert_eq!(
        token_error(validate_token(&t.db, Some(&jane))),
        TokenError::NotLive
    );
}

// ---- refresh_token ----------------------------------------------------

#[test]
fn refresh_needs_a_token() {
    let t = TestDb::new();
    for token in [None, Some(""), Some("  ")] {
        match refresh_token(&t.db, token) {
            Err(AuthError::MissingField(msg)) => assert!(msg.contains("refresh_token"), "{msg}"),
            other => panic!("{token:?}: expected MissingField, got {other:?}"),
        }
    }
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let t = TestDb::new();
    let first = t.user_session("kim", &[Role::Reader]).tokens;
    t.advance(10);
    let second = refresh_token(&t.db, Some(&first.refresh_token)).unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        validate_token(&t.db, Some(&second.access_token))
            .unwrap()
            .username,
        "kim"
    );
    let old_access = token_error(validate_token(&t.db, Some(&first.access_token)));
    assert_eq!(old_access, TokenError::NotLive);

    let reuse = token_error(refresh_token(&t.db, Some(&first.refresh_token)));
    assert_eq!(reuse, TokenError::Reused);
    let e = token_error(validate_token(&t.db, Some(&second.access_token)));
    assert_eq!(e, TokenError::NotLive);
    let e = token_error(refresh_token(&t.db, Some(&second.refresh_token)));
    assert_eq!(e, TokenError::NotLive);
}

#[test]
fn refresh_refuses_other_kinds_garbage_and_expiry() {
    let t = TestDb::new();
    let login = t.admin_login().tokens;
    let api = api_token_for(&t, &login.access_token);
    for other in [&login.access_token, &api] {
        let e = token_error(refresh_token(&t.db, Some(other)));
        assert!(matches!(e, TokenError::WrongKind { .. }), "{e:?}");
    }
    let e = token_error(refresh_token(&t.db, Some("garbage")));
    assert!(matches!(e, TokenError::Malformed(_)), "{e:?}");
    t.advance(86400 + 3);
    let e = token_error(refresh_token(&t.db, Some(&login.refresh_token)));
    assert_eq!(e, TokenError::Expired);
}

#[test]
fn refresh_fails_for_a_deactivated_or_deleted_user() {
    let t = TestDb::new();
    let lee = t.user_session("lee", &[Role::Reader]).tokens;
    t.set_active("lee", false);
    let e = token_error(refresh_token(&t.db, Some(&lee.refresh_token)));
    assert_eq!(e, TokenError::NotLive);
    t.set_active("lee", true);
    assert!(refresh_token(&t.db, Some(&lee.refresh_token)).is_err());
    assert!(validate_token(&t.db, Some(&lee.access_token)).is_err());

    let max = t.user_session("max", &[Role::Reader]).tokens;
    t.delete_user("max");
    let e = token_error(refresh_token(&t.db, Some(&max.refresh_token)));
    assert_eq!(e, TokenError::NotLive);
}

// ---- ensure_default_accounts ------------------------------------------

#[test]
fn default_accounts_are_guest_and_admin() {
    let t = TestDb::builder().without_default_accounts().build();
    let outcome =
        ensure_default_accounts(&t.db, AdminPassword::Given(ADMIN_PASSWORD.into())).unwrap();
    assert!(outcome.created_guest && outcome.created_admin);
    assert_eq!(outcome.generated_admin_password, None);
    let guest = t.user("guest");
    assert_eq!(
        (guest.fullname.as_str(), guest.roles),
        ("PlantDB Guest", roles(&[Role::Reader]))
    );
    let admin = t.user("admin");
    assert_eq!(
        (admin.fullname.as_str(), admin.roles),
        ("PlantDB Admin", roles(&[Role::Admin]))
    );
    t.login("guest", GUEST_PASSWORD);
    t.login("admin", ADMIN_PASSWORD);
}

#[test]
fn a_generated_admin_password_works_and_differs_each_time() {
    let t = TestDb::builder().without_default_accounts().build();
    let outcome = ensure_default_accounts(&t.db, AdminPassword::Generate).unwrap();
    let password = outcome.generated_admin_password.unwrap();
    assert!(password.len() >= 16, "{password}");
    t.login("admin", &password);
    let other = TestDb::builder().without_default_accounts().build();
    let again = ensure_default_accounts(&other.db, AdminPassword::Generate).unwrap();
    assert_ne!(again.generated_admin_password.unwrap(), password);
}

#[test]
fn a_deleted_admin_stays_deleted() {
    let t = TestDb::new();
    let name = Username::parse("admin").unwrap();
    let other = User::new(
        Username::parse("curator").unwrap(),
        "Curator",
        t.db.hasher().hash("curator-pass-2026").unwrap(),
        [Role::Admin],
        t.clock.now(),
    );
    t.db.users().create(other).unwrap();
    t.db.users().delete(&name).unwrap();
    let outcome = ensure_default_accounts(&t.db, AdminPassword::Generate).unwrap();
    assert!(!outcome.created_admin && outcome.generated_admin_password.is_none());
    assert!(!t.db.users().exists(&name).unwrap());
    // Without any administrator left (an outside tool deleted the only
    // one), admin is created again: the database would be unmanageable.
    let fresh = TestDb::builder().without_default_accounts().build();
    let first = ensure_default_accounts(&fresh.db, AdminPassword::TestMode).unwrap();
    assert!(first.created_guest && first.created_admin);
    fresh.db.users().delete(&name).unwrap();
    let again = ensure_default_accounts(&fresh.db, AdminPassword::TestMode).unwrap();
    assert!(again.created_admin);
}

#[test]
fn defaults_never_overwrite_existing_accounts() {
    let t = TestDb::new();
    for admin in [
        AdminPassword::Given("another-admin-pass".into()),
        AdminPassword::Generate,
    ] {
        let outcome = ensure_default_accounts(&t.db, admin).unwrap();
        assert!(!outcome.created_guest && !outcome.created_admin);
        assert_eq!(outcome.generated_admin_password, None);
    }
    assert_invalid_credentials(
        authenticate_user(&t.db, "admin", "another-admin-pass"),
        "second password",
    );
    t.login("admin", ADMIN_PASSWORD);
    t.login("guest", GUEST_PASSWORD);
}

#[test]
fn a_weak_given_admin_password_is_used_as_given() {
    let t = TestDb::builder().without_default_accounts().build();
    ensure_default_accounts(&t.db, AdminPassword::Given("admin".into())).unwrap();
    t.login("admin", "admin");
}

/// Another instance sharing the store creates the accounts between our
/// existence check and our insert: not an error, and nothing is reported
/// as created here (no generated password to print).
#[test]
fn default_accounts_created_meanwhile_by_another_instance_are_fine() {
    use plantdb_auth_core::store::{StoreError, UserEdit, UserStore};
    use std::sync::Arc;

    /// Says nobody exists, as a store another instance is about to fill.
    struct LateStore(Arc<dyn UserStore>);
    impl UserStore for LateStore {
        fn get(&self, u: &Username) -> Result<Option<User>, StoreError> {
            self.0.get(u)
        }
        fn exists(&self, _: &Username) -> Result<bool, StoreError> {
            Ok(false)
        }
        fn list(&self) -> Result<Vec<User>, StoreError> {
            self.0.list()
        }
        fn create(&self, user: User) -> Result<(), StoreError> {
            self.0.create(user)
        }
        fn update(&self, u: &Username, edit: UserEdit<'_>) -> Result<User, StoreError> {
            self.0.update(u, edit)
        }
        fn delete(&self, u: &Username) -> Result<(), StoreError> {
            self.0.delete(u)
        }
        fn update_keeping_an_admin(
            &self,
            u: &Username,
            edit: UserEdit<'_>,
        ) -> Result<User, StoreError> {
            self.0.update_keeping_an_admin(u, edit)
        }
        fn delete_keeping_an_admin(&self, u: &Username) -> Result<(), StoreError> {
            self.0.delete_keeping_an_admin(u)
        }
    }

    // The accounts exist (made by a first instance); this one's store says
    // nobody does.
    let first = TestDb::new();
    let t = TestDb::builder()
        .user_store(Arc::new(LateStore(first.db.users().clone())))
        .without_default_accounts()
        .build();
    let outcome = ensure_default_accounts(&t.db, AdminPassword::Generate).unwrap();
    assert!(!outcome.created_admin && !outcome.created_guest);
    assert_eq!(outcome.generated_admin_password, None);
    assert!(authenticate_user(&t.db, "admin", ADMIN_PASSWORD).is_ok());
}
