//! Listing and ending sessions and API tokens; housekeeping.

use std::collections::BTreeMap;

use super::{SessionInfo, SessionManager};
use crate::session::claims::TokenKind;
use crate::session::error::SessionError;
use crate::session::store::{SessionChange, TokenRecord};

impl SessionManager {
    /// Live login sessions (not API tokens), of one user or of everyone.
    pub fn sessions(&self, username: Option<&str>) -> Vec<SessionInfo> {
        let index = self.shared.tokens.read();
        let mut by_family: BTreeMap<&str, SessionInfo> = BTreeMap::new();
        let candidates: Box<dyn Iterator<Item = &TokenRecord>> = match username {
            Some(u) => Box::new(index.of_user(u)),
            None => Box::new(index.values()),
        };
        let live = candidates.filter(|r| r.kind != TokenKind::Api && !r.used);
        for r in live {
            let entry = by_family.entry(&r.family).or_insert_with(|| SessionInfo {
                id: r.family.clone(),
                username: r.username.clone(),
                started_at: r.started_at,
                expires_at: r.expires_at,
            });
            entry.expires_at = entry.expires_at.max(r.expires_at);
        }
        by_family.into_values().collect()
    }

    /// Live API tokens, of one user or of everyone.
    pub fn api_tokens(&self, username: Option<&str>) -> Vec<TokenRecord> {
        let index = self.shared.tokens.read();
        let candidates: Box<dyn Iterator<Item = &TokenRecord>> = match username {
            Some(u) => Box::new(index.of_user(u)),
            None => Box::new(index.values()),
        };
        let mut out: Vec<TokenRecord> = candidates
            .filter(|r| r.kind == TokenKind::Api)
            .cloned()
            .collect();
        out.sort_by_key(|r| (r.issued_at, r.jti.clone()));
        out
    }

    /// Looks up any live family (session or API token) by id.
    pub fn family_owner(&self, family: &str) -> Option<(String, TokenKind)> {
        self.shared
            .tokens
            .read()
            .family(family)
            .find(|r| !r.used)
            .map(|r| (r.username.clone(), r.kind))
    }

    /// Ends one session or API token by id; false if it did not exist.
    pub fn revoke_family(&self, family: &str) -> Result<bool, SessionError> {
        let _guard = self.shared.write.lock();
        if self.family_owner(family).is_none() {
            return Ok(false);
        }
        self.commit(&[SessionChange::RemoveFamily(family.to_string())])?;
        Ok(true)
    }

    /// Ends every session and API token of `username`; returns how many
    /// this instance knew of.
    pub fn revoke_user(&self, username: &str) -> Result<usize, SessionError> {
        let _guard = self.shared.write.lock();
        let mut families: Vec<String> = self
            .shared
            .tokens
            .read()
            .of_user(username)
            .map(|r| r.family.clone())
            .collect();
        families.sort();
        families.dedup();
        // By user, not by family: the store also holds tokens another
        // instance issued that this index has not heard of yet.
        self.commit(&[SessionChange::RemoveUser(username.to_string())])?;
        Ok(families.len())
    }

    /// Drops expired tokens from the store and the index.
    pub fn purge_expired(&self) -> Result<usize, SessionError> {
        let _guard = self.shared.write.lock();
        let cutoff = self.now() - self.config.leeway;
        let before = self.shared.tokens.read().len();
        self.commit(&[SessionChange::PurgeExpired(cutoff)])?;
        let tokens = self.shared.tokens.read();
        let live: std::collections::HashSet<&str> =
            tokens.values().map(|r| r.family.as_str()).collect();
        self.login_order
            .lock()
            .retain(|family, _| live.contains(family.as_str()));
        self.clients
            .lock()
            .retain(|family, _| live.contains(family.as_str()));
        Ok(before.saturating_sub(tokens.len()))
    }

    /// Whether tokens are accepted: false while the feed of other
    /// instances' changes is down (a revocation may have been missed).
    pub fn accepting_tokens(&self) -> bool {
        !self.shared.is_stale()
    }

    /// When the session (or API token) of token `jti` started.
    pub fn family_started_at(&self, jti: &str) -> Option<i64> {
        self.shared.tokens.read().get(jti).map(|r| r.started_at)
    }

    /// Live API tokens of `username` (for the per-user cap).
    pub fn api_token_count(&self, username: &str) -> usize {
        let now = self.now();
        self.shared
            .tokens
            .read()
            .of_user(username)
            .filter(|r| r.kind == TokenKind::Api && r.expires_at >= now)
            .count()
    }

    /// Number of tokens in the index (live and rotated-but-unexpired).
    pub fn token_count(&self) -> usize {
        self.shared.tokens.read().len()
    }
}
