//! The per-request layer: a request id on every request, every response
//! and every log line, the request's metrics, and the headers every answer
//! carries (`Cache-Control: no-store` unless the route set one,
//! `X-Content-Type-Options: nosniff`).
//!
//! The id is the client's (or the reverse proxy's) `X-Request-Id` when it is
//! a short printable token, otherwise one we make: a random per-process
//! prefix and a counter (no syscall, no lock). Each request runs inside an
//! `info` span carrying the id, so every log line written while serving it
//! (text: `request{request_id=...}:`, JSON: `"span":{"request_id":...}`)
//! names it; work sent to the blocking pool keeps the span (see
//! [`AppState::blocking`](crate::state::AppState::blocking)). The id is sent
//! back in the `X-Request-Id` response header.
//!
//! One hand-written tower service does all of it, with one allocation for
//! its future: two `middleware::from_fn` layers (each boxing the inner
//! service and its future per request) cost ~25% of the validation
//! throughput on a 2-core machine.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::metrics::RouteMetrics;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a client; longer ones are replaced.
pub const MAX_ID_LEN: usize = 64;

static COUNTER: AtomicU64 = AtomicU64::new(0);
static PREFIX: OnceLock<u32> = OnceLock::new();

/// `<8 hex digits of this process>-<counter in hex>`: unique within a
/// process, and across restarts and instances with high probability.
fn new_id() -> HeaderValue {
    let prefix = *PREFIX.get_or_init(rand_prefix);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Formatted on the stack: one allocation (the header's) per request.
    let mut text = [0u8; 8 + 1 + 16];
    let len = {
        use std::io::Write as _;
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        let _ = write!(cursor, "{prefix:08x}-{n:x}");
        usize::try_from(cursor.position()).unwrap_or(0)
    };
    HeaderValue::from_bytes(&text[..len]).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn rand_prefix() -> u32 {
    // The standard library's per-process SipHash keys are random: hashing
    // the start time with them gives a random prefix without another crate.
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}

/// A client's id is kept if it is 1-64 characters of `A-Z a-z 0-9 - _ . :`
/// (what proxies and tracing systems send); anything else could forge log
/// lines or blow up their size.
fn accepted(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The id a request is served under: the client's if acceptable, else new.
fn assign(request: &Request) -> HeaderValue {
    match request.headers().get(&X_REQUEST_ID) {
        Some(value) if accepted(value) => value.clone(),
        _ => new_id(),
    }
}

/// Whether requests get their span: only when the log level shows info
/// lines (which then carry the request id). The per-layer filters of the
/// subscriber make tracing create a span even when no layer logs it, and a
/// span per request is a measurable share of a token validation.
static REQUEST_SPANS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Called once the log level is known.
pub fn set_request_spans(on: bool) {
    REQUEST_SPANS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Adds [`Observe`] around a service (each route, via `Router::layer`,
/// where the matched route is known).
#[derive(Debug, Clone, Default)]
pub struct ObserveLayer {
    /// `--access-log`, if on.
    pub access_log: Option<Arc<crate::access_log::AccessLog>>,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: Arc::default(),
            access_log: self.access_log.clone(),
        }
    }
}

/// Assigns the request id, serves the request inside its span, records
/// its metrics and returns the id in the response.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<RouteMetrics>,
    access_log: Option<Arc<crate::access_log::AccessLog>>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Answer {
        let start = Instant::now();
        let id = assign(&request);
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let metrics = Arc::clone(&self.metrics);
        let access = self.access_log.clone().map(|log| {
            let client = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            (log, client, request.uri().path().to_string())
        });
        let span = match REQUEST_SPANS.load(std::sync::atomic::Ordering::Relaxed) {
            true => tracing::info_span!("request", request_id = id.to_str().unwrap_or_default()),
            false => tracing::Span::none(),
        };
        // Entered while the handler runs (each poll), not around this call:
        // axum's futures do their work when polled.
        let future = self.inner.call(request).instrument(span);
        Box::pin(async move {
            let mut response = future.await?;
            metrics.record(route.as_ref(), &method, response.status(), start.elapsed());
            if let Some((log, client, path)) = access {
                log.record(&crate::access_log::Entry {
                    request_id: id.to_str().unwrap_or_default(),
                    client,
                    method: method.as_str(),
                    path: &path,
                    route: route.as_ref().map(MatchedPath::as_str),
                    status: response.status().as_u16(),
                    duration: start.elapsed(),
                    bytes: axum::body::HttpBody::size_hint(response.body()).exact(),
                });
            }
            let headers = response.headers_mut();
            headers.insert(X_REQUEST_ID.clone(), id);
            // On every answer (here rather than in two more layers, each
            // cloned and polled per request): never cached unless a route
            // says otherwise, never sniffed.
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            Ok(response)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_valid() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(accepted(&a) && accepted(&b), "{a:?} {b:?}");
        // <8 hex digits of this process>-<counter in hex>
        let text = a.to_str().unwrap();
        let (prefix, counter) = text.split_once('-').unwrap();
        assert_eq!(prefix.len(), 8, "{text}");
        assert!(prefix
            .bytes()
            .chain(counter.bytes())
            .all(|c| c.is_ascii_hexdigit()));
        assert!(!counter.is_empty());
    }

    #[test]
    fn client_ids_are_kept_only_when_harmless() {
        let ok = HeaderValue::from_static("7f3a-01:trace.span_9");
        assert!(accepted(&ok));
        for bad in ["", "a b", "x\"}", &"a".repeat(MAX_ID_LEN + 1)] {
            assert!(!accepted(&HeaderValue::from_str(bad).unwrap()), "{bad:?}");
        }
    }
}
