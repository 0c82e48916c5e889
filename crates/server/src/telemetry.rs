//! Logs go to stderr, so stdout carries only what a user must read; audit
//! events also go to the audit log file (see `audit`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::audit::AuditLayer;

/// Installs the global subscriber; returns the audit layer to attach to
/// the database once it is open.
pub fn init(level: &str, json: bool) -> AuditLayer {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let shows_info = filter
        .max_level_hint()
        .is_none_or(|max| max >= tracing::level_filters::LevelFilter::INFO);
    plantdb_auth_http::request_id::set_request_spans(shows_info);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let audit = AuditLayer::default();
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        // Filtered to its targets, so that it does not switch on every
        // debug and trace call site of the process.
        .with(
            audit
                .clone()
                .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    crate::audit::is_audit_target(m.target())
                })),
        )
        .with(plantdb_auth_http::metrics::AuditCounter::layer())
        .try_init();
    audit
}
