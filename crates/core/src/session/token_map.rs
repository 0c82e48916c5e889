//! Tokens by id, with the secondary indexes that keep rotation, revocation
//! and listing independent of how many other sessions exist.

use std::collections::{HashMap, HashSet};

use super::store::TokenRecord;

#[derive(Debug, Default, Clone)]
pub struct TokenMap {
    by_jti: HashMap<String, TokenRecord>,
    /// Family id -> its tokens' ids.
    by_family: HashMap<String, HashSet<String>>,
    /// Username -> their families.
    by_user: HashMap<String, HashSet<String>>,
}

impl TokenMap {
    pub fn get(&self, jti: &str) -> Option<&TokenRecord> {
        self.by_jti.get(jti)
    }

    pub fn get_mut(&mut self, jti: &str) -> Option<&mut TokenRecord> {
        self.by_jti.get_mut(jti)
    }

    pub fn len(&self) -> usize {
        self.by_jti.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_jti.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &TokenRecord> {
        self.by_jti.values()
    }

    pub fn insert(&mut self, record: TokenRecord) {
        self.remove(&record.jti);
        self.by_family
            .entry(record.family.clone())
            .or_default()
            .insert(record.jti.clone());
        self.by_user
            .entry(record.username.clone())
            .or_default()
            .insert(record.family.clone());
        self.by_jti.insert(record.jti.clone(), record);
    }

    pub fn remove(&mut self, jti: &str) -> Option<TokenRecord> {
        let record = self.by_jti.remove(jti)?;
        let family_empty = self.by_family.get_mut(&record.family).is_some_and(|ids| {
            ids.remove(jti);
            ids.is_empty()
        });
        if family_empty {
            self.by_family.remove(&record.family);
            let user_empty = self.by_user.get_mut(&record.username).is_some_and(|fams| {
                fams.remove(&record.family);
                fams.is_empty()
            });
            if user_empty {
                self.by_user.remove(&record.username);
            }
        }
        Some(record)
    }

    /// The tokens of one family.
    pub fn family(&self, family: &str) -> impl Iterator<Item = &TokenRecord> {
        self.by_family
            .get(family)
            .into_iter()
            .flatten()
            .filter_map(|jti| self.by_jti.get(jti))
    }

    /// The tokens of one user.
    pub fn of_user(&self, username: &str) -> impl Iterator<Item = &TokenRecord> {
        self.by_user
            .get(username)
            .into_iter()
            .flatten()
            .flat_map(|family| self.family(family))
    }

    /// Removes the tokens of `family` that `pred` selects.
    pub fn remove_in_family(&mut self, family: &str, pred: impl Fn(&TokenRecord) -> bool) {
        let doomed: Vec<String> = self
            .family(family)
            .filter(|r| pred(r))
            .map(|r| r.jti.clone())
            .collect();
        for jti in doomed {
            self.remove(&jti);
        }
    }

    pub fn remove_user(&mut self, username: &str) {
        let doomed: Vec<String> = self.of_user(username).map(|r| r.jti.clone()).collect();
        for jti in doomed {
            self.remove(&jti);
        }
    }

    /// Keeps the tokens `keep` selects (a full scan: housekeeping only).
    pub fn retain(&mut self, keep: impl Fn(&TokenRecord) -> bool) {
        let doomed: Vec<String> = self
            .by_jti
            .values()
            .filter(|r| !keep(r))
            .map(|r| r.jti.clone())
            .collect();
        for jti in doomed {
            self.remove(&jti);
        }
    }
}

impl FromIterator<TokenRecord> for TokenMap {
    fn from_iter<I: IntoIterator<Item = TokenRecord>>(iter: I) -> Self {
        let mut map = TokenMap::default();
        for record in iter {
            map.insert(record);
        }
        map
    }
}
