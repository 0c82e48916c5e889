//! `groups.json`: the FSDB group store.

use std::path::Path;

use serde_json::{Map, Value};

use super::atomic::corrupt;
use super::group_record::{self, Decoded};
use super::json_table::{Codec, JsonTable};
use super::table::{Slot, Table};
use crate::model::{Group, GroupName};
use crate::store::{GroupEdit, GroupStore, StoreError};

pub const GROUPS_FILE: &str = "groups.json";

/// Groups as the Python server keeps them, keyed by name in file order.
/// Entries whose name we refuse are kept verbatim and invisible here.
pub struct FsdbGroupStore {
    file: JsonTable<GroupsFile>,
}

impl FsdbGroupStore {
    pub(super) fn new(file: JsonTable<GroupsFile>) -> Self {
        FsdbGroupStore { file }
    }

    /// The `groups.json` this store mirrors.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl std::fmt::Debug for FsdbGroupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsdbGroupStore")
            .field("path", &self.path())
            .finish()
    }
}

pub(super) struct GroupsFile;

impl Codec for GroupsFile {
    type Item = Group;
    type Opaque = (String, Value);

    fn decode(path: &Path, json: Value) -> Result<Table<Group, (String, Value)>, StoreError> {
        let Value::Object(entries) = json else {
            return Err(corrupt(
                path,
                "expected a JSON object keyed by group name at the top level",
            ));
        };
        let mut table = Table::default();
        for (name, raw) in entries {
            match group_record::decode(&name, &raw)
                .map_err(|r| corrupt(path, format!("group '{name}': {r}")))?
            {
                Decoded::Group(group) => {
                    table.upsert(*group);
                }
                Decoded::Refused { reason } => {
                    tracing::warn!(file = %path.display(), group = name, reason, "ignoring group (kept in the file untouched)");
                    table.push_opaque((name, raw));
                }
            }
        }
        Ok(table)
    }

    fn encode(table: &Table<Group, (String, Value)>) -> Value {
        let mut out = Map::new();
        for slot in table.slots() {
            match slot {
                Slot::Known(group) => {
                    out.insert(group.name.to_string(), group_record::encode(group))
                }
                Slot::Opaque((name, raw)) => out.insert(name.clone(), raw.clone()),
            };
        }
        Value::Object(out)
    }

    fn exists_error(key: &GroupName) -> StoreError {
        StoreError::GroupExists(key.clone())
    }

    fn not_found_error(key: &GroupName) -> StoreError {
        StoreError::GroupNotFound(key.clone())
    }
}

impl GroupStore for FsdbGroupStore {
    fn get(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        Ok(self.file.get(name))
    }

    fn list(&self) -> Result<Vec<Group>, StoreError> {
        Ok(self.file.list())
    }

    fn create(&self, group: Group) -> Result<(), StoreError> {
        self.file.create(group)
    }

    fn update(&self, name: &GroupName, edit: GroupEdit<'_>) -> Result<Group, StoreError> {
        self.file.update(name, edit)
    }

    fn delete(&self, name: &GroupName) -> Result<(), StoreError> {
        self.file.delete(name)
    }
}
