//! Where users and groups live: small traits, an FSDB (JSON files)
//! implementation compatible with the Python server, and an in-memory one.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Group, GroupName, User, Username};

pub mod fsdb;
pub mod lockout;
pub mod memory;

pub use lockout::ClientKey;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("user '{0}' already exists")]
    UserExists(Username),
    #[error("user '{0}' does not exist")]
    UserNotFound(Username),
    #[error("group '{0}' already exists")]
    GroupExists(GroupName),
    #[error("group '{0}' does not exist")]
    GroupNotFound(GroupName),
    #[error(
        "{path} is not a valid PlantDB file: {reason}. Fix or move it away; it was left untouched"
    )]
    Corrupt { path: String, reason: String },
    #[error("the database at {path} is already open for writing by another process (lock file {lock}); stop that process first, or use the running server's HTTP API")]
    Locked { path: String, lock: String },
    #[error("{path} is not a PlantDB database (no directory holding a `romidb` marker file): create an empty file named romidb in it or point --db at a PlantDB database")]
    NotADatabase { path: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A conditional session change lost: the refresh token was already
    /// used (`reused`), or no longer exists.
    #[error("refresh token {jti} was {}", if *reused { "already used" } else { "not found" })]
    ClaimLost { jti: String, reused: bool },
    /// A conditional change was refused because the record is no longer
    /// what the caller checked (or the change would break an invariant,
    /// such as leaving no active admin): nothing was written.
    #[error("{0}")]
    Refused(String),
}

/// How many failed password checks lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failed_attempts: u32,
    pub lockout_duration: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failed_attempts: 3,
            lockout_duration: Duration::seconds(900),
        }
    }
}

/// A change applied to one user inside the store's write lock.
pub type UserEdit<'a> = &'a mut dyn FnMut(&mut User) -> Result<(), StoreError>;
/// A change applied to one group inside the store's write lock.
/// What [`UserStore::with_user`] runs on a record.
pub type UserRead<'a> = &'a mut dyn FnMut(&User);
pub type GroupEdit<'a> = &'a mut dyn FnMut(&mut Group) -> Result<(), StoreError>;

