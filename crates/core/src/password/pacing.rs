//! Failed logins all take the same time.
//!
//! Argon2 on a dummy hash makes an unknown user cost one verification, but
//! real users differ: a hash written by the Python server (m=65536, t=3,
//! p=4) costs several times ours, and counting a failure rewrites
//! users.json with an fsync. So the adapter holds every failed login until
//! a floor: the slowest verification among the hash settings in the store
//! (calibrated at start) and the slowest of the recent real failures.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Real failures remembered for the floor: enough to cover a write spike,
/// few enough that one outlier is forgotten soon.
const RECENT: usize = 32;

#[derive(Debug, Default)]
pub struct LoginPacer {
    calibrated_micros: AtomicU64,
    recent: Mutex<VecDeque<u64>>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl LoginPacer {
    /// Raises the calibrated floor to `verification` plus 10%.
    pub fn calibrate(&self, verification: Duration) {
        let with_margin = micros(verification).saturating_mul(11) / 10;
        self.calibrated_micros
            .fetch_max(with_margin, Ordering::Relaxed);
    }

    /// Records how long a failed login of an existing account took.
    pub fn record_failure(&self, took: Duration) {
        let mut recent = self.recent.lock();
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(micros(took));
    }

    /// How long every failed login should take, in total.
    pub fn floor(&self) -> Duration {
        let recent = self.recent.lock().iter().copied().max().unwrap_or(0);
        Duration::from_micros(recent.max(self.calibrated_micros.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_the_slowest_of_calibration_and_recent_failures() {
        let pacer = LoginPacer::default();
        assert_eq!(pacer.floor(), Duration::ZERO);
        pacer.calibrate(Duration::from_millis(100));
        assert_eq!(pacer.floor(), Duration::from_millis(110));
        pacer.record_failure(Duration::from_millis(150));
        assert_eq!(pacer.floor(), Duration::from_millis(150));
        for _ in 0..RECENT {
            pacer.record_failure(Duration::from_millis(1));
        }
        assert_eq!(
            pacer.floor(),
            Duration::from_millis(110),
            "outliers are forgotten"
        );
        pacer.calibrate(Duration::from_millis(10));
        assert_eq!(
            pacer.floor(),
            Duration::from_millis(110),
            "calibration only rises"
        );
    }
}
