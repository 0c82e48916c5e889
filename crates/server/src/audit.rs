//! The audit log: every event logged with target `plantdb_auth::audit` or
//! `plantdb_auth::security` is also appended, as one JSON object per line
//! with a UTC timestamp, to `<db>/.plantdb-auth/audit.log` (or, with
//! `--store postgres://...`, to the shared `auth_audit` table). The file is
//! rotated by size (`audit.log.1` ... `audit.log.N`). Events never carry
//! passwords or tokens: the service layer only logs names, ids and reasons.
//!
//! A flood must not erase the trail: string values are bounded and escaped
//! (`sanitize`), and refusals, which anyone can cause, are rate-limited per
//! client with what is held back counted in `suppressed` lines (`limiter`).
//! docs/security.md ('Audit log') states the retention this gives.

mod limiter;
mod sanitize;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use self::limiter::Limiter;
pub use self::limiter::{RefusalLimits, TOTAL_BURST_FACTOR};
pub use self::sanitize::{FIELD_MAX, LINE_MAX};

pub const AUDIT_FILE: &str = "audit.log";
const TARGETS: [&str; 2] = [
    plantdb_auth_core::audit::AUDIT,
    plantdb_auth_core::audit::SECURITY,
];

/// Whether events of this target go to the audit log.
pub fn is_audit_target(target: &str) -> bool {
    TARGETS.contains(&target)
}

/// Rotation settings.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub max_bytes: u64,
    pub keep: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// Everything the audit log is configured with.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditConfig {
    pub rotation: Rotation,
    pub limits: RefusalLimits,
}

impl From<Rotation> for AuditConfig {
    fn from(rotation: Rotation) -> Self {
        AuditConfig {
            rotation,
            ..AuditConfig::default()
        }
    }
}

