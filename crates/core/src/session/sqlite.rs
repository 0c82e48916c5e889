//! Session state in SQLite (WAL, synchronous=FULL): a commit is on disk
//! before the token or the revocation it records reaches the client.

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use super::claims::TokenKind;
use super::store::{claim_lost, SessionChange, SessionStore, TokenRecord};
use crate::store::StoreError;

const SCHEMA_VERSION: i64 = 1;

pub struct SqliteSessionStore {
    conn: Mutex<Connection>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("session database: {e}"))
}

impl SqliteSessionStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!(
                "cannot open session database {}: {e}",
                path.display()
            ))
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrate(&conn)?;
        Ok(SqliteSessionStore {
            conn: Mutex::new(conn),
        })
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the session database has schema version {version}, newer than this plantdb-auth ({SCHEMA_VERSION}); upgrade plantdb-auth"
        )));
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS tokens (
            jti TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            username TEXT NOT NULL,
            family TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used INTEGER NOT NULL DEFAULT 0,
            datasets TEXT
        );
        CREATE INDEX IF NOT EXISTS tokens_family ON tokens(family);
        CREATE INDEX IF NOT EXISTS tokens_expires ON tokens(expires_at);
        PRAGMA user_version = 1;",
    )
    .map_err(backend)
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<TokenRecord>> {
    let kind: String = row.get(1)?;
    let Some(kind) = TokenKind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(TokenRecord {
        jti: row.get(0)?,
        kind,
        username: row.get(2)?,
        family: row.get(3)?,
        started_at: row.get(4)?,
        issued_at: row.get(5)?,
        expires_at: row.get(6)?,
        used: row.get::<_, i64>(7)? != 0,
        datasets: row.get(8)?,
        compiled: Default::default(),
    }))
}

/// `UPDATE ... WHERE used = 0`: exactly one claimant of a token wins.
fn claim(tx: &rusqlite::Transaction<'_>, jti: &str) -> Result<usize, StoreError> {
    let claimed = tx
        .execute(
            "UPDATE tokens SET used = 1 WHERE jti = ?1 AND used = 0",
            params![jti],
        )
        .map_err(backend)?;
    if claimed == 1 {
        return Ok(1);
    }
    let used: Option<i64> = tx
        .query_row(
            "SELECT used FROM tokens WHERE jti = ?1",
            params![jti],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    Err(claim_lost(jti, used.map(|u| u != 0)))
}

impl SessionStore for SqliteSessionStore {
    fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare(
                "SELECT jti, kind, username, family, started_at, issued_at, expires_at, used, datasets FROM tokens",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], row_to_record).map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(record) = row.map_err(backend)? {
                out.push(record);
            }
        }
        Ok(out)
    }

    fn apply(&self, changes: &[SessionChange]) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(backend)?;
        for change in changes {
            match change {
                SessionChange::ClaimRefresh(jti) => {
                    claim(&tx, jti)?;
                    continue;
                }
                SessionChange::Insert(r) => tx.execute(
                    "INSERT OR REPLACE INTO tokens (jti, kind, username, family, started_at, issued_at, expires_at, used, datasets)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![r.jti, r.kind.as_str(), r.username, r.family, r.started_at, r.issued_at, r.expires_at, r.used as i64, r.datasets],
                ),
                SessionChange::MarkUsed(jti) => {
                    tx.execute("UPDATE tokens SET used = 1 WHERE jti = ?1", params![jti])
                }
                SessionChange::Remove(jti) => {
                    tx.execute("DELETE FROM tokens WHERE jti = ?1", params![jti])
                }
                SessionChange::RemoveFamily(family) => {
                    tx.execute("DELETE FROM tokens WHERE family = ?1", params![family])
                }
                SessionChange::RemoveUser(user) => {
                    tx.execute("DELETE FROM tokens WHERE username = ?1", params![user])
                }
                SessionChange::RemoveFamilyAccess(family) => tx.execute(
                    "DELETE FROM tokens WHERE family = ?1 AND kind = ?2",
                    params![family, TokenKind::Access.as_str()],
                ),
                SessionChange::PurgeExpired(now) => {
                    tx.execute("DELETE FROM tokens WHERE expires_at < ?1", params![now])
                }
            }
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }
}
