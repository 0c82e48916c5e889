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
        let wait = || {
            rx.recv()
                .map_err(|_| StoreError::Backend("the database runtime has stopped".into()))?
        };
        // Called on a worker of the server's runtime (token validation
        // looking up a token another instance issued, inline): tell tokio
        // this thread blocks, so that it hands the worker's other tasks to
        // another thread instead of stalling them for a database round trip.
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// One worker thread: without `block_in_place` the ticker could not
    /// run while the worker waits for the database runtime.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn waiting_on_a_worker_does_not_stall_its_other_tasks() {
        let bridge = Bridge::new(1).unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let before = ticks.load(Ordering::Relaxed);
        // On the worker (the test's own body runs on another thread).
        tokio::spawn(async move {
            bridge
                .run(async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(())
                })
                .unwrap();
        })
        .await
        .unwrap();
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert!(during >= 10, "the worker's other task ran {during} times");
    }

    #[test]
    fn a_plain_thread_just_waits() {
        let bridge = Bridge::new(1).unwrap();
        assert_eq!(bridge.run(async { Ok(7) }).unwrap(), 7);
    }
}
