//! A table of records (users or groups) with a full in-memory cache.
//!
//! Reads never touch the database: validation reads a user on every
//! request. Every row carries a version from one sequence; each write
//! bumps it and announces `(key, version)` with `NOTIFY` in the same
//! statement, and every instance (the writer included) re-reads a row it
//! holds an older version of. A cache entry is only ever replaced by a
//! newer version, so notifications, local writes and reloads may interleave
//! in any order. Deleted rows leave a versioned tombstone for the same
//! reason.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

use parking_lot::RwLock;
use plantdb_auth_core::store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::{db_error, Shared};

pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// How a record maps to its table.
pub(crate) trait Record: Clone + Send + Sync + 'static {
    type Key: Ord + Clone + Display + Send + Sync + 'static;
    const TABLE: &'static str;
    /// The `t` of its notifications (see `notify::Message`).
    const KIND: &'static str;
    /// Columns in `params` order; the first is the key.
    const COLUMNS: &'static [&'static str];
    fn key(&self) -> &Self::Key;
    fn parse_key(raw: &str) -> Option<Self::Key>;
    fn params(&self) -> Vec<Param>;
    fn from_row(row: &Row) -> Result<Self, String>;
    fn exists_error(key: Self::Key) -> StoreError;
    fn not_found(key: Self::Key) -> StoreError;
}

struct Entry<R> {
    version: i64,
    /// `None`: a tombstone.
    record: Option<R>,
}

/// A read-modify-write retries when another writer got in between.
const MAX_RETRIES: usize = 100;

pub(crate) struct Table<R: Record> {
    shared: Arc<Shared>,
    cache: RwLock<BTreeMap<R::Key, Entry<R>>>,
    sql: Sql,
}

/// The statements of a table, built once.
struct Sql {
    select_all: String,
    select_one: String,
    insert: String,
    update: String,
    delete: String,
}

/// Guarded writes take this transaction-scoped advisory lock first, so two
/// of them never judge their guard on the same snapshot.
const GUARD_LOCK: i64 = 0x706c_616e_7464_6231; // "plantdb1"

/// A condition a guarded write must meet, in SQL over the row being written
/// (its current columns) and the statement's parameters (`$1` the key; for
/// an update `$2...` the new columns in `COLUMNS` order).
pub(crate) struct Guard {
    pub(crate) update: &'static str,
    pub(crate) delete: &'static str,
}

impl Sql {
    /// `update` or `delete` with `condition` added to their `WHERE`.
    fn guarded(statement: &str, condition: &str) -> String {
        statement.replacen(" RETURNING ", &format!(" AND ({condition}) RETURNING "), 1)
    }

    fn new<R: Record>() -> Self {
        let (table, cols, n) = (R::TABLE, R::COLUMNS, R::COLUMNS.len());
        let key = cols[0];
        let list = cols.join(", ");
        let values: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        // The channel and the kind follow the statement's own parameters;
        // the update's expected version comes last.
        let announce = |ch: usize| {
            format!(
                "SELECT version, pg_notify(${ch}, json_build_object('t', ${}::text, 'k', $1::text, 'v', version)::text)",
                ch + 1
            )
        };
        Sql {
            select_all: format!("SELECT {list}, version FROM {table}"),
            select_one: format!("SELECT {list}, version FROM {table} WHERE {key} = $1"),
            insert: format!(
                "WITH w AS (INSERT INTO {table} ({list}, version) VALUES ({}, nextval('auth_change_seq')) ON CONFLICT ({key}) DO NOTHING RETURNING version) {} FROM w",
                values.join(", "),
                announce(n + 1)
            ),
            update: format!(
                "WITH w AS (UPDATE {table} SET {}, version = nextval('auth_change_seq') WHERE {key} = $1 AND version = ${} RETURNING version) {} FROM w",
                sets.join(", "),
                n + 3,
                announce(n + 1)
            ),
            delete: format!(
                "WITH d AS (DELETE FROM {table} WHERE {key} = $1 RETURNING 1), w AS (SELECT nextval('auth_change_seq') AS version FROM d) {} FROM w",
                announce(2)
            ),
        }
    }
}

fn decode<R: Record>(row: &Row) -> Result<(R, i64), String> {
    let version: i64 = row.try_get("version").map_err(|e| e.to_string())?;
    Ok((R::from_row(row)?, version))
}

