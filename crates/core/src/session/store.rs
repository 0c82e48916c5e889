//! Durable session state: every token handed out, as rows the in-memory
//! index is rebuilt from at startup. Implementations apply a batch of
//! changes atomically and durably before returning.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::claims::TokenKind;
use super::token_map::TokenMap;
use crate::rbac::DatasetGrants;
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
    /// `datasets`, compiled once for the record's life (not stored).
    #[serde(skip)]
    pub compiled: CompiledGrants,
}

/// An API token's grants compiled at most once per record: validation hands
/// out clones of the indexed record, which share this cell, so a listing
/// never recompiles the patterns of the token it serves.
#[derive(Clone, Default)]
pub struct CompiledGrants(Arc<OnceLock<DatasetGrants>>);

impl PartialEq for CompiledGrants {
    /// A cache: records are equal whatever it holds.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledGrants {}

impl std::fmt::Debug for CompiledGrants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledGrants")
    }
}

impl TokenRecord {
    /// The dataset grants of an API token (`None` for other kinds), from
    /// the record: the claim in the token only repeats them. A grant string
    /// that does not parse grants nothing.
    pub fn grants(&self) -> Option<DatasetGrants> {
        if self.kind != TokenKind::Api {
            return None;
        }
        let compiled = self.compiled.0.get_or_init(|| {
            DatasetGrants::parse_claim(self.datasets.as_deref().unwrap_or("")).unwrap_or_default()
        });
        Some(compiled.clone())
    }
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
fn check_claims(map: &TokenMap, changes: &[SessionChange]) -> Result<(), StoreError> {
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
pub(crate) fn apply_to_map(map: &mut TokenMap, changes: &[SessionChange]) {
    for change in changes {
        match change {
            SessionChange::Insert(record) => {
                map.insert(record.clone());
            }
            SessionChange::MarkUsed(jti) | SessionChange::ClaimRefresh(jti) => {
                if let Some(r) = map.get_mut(jti) {
                    r.used = true;
                }
            }
            SessionChange::Remove(jti) => {
                map.remove(jti);
            }
            SessionChange::RemoveFamily(family) => map.remove_in_family(family, |_| true),
            SessionChange::RemoveUser(user) => map.remove_user(user),
            SessionChange::RemoveFamilyAccess(family) => {
                map.remove_in_family(family, |r| r.kind == TokenKind::Access)
            }
            SessionChange::PurgeExpired(now) => map.retain(|r| r.expires_at >= *now),
        }
    }
}

/// Sessions in memory only (tests, and `--test` mode).
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    rows: Mutex<TokenMap>,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod grant_cache_tests {
    use super::*;

    #[test]
    fn grants_are_compiled_once_and_shared_by_clones_of_the_record() {
        let record = TokenRecord {
            jti: "j".into(),
            kind: TokenKind::Api,
            username: "ann".into(),
            family: "j".into(),
            started_at: 0,
            issued_at: 0,
            expires_at: 10,
            used: false,
            datasets: Some("plant_*/Permission.READ".into()),
            compiled: CompiledGrants::default(),
        };
        let handed_out = record.clone();
        assert!(record.compiled.0.get().is_none());
        let grants = handed_out.grants().unwrap();
        assert!(
            record.compiled.0.get().is_some(),
            "the clone compiled for the record"
        );
        assert_eq!(record.grants(), Some(grants));
        let access = TokenRecord {
            kind: TokenKind::Access,
            ..record
        };
        assert_eq!(access.grants(), None);
    }
}
