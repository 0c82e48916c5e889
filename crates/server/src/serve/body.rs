//! The bodies around the router: the request body with its minimum rate,
//! and the response body that tells the connection when it is done.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use plantdb_auth_http::error::ErrorCode;
use plantdb_auth_http::ApiError;
use tokio::time::{Instant, Sleep};

use super::state::ConnState;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How slowly a request body may arrive: within `grace`, plus one second
/// per `min_rate` bytes received, of time spent waiting for it.
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    pub grace: Duration,
    pub min_rate: u64,
}

impl BodyRate {
    /// Capped (at a year) so that deadlines stay representable.
    fn allowance(&self, received: u64) -> Duration {
        const CAP: Duration = Duration::from_secs(365 * 86_400);
        let earned = received.saturating_mul(1000) / self.min_rate.max(1);
        self.grace
            .saturating_add(Duration::from_millis(earned))
            .min(CAP)
    }
}

#[derive(Debug)]
struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body arrived below the minimum rate")
    }
}

impl std::error::Error for TooSlow {}

/// A request body that fails once the client has made the server wait for
/// it longer than [`BodyRate`] allows. Only time spent waiting counts: a
/// handler busy with what it already received costs the client nothing.
pub struct MinRateBody {
    inner: Incoming,
    rate: BodyRate,
    received: u64,
    waited: Duration,
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    conn: Arc<ConnState>,
}

impl MinRateBody {
    pub fn new(inner: Incoming, rate: BodyRate, conn: Arc<ConnState>) -> MinRateBody {
        MinRateBody {
            inner,
            rate,
            received: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
            conn,
        }
    }

    fn arrived(&mut self, bytes: usize) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
        self.received = self.received.saturating_add(bytes as u64);
    }

    /// Nothing to read yet: `Ready` with the error once the wait is too long.
    fn poll_patience(&mut self, cx: &mut Context<'_>) -> Poll<TooSlow> {
        let since = *self.waiting_since.get_or_insert_with(Instant::now);
        let left = self
            .rate
            .allowance(self.received)
            .saturating_sub(self.waited);
        let deadline = since + left;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        ready!(timer.as_mut().poll(cx));
        self.conn.mark_body_too_slow();
        Poll::Ready(TooSlow)
    }
}

impl Body for MinRateBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let len = match &frame {
                    Some(Ok(f)) => f.data_ref().map_or(0, Bytes::len),
                    _ => 0,
                };
                this.arrived(len);
                Poll::Ready(frame.map(|f| f.map_err(BoxError::from)))
            }
            Poll::Pending => match this.poll_patience(cx) {
                Poll::Ready(too_slow) => Poll::Ready(Some(Err(too_slow.into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router's response body; when hyper is done with it (or drops it),
/// the connection's last response is in hyper's hands.
pub struct ResponseBody {
    inner: axum::body::Body,
    conn: Arc<ConnState>,
}

impl ResponseBody {
    pub fn new(inner: axum::body::Body, conn: Arc<ConnState>) -> ResponseBody {
        ResponseBody { inner, conn }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.conn.on_response_end();
    }
}

/// Headers the router puts on every answer, kept on the 408 that replaces
/// the answer of a handler whose body came too slowly.
fn kept(name: &header::HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "cache-control" | "x-content-type-options" | "vary" | "x-request-id"
    ) || name.starts_with("access-control-")
}

/// 408 with the JSON error body and `Connection: close`, whatever the
/// handler made of its failed body read (a 400 or 413 would mislead).
pub fn too_slow_response(answered: &HeaderMap, rate: BodyRate) -> Response {
    let message = format!(
        "Request body too slow: the server waits for a body {} s plus 1 s per {} bytes received (--body-timeout, --body-min-rate); nothing was kept, send it again",
        rate.grace.as_secs(),
        rate.min_rate
    );
    let mut response =
        ApiError::new(StatusCode::REQUEST_TIMEOUT, ErrorCode::Timeout, message).into_response();
    let headers = response.headers_mut();
    for (name, value) in answered.iter().filter(|(name, _)| kept(name)) {
        headers.append(name.clone(), value.clone());
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_grows_by_a_second_per_min_rate_bytes() {
        let rate = BodyRate {
            grace: Duration::from_secs(20),
            min_rate: 1024,
        };
        assert_eq!(rate.allowance(0), Duration::from_secs(20));
        assert_eq!(rate.allowance(10 * 1024), Duration::from_secs(30));
        // 1 GiB at the minimum rate: about 12 days, no overflow.
        assert_eq!(rate.allowance(1 << 30), Duration::from_secs(20 + (1 << 20)));
        assert_eq!(rate.allowance(u64::MAX), Duration::from_secs(365 * 86_400));
    }
}
