//! Sessions in PostgreSQL. Each batch is one transaction that also
//! announces the batch with `NOTIFY`, so every instance applies it to its
//! in-memory index in commit order; rotation claims the refresh token with
//! `UPDATE ... WHERE used = false`, so exactly one instance wins it.

use std::sync::Arc;

use parking_lot::RwLock;
use plantdb_auth_core::session::{
    claim_lost, SessionChange, SessionSink, SessionStore, TokenKind, TokenRecord,
};
use plantdb_auth_core::store::StoreError;
use tokio_postgres::{Row, Transaction};

use crate::notify::sessions_payload;
use crate::{db_error, Shared};

pub struct PgSessionStore {
    shared: Arc<Shared>,
    sink: RwLock<Option<Arc<dyn SessionSink>>>,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore").finish_non_exhaustive()
    }
}

const SELECT_TOKENS: &str =
    "SELECT jti, kind, username, family, started_at, issued_at, expires_at, used, datasets";

fn record(row: &Row) -> Result<Option<TokenRecord>, tokio_postgres::Error> {
    let kind: String = row.try_get("kind")?;
    let Some(kind) = TokenKind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(TokenRecord {
        jti: row.try_get("jti")?,
        kind,
        username: row.try_get("username")?,
        family: row.try_get("family")?,
        started_at: row.try_get("started_at")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        used: row.try_get("used")?,
        datasets: row.try_get("datasets")?,
        compiled: Default::default(),
    }))
}

async fn apply_one(tx: &Transaction<'_>, change: &SessionChange) -> Result<(), StoreError> {
    let done = match change {
        SessionChange::Insert(r) => tx.execute(
            "INSERT INTO auth_tokens (jti, kind, username, family, started_at, issued_at, expires_at, used, datasets)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (jti) DO UPDATE SET kind = EXCLUDED.kind, username = EXCLUDED.username,
               family = EXCLUDED.family, started_at = EXCLUDED.started_at, issued_at = EXCLUDED.issued_at,
               expires_at = EXCLUDED.expires_at, used = EXCLUDED.used, datasets = EXCLUDED.datasets",
            &[&r.jti, &r.kind.as_str(), &r.username, &r.family, &r.started_at, &r.issued_at, &r.expires_at, &r.used, &r.datasets],
        ).await,
        SessionChange::MarkUsed(jti) => {
            tx.execute("UPDATE auth_tokens SET used = true WHERE jti = $1", &[jti]).await
        }
        SessionChange::ClaimRefresh(jti) => return claim(tx, jti).await,
        SessionChange::Remove(jti) => {
            tx.execute("DELETE FROM auth_tokens WHERE jti = $1", &[jti]).await
        }
        SessionChange::RemoveFamily(family) => {
            tx.execute("DELETE FROM auth_tokens WHERE family = $1", &[family]).await
        }
        SessionChange::RemoveUser(user) => {
            tx.execute("DELETE FROM auth_tokens WHERE username = $1", &[user]).await
        }
        SessionChange::RemoveFamilyAccess(family) => {
            tx.execute(
                "DELETE FROM auth_tokens WHERE family = $1 AND kind = 'access'",
                &[family],
            )
            .await
        }
        SessionChange::PurgeExpired(now) => {
            tx.execute("DELETE FROM auth_tokens WHERE expires_at < $1", &[now]).await
        }
    };
    done.map(drop).map_err(db_error)
}

/// The row lock taken by the conditional update makes a concurrent claimant
/// wait, then see `used = true` (READ COMMITTED re-checks the condition).
async fn claim(tx: &Transaction<'_>, jti: &str) -> Result<(), StoreError> {
    let claimed = tx
        .execute(
            "UPDATE auth_tokens SET used = true WHERE jti = $1 AND used = false",
            &[&jti],
        )
        .await
        .map_err(db_error)?;
    if claimed == 1 {
        return Ok(());
    }
    let used: Option<bool> = tx
        .query_opt("SELECT used FROM auth_tokens WHERE jti = $1", &[&jti])
        .await
        .map_err(db_error)?
        .map(|r| r.get(0));
    Err(claim_lost(jti, used))
}

impl PgSessionStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PgSessionStore {
            shared,
            sink: RwLock::new(None),
        }
    }

    fn sink(&self) -> Option<Arc<dyn SessionSink>> {
        self.sink.read().clone()
    }

    /// A batch announced by any instance, this one included: the index
    /// applied our own batches at commit already, but applying every batch
    /// again in commit order is what makes it converge to the database when
    /// a local change and another instance's overlap (changes are
    /// idempotent).
    pub(crate) fn on_batch(&self, changes: Option<Vec<SessionChange>>) {
        match (self.sink(), changes) {
            (Some(sink), Some(changes)) => sink.apply_remote(&changes),
            (Some(sink), None) => sink.reload(&mut || self.load_all()),
            (None, _) => {}
        }
    }

    /// The feed is back after an interruption: reload everything.
    pub(crate) fn on_reconnect(&self) -> Result<(), StoreError> {
        let Some(sink) = self.sink() else {
            return Ok(());
        };
        let mut failure = None;
        sink.reload(&mut || {
            let loaded = self.load_all();
            if let Err(e) = &loaded {
                failure = Some(e.to_string());
            }
            loaded
        });
        failure.map_or(Ok(()), |e| Err(StoreError::Backend(e)))
    }

    pub(crate) fn on_lost(&self) {
        if let Some(sink) = self.sink() {
            sink.suspend();
        }
    }
}

impl SessionStore for PgSessionStore {
    fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let pool = self.shared.pool.clone();
        self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            let rows = client
                .query(&format!("{SELECT_TOKENS} FROM auth_tokens"), &[])
                .await
                .map_err(db_error)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(r) = record(row).map_err(db_error)? {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }

    fn apply(&self, changes: &[SessionChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let pool = self.shared.pool.clone();
        let channel = self.shared.channel.clone();
        let payload = sessions_payload(changes);
        let changes = changes.to_vec();
        self.shared.bridge.run(async move {
            let mut client = pool.get().await.map_err(db_error)?;
            let tx = client.transaction().await.map_err(db_error)?;
            for change in &changes {
                apply_one(&tx, change).await?;
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })
    }

    fn lookup(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        let pool = self.shared.pool.clone();
        let jti = jti.to_string();
        self.shared.bridge.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            let row = client
                .query_opt(
                    &format!("{SELECT_TOKENS} FROM auth_tokens WHERE jti = $1"),
                    &[&jti],
                )
                .await
                .map_err(db_error)?;
            Ok(row
                .as_ref()
                .map(record)
                .transpose()
                .map_err(db_error)?
                .flatten())
        })
    }

    fn subscribe(&self, sink: Arc<dyn SessionSink>) -> Result<(), StoreError> {
        // The listener has been LISTENing since the database was opened.
        *self.sink.write() = Some(sink);
        Ok(())
    }
}
