//! In-memory stores: for tests and for running without a database.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::{
    keeps_an_admin, last_admin_refusal, GroupEdit, GroupStore, StoreError, UserEdit, UserRead,
    UserStore,
};
use crate::model::{Group, GroupName, User, Username};

/// Users in a map; every call is atomic because it holds the one mutex.
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    users: Mutex<BTreeMap<Username, User>>,
}

/// Groups in a map, with the same guarantees as [`MemoryUserStore`].
#[derive(Debug, Default)]
pub struct MemoryGroupStore {
    groups: Mutex<BTreeMap<GroupName, Group>>,
}

/// Shared by both stores: the key of a record may not change, since it is
/// how callers found the record; a silent rename would orphan references.
pub(crate) fn key_changed<K: PartialEq + std::fmt::Display>(before: &K, after: &K) -> StoreError {
    StoreError::Backend(format!(
        "an update may not rename '{before}' to '{after}': delete and re-create instead"
    ))
}

impl UserStore for MemoryUserStore {
    fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(self.users.lock().get(username).cloned())
    }

    fn with_user(&self, username: &Username, read: UserRead<'_>) -> Result<bool, StoreError> {
        Ok(self.users.lock().get(username).map(read).is_some())
    }

    fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.users.lock().values().cloned().collect())
    }

    fn create(&self, user: User) -> Result<(), StoreError> {
        let mut users = self.users.lock();
        if users.contains_key(&user.username) {
            return Err(StoreError::UserExists(user.username));
        }
        users.insert(user.username.clone(), user);
        Ok(())
    }

    fn update(&self, username: &Username, edit: UserEdit<'_>) -> Result<User, StoreError> {
        let mut users = self.users.lock();
        let current = users
            .get(username)
            .ok_or_else(|| StoreError::UserNotFound(username.clone()))?;
        // Edit a copy so that a failing edit leaves the stored user untouched.
        let mut edited = current.clone();
        edit(&mut edited)?;
        if edited.username != *username {
            return Err(key_changed(username, &edited.username));
        }
        users.insert(username.clone(), edited.clone());
        Ok(edited)
    }

    fn delete(&self, username: &Username) -> Result<(), StoreError> {
        match self.users.lock().remove(username) {
            Some(_) => Ok(()),
            None => Err(StoreError::UserNotFound(username.clone())),
        }
    }

    fn update_keeping_an_admin(
        &self,
        username: &Username,
        edit: UserEdit<'_>,
    ) -> Result<User, StoreError> {
        let mut users = self.users.lock();
        let mut edited = users
            .get(username)
            .cloned()
            .ok_or_else(|| StoreError::UserNotFound(username.clone()))?;
        edit(&mut edited)?;
        if edited.username != *username {
            return Err(key_changed(username, &edited.username));
        }
        let others = users.values().filter(|u| u.username != *username);
        if !keeps_an_admin(users.values(), others.chain([&edited])) {
            return Err(last_admin_refusal(username));
        }
        users.insert(username.clone(), edited.clone());
        Ok(edited)
    }

    fn delete_keeping_an_admin(&self, username: &Username) -> Result<(), StoreError> {
        let mut users = self.users.lock();
        if !users.contains_key(username) {
            return Err(StoreError::UserNotFound(username.clone()));
        }
        let others = users.values().filter(|u| u.username != *username);
        if !keeps_an_admin(users.values(), others) {
            return Err(last_admin_refusal(username));
        }
        users.remove(username);
        Ok(())
    }
}

impl GroupStore for MemoryGroupStore {
    fn get(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        Ok(self.groups.lock().get(name).cloned())
    }

    fn list(&self) -> Result<Vec<Group>, StoreError> {
        Ok(self.groups.lock().values().cloned().collect())
    }

    fn create(&self, group: Group) -> Result<(), StoreError> {
        let mut groups = self.groups.lock();
        if groups.contains_key(&group.name) {
            return Err(StoreError::GroupExists(group.name));
        }
        groups.insert(group.name.clone(), group);
        Ok(())
    }

    fn update(&self, name: &GroupName, edit: GroupEdit<'_>) -> Result<Group, StoreError> {
        let mut groups = self.groups.lock();
        let current = groups
            .get(name)
            .ok_or_else(|| StoreError::GroupNotFound(name.clone()))?;
        let mut edited = current.clone();
        edit(&mut edited)?;
        if edited.name != *name {
            return Err(key_changed(name, &edited.name));
        }
        groups.insert(name.clone(), edited.clone());
        Ok(edited)
    }

    fn delete(&self, name: &GroupName) -> Result<(), StoreError> {
        match self.groups.lock().remove(name) {
            Some(_) => Ok(()),
            None => Err(StoreError::GroupNotFound(name.clone())),
        }
    }
}
