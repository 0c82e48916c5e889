//! Time is injected so expiry and lockout are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand (microsecond resolution).
#[derive(Debug)]
pub struct FixedClock {
    micros: AtomicI64,
}

impl FixedClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        FixedClock {
            micros: AtomicI64::new(start.timestamp_micros()),
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        let step = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros.fetch_add(step, Ordering::SeqCst);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.micros.store(to.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The wall clock, moved forward by hand: time flows as usual and a test
/// jumps over an expiry instead of sleeping through it (the in-process
/// test server of the `plantdb-auth` crate).
#[derive(Debug, Default)]
pub struct ShiftedClock {
    shift_micros: AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> Self {
        ShiftedClock::default()
    }

    pub fn advance(&self, by: chrono::Duration) {
        let step = by.num_microseconds().unwrap_or(i64::MAX);
        self.shift_micros.fetch_add(step, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let shift = chrono::Duration::microseconds(self.shift_micros.load(Ordering::SeqCst));
        Utc::now() + shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_runs_with_the_wall_clock_plus_its_shift() {
        let clock = ShiftedClock::new();
        let before = Utc::now();
        assert!(clock.now() >= before);
        clock.advance(chrono::Duration::seconds(3600));
        let now = clock.now();
        assert!(now >= before + chrono::Duration::seconds(3600));
        assert!(now < Utc::now() + chrono::Duration::seconds(3601));
    }
}
