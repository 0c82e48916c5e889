//! One conformance suite for every store implementation: each check is a
//! function over `&dyn UserStore` / `&dyn GroupStore`, run against the
//! in-memory stores and the FSDB stores (which are then reopened from disk).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, SubsecRound, Utc};
use plantdb_auth_core::model::{Group, GroupName, Role, User, Username};
use plantdb_auth_core::store::fsdb::{create_root, Fsdb};
use plantdb_auth_core::store::memory::{MemoryGroupStore, MemoryUserStore};
use plantdb_auth_core::store::{ClientKey, GroupStore, LockoutPolicy, StoreError, UserStore};

fn name(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn group_name(s: &str) -> GroupName {
    GroupName::parse(s).unwrap()
}

/// Microsecond precision: what users.json can hold.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn user(s: &str) -> User {
    User::new(
        name(s),
        format!("{s} full"),
        format!("$argon2id$hash-of-{s}"),
        [Role::Reader],
        now(),
    )
}

fn anyone() -> ClientKey {
    ClientKey::of(None)
}

fn policy() -> LockoutPolicy {
    LockoutPolicy {
        max_failed_attempts: 3,
        lockout_duration: Duration::seconds(900),
    }
}

// ---- user checks -----------------------------------------------------------

fn create_and_duplicate(store: &dyn UserStore) {
    store.create(user("alice")).unwrap();
    let err = store.create(user("alice")).unwrap_err();
    assert!(
        matches!(err, StoreError::UserExists(ref u) if u.as_str() == "alice"),
        "{err}"
    );
    // A duplicate that differs only in case is the same user.
    assert!(matches!(
        store.create(user("ALICE")),
        Err(StoreError::UserExists(_))
    ));
}

fn lookups_ignore_case(store: &dyn UserStore) {
    let upper = Username::parse("ALICE").unwrap();
    assert_eq!(store.get(&upper).unwrap().unwrap().fullname, "alice full");
    assert!(store.exists(&upper).unwrap());
    assert!(!store.exists(&name("nobody")).unwrap());
    assert!(store.get(&name("nobody")).unwrap().is_none());
    // In place, as token validation reads it: the same record as `get`.
    let mut seen = None;
    let found = store
        .with_user(&upper, &mut |u| seen = Some(u.clone()))
        .unwrap();
    assert!(found);
    assert_eq!(seen, store.get(&upper).unwrap());
    let mut called = false;
    assert!(!store
        .with_user(&name("nobody"), &mut |_| called = true)
        .unwrap());
    assert!(!called);
}

fn update_is_persisted(store: &dyn UserStore) {
    let updated = store
        .update(&name("alice"), &mut |u| {
            u.roles.insert(Role::Contributor);
            Ok(())
        })
        .unwrap();
    assert!(updated.roles.contains(&Role::Contributor));
    assert_eq!(store.get(&name("alice")).unwrap().unwrap(), updated);
}

