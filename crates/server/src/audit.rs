//! The audit log: every event logged with target `plantdb_auth::audit` or
//! `plantdb_auth::security` is also appended, as one JSON object per line
//! with a UTC timestamp, to `<db>/.plantdb-auth/audit.log`. The file is
//! rotated by size (`audit.log.1` ... `audit.log.N`). Events never carry
//! passwords or tokens: the service layer only logs names, ids and reasons.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

pub const AUDIT_FILE: &str = "audit.log";
const TARGETS: [&str; 2] = ["plantdb_auth::audit", "plantdb_auth::security"];

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

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 > self.rotation.max_bytes {
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
enum Destination {
    File(Mutex<Sink>),
    Record(Box<dyn Fn(Value) + Send + Sync>),
}

/// A tracing layer; the destination is attached once the database is open.
#[derive(Clone, Default)]
pub struct AuditLayer {
    sink: Arc<OnceLock<Destination>>,
}

impl AuditLayer {
    /// Starts writing to `<state_dir>/audit.log`.
    pub fn attach(&self, state_dir: &Path, rotation: Rotation) -> std::io::Result<()> {
        let sink = Sink::open(&state_dir.join(AUDIT_FILE), rotation)?;
        let _ = self.sink.set(Destination::File(Mutex::new(sink)));
        Ok(())
    }

    /// Hands every event to `record` instead of a file.
    pub fn attach_recorder(&self, record: impl Fn(Value) + Send + Sync + 'static) {
        let _ = self.sink.set(Destination::Record(Box::new(record)));
    }
}

struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
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
        let text = format!("{value:?}");
        let text = text.trim_matches('"').to_string();
        self.0.insert(field.name().into(), Value::String(text));
    }
}

impl<S: Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !TARGETS.contains(&meta.target()) {
            return;
        }
        let Some(sink) = self.sink.get() else {
            return;
        };
        let mut fields = JsonFields(Map::new());
        fields.0.insert(
            "ts".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        fields
            .0
            .insert("level".into(), Value::String(meta.level().to_string()));
        event.record(&mut fields);
        let event = Value::Object(fields.0);
        match sink {
            Destination::Record(record) => record(event),
            Destination::File(file) => {
                let mut line = event.to_string().into_bytes();
                line.push(b'\n');
                if let Err(e) = file.lock().write_line(&line) {
                    eprintln!("audit log: cannot write: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

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
        let all: String = ["audit.log.2", "audit.log.1", AUDIT_FILE]
            .iter()
            .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap())
            .collect();
        assert!(!all.contains("ignored"));
    }
}
