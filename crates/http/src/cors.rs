//! CORS, with the answers of tower-http's `CorsLayer::permissive()` whose
//! allowed request headers mirror the preflight's (the configuration this
//! server had), optionally restricted to a list of origins
//! (`--cors-origin`):
//!
//! - every answer: `Vary: access-control-request-headers` (`origin, ...`
//!   with a list), `Access-Control-Allow-Origin: *` (with a list: the
//!   request's `Origin` when listed, else nothing);
//! - a preflight (any `OPTIONS` request): 200, no body, also
//!   `Access-Control-Allow-Methods: *` and `Access-Control-Allow-Headers`
//!   echoing `Access-Control-Request-Headers`; the route is not called;
//! - any other answer: also `Access-Control-Expose-Headers: *`.
//!
//! Hand-written, not tower-http's: that one clones its whole configuration
//! and builds a header map for every request, which cost 12% of the token
//! validation throughput (`bench/floor.sh`, pinned: 0.79 of the floor with
//! it, 0.91 without). This one shares its configuration and writes the
//! headers straight into the answer. `tests/api/cors.rs` checks the answers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tower::{Layer, Service};

/// Which origins may read the answers.
#[derive(Debug)]
struct Config {
    /// `None`: any (`*`).
    origins: Option<Vec<HeaderValue>>,
    vary: HeaderValue,
}

impl Config {
    /// The `Access-Control-Allow-Origin` of a request from `origin`.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match &self.origins {
            None => Some(HeaderValue::from_static("*")),
            Some(list) => origin.filter(|o| list.contains(o)).cloned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CorsLayer {
    config: Arc<Config>,
}

impl CorsLayer {
    /// Any origin when `origins` names none, else those (empty and invalid
    /// ones are skipped: settings validation has refused the invalid).
    pub fn new(origins: &[String]) -> CorsLayer {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter(|o| !o.is_empty())
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let (origins, vary) = match list.is_empty() {
            true => (None, "access-control-request-headers"),
            false => (Some(list), "origin, access-control-request-headers"),
        };
        CorsLayer {
            config: Arc::new(Config {
                origins,
                vary: HeaderValue::from_static(vary),
            }),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request> for Cors<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let allow_origin = self
            .config
            .allow_origin(request.headers().get(header::ORIGIN));
        if request.method() == Method::OPTIONS {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(header::VARY, self.config.vary.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("*"),
            );
            if let Some(asked) = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            if let Some(origin) = allow_origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            return CorsFuture::Preflight {
                response: Some(response),
            };
        }
        CorsFuture::Call {
            future: self.inner.call(request),
            vary: self.config.vary.clone(),
            allow_origin,
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer with the CORS headers, or the preflight's.
    #[project = CorsFutureProj]
    pub enum CorsFuture<F> {
        Preflight { response: Option<Response> },
        Call {
            #[pin]
            future: F,
            vary: HeaderValue,
            allow_origin: Option<HeaderValue>,
        },
    }
}

impl<F> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CorsFutureProj::Preflight { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_default()))
            }
            CorsFutureProj::Call {
                future,
                vary,
                allow_origin,
            } => {
                let mut response = match future.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => return Poll::Pending,
                };
                add_headers(response.headers_mut(), vary, allow_origin.take());
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// As tower-http: `Vary` added to what the route set, the others replaced.
fn add_headers(headers: &mut HeaderMap, vary: &HeaderValue, allow_origin: Option<HeaderValue>) {
    headers.append(header::VARY, vary.clone());
    if let Some(origin) = allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("*"),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn answer(layer: &CorsLayer, request: Request) -> Response {
        let route = tower::service_fn(|_: Request| async {
            let mut response = Response::new(Body::from("ok"));
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            Ok::<_, Infallible>(response)
        });
        layer.layer(route).oneshot(request).await.unwrap()
    }

    fn request(method: Method, origin: Option<&str>) -> Request {
        let mut builder = Request::builder().method(method).uri("/x");
        if let Some(o) = origin {
            builder = builder.header(header::ORIGIN, o);
        }
        builder
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn any_origin_by_default_with_the_answers_of_tower_http_permissive() {
        let layer = CorsLayer::new(&[]);
        let got = answer(&layer, request(Method::GET, Some("http://a.org"))).await;
        let h = got.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[header::ACCESS_CONTROL_EXPOSE_HEADERS], "*");
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", "access-control-request-headers"]);
        let pre = answer(&layer, request(Method::OPTIONS, Some("http://a.org"))).await;
        let h = pre.headers();
        assert_eq!(pre.status(), StatusCode::OK);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "*");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], "authorization");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(h.get(header::ACCESS_CONTROL_EXPOSE_HEADERS).is_none());
    }

    #[tokio::test]
    async fn a_list_echoes_listed_origins_only() {
        let layer = CorsLayer::new(&["http://a.org".to_string()]);
        let got = answer(&layer, request(Method::GET, Some("http://a.org"))).await;
        assert_eq!(
            got.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://a.org"
        );
        let vary: Vec<_> = got.headers().get_all(header::VARY).iter().collect();
        assert_eq!(
            vary,
            ["accept-encoding", "origin, access-control-request-headers"]
        );
        let other = answer(&layer, request(Method::GET, Some("http://b.org"))).await;
        assert!(other
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        let none = answer(&layer, request(Method::OPTIONS, None)).await;
        assert!(none
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
    }
}
