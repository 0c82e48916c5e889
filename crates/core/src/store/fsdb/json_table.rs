//! A [`Table`] mirrored in one JSON file: reads from memory, writes through
//! the file first.
//!
//! Readers never wait for the disk: a write builds the next table and makes
//! it durable while readers keep using the current one, then swaps it in
//! under a lock held only for the swap. (Token validation reads the user
//! store on every request; with one mutex over both, every login's
//! serialise-write-fsync of users.json stalled all validations.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
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
/// A condition on a change, given the table before and after it.
pub(super) type TableCheck<'a, C> = &'a dyn Fn(&TableOf<C>, &TableOf<C>) -> Result<(), StoreError>;

pub(super) struct JsonTable<C: Codec> {
    path: PathBuf,
    /// The committed table, what readers see.
    table: RwLock<Arc<TableOf<C>>>,
    /// Held across read-modify-write so that writers in this process never
    /// interleave; the advisory lock keeps other processes out.
    writer: Mutex<()>,
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
            table: RwLock::new(Arc::new(table)),
            writer: Mutex::new(()),
            _lock: lock,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn get(&self, key: &Key<C>) -> Option<C::Item> {
        self.table.read().get(key).cloned()
    }

    /// `read` on the record in place, if it exists.
    pub(super) fn with<R>(&self, key: &Key<C>, read: impl FnOnce(&C::Item) -> R) -> Option<R> {
        self.table.read().get(key).map(read)
    }

    pub(super) fn list(&self) -> Vec<C::Item> {
        self.table.read().known().cloned().collect()
    }

    /// The committed table, for a writer holding `writer`.
    fn current(&self) -> Arc<TableOf<C>> {
        Arc::clone(&self.table.read())
    }

    pub(super) fn create(&self, item: C::Item) -> Result<(), StoreError> {
        let _writer = self.writer.lock();
        let table = self.current();
        if table.contains(item.key()) {
            return Err(C::exists_error(item.key()));
        }
        let mut next = TableOf::<C>::clone(&table);
        next.upsert(item);
        self.commit(next)
    }

    pub(super) fn update(
        &self,
        key: &Key<C>,
        edit: &mut dyn FnMut(&mut C::Item) -> Result<(), StoreError>,
    ) -> Result<C::Item, StoreError> {
        self.update_checked(key, edit, &|_, _| Ok(()))
    }

    /// An update that `check(before, after)` (the whole table, inside the
    /// write lock) may refuse: then nothing is written.
    pub(super) fn update_checked(
        &self,
        key: &Key<C>,
        edit: &mut dyn FnMut(&mut C::Item) -> Result<(), StoreError>,
        check: TableCheck<'_, C>,
    ) -> Result<C::Item, StoreError> {
        let _writer = self.writer.lock();
        let table = self.current();
        let mut edited = table
            .get(key)
            .cloned()
            .ok_or_else(|| C::not_found_error(key))?;
        edit(&mut edited)?;
        if edited.key() != key {
            return Err(key_changed(key, edited.key()));
        }
        let mut next = TableOf::<C>::clone(&table);
        next.upsert(edited.clone());
        check(&table, &next)?;
        self.commit(next)?;
        Ok(edited)
    }

    pub(super) fn delete(&self, key: &Key<C>) -> Result<(), StoreError> {
        self.delete_checked(key, &|_, _| Ok(()))
    }

    /// A delete that `check(before, after)` may refuse.
    pub(super) fn delete_checked(
        &self,
        key: &Key<C>,
        check: TableCheck<'_, C>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock();
        let table = self.current();
        if table.get(key).is_none() {
            return Err(C::not_found_error(key));
        }
        let mut next = TableOf::<C>::clone(&table);
        next.remove(key);
        check(&table, &next)?;
        self.commit(next)
    }

    /// Memory changes only after the file write succeeded, so a failed write
    /// leaves memory equal to disk. The caller holds `writer`; readers go on
    /// reading the current table meanwhile.
    fn commit(&self, next: TableOf<C>) -> Result<(), StoreError> {
        let text = to_python_json(&C::encode(&next)).map_err(|e| {
            StoreError::Backend(format!("cannot serialise {}: {e}", self.path.display()))
        })?;
        write_atomic(&self.path, text.as_bytes())?;
        *self.table.write() = Arc::new(next);
        Ok(())
    }
}