fn failing_update_changes_nothing(store: &dyn UserStore) {
    let before = store.get(&name("alice")).unwrap().unwrap();
    let err = store
        .update(&name("alice"), &mut |u| {
            u.fullname = "half-done".into();
            Err(StoreError::Backend("refused".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
    assert_eq!(store.get(&name("alice")).unwrap().unwrap(), before);
    let renamed = store.update(&name("alice"), &mut |u| {
        u.username = name("mallory");
        Ok(())
    });
    assert!(renamed.is_err());
    assert!(store.get(&name("mallory")).unwrap().is_none());
    let missing = store.update(&name("nobody"), &mut |_| Ok(()));
    assert!(matches!(missing, Err(StoreError::UserNotFound(_))));
}

fn setters(store: &dyn UserStore) {
    let alice = name("alice");
    assert_eq!(
        store.set_fullname(&alice, "Alice A.").unwrap().fullname,
        "Alice A."
    );
    let t = now();
    let u = store.set_password_hash(&alice, "$argon2id$new", t).unwrap();
    assert_eq!(
        (u.password_hash.as_str(), u.password_last_change),
        ("$argon2id$new", Some(t))
    );
    assert!(!store.set_active(&alice, false).unwrap().is_active);
    assert!(store.set_active(&alice, true).unwrap().is_active);
    let stored = store.get(&alice).unwrap().unwrap();
    assert_eq!(stored.fullname, "Alice A.");
    assert_eq!(stored.password_hash, "$argon2id$new");
    assert!(matches!(
        store.set_fullname(&name("nobody"), "x"),
        Err(StoreError::UserNotFound(_))
    ));
}

fn lockout_and_unlock(store: &dyn UserStore) {
    let alice = name("alice");
    let t0 = now();
    for i in 1..=2 {
        let u = store
            .record_failed_attempt(&alice, &anyone(), t0, policy())
            .unwrap();
        assert_eq!(u.failed_attempts, i);
        assert!(!u.is_locked(t0), "locked after {i} failures");
    }
    let u = store
        .record_failed_attempt(&alice, &anyone(), t0, policy())
        .unwrap();
    assert_eq!(u.failed_attempts, 3);
    assert!(u.is_locked(t0));
    assert!(u.is_locked(t0 + Duration::seconds(899)));
    assert!(
        !u.is_locked(t0 + Duration::seconds(900)),
        "the lock expires"
    );
    assert_eq!(u.last_failed_attempt, Some(t0));
    let stored = store.get(&alice).unwrap().unwrap();
    assert_eq!(stored.locked_until, Some(t0 + Duration::seconds(900)));

    // After the lock expires a mistake starts a fresh count, not a new lock.
    let later = t0 + Duration::seconds(901);
    let u = store
        .record_failed_attempt(&alice, &anyone(), later, policy())
        .unwrap();
    assert_eq!(u.failed_attempts, 1);
    assert!(!u.is_locked(later));
    for _ in 0..2 {
        store
            .record_failed_attempt(&alice, &anyone(), later, policy())
            .unwrap();
    }
    assert!(store.get(&alice).unwrap().unwrap().is_locked(later));

    let u = store.unlock(&alice).unwrap();
    assert_eq!((u.failed_attempts, u.locked_until), (0, None));
    assert!(!store.get(&alice).unwrap().unwrap().is_locked(t0));
}

fn successful_login(store: &dyn UserStore) {
    let alice = name("alice");
    store
        .record_failed_attempt(&alice, &anyone(), now(), policy())
        .unwrap();
    let t = now();
    let hash = store.get(&alice).unwrap().unwrap().password_hash;
    let u = store
        .record_successful_login(&alice, &anyone(), t, &hash, Some("$argon2id$rehashed"))
        .unwrap();
    assert_eq!(u.failed_attempts, 0);
    assert_eq!(u.last_login, Some(t));
    assert_eq!(u.password_hash, "$argon2id$rehashed");
    let u = store
        .record_successful_login(&alice, &anyone(), t, "$argon2id$rehashed", None)
        .unwrap();
    assert_eq!(
        u.password_hash, "$argon2id$rehashed",
        "no new hash keeps the old one"
    );
    assert_eq!(store.get(&alice).unwrap().unwrap(), u);

    // A login checked against a hash that was replaced meanwhile (a reset)
    // writes nothing: the rehash cannot undo the reset.
    store
        .set_password_hash(&alice, "$argon2id$reset", t)
        .unwrap();
    let late = store.record_successful_login(
        &alice,
        &anyone(),
        t,
        "$argon2id$rehashed",
        Some("$argon2id$rehashed-again"),
    );
    assert!(matches!(late, Err(StoreError::Refused(_))), "{late:?}");
    assert_eq!(
        store.get(&alice).unwrap().unwrap().password_hash,
        "$argon2id$reset"
    );

    // A client that got locked meanwhile stays locked.
    let thief = ClientKey::of(Some("198.51.100.4".parse().unwrap()));
    for _ in 0..3 {
        store
            .record_failed_attempt(&alice, &thief, t, policy())
            .unwrap();
    }
    let locked = store.record_successful_login(&alice, &thief, t, "$argon2id$reset", None);
    assert!(matches!(locked, Err(StoreError::Refused(_))), "{locked:?}");
    // ... but not the owner elsewhere, whose success leaves the thief locked.
    store
        .record_successful_login(&alice, &anyone(), t, "$argon2id$reset", None)
        .unwrap();
    let stored = store.get(&alice).unwrap().unwrap();
    assert!(plantdb_auth_core::store::lockout::is_locked_for(
        &stored, &thief, t
    ));
    store.unlock(&alice).unwrap();
}

/// The last active admin cannot be demoted, deactivated or deleted through
/// the guarded calls; other admins can while one remains.
fn last_admin_is_kept(store: &dyn UserStore) {
    let mut root = user("root");
    root.roles = [Role::Admin].into();
    store.create(root).unwrap();
    let mut sub = user("sub");
    sub.roles = [Role::Admin].into();
    store.create(sub).unwrap();
    let demote = |u: &mut User| {
        u.roles = [Role::Reader].into();
        Ok(())
    };
    store
        .update_keeping_an_admin(&name("sub"), &mut demote.clone())
        .unwrap();
    let refused = store.update_keeping_an_admin(&name("root"), &mut demote.clone());
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    let refused = store.update_keeping_an_admin(&name("root"), &mut |u| {
        u.is_active = false;
        Ok(())
    });
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert!(matches!(
        store.delete_keeping_an_admin(&name("root")),
        Err(StoreError::Refused(_))
    ));
    // Changes that keep the admin pass.
    store
        .update_keeping_an_admin(&name("root"), &mut |u| {
            u.fullname = "Root".into();
            Ok(())
        })
        .unwrap();
    store.delete_keeping_an_admin(&name("sub")).unwrap();
    assert!(store.get(&name("root")).unwrap().unwrap().is_admin());
    store.delete(&name("root")).unwrap();
}

/// Two admins demoting each other at the same moment, many times: one
/// admin always survives.
pub fn concurrent_demotions_keep_an_admin(store: &dyn UserStore) {
    for round in 0..20 {
        let (a, b) = (format!("adm-a{round}"), format!("adm-b{round}"));
        for n in [&a, &b] {
            let mut u = user(n);
            u.roles = [Role::Admin].into();
            store.create(u).unwrap();
        }
        // Only these two are admins in this store during the round.
        std::thread::scope(|scope| {
            for n in [&a, &b] {
                scope.spawn(move || {
                    let _ = store.update_keeping_an_admin(&name(n), &mut |u| {
                        u.roles = [Role::Reader].into();
                        Ok(())
                    });
                });
            }
        });
        let admins = [&a, &b]
            .iter()
            .filter(|n| store.get(&name(n)).unwrap().unwrap().is_admin())
            .count();
        assert_eq!(admins, 1, "round {round}");
        for n in [&a, &b] {
            store.delete(&name(n)).unwrap();
        }
    }
}

fn delete(store: &dyn UserStore) {
    store.create(user("bob")).unwrap();
    store.delete(&name("bob")).unwrap();
    assert!(!store.exists(&name("bob")).unwrap());
    assert!(matches!(
        store.delete(&name("bob")),
        Err(StoreError::UserNotFound(_))
    ));
    store.create(user("carol")).unwrap();
}

pub fn run_user_suite(store: &dyn UserStore) {
    create_and_duplicate(store);
    lookups_ignore_case(store);
    update_is_persisted(store);
    failing_update_changes_nothing(store);
    setters(store);
    lockout_and_unlock(store);
    successful_login(store);
    last_admin_is_kept(store);
    delete(store);
    let names: Vec<_> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, [name("alice"), name("carol")]);
}

// ---- group checks ----------------------------------------------------------

fn groups_create_and_members(store: &dyn GroupStore) {
    let lab = group_name("Lab-1");
    store
        .create(Group::new(
            lab.clone(),
            name("alice"),
            Some("the lab".into()),
            [],
            now(),
        ))
        .unwrap();
    let g = store.get(&lab).unwrap().unwrap();
    assert_eq!(g.users, [name("alice")], "the creator is a member");
    assert_eq!(g.created_by, Some(name("alice")));
    let dup = Group::new(lab.clone(), name("bob"), None, [], now());
    assert!(matches!(store.create(dup), Err(StoreError::GroupExists(_))));

    assert!(store.add_member(&lab, &name("bob")).unwrap());
    assert!(!store.add_member(&lab, &name("bob")).unwrap());
    assert!(store.remove_member(&lab, &name("alice")).unwrap());
    assert!(!store.remove_member(&lab, &name("alice")).unwrap());
    assert_eq!(store.get(&lab).unwrap().unwrap().users, [name("bob")]);
}

fn groups_of_and_delete(store: &dyn GroupStore) {
    let other = group_name("other");
    store
        .create(Group::new(
            other.clone(),
            name("bob"),
            None,
            [name("carol")],
            now(),
        ))
        .unwrap();
    let of_bob: Vec<_> = store
        .groups_of(&name("bob"))
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(of_bob.len(), 2);
    let of_carol: Vec<_> = store
        .groups_of(&name("carol"))
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(of_carol, std::slice::from_ref(&other));
    assert!(store.groups_of(&name("nobody")).unwrap().is_empty());

    store.delete(&other).unwrap();
    assert!(store.get(&other).unwrap().is_none());
}

fn groups_not_found(store: &dyn GroupStore) {
    let ghost = group_name("ghost");
    assert!(matches!(
        store.delete(&ghost),
        Err(StoreError::GroupNotFound(_))
    ));
    assert!(matches!(
        store.add_member(&ghost, &name("bob")),
        Err(StoreError::GroupNotFound(_))
    ));
    assert!(matches!(
        store.remove_member(&ghost, &name("bob")),
        Err(StoreError::GroupNotFound(_))
    ));
    assert!(matches!(
        store.update(&ghost, &mut |_| Ok(())),
        Err(StoreError::GroupNotFound(_))
    ));
}

pub fn run_group_suite(store: &dyn GroupStore) {
    groups_create_and_members(store);
    groups_of_and_delete(store);
    groups_not_found(store);
    let names: Vec<_> = store.list().unwrap().into_iter().map(|g| g.name).collect();
    assert_eq!(names, [group_name("Lab-1")]);
}

// ---- the implementations ---------------------------------------------------

#[test]
fn memory_user_store_conforms() {
    run_user_suite(&MemoryUserStore::default());
}

#[test]
fn concurrent_demotions_keep_an_admin_in_memory_and_fsdb() {
    concurrent_demotions_keep_an_admin(&MemoryUserStore::default());
    let dir = tempfile::tempdir().unwrap();
    create_root(dir.path()).unwrap();
    let db = Fsdb::open(dir.path()).unwrap();
    concurrent_demotions_keep_an_admin(db.users.as_ref());
}

#[test]
fn memory_group_store_conforms() {
    run_group_suite(&MemoryGroupStore::default());
}

#[test]
fn fsdb_stores_conform_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    create_root(dir.path()).unwrap();
    let (users, groups) = {
        let db = Fsdb::open(dir.path()).unwrap();
        run_user_suite(db.users.as_ref());
        run_group_suite(db.groups.as_ref());
        (db.users.list().unwrap(), db.groups.list().unwrap())
    };
    let reopened = Fsdb::open(dir.path()).unwrap();
    assert_eq!(reopened.users.list().unwrap(), users);
    assert_eq!(reopened.groups.list().unwrap(), groups);
    let alice = reopened.users.get(&name("alice")).unwrap().unwrap();
    assert_eq!(alice.password_hash, "$argon2id$reset");
    assert!(alice.roles.contains(&Role::Contributor));
}
