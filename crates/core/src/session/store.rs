//! Durable session state: every token handed out, as rows the in-memory
//! index is rebuilt from at startup. Implementations apply a batch of
//! changes atomically and durably before returning.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::claims::TokenKind;
use crate::store::StoreError;

/// One issued token. A login's access and refresh tokens, and everything
/// rotated from them, share a `family`; an API token is its own family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub jti: String,
    pub kind: TokenKind,
    pub username: String,
    pub family: String,
    /// When the family started (the login), Unix seconds.
    pub started_at: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A rotated refresh token, kept until it expires to detect reuse.
    pub used: bool,
    /// The API token's grant string (`pattern/Permission.READ;...`).
    pub datasets: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionChange {
    Insert(TokenRecord),
    MarkUsed(String),
    /// Marks a refresh token used only if it exists and is unused; otherwise
    /// the whole batch fails with [`StoreError::ClaimLost`]. This makes
    /// rotation atomic even when several instances share one store.
    ClaimRefresh(String),
    Remove(String),
    RemoveFamily(String),
    /// Every token of a user, including those another instance issued that
    /// this one has not heard of yet.
    RemoveUser(String),
    /// The access tokens of a family (its refresh tokens stay).
    RemoveFamilyAccess(String),
    /// Drop every token whose `expires_at` is before this time.
    PurgeExpired(i64),
}

pub trait SessionStore: Send + Sync {
    fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Applies all changes in one transaction; durable when `Ok`.
    fn apply(&self, changes: &[SessionChange]) -> Result<(), StoreError>;

    /// Registers where the batches committed to a store shared with other
    /// processes are delivered, in commit order (this process's own ones
    /// may come too: changes are idempotent, and replaying them in commit
    /// order is what keeps overlapping changes consistent). Once this
    /// returns, no batch is missed. A store only this process writes to has
    /// nothing to deliver.
    fn subscribe(&self, _sink: Arc<dyn SessionSink>) -> Result<(), StoreError> {
        Ok(())
    }

    /// One token, read from the store itself: for a shared store, so a
    /// token another instance issued a moment ago is found before its
    /// change has reached the index. A store only this process writes to
    /// has nothing the index lacks.
    fn lookup(&self, _jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(None)
    }
}

/// Receives what other instances did to a shared session store.
pub trait SessionSink: Send + Sync {
    /// A committed batch; batches arrive in commit order.
    fn apply_remote(&self, changes: &[SessionChange]);
    /// The feed was interrupted and may have missed changes: replace the
    /// whole state with what `load` returns (called with local writes held).
    fn reload(&self, load: &mut dyn FnMut() -> Result<Vec<TokenRecord>, StoreError>);
    /// The feed is down: local state may be stale until the next `reload`.
    fn suspend(&self);
}

/// The error [`SessionChange::ClaimRefresh`] fails with, from the current
/// state of the token (`None`: the token does not exist).
pub fn claim_lost(jti: &str, used: Option<bool>) -> StoreError {
    StoreError::ClaimLost {
        jti: jti.to_string(),
        reused: used.unwrap_or(false),
    }
}

/// Checks every claim of a batch against `map` before anything is applied.
fn check_claims(
    map: &HashMap<String, TokenRecord>,
    changes: &[SessionChange],
) -> Result<(), StoreError> {
    for change in changes {
        if let SessionChange::ClaimRefresh(jti) = change {
            match map.get(jti) {
                Some(r) if !r.used => {}
                other => return Err(claim_lost(jti, other.map(|r| r.used))),
            }
        }
    }
    Ok(())
}

/// Applies changes to a map of records: shared by the in-memory store and
/// the manager's index so both interpret a change the same way.
pub(crate) fn apply_to_map(map: &mut HashMap<String, TokenRecord>, changes: &[SessionChange]) {
    for change in changes {
        match change {
            SessionChange::Insert(record) => {
                map.insert(record.jti.clone(), record.clone());
            }
            SessionChange::MarkUsed(jti) | SessionChange::ClaimRefresh(jti) => {
                if let Some(r) = map.get_mut(jti) {
                    r.used = true;
                }
            }
            SessionChange::Remove(jti) => {
                map.remove(jti);
            }
            SessionChange::RemoveFamily(family) => map.retain(|_, r| &r.family != family),
            SessionChange::RemoveUser(user) => map.retain(|_, r| &r.username != user),
            SessionChange::RemoveFamilyAccess(family) => {
                map.retain(|_, r| !(&r.family == family && r.kind == TokenKind::Access))
            }
            SessionChange::PurgeExpired(now) => map.retain(|_, r| r.expires_at >= *now),
        }
    }
}

/// Sessions in memory only (tests, and `--test` mode).
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    rows: Mutex<HashMap<String, TokenRecord>>,
}

impl SessionStore for MemorySessionStore {
    fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(self.rows.lock().values().cloned().collect())
    }

    fn apply(&self, changes: &[SessionChange]) -> Result<(), StoreError> {
        let mut rows = self.rows.lock();
        check_claims(&rows, changes)?;
        apply_to_map(&mut rows, changes);
        Ok(())
    }
}
