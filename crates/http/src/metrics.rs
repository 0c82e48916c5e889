//! Prometheus metrics, served at `GET /metrics` (text format 0.0.4).
//!
//! The hot path pays for a few atomic operations per request: the
//! [`track`] middleware bumps a counter and records a latency sample into
//! handles of the `metrics` crate (lock-free); gauges that need to look at
//! state (live sessions, the Argon2 queue) are computed only when scraped.
//! Login outcomes and lockouts are counted from the service's audit events
//! by [`AuditCounter`], a `tracing` layer the server installs, so the
//! service layer knows nothing about metrics.
//!
//! The route is served once, at the root (`/metrics`), outside the URL
//! prefix and outside both API generations: Prometheus scrapes the server
//! directly, not through the reverse proxy that owns the prefix.

use crate::error::ErrorCode;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::Layer;

use crate::state::AppState;

pub const REQUESTS: &str = "plantdb_auth_http_requests_total";
pub const LATENCY: &str = "plantdb_auth_http_request_duration_seconds";
pub const LOGINS: &str = "plantdb_auth_logins_total";
pub const LOCKOUTS: &str = "plantdb_auth_lockouts_total";
pub const LIVE_SESSIONS: &str = "plantdb_auth_live_sessions";
pub const SESSION_TOKENS: &str = "plantdb_auth_session_tokens";
pub const ARGON2_QUEUE: &str = "plantdb_auth_argon2_queue_depth";
pub const ARGON2_BUSY: &str = "plantdb_auth_argon2_workers_busy";
pub const ARGON2_WORKERS: &str = "plantdb_auth_argon2_workers";
/// Set by the PostgreSQL store's listener (`plantdb_auth_postgres::CONNECTED_GAUGE`).
pub const POSTGRES_CONNECTED: &str = "plantdb_auth_postgres_connected";

/// Latency buckets in seconds: validation answers in microseconds, a
/// login in tens of milliseconds, a queued login in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How often histogram samples are folded into their buckets (the
/// recorder buffers them until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Requests whose path matched no route share one label value, so that
/// scanners cannot grow the number of series.
const UNMATCHED: &str = "unmatched";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder, installed on first use. `None` if another
/// recorder was installed first (then `/metrics` answers 503).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let builder = match PrometheusBuilder::new().set_buckets(&BUCKETS) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "metrics disabled: invalid histogram buckets");
            return None;
        }
    };
    let handle = match builder.install_recorder() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled: a metrics recorder is already installed");
            return None;
        }
    };
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        });
    if let Err(e) = spawned {
        // Without upkeep, samples are still folded in at each scrape.
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
    }
    Some(handle)
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route, method and status"
    );
    metrics::describe_histogram!(
        LATENCY,
        metrics::Unit::Seconds,
        "Time from request to response headers, by route and method"
    );
    metrics::describe_counter!(LOGINS, "Password logins, by result (ok, failed)");
    metrics::describe_counter!(LOCKOUTS, "Accounts locked after repeated failed logins");
    metrics::describe_gauge!(LIVE_SESSIONS, "Login sessions alive now");
    metrics::describe_gauge!(SESSION_TOKENS, "Tokens in the session index");
    metrics::describe_gauge!(ARGON2_QUEUE, "Password hashes waiting for a worker");
    metrics::describe_gauge!(ARGON2_BUSY, "Password hashes being computed");
    metrics::describe_gauge!(ARGON2_WORKERS, "Size of the password-hashing pool");
    metrics::describe_gauge!(
        POSTGRES_CONNECTED,
        "1 while the connection to PostgreSQL (--store) is up, 0 while it is lost"
    );
}

