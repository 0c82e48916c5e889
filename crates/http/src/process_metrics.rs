//! The `process_*` metrics Prometheus expects of every exporter, read from
//! `/proc/self` at scrape time (Linux; elsewhere they are left out).
//!
//! Hand-written: five values from two `/proc` files. The metrics-process
//! crate covers other systems through platform crates we do not need.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
pub const RESIDENT_BYTES: &str = "process_resident_memory_bytes";
pub const OPEN_FDS: &str = "process_open_fds";
pub const MAX_FDS: &str = "process_max_fds";
pub const START_TIME: &str = "process_start_time_seconds";

/// Clock ticks per second of `/proc/self/stat` (USER_HZ): 100 on every
/// Linux architecture the kernel exposes to user space.
const TICKS_PER_SECOND: f64 = 100.0;

static STARTED: OnceLock<f64> = OnceLock::new();

/// Remembers the start time; call early (the first scrape otherwise).
pub fn mark_start() {
    STARTED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    });
}

/// Sets the process gauges; what cannot be read is skipped.
pub fn record() {
    mark_start();
    if let Some(start) = STARTED.get() {
        metrics::gauge!(START_TIME).set(*start);
    }
    if let Some(cpu) = cpu_seconds() {
        metrics::gauge!(CPU_SECONDS).set(cpu);
    }
    if let Some(rss) = resident_bytes() {
        metrics::gauge!(RESIDENT_BYTES).set(rss);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(OPEN_FDS).set(entries.count() as f64);
    }
    if let Some(max) = max_fds() {
        metrics::gauge!(MAX_FDS).set(max);
    }
}

/// utime + stime, fields 14 and 15 of `/proc/self/stat` (after the
/// parenthesised command name, which may hold spaces).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_are_read_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(resident_bytes().is_some_and(|b| b > 1e5));
        assert!(max_fds().is_some_and(|m| m >= 64.0));
    }
}
