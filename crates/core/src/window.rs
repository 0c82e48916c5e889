//! Counting events per key over a sliding window, for rate limits.
//!
//! Written by hand because governor implements GCRA (a smoothed bucket),
//! whose `Retry-After` and burst behaviour differ from the sliding window
//! the Python server counts with.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Debug)]
pub struct SlidingWindow<K> {
    window: Duration,
    hits: Mutex<HashMap<K, VecDeque<Instant>>>,
    calls: AtomicU64,
}

impl<K: Hash + Eq> SlidingWindow<K> {
    pub fn new(window: Duration) -> Self {
        SlidingWindow {
            window,
            hits: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// Counts an event of `key` if fewer than `limit` happened within the
    /// window; else `Err(seconds)` until the oldest counted one leaves it.
    pub fn check(&self, key: K, limit: u32, now: Instant) -> Result<(), u64> {
        let window = self.window;
        let mut hits = self.hits.lock();
        if self
            .calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(4096)
        {
            // Bound memory: forget keys idle for a whole window.
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let queue = hits.entry(key).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        if queue.len() >= limit as usize {
            let oldest = queue.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        queue.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_and_frees_as_the_window_slides() {
        let w = SlidingWindow::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(w.check("a", 2, t0).is_ok());
        assert!(w.check("a", 2, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(w.check("a", 2, t0 + Duration::from_secs(20)), Err(40));
        assert!(w.check("b", 2, t0 + Duration::from_secs(20)).is_ok());
        assert!(w.check("a", 2, t0 + Duration::from_secs(61)).is_ok());
    }
}