/// The request metrics of one route endpoint, with the recorder's handles
/// cached: `Router::layer` gives every (route, method) endpoint its own
/// layer instance, so after the first request recording is an atomic add
/// and a lock-free histogram push, no label building or registry look-up.
#[derive(Debug, Default)]
pub(crate) struct RouteMetrics {
    key: OnceLock<(Box<str>, &'static str)>,
    latency: OnceLock<Histogram>,
    requests: [OnceLock<Counter>; CODES.len()],
}

impl RouteMetrics {
    /// Counts one answered request and records its latency. `route` is the
    /// matched route (`None`: no route matched).
    pub(crate) fn record(
        &self,
        route: Option<&MatchedPath>,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        if handle().is_none() {
            return;
        }
        let route = route.map_or(UNMATCHED, MatchedPath::as_str);
        let method = static_method(method);
        let key = self.key.get_or_init(|| (route.into(), method));
        if &*key.0 != route || key.1 != method {
            // An endpoint serving several routes or methods (the fallbacks).
            histogram(route, method).record(elapsed);
            return counter(route, method, status).increment(1);
        }
        self.latency
            .get_or_init(|| histogram(route, method))
            .record(elapsed);
        match CODES.iter().position(|(c, _)| *c == status.as_u16()) {
            Some(i) => self.requests[i]
                .get_or_init(|| counter(route, method, status))
                .increment(1),
            None => counter(route, method, status).increment(1),
        }
    }
}

fn histogram(route: &str, method: &'static str) -> Histogram {
    metrics::histogram!(LATENCY, "route" => route.to_owned(), "method" => method)
}

fn counter(route: &str, method: &'static str, status: StatusCode) -> Counter {
    metrics::counter!(REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status_label(status))
}

fn static_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Status codes this API answers, as labels (no allocation for them).
const CODES: [(u16, &str); 14] = [
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (409, "409"),
    (413, "413"),
    (415, "415"),
    (429, "429"),
    (500, "500"),
    (503, "503"),
];

fn status_label(status: StatusCode) -> SharedString {
    let code = status.as_u16();
    match CODES.iter().find(|(c, _)| *c == code) {
        Some((_, text)) => SharedString::const_str(text),
        None => code.to_string().into(),
    }
}

/// Who may scrape `/metrics` on the main listener (`--metrics-token`,
/// `--metrics-listen`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Only clients on this host talking to us directly (the socket peer is
    /// a loopback address and no proxy forwarded the request).
    #[default]
    Loopback,
    /// Anyone presenting `Authorization: Bearer <token>`.
    Token(String),
    /// Not on the main listener: on its own address (`--metrics-listen`).
    Elsewhere,
}

/// Equal-length byte strings compared without an early exit.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `GET /metrics` on the main listener: as [`MetricsAccess`] allows. A
/// refusal looks like an unknown path (404) except for a wrong token (401).
pub async fn guarded(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let headers = request.headers();
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let allowed = match &state.config.metrics_access {
        MetricsAccess::Loopback => {
            peer.is_some_and(|ip| ip.to_canonical().is_loopback())
                && !headers.contains_key("x-forwarded-for")
                && !headers.contains_key(header::FORWARDED)
        }
        MetricsAccess::Token(token) => {
            let given = crate::extract::bearer_from_headers(headers).unwrap_or_default();
            if !same_secret(given.as_bytes(), token.as_bytes()) {
                return crate::error::ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::NotAuthenticated,
                    "Metrics need 'Authorization: Bearer <metrics token>' (--metrics-token)",
                )
                .into_response();
            }
            true
        }
        MetricsAccess::Elsewhere => false,
    };
    if !allowed {
        return crate::error::ApiError::not_found(
            "Not found: no such endpoint. docs/api.md and /api/v1/openapi.json list the routes",
        )
        .into_response();
    }
    render(State(state)).await
}

/// `GET /metrics`: the scrape. Gauges are read here, off the hot path.
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = handle() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are disabled\n").into_response();
    };
    let workers = state.config.hash_workers.max(1);
    metrics::gauge!(ARGON2_WORKERS).set(workers as f64);
    metrics::gauge!(ARGON2_QUEUE).set(state.hash_queue_depth() as f64);
    metrics::gauge!(ARGON2_BUSY).set(workers.saturating_sub(state.hash_slots_free()) as f64);
    // Counting sessions walks the index: done on the blocking pool.
    let counts = state
        .blocking(|db| {
            (
                db.sessions().sessions(None).len(),
                db.sessions().token_count(),
            )
        })
        .await;
    if let Ok((sessions, tokens)) = counts {
        metrics::gauge!(LIVE_SESSIONS).set(sessions as f64);
        metrics::gauge!(SESSION_TOKENS).set(tokens as f64);
    }
    crate::process_metrics::record();
    let body = handle.render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The service's audit events this layer counts.
const AUDIT_TARGET: &str = plantdb_auth_core::audit::AUDIT;

/// A `tracing` layer counting login outcomes and lockouts from the audit
/// events the service logs (`event = "login_ok" | "login_failed" |
/// "lockout"`). It only subscribes to the audit target, so it enables no
/// other log statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditCounter;

impl AuditCounter {
    /// The layer with its own filter: audit events only, whatever the log level.
    pub fn layer<S>() -> impl Layer<S>
    where
        S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        AuditCounter.with_filter(AuditOnly)
    }
}

struct AuditOnly;

impl<S> Filter<S> for AuditOnly {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        meta.is_event() && meta.target() == AUDIT_TARGET
    }
}

