#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A full disk: writes of the user store fail. Every login failure then
//! answers the same 503 (an existing account's failure cannot be recorded,
//! so an unknown account must not answer differently), health says
//! degraded, and the next successful write ends it.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use plantdb_auth_core::model::{Role, User, Username};
use plantdb_auth_core::store::memory::MemoryUserStore;
use plantdb_auth_core::store::{StoreError, UserEdit, UserStore};
use plantdb_auth_service::{authenticate_user, health, AuthError};
use support::{TestDb, GOOD_PASSWORD};

/// Delegates, but every write fails with ENOSPC while `full` is set.
struct FullDisk {
    inner: Arc<dyn UserStore>,
    full: Arc<AtomicBool>,
}

impl FullDisk {
    fn check(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "/srv/plantdb/users.json".into(),
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        Ok(())
    }
}

impl UserStore for FullDisk {
    fn get(&self, u: &Username) -> Result<Option<User>, StoreError> {
        self.inner.get(u)
    }
    fn list(&self) -> Result<Vec<User>, StoreError> {
        self.inner.list()
    }
    fn create(&self, user: User) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create(user)
    }
    fn update(&self, u: &Username, edit: UserEdit<'_>) -> Result<User, StoreError> {
        self.check()?;
        self.inner.update(u, edit)
    }
    fn delete(&self, u: &Username) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(u)
    }
    fn update_keeping_an_admin(
        &self,
        u: &Username,
        edit: UserEdit<'_>,
    ) -> Result<User, StoreError> {
        self.check()?;
        self.inner.update_keeping_an_admin(u, edit)
    }
    fn delete_keeping_an_admin(&self, u: &Username) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete_keeping_an_admin(u)
    }
}

#[test]
fn a_full_disk_makes_every_login_failure_the_same_503_and_health_degraded() {
    let full = Arc::new(AtomicBool::new(false));
    let store = Arc::new(FullDisk {
        inner: Arc::new(MemoryUserStore::default()),
        full: full.clone(),
    });
    let t = TestDb::builder().user_store(store).build();
    t.add_user("dora", GOOD_PASSWORD, &[Role::Reader]);
    assert!(health(&t.db).unwrap().storage_error.is_none());
    full.store(true, Ordering::SeqCst);

    let wrong = authenticate_user(&t.db, "dora", "Not-the-password-1").unwrap_err();
    let unknown = authenticate_user(&t.db, "nobody", "Not-the-password-1").unwrap_err();
    assert!(matches!(wrong, AuthError::Busy(_)), "{wrong:?}");
    assert!(matches!(unknown, AuthError::Busy(_)), "{unknown:?}");
    assert_eq!(wrong.to_string(), unknown.to_string(), "the answers differ");
    assert!(
        !wrong.to_string().contains("/srv"),
        "a path leaked: {wrong}"
    );
    let right = authenticate_user(&t.db, "dora", GOOD_PASSWORD).unwrap_err();
    assert!(matches!(right, AuthError::Busy(_)), "{right:?}");
    assert!(
        health(&t.db).unwrap().storage_error.is_some(),
        "health is not degraded"
    );

    // Space again: the next write that succeeds ends the degraded state.
    full.store(false, Ordering::SeqCst);
    authenticate_user(&t.db, "dora", GOOD_PASSWORD).unwrap();
    assert!(health(&t.db).unwrap().storage_error.is_none());
    assert!(matches!(
        authenticate_user(&t.db, "nobody", "Not-the-password-1"),
        Err(AuthError::InvalidCredentials)
    ));
}
