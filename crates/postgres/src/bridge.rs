//! Running async database work from synchronous code.
//!
//! The store traits are synchronous and called from anywhere: blocking
//! threads, but also async workers (token validation reads users inline).
//! `Runtime::block_on` panics on an async worker, so work is spawned on a
//! runtime owned by the database handle and awaited through a plain channel,
//! which blocks the caller but never panics, whatever thread it is on.

use std::future::Future;

use plantdb_auth_core::store::StoreError;
use tokio::runtime::{Handle, Runtime};

pub(crate) struct Bridge {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Bridge {
    pub(crate) fn new(threads: usize) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("plantdb-auth-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot start the database runtime: {e}")))?;
        let handle = runtime.handle().clone();
        Ok(Bridge {
            runtime: Some(runtime),
            handle,
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the database runtime and waits for its result.
    pub(crate) fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Backend("the database runtime has stopped".into()))?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime from an async context panics; this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
