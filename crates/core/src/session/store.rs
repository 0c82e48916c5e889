//! Durable session state: every token handed out, as rows the in-memory
//! index is rebuilt from at startup. Implementations apply a batch of
//! changes atomically and durably before returning.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::claims::TokenKind;
use crate::store::StoreError;

/// One issued token. A login's access and refresh tokens, and everything
/// rotated from them, share a `family`; an API token is its own family.
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    Insert(TokenRecord),
    MarkUsed(String),
    Remove(String),
    RemoveFamily(String),
    /// Drop every token whose `expires_at` is before this time.
    PurgeExpired(i64),
}

pub trait SessionStore: Send + Sync {
    fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Applies all changes in one transaction; durable when `Ok`.
    fn apply(&self, changes: &[SessionChange]) -> Result<(), StoreError>;
}

/// Applies changes to a map of records: shared by the in-memory store and
/// the manager's index so both interpret a change the same way.
pub(crate) fn apply_to_map(map: &mut HashMap<String, TokenRecord>, changes: &[SessionChange]) {
    for change in changes {
        match change {
            SessionChange::Insert(record) => {
                map.insert(record.jti.clone(), record.clone());
            }
            SessionChange::MarkUsed(jti) => {
                if let Some(r) = map.get_mut(jti) {
                    r.used = true;
                }
            }
            SessionChange::Remove(jti) => {
                map.remove(jti);
            }
            SessionChange::RemoveFamily(family) => map.retain(|_, r| &r.family != family),
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
        apply_to_map(&mut self.rows.lock(), changes);
        Ok(())
    }
}
