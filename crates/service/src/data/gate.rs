//! A counting gate for CPU-heavy preview work (decoding and resizing images,
//! voxel down-sampling point clouds): at most N at once, the rest wait.
//!
//! Hand-written because the callers are blocking threads (no async
//! semaphore fits) and it is ten lines over a mutex and a condvar.

use parking_lot::{Condvar, Mutex};

#[derive(Debug)]
pub struct PreviewGate {
    running: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl PreviewGate {
    pub fn new(limit: usize) -> Self {
        PreviewGate {
            running: Mutex::new(0),
            freed: Condvar::new(),
            limit,
        }
    }

    /// Runs `job` when one of the N places is free.
    pub fn run<T>(&self, job: impl FnOnce() -> T) -> T {
        {
            let mut running = self.running.lock();
            while *running >= self.limit {
                self.freed.wait(&mut running);
            }
            *running += 1;
        }
        struct Leave<'a>(&'a PreviewGate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                *self.0.running.lock() -= 1;
                self.0.freed.notify_one();
            }
        }
        let _leave = Leave(self);
        job()
    }
}
