//! `users.json`: the FSDB user store.

use std::path::Path;

use serde_json::Value;

use super::atomic::corrupt;
use super::json_table::{Codec, JsonTable};
use super::table::{Slot, Table};
use super::user_record::{self, Decoded};
use crate::model::{User, Username};
use crate::store::{keeps_an_admin, last_admin_refusal, StoreError, UserEdit, UserRead, UserStore};

pub const USERS_FILE: &str = "users.json";

/// Users as the Python server keeps them. Records whose username we refuse
/// are kept verbatim (and invisible here) so a rewrite never drops them.
pub struct FsdbUserStore {
    file: JsonTable<UsersFile>,
}

impl FsdbUserStore {
    pub(super) fn new(file: JsonTable<UsersFile>) -> Self {
        FsdbUserStore { file }
    }

    /// The `users.json` this store mirrors.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl std::fmt::Debug for FsdbUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsdbUserStore")
            .field("path", &self.path())
            .finish()
    }
}

pub(super) struct UsersFile;

impl Codec for UsersFile {
    type Item = User;
    type Opaque = Value;

    fn decode(path: &Path, json: Value) -> Result<Table<User, Value>, StoreError> {
        let Value::Array(records) = json else {
            return Err(corrupt(
                path,
                "expected a JSON list of users at the top level",
            ));
        };
        let mut table = Table::default();
        for (i, raw) in records.into_iter().enumerate() {
            let Value::Object(rec) = &raw else {
                return Err(corrupt(
                    path,
                    format!("user record {i} is not a JSON object"),
                ));
            };
            match user_record::decode(rec)
                .map_err(|r| corrupt(path, format!("user record {i}: {r}")))?
            {
                Decoded::User(user) => {
                    let name = user.username.clone();
                    if table.upsert(*user) {
                        tracing::warn!(file = %path.display(), user = %name, "duplicate user: the last record wins");
                    }
                }
                Decoded::Refused { username, reason } => {
                    tracing::warn!(file = %path.display(), user = username, reason, "ignoring user (kept in the file untouched)");
                    table.push_opaque(raw);
                }
            }
        }
        Ok(table)
    }

    fn encode(table: &Table<User, Value>) -> Value {
        let records = table.slots().iter().map(|slot| match slot {
            Slot::Known(user) => user_record::encode(user),
            Slot::Opaque(raw) => raw.clone(),
        });
        Value::Array(records.collect())
    }

    fn exists_error(key: &Username) -> StoreError {
        StoreError::UserExists(key.clone())
    }

    fn not_found_error(key: &Username) -> StoreError {
        StoreError::UserNotFound(key.clone())
    }
}

impl UserStore for FsdbUserStore {
    fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(self.file.get(username))
    }

    fn with_user(&self, username: &Username, read: UserRead<'_>) -> Result<bool, StoreError> {
        Ok(self.file.with(username, |user| read(user)).is_some())
    }

    fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.file.list())
    }

    fn create(&self, user: User) -> Result<(), StoreError> {
        self.file.create(user)
    }

    fn update(&self, username: &Username, edit: UserEdit<'_>) -> Result<User, StoreError> {
        self.file.update(username, edit)
    }

    fn delete(&self, username: &Username) -> Result<(), StoreError> {
        self.file.delete(username)
    }

    fn ping(&self) -> Result<(), StoreError> {
        let dir = self.path().parent().unwrap_or(self.path());
        std::fs::read_dir(dir)
            .map(|_| ())
            .map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })
    }

    fn update_keeping_an_admin(
        &self,
        username: &Username,
        edit: UserEdit<'_>,
    ) -> Result<User, StoreError> {
        self.file.update_checked(username, edit, &|before, after| {
            admin_check(before, after, username)
        })
    }

    fn delete_keeping_an_admin(&self, username: &Username) -> Result<(), StoreError> {
        self.file.delete_checked(username, &|before, after| {
            admin_check(before, after, username)
        })
    }
}

fn admin_check(
    before: &Table<User, Value>,
    after: &Table<User, Value>,
    username: &Username,
) -> Result<(), StoreError> {
    if keeps_an_admin(before.known(), after.known()) {
        Ok(())
    } else {
        Err(last_admin_refusal(username))
    }
}