impl<S: Subscriber> Layer<S> for AuditCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != AUDIT_TARGET {
            return;
        }
        let mut kind = EventKind(None);
        event.record(&mut kind);
        count_audit_event(kind.0);
    }
}

fn count_audit_event(kind: Option<&'static str>) {
    if handle().is_none() {
        return;
    }
    match kind {
        Some("login_ok") => metrics::counter!(LOGINS, "result" => "ok").increment(1),
        Some("login_failed") => metrics::counter!(LOGINS, "result" => "failed").increment(1),
        Some("lockout") => metrics::counter!(LOCKOUTS).increment(1),
        _ => {}
    }
}

/// Reads the `event` field of an audit event.
struct EventKind(Option<&'static str>);

impl Visit for EventKind {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.0 = ["login_ok", "login_failed", "lockout"]
                .into_iter()
                .find(|k| *k == value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn labels_do_not_allocate_for_known_values() {
        assert_eq!(&*status_label(StatusCode::UNAUTHORIZED), "401");
        assert_eq!(&*status_label(StatusCode::IM_A_TEAPOT), "418");
        assert_eq!(static_method(&Method::POST), "POST");
        assert_eq!(static_method(&Method::TRACE), "other");
    }

    #[test]
    fn audit_events_are_counted() {
        use tracing_subscriber::layer::SubscriberExt;
        let handle = handle().unwrap();
        let subscriber = tracing_subscriber::registry().with(AuditCounter::layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "plantdb_auth::audit", event = "login_ok", user = "a", "login");
            tracing::info!(target: "plantdb_auth::audit", event = "login_failed", user = "b", reason = "x", "refused");
            tracing::warn!(target: "plantdb_auth::audit", event = "lockout", user = "b", "locked");
            tracing::info!(target: "other", event = "lockout", "ignored");
        });
        let text = handle.render();
        assert!(
            text.contains("plantdb_auth_logins_total{result=\"ok\"}"),
            "{text}"
        );
        assert!(
            text.contains("plantdb_auth_logins_total{result=\"failed\"}"),
            "{text}"
        );
        assert!(text.contains("plantdb_auth_lockouts_total"), "{text}");
    }

    mod through_the_router {
        use axum::body::{to_bytes, Body};
        use axum::http::Request;
        use tower::ServiceExt;

        use crate::request_id::X_REQUEST_ID;
        use crate::test_support::app;

        async fn call(app: &axum::Router, method: &str, uri: &str) -> axum::response::Response {
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header("x-request-id", "client-id-1")
                .body(Body::empty())
                .unwrap();
            // As the server's connection loop does: a local client.
            let local = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(local));
            app.clone().oneshot(request).await.unwrap()
        }

        #[tokio::test]
        async fn requests_are_counted_by_matched_route_and_carry_an_id() {
            let app = app(Some("/plantdb"));
            let answer = call(&app, "POST", "/plantdb/api/v1/auth/token/validation").await;
            assert_eq!(answer.status(), 401);
            assert_eq!(answer.headers()[&X_REQUEST_ID], "client-id-1");
            // The second one goes through the endpoint's cached handles.
            let again = call(&app, "POST", "/plantdb/api/v1/auth/token/validation").await;
            assert_eq!(again.status(), 401);
            let missing = call(&app, "GET", "/plantdb/no/such/route/42").await;
            assert_eq!(missing.status(), 404);
            let scrape = call(&app, "GET", "/metrics").await;
            assert_eq!(scrape.status(), 200);
            let text = String::from_utf8(
                to_bytes(scrape.into_body(), 1 << 20)
                    .await
                    .unwrap()
                    .to_vec(),
            )
            .unwrap();
            let validation =
                "route=\"/plantdb/api/v1/auth/token/validation\",method=\"POST\",status=\"401\"} 2";
            assert!(text.contains(validation), "{text}");
            assert!(text.contains("route=\"unmatched\""), "{text}");
            assert!(!text.contains("/no/such/route"), "{text}");
            assert!(
                text.contains("plantdb_auth_http_request_duration_seconds_bucket"),
                "{text}"
            );
            assert!(text.contains("plantdb_auth_argon2_queue_depth 0"), "{text}");
            assert!(text.contains("plantdb_auth_live_sessions 0"), "{text}");
        }

        #[tokio::test]
        async fn ids_are_generated_when_absent() {
            let app = app(None);
            let request = Request::builder()
                .uri("/api/v1/auth/login?username=admin")
                .body(Body::empty())
                .unwrap();
            let answer = app.oneshot(request).await.unwrap();
            let id = answer.headers()[&X_REQUEST_ID].to_str().unwrap();
            assert!(id.len() > 9 && id.contains('-'), "{id}");
        }
    }
}
