//! Per-client-IP rate limits over a sliding 60-second window, as the Python
//! server counts them (see `plantdb_auth_core::window`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use plantdb_auth_core::window::SlidingWindow;

use crate::error::{ApiError, ErrorCode};
use crate::extract::client_ip;
use crate::state::AppState;

pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Register,
    Login,
    LoginCheck,
    Health,
    /// Data reads (listings, scan info, files, previews from the cache).
    DataRead,
    /// `/refresh` of the whole database.
    Refresh,
    /// `/refresh?scan_id=`.
    RefreshScan,
    /// Archive download and upload.
    Archive,
    /// Work that costs CPU per request: point-cloud and mesh coordinates.
    Heavy,
    /// Data writes (scans, filesets, files, metadata, timelapses).
    DataWrite,
}

/// Requests allowed per client per window, per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub register: u32,
    pub login: u32,
    pub login_check: u32,
    pub health: u32,
    pub data_read: u32,
    pub refresh: u32,
    pub refresh_scan: u32,
    pub archive: u32,
    pub heavy: u32,
    pub data_write: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            register: 5,
            login: 20,
            login_check: 120,
            health: 120,
            data_read: 6000,
            refresh: 12,
            refresh_scan: 60,
            archive: 10,
            heavy: 60,
            data_write: 6000,
        }
    }
}

impl RateLimits {
    fn limit(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::Register => self.register,
            Bucket::Login => self.login,
            Bucket::LoginCheck => self.login_check,
            Bucket::Health => self.health,
            Bucket::DataRead => self.data_read,
            Bucket::Refresh => self.refresh,
            Bucket::RefreshScan => self.refresh_scan,
            Bucket::Archive => self.archive,
            Bucket::Heavy => self.heavy,
            Bucket::DataWrite => self.data_write,
        }
    }
}

#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    hits: SlidingWindow<(IpAddr, Bucket)>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            hits: SlidingWindow::new(WINDOW),
        }
    }

    /// Counts a request; `Err(seconds)` when over the limit, with the time
    /// until the oldest counted request leaves the window.
    pub fn check(&self, ip: IpAddr, bucket: Bucket, now: Instant) -> Result<(), u64> {
        self.hits
            .check((ip, bucket), self.limits.limit(bucket), now)
    }
}

/// Counts one request of the client in `bucket`; the 429 to answer when
/// over the limit. For handlers that choose the bucket from the request.
/// IPv6 clients count per /64 ([`crate::proxy::rate_key`]).
pub fn check(state: &AppState, ip: IpAddr, bucket: Bucket) -> Result<(), ApiError> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    limiter
        .check(crate::proxy::rate_key(ip), bucket, Instant::now())
        .map_err(|retry_after| {
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!("Too many requests: try again in {retry_after} seconds"),
            );
            err.retry_after = Some(retry_after);
            err
        })
}

/// Middleware applied to one route: `from_fn_with_state((state, bucket), limit)`.
pub async fn limit(
    State((state, bucket)): State<(AppState, Bucket)>,
    request: Request,
    next: Next,
) -> Response {
    if state.limiter.is_some() {
        let (parts, body) = request.into_parts();
        let ip = client_ip(&parts, &state.config.trusted_proxies);
        if let Err(e) = check(&state, ip, bucket) {
            return e.into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_allows_the_limit_then_reports_the_wait() {
        let limiter = RateLimiter::new(RateLimits {
            login: 3,
            ..RateLimits::default()
        });
        let ip = IpAddr::from([10, 0, 0, 1]);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limiter
                .check(ip, Bucket::Login, t0 + Duration::from_secs(i))
                .is_ok());
        }
        assert_eq!(
            limiter.check(ip, Bucket::Login, t0 + Duration::from_secs(10)),
            Err(50)
        );
        assert!(limiter
            .check(IpAddr::from([10, 0, 0, 2]), Bucket::Login, t0)
            .is_ok());
        assert!(
            limiter.check(ip, Bucket::Health, t0).is_ok(),
            "buckets are separate"
        );
        assert!(limiter
            .check(ip, Bucket::Login, t0 + Duration::from_secs(60))
            .is_ok());
    }
}
