//! The bound on connections served at once. A new connection beyond it
//! takes the slot of the connection that has waited longest between
//! requests (idle keep-alive, or a head still arriving), which is closed; if
//! every connection has a request in progress, it waits for one to end.
//! Slow or idle clients therefore never keep a new client out, and a busy
//! server queues new connections instead of opening more descriptors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::state::{CloseRequest, ConnState};

/// How long to wait for an evicted connection to go before evicting another
/// (it may have started a request meanwhile, and then finishes it).
const EVICTION_WAIT: Duration = Duration::from_millis(200);
/// How often a waiting connection looks again for one to evict.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

pub struct Slots {
    permits: Arc<Semaphore>,
    max: u32,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
}

/// A connection's place; freed when dropped.
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.open.lock().remove(&self.id);
    }
}

impl Slots {
    pub fn new(max: u32) -> Arc<Slots> {
        Arc::new(Slots {
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// A slot for a new connection: a free one, else one freed by eviction,
    /// else the next one to free.
    pub async fn acquire(self: &Arc<Self>, conn: Arc<ConnState>) -> Slot {
        loop {
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                return self.register(permit, conn);
            }
            let wait = if self.evict_longest_waiting() {
                EVICTION_WAIT
            } else {
                BUSY_RECHECK
            };
            let acquire = Arc::clone(&self.permits).acquire_owned();
            if let Ok(Ok(permit)) = tokio::time::timeout(wait, acquire).await {
                return self.register(permit, conn);
            }
        }
    }

    fn register(self: &Arc<Self>, permit: OwnedSemaphorePermit, conn: Arc<ConnState>) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().insert(id, conn);
        Slot {
            id,
            slots: Arc::clone(self),
            _permit: permit,
        }
    }

    /// Asks the connection longest between requests to close; false if
    /// every connection has a request in progress.
    fn evict_longest_waiting(&self) -> bool {
        let open = self.open.lock();
        let victim = open
            .values()
            .filter_map(|conn| conn.evictable_since().map(|since| (since, conn)))
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, conn)) => {
                tracing::debug!("connection limit reached: closing the longest-idle connection");
                conn.request_close(CloseRequest::Evict);
                true
            }
            None => false,
        }
    }

    /// Asks every connection to finish its request in progress and close.
    pub fn shutdown(&self) {
        for conn in self.open.lock().values() {
            conn.request_close(CloseRequest::Shutdown);
        }
    }

    /// Returns once every slot is free again.
    pub async fn all_closed(&self) {
        let _ = self.permits.acquire_many(self.max).await;
    }
}
