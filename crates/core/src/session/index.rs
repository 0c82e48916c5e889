//! The in-memory index validation reads, and the sink through which a
//! shared store feeds it what other instances changed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use super::store::{apply_to_map, SessionChange, SessionSink, TokenRecord};
use super::token_map::TokenMap;
use crate::store::StoreError;

#[derive(Default)]
pub(super) struct SessionIndex {
    pub(super) tokens: RwLock<TokenMap>,
    /// Serializes read-decide-write sequences (rotation, eviction), and
    /// orders remote changes after the local commit in progress, so the
    /// index sees changes in the store's commit order.
    pub(super) write: Mutex<()>,
    /// Set while the feed of other instances' changes is down: the index
    /// may miss a revocation, so tokens are refused until a reload.
    stale: AtomicBool,
}

impl SessionIndex {
    /// Replaces every token (the caller holds `write`).
    pub(super) fn replace(&self, records: Vec<TokenRecord>) {
        *self.tokens.write() = records.into_iter().collect();
    }

    pub(super) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    /// What a store keeps: a weak link, so a listener thread never keeps a
    /// dropped manager's index alive.
    pub(super) fn sink(self: &Arc<Self>) -> Arc<dyn SessionSink> {
        Arc::new(IndexSink(Arc::downgrade(self)))
    }
}

struct IndexSink(Weak<SessionIndex>);

impl SessionSink for IndexSink {
    fn apply_remote(&self, changes: &[SessionChange]) {
        if let Some(index) = self.0.upgrade() {
            let _guard = index.write.lock();
            apply_to_map(&mut index.tokens.write(), changes);
        }
    }

    fn reload(&self, load: &mut dyn FnMut() -> Result<Vec<TokenRecord>, StoreError>) {
        let Some(index) = self.0.upgrade() else {
            return;
        };
        let _guard = index.write.lock();
        match load() {
            Ok(records) => {
                index.replace(records);
                if index.stale.swap(false, Ordering::AcqRel) {
                    tracing::info!("session state reloaded: accepting tokens again");
                }
            }
            Err(e) => tracing::error!(error = %e, "reloading session state failed"),
        }
    }

    fn suspend(&self) {
        if let Some(index) = self.0.upgrade() {
            if !index.stale.swap(true, Ordering::AcqRel) {
                tracing::warn!("lost the feed of other instances' session changes: refusing tokens until it is back");
            }
        }
    }
}
