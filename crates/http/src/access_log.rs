//! The opt-in access log (`--access-log`): one JSON line per request
//! (time, request id, client, method, path, matched route, status,
//! duration, response size), written by a thread of its own so that no
//! request waits on the disk. When the writer falls behind, lines are
//! dropped (and counted) rather than queued without bound.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

/// Lines waiting for the writer at most.
const QUEUE: usize = 8192;
/// Longest path written (the rest is cut off).
const MAX_PATH: usize = 512;

#[derive(Debug)]
pub struct AccessLog {
    tx: SyncSender<String>,
    dropped: AtomicU64,
}

/// One request, as the log line reports it.
pub struct Entry<'a> {
    pub request_id: &'a str,
    pub client: Option<std::net::IpAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub route: Option<&'a str>,
    pub status: u16,
    pub duration: std::time::Duration,
    pub bytes: Option<u64>,
}

impl AccessLog {
    /// Appends to `target` (`-`: standard output).
    pub fn open(target: &Path) -> std::io::Result<Arc<AccessLog>> {
        let out: Box<dyn Write + Send> = if target == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(OpenOptions::new().create(true).append(true).open(target)?)
        };
        let (tx, rx) = sync_channel::<String>(QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(Arc::new(AccessLog {
            tx,
            dropped: AtomicU64::new(0),
        }))
    }

    pub fn record(&self, entry: &Entry<'_>) {
        let mut path = entry.path;
        if path.len() > MAX_PATH {
            let mut cut = MAX_PATH;
            while !path.is_char_boundary(cut) {
                cut -= 1;
            }
            path = &path[..cut];
        }
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "request_id": entry.request_id,
            "client": entry.client.map(|ip| ip.to_string()),
            "method": entry.method,
            "path": path,
            "route": entry.route,
            "status": entry.status,
            "duration_ms": (entry.duration.as_secs_f64() * 1e6).round() / 1e3,
            "bytes": entry.bytes,
        });
        if self.tx.try_send(line.to_string()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write_lines(rx: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::new(out);
    while let Ok(line) = rx.recv() {
        let mut next = Some(line);
        // Write what is queued, then flush once: one write call per burst.
        while let Some(line) = next.take() {
            if writeln!(out, "{line}").is_err() {
                return;
            }
            next = match rx.try_recv() {
                Ok(more) => Some(more),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            };
        }
        if out.flush().is_err() {
            return;
        }
    }
}