impl<R: Record> Table<R> {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Table {
            shared,
            cache: RwLock::new(BTreeMap::new()),
            sql: Sql::new::<R>(),
        }
    }

    /// From the cache; a key it has never seen is read from the database,
    /// so a record another instance created a moment ago (before its
    /// notification arrived) is found.
    pub(crate) fn get(&self, key: &R::Key) -> Result<Option<R>, StoreError> {
        if let Some(entry) = self.cache.read().get(key) {
            return Ok(entry.record.clone());
        }
        Ok(self.fetch(key)?.map(|(record, version)| {
            self.put(key.clone(), version, Some(record.clone()));
            record
        }))
    }

    /// [`Table::get`] handing `read` the cached record in place.
    pub(crate) fn with<T>(
        &self,
        key: &R::Key,
        read: impl FnOnce(&R) -> T,
    ) -> Result<Option<T>, StoreError> {
        if let Some(entry) = self.cache.read().get(key) {
            return Ok(entry.record.as_ref().map(read));
        }
        Ok(self.get(key)?.as_ref().map(read))
    }

    pub(crate) fn list(&self) -> Vec<R> {
        self.cache
            .read()
            .values()
            .filter_map(|e| e.record.clone())
            .collect()
    }

    /// Keeps `record` unless the cache already has this version or newer.
    fn put(&self, key: R::Key, version: i64, record: Option<R>) {
        let mut cache = self.cache.write();
        if cache.get(&key).is_some_and(|e| e.version >= version) {
            return;
        }
        cache.insert(key, Entry { version, record });
    }

    /// One round trip to the database (readiness).
    pub(crate) fn ping(&self) -> Result<(), StoreError> {
        let pool = self.shared.pool.clone();
        self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            client.simple_query("SELECT 1").await.map_err(db_error)?;
            Ok(())
        })
    }

    /// Every row, from the database.
    fn fetch_all(&self) -> Result<Vec<(R, i64)>, StoreError> {
        let pool = self.shared.pool.clone();
        let sql = self.sql.select_all.clone();
        let rows = self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            client.query(&sql, &[]).await.map_err(db_error)
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| match decode::<R>(row) {
                Ok(pair) => Some(pair),
                Err(e) => {
                    tracing::warn!(table = R::TABLE, error = %e, "skipping a row that cannot be read");
                    None
                }
            })
            .collect())
    }

    /// Loads every row: merged when `replace` is false (a newer version
    /// already cached wins), else the cache becomes exactly the table.
    pub(crate) fn reload(&self, replace: bool) -> Result<(), StoreError> {
        let rows = self.fetch_all()?;
        if replace {
            *self.cache.write() = rows
                .into_iter()
                .map(|(r, version)| {
                    let entry = Entry {
                        version,
                        record: Some(r.clone()),
                    };
                    (r.key().clone(), entry)
                })
                .collect();
        } else {
            for (r, version) in rows {
                self.put(r.key().clone(), version, Some(r));
            }
        }
        Ok(())
    }

    /// One row from the database, with its version.
    fn fetch(&self, key: &R::Key) -> Result<Option<(R, i64)>, StoreError> {
        let pool = self.shared.pool.clone();
        let sql = self.sql.select_one.clone();
        let key_text = key.to_string();
        let row = self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            client.query_opt(&sql, &[&key_text]).await.map_err(db_error)
        })?;
        row.map(|r| decode::<R>(&r))
            .transpose()
            .map_err(|e| StoreError::Backend(format!("{}: {e}", R::TABLE)))
    }

    /// Another instance (or this one) announced `version` of `key`.
    pub(crate) fn on_notify(&self, key: &str, version: i64) -> Result<(), StoreError> {
        let Some(key) = R::parse_key(key) else {
            return Ok(());
        };
        if self
            .cache
            .read()
            .get(&key)
            .is_some_and(|e| e.version >= version)
        {
            return Ok(());
        }
        match self.fetch(&key)? {
            Some((record, current)) => self.put(key, current, Some(record)),
            None => self.put(key, version, None),
        }
        Ok(())
    }

    /// Runs a write statement with the channel and kind appended (then
    /// `expected`, for an update); returns the new version if a row matched.
    fn write(
        &self,
        sql: &str,
        mut params: Vec<Param>,
        expected: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        params.push(Box::new(self.shared.channel.clone()));
        params.push(Box::new(R::KIND.to_string()));
        if let Some(version) = expected {
            params.push(Box::new(version));
        }
        let pool = self.shared.pool.clone();
        let sql = sql.to_string();
        self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let row = client.query_opt(&sql, &refs).await.map_err(db_error)?;
            row.map(|r| r.try_get::<_, i64>(0))
                .transpose()
                .map_err(db_error)
        })
    }

    pub(crate) fn create(&self, record: R) -> Result<(), StoreError> {
        match self.write(&self.sql.insert, record.params(), None)? {
            Some(version) => {
                self.put(record.key().clone(), version, Some(record));
                Ok(())
            }
            None => Err(R::exists_error(record.key().clone())),
        }
    }

    /// Read-modify-write by compare-and-swap on the version: no row lock is
    /// held while `edit` runs on the caller's thread, and a concurrent
    /// writer (on any instance) makes us re-read and re-apply, so counters
    /// such as failed login attempts are never lost.
    pub(crate) fn update(
        &self,
        key: &R::Key,
        edit: &mut dyn FnMut(&mut R) -> Result<(), StoreError>,
    ) -> Result<R, StoreError> {
        for _ in 0..MAX_RETRIES {
            let (mut record, version) =
                self.fetch(key)?.ok_or_else(|| R::not_found(key.clone()))?;
            edit(&mut record)?;
            if record.key() != key {
                return Err(StoreError::Backend(format!(
                    "an update may not rename '{key}' to '{}': delete and re-create instead",
                    record.key()
                )));
            }
            let written = self.write(&self.sql.update, record.params(), Some(version))?;
            if let Some(new_version) = written {
                self.put(key.clone(), new_version, Some(record.clone()));
                return Ok(record);
            }
        }
        Err(StoreError::Backend(format!(
            "{} '{key}' kept changing under us: gave up after {MAX_RETRIES} attempts",
            R::TABLE
        )))
    }

    /// Runs `sql` like [`Table::write`], inside a transaction holding the
    /// guard lock.
    fn write_guarded(
        &self,
        sql: String,
        mut params: Vec<Param>,
        expected: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        params.push(Box::new(self.shared.channel.clone()));
        params.push(Box::new(R::KIND.to_string()));
        if let Some(version) = expected {
            params.push(Box::new(version));
        }
        let pool = self.shared.pool.clone();
        self.shared.bridge.run(async move {
            let mut client = pool.get().await.map_err(db_error)?;
            let tx = client.transaction().await.map_err(db_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GUARD_LOCK])
                .await
                .map_err(db_error)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let row = tx.query_opt(&sql, &refs).await.map_err(db_error)?;
            let version = row
                .map(|r| r.try_get::<_, i64>(0))
                .transpose()
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(version)
        })
    }

    /// An update that `guard` may refuse (`refused()` is returned then).
    /// Guarded writes are serialised with each other by an advisory lock,
    /// on every instance; plain updates (login counters) are not held up.
    pub(crate) fn update_guarded(
        &self,
        key: &R::Key,
        edit: &mut dyn FnMut(&mut R) -> Result<(), StoreError>,
        guard: &Guard,
        refused: &dyn Fn() -> StoreError,
    ) -> Result<R, StoreError> {
        let sql = Sql::guarded(&self.sql.update, guard.update);
        for _ in 0..MAX_RETRIES {
            let (mut record, version) =
                self.fetch(key)?.ok_or_else(|| R::not_found(key.clone()))?;
            edit(&mut record)?;
            if record.key() != key {
                return Err(StoreError::Backend(format!(
                    "an update may not rename '{key}': delete and re-create instead"
                )));
            }
            match self.write_guarded(sql.clone(), record.params(), Some(version))? {
                Some(new_version) => {
                    self.put(key.clone(), new_version, Some(record.clone()));
                    return Ok(record);
                }
                // Not written: the guard refused, unless the row changed.
                None => match self.fetch(key)? {
                    Some((_, now)) if now == version => return Err(refused()),
                    _ => continue,
                },
            }
        }
        Err(StoreError::Backend(format!(
            "{} '{key}' kept changing under us: gave up after {MAX_RETRIES} attempts",
            R::TABLE
        )))
    }

    /// A delete that `guard` may refuse.
    pub(crate) fn delete_guarded(
        &self,
        key: &R::Key,
        guard: &Guard,
        refused: &dyn Fn() -> StoreError,
    ) -> Result<(), StoreError> {
        let sql = Sql::guarded(&self.sql.delete, guard.delete);
        match self.write_guarded(sql, vec![Box::new(key.to_string())], None)? {
            Some(version) => {
                self.put(key.clone(), version, None);
                Ok(())
            }
            None => match self.fetch(key)? {
                Some(_) => Err(refused()),
                None => Err(R::not_found(key.clone())),
            },
        }
    }

    pub(crate) fn delete(&self, key: &R::Key) -> Result<(), StoreError> {
        match self.write(&self.sql.delete, vec![Box::new(key.to_string())], None)? {
            Some(version) => {
                self.put(key.clone(), version, None);
                Ok(())
            }
            None => Err(R::not_found(key.clone())),
        }
    }
}