/// The user store. Implementations make each call atomic and durable:
/// when a mutating call returns `Ok`, the change is on stable storage.
pub trait UserStore: Send + Sync {
    fn get(&self, username: &Username) -> Result<Option<User>, StoreError>;
    fn list(&self) -> Result<Vec<User>, StoreError>;
    /// Adds a user; `UserExists` if the name is taken.
    fn create(&self, user: User) -> Result<(), StoreError>;
    /// Applies `edit` to the stored user atomically and returns the result;
    /// `UserNotFound` if absent. If `edit` fails nothing is written.
    fn update(&self, username: &Username, edit: UserEdit<'_>) -> Result<User, StoreError>;
    fn delete(&self, username: &Username) -> Result<(), StoreError>;

    fn exists(&self, username: &Username) -> Result<bool, StoreError> {
        Ok(self.get(username)?.is_some())
    }

    /// Hands `read` the stored record of `username` in place, without the
    /// copy `get` makes (the hot path of token validation reads two
    /// fields); `false` when there is no such account.
    fn with_user(&self, username: &Username, read: UserRead<'_>) -> Result<bool, StoreError> {
        match self.get(username)? {
            Some(user) => {
                read(&user);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether the backing storage answers (readiness): a query for a
    /// database server, the directory for files. In memory: always.
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn set_fullname(&self, username: &Username, fullname: &str) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            u.fullname = fullname.to_string();
            Ok(())
        })
    }

    fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            u.password_hash = hash.to_string();
            u.password_last_change = Some(now);
            Ok(())
        })
    }

    fn set_active(&self, username: &Username, active: bool) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            u.is_active = active;
            Ok(())
        })
    }

    /// Clears every lock of the account and its failure counters.
    fn unlock(&self, username: &Username) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            lockout::clear(u);
            Ok(())
        })
    }

    /// Counts a failed password check by `client`: its Nth consecutive
    /// failure locks that client out of the account for the policy's
    /// duration (see [`lockout`]).
    fn record_failed_attempt(
        &self,
        username: &Username,
        client: &ClientKey,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            lockout::record_failure(u, client, now, policy);
            Ok(())
        })
    }

    /// A successful login checked against `verified_hash`: resets the
    /// client's counters, sets `last_login`, and optionally stores a
    /// re-computed hash (rehash-on-login). Compare-and-swap: `Refused` (and
    /// nothing written) if, since the check, the password changed, the
    /// account was deactivated, or this client got locked out.
    fn record_successful_login(
        &self,
        username: &Username,
        client: &ClientKey,
        now: DateTime<Utc>,
        verified_hash: &str,
        new_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        self.update(username, &mut |u| {
            if u.password_hash != verified_hash {
                return Err(StoreError::Refused(
                    "the password changed while the login was checked".into(),
                ));
            }
            if !u.is_active {
                return Err(StoreError::Refused(
                    "the account was deactivated while the login was checked".into(),
                ));
            }
            if lockout::is_locked_for(u, client, now) {
                return Err(StoreError::Refused(
                    "the account got locked while the login was checked".into(),
                ));
            }
            lockout::record_success(u, client, now);
            u.last_login = Some(now);
            if let Some(hash) = new_hash {
                u.password_hash = hash.to_string();
            }
            Ok(())
        })
    }

    /// Applies `edit` unless afterwards no active admin would be left
    /// (`Refused`, nothing written). Atomic against concurrent guarded
    /// changes of other accounts, on every backend.
    fn update_keeping_an_admin(
        &self,
        username: &Username,
        edit: UserEdit<'_>,
    ) -> Result<User, StoreError>;

    /// Deletes the account unless it is the last active admin (`Refused`).
    fn delete_keeping_an_admin(&self, username: &Username) -> Result<(), StoreError>;
}

/// The refusal of a change that would leave no active admin.
pub fn last_admin_refusal(username: &Username) -> StoreError {
    StoreError::Refused(format!("'{username}' is the last active admin"))
}

/// Whether `users` (after a change) still hold an active admin; a store
/// that had none before is not held to it.
pub fn keeps_an_admin<'a>(
    before: impl IntoIterator<Item = &'a User>,
    after: impl IntoIterator<Item = &'a User>,
) -> bool {
    let active_admin = |u: &&User| u.is_admin() && u.is_active;
    after.into_iter().any(|u| active_admin(&u)) || !before.into_iter().any(|u| active_admin(&u))
}

/// The group store, with the same durability promise as [`UserStore`].
pub trait GroupStore: Send + Sync {
    fn get(&self, name: &GroupName) -> Result<Option<Group>, StoreError>;
    fn list(&self) -> Result<Vec<Group>, StoreError>;
    /// Adds a group; `GroupExists` if the name is taken.
    fn create(&self, group: Group) -> Result<(), StoreError>;
    fn update(&self, name: &GroupName, edit: GroupEdit<'_>) -> Result<Group, StoreError>;
    fn delete(&self, name: &GroupName) -> Result<(), StoreError>;

    /// Returns whether the user was added (false: already a member).
    fn add_member(&self, name: &GroupName, username: &Username) -> Result<bool, StoreError> {
        let mut added = false;
        self.update(name, &mut |g| {
            added = g.add_member(username.clone());
            Ok(())
        })?;
        Ok(added)
    }

    /// Returns whether the user was removed (false: not a member).
    fn remove_member(&self, name: &GroupName, username: &Username) -> Result<bool, StoreError> {
        let mut removed = false;
        self.update(name, &mut |g| {
            removed = g.remove_member(username);
            Ok(())
        })?;
        Ok(removed)
    }

    fn groups_of(&self, username: &Username) -> Result<Vec<Group>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|g| g.has_member(username))
            .collect())
    }
}