struct Sink {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl Sink {
    fn open(path: &Path, rotation: Rotation) -> std::io::Result<Sink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Sink {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
        })
    }

    fn must_rotate(&self, len: usize) -> bool {
        self.size > 0 && self.size + len as u64 > self.rotation.max_bytes
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.must_rotate(line.len()) {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..self.rotation.keep).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        if self.rotation.keep > 0 {
            std::fs::rename(&self.path, numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        *self = Sink::open(&self.path, self.rotation)?;
        Ok(())
    }
}

/// Where audit events go: the file, or (with `--store postgres://...`)
/// the shared `auth_audit` table.
enum Output {
    File(Sink),
    Record(Box<dyn Fn(Value) + Send + Sync>),
}

/// The limiter and the output under one lock, so that summaries and the
/// events they follow keep their order.
struct Writer {
    limiter: Limiter,
    output: Output,
}

impl Writer {
    fn write_event(&mut self, event: Map<String, Value>, now: Instant) {
        for line in self.limiter.admit(event, now) {
            self.emit(line);
        }
    }

    fn flush(&mut self) {
        for line in self.limiter.drain(&timestamp()) {
            self.emit(line);
        }
    }

    fn emit(&mut self, fields: Map<String, Value>) {
        let (fields, line) = sanitize::bounded_line(fields);
        match &mut self.output {
            Output::Record(record) => record(Value::Object(fields)),
            Output::File(sink) => {
                if let Err(e) = write_to_file(sink, &mut self.limiter, &line) {
                    eprintln!("audit log: cannot write: {e}");
                }
            }
        }
    }
}

/// Appends `line`. A rotation first writes the counts held back (at most
/// `SUMMARY_LINES` + 1 lines), so that no count waits for a quiet moment
/// that a flood may never leave.
fn write_to_file(sink: &mut Sink, limiter: &mut Limiter, line: &[u8]) -> std::io::Result<()> {
    if sink.must_rotate(line.len()) {
        sink.rotate()?;
        for summary in limiter.drain(&timestamp()) {
            sink.write_line(&sanitize::bounded_line(summary).1)?;
        }
    }
    sink.write_line(line)
}

fn timestamp() -> Value {
    Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// A tracing layer; the destination is attached once the database is open.
#[derive(Clone, Default)]
pub struct AuditLayer {
    writer: Arc<OnceLock<Mutex<Writer>>>,
}

impl AuditLayer {
    /// Starts writing to `<state_dir>/audit.log`.
    pub fn attach(&self, state_dir: &Path, config: impl Into<AuditConfig>) -> std::io::Result<()> {
        let config = config.into();
        let sink = Sink::open(&state_dir.join(AUDIT_FILE), config.rotation)?;
        self.set(config.limits, Output::File(sink));
        Ok(())
    }

    /// Hands every event to `record` instead of a file.
    pub fn attach_recorder(
        &self,
        limits: RefusalLimits,
        record: impl Fn(Value) + Send + Sync + 'static,
    ) {
        self.set(limits, Output::Record(Box::new(record)));
    }

    /// Writes the counts of refusals held back; at exit.
    pub fn flush(&self) {
        if let Some(writer) = self.writer.get() {
            writer.lock().flush();
        }
    }

    fn set(&self, limits: RefusalLimits, output: Output) {
        let limiter = Limiter::new(limits, Instant::now());
        let _ = self.writer.set(Mutex::new(Writer { limiter, output }));
    }
}

/// The event's fields, every string escaped and bounded on the way in.
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(
            field.name().into(),
            Value::String(sanitize::sanitize(value)),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = sanitize::sanitize_debug(value);
        self.0.insert(field.name().into(), Value::String(text));
    }
}

impl<S: Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !TARGETS.contains(&meta.target()) {
            return;
        }
        let Some(writer) = self.writer.get() else {
            return;
        };
        let mut fields = JsonFields(Map::new());
        fields.0.insert("ts".into(), timestamp());
        fields
            .0
            .insert("level".into(), Value::String(meta.level().to_string()));
        event.record(&mut fields);
        writer.lock().write_event(fields.0, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn read_lines(dir: &Path, keep: usize) -> Vec<String> {
        let mut files: Vec<String> = (1..=keep)
            .rev()
            .map(|n| format!("{AUDIT_FILE}.{n}"))
            .collect();
        files.push(AUDIT_FILE.into());
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
            .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn audit_events_become_json_lines_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let layer = AuditLayer::default();
        layer
            .attach(
                dir.path(),
                Rotation {
                    max_bytes: 300,
                    keep: 2,
                },
            )
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..10 {
                tracing::info!(target: "plantdb_auth::audit", event = "login_failed", user = "alice", n = i, "x");
            }
            tracing::info!(target: "other", event = "ignored", "not audited");
        });
        let current = std::fs::read_to_string(dir.path().join(AUDIT_FILE)).unwrap();
        let first: Value = serde_json::from_str(current.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "login_failed");
        assert_eq!(first["user"], "alice");
        assert!(first["ts"].as_str().unwrap().ends_with('Z'));
        assert!(dir.path().join("audit.log.1").exists());
        assert!(dir.path().join("audit.log.2").exists());
        assert!(!dir.path().join("audit.log.3").exists());
        let all = read_lines(dir.path(), 2).concat();
        assert!(!all.contains("ignored"));
    }

    #[test]
    fn a_flood_of_huge_refusals_keeps_older_events_and_is_summarised() {
        let dir = tempfile::tempdir().unwrap();
        let layer = AuditLayer::default();
        let rotation = Rotation {
            max_bytes: 32 * 1024,
            keep: 5,
        };
        layer.attach(dir.path(), rotation).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer.clone());
        let padding = "\u{1b}x".repeat(30_000);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "plantdb_auth::audit", event = "login_ok", user = "alice", "login");
            for i in 0..5_000 {
                let user = format!("{i}{padding}");
                tracing::info!(target: "plantdb_auth::audit", event = "login_failed", user = %user, reason = "unknown user", "login refused");
            }
            tracing::info!(target: "plantdb_auth::audit", event = "role_change", user = "bob", by = "admin", "roles changed");
        });
        layer.flush();
        let lines = read_lines(dir.path(), rotation.keep);
        assert!(dir.path().join("audit.log.1").exists(), "no rotation");
        assert!(
            lines.iter().all(|l| l.len() < LINE_MAX),
            "a line over the bound"
        );
        let events: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let named = |name: &str| events.iter().filter(|e| e["event"] == name).count();
        assert_eq!(named("login_ok"), 1, "the older success was pushed out");
        assert_eq!(named("role_change"), 1);
        let refusals = named("login_failed");
        let burst = RefusalLimits::default().burst * TOTAL_BURST_FACTOR;
        assert!(
            refusals <= burst as usize + 1,
            "{refusals} refusals written"
        );
        let held: u64 = events
            .iter()
            .filter(|e| e["event"] == "suppressed")
            .map(|e| e["count"].as_u64().unwrap())
            .sum();
        assert_eq!(held as usize + refusals, 5_000);
        let first = events
            .iter()
            .find(|e| e["event"] == "login_failed")
            .unwrap();
        let user = first["user"].as_str().unwrap();
        assert!(user.starts_with("0\\u{1b}x\\u{1b}x"), "{user}");
        assert!(user.ends_with("x…(truncated, 60001 bytes)"), "{user}");
    }

    #[test]
    fn the_shared_table_gets_the_same_bounded_and_limited_events() {
        let layer = AuditLayer::default();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = recorded.clone();
        layer.attach_recorder(RefusalLimits::default(), move |e| sink.lock().push(e));
        let subscriber = tracing_subscriber::registry().with(layer.clone());
        let huge = "a".repeat(10_000);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..100 {
                tracing::info!(target: "plantdb_auth::audit", event = "login_failed", user = %huge, "login refused");
            }
        });
        layer.flush();
        let recorded = recorded.lock();
        assert_eq!(recorded.len(), 21);
        assert!(recorded[0]["user"].as_str().unwrap().len() < FIELD_MAX + 40);
        assert_eq!(recorded[20]["event"], "suppressed");
        assert_eq!(recorded[20]["count"], 80);
    }
}
