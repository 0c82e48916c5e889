//! A [`Table`] mirrored in one JSON file: reads from memory, writes through
//! the file first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use serde_json::Value;

use super::atomic::{read_json, to_python_json, write_atomic};
use super::lock::DbLock;
use super::table::{Keyed, Table};
use crate::store::memory::key_changed;
use crate::store::StoreError;

/// How one file maps to a table of records.
pub(super) trait Codec {
    type Item: Keyed + Clone;
    type Opaque: Clone;

    /// `json` is the parsed, non-empty file; `path` is for error messages.
    fn decode(path: &Path, json: Value) -> Result<Table<Self::Item, Self::Opaque>, StoreError>;
    fn encode(table: &Table<Self::Item, Self::Opaque>) -> Value;
    fn exists_error(key: &<Self::Item as Keyed>::Key) -> StoreError;
    fn not_found_error(key: &<Self::Item as Keyed>::Key) -> StoreError;
}

type Key<C> = <<C as Codec>::Item as Keyed>::Key;
type TableOf<C> = Table<<C as Codec>::Item, <C as Codec>::Opaque>;

pub(super) struct JsonTable<C: Codec> {
    path: PathBuf,
    /// Held across read-modify-write so that writers in this process never
    /// interleave; the advisory lock keeps other processes out.
    table: Mutex<TableOf<C>>,
    _lock: Arc<DbLock>,
}

impl<C: Codec> JsonTable<C> {
    /// The lock is shared so that the database stays locked for as long as
    /// any store handle lives, not just the `Fsdb` that opened it.
    pub(super) fn open(path: PathBuf, lock: Arc<DbLock>) -> Result<Self, StoreError> {
        let table = match read_json(&path)? {
            Some(json) => C::decode(&path, json)?,
            None => Table::default(),
        };
        Ok(JsonTable {
            path,
            table: Mutex::new(table),
            _lock: lock,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn get(&self, key: &Key<C>) -> Option<C::Item> {
        self.table.lock().get(key).cloned()
    }

    pub(super) fn list(&self) -> Vec<C::Item> {
        self.table.lock().known().cloned().collect()
    }

    pub(super) fn create(&self, item: C::Item) -> Result<(), StoreError> {
        let mut table = self.table.lock();
        if table.contains(item.key()) {
            return Err(C::exists_error(item.key()));
        }
        let mut next = table.clone();
        next.upsert(item);
        self.commit(&mut table, next)
    }

    pub(super) fn update(
        &self,
        key: &Key<C>,
        edit: &mut dyn FnMut(&mut C::Item) -> Result<(), StoreError>,
    ) -> Result<C::Item, StoreError> {
        let mut table = self.table.lock();
        let mut edited = table
            .get(key)
            .cloned()
            .ok_or_else(|| C::not_found_error(key))?;
        edit(&mut edited)?;
        if edited.key() != key {
            return Err(key_changed(key, edited.key()));
        }
        let mut next = table.clone();
        next.upsert(edited.clone());
        self.commit(&mut table, next)?;
        Ok(edited)
    }

    pub(super) fn delete(&self, key: &Key<C>) -> Result<(), StoreError> {
        let mut table = self.table.lock();
        if table.get(key).is_none() {
            return Err(C::not_found_error(key));
        }
        let mut next = table.clone();
        next.remove(key);
        self.commit(&mut table, next)
    }

    /// Memory changes only after the file write succeeded, so a failed write
    /// leaves memory equal to disk.
    fn commit(
        &self,
        current: &mut MutexGuard<'_, TableOf<C>>,
        next: TableOf<C>,
    ) -> Result<(), StoreError> {
        let text = to_python_json(&C::encode(&next)).map_err(|e| {
            StoreError::Backend(format!("cannot serialise {}: {e}", self.path.display()))
        })?;
        write_atomic(&self.path, text.as_bytes())?;
        **current = next;
        Ok(())
    }
}
