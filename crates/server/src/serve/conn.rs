//! One connection's task: hyper's HTTP/1 connection over the watched
//! socket, the router behind it, and the deadline that closes it.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::{HttpService, Service as _};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;

use super::body::{too_slow_response, BodyRate, MinRateBody, ResponseBody};
use super::io::WatchedIo;
use super::slots::Slot;
use super::state::{CloseRequest, ConnState, Expiry};
use super::MAX_HEAD_BYTES;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    Served(hyper::Result<()>),
    Expired(Expiry),
    Closed(CloseRequest),
}

/// Serves `stream` until the client, a deadline or a close request ends
/// it; the slot is freed when this returns.
pub async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    rate: BodyRate,
    conn: Arc<ConnState>,
    slot: Slot,
) {
    let service = router_service(router, peer, rate, Arc::clone(&conn));
    let io = TokioIo::new(WatchedIo::new(stream, Arc::clone(&conn)));
    // hyper's own header timer also runs while a kept-alive connection
    // waits for its next request, so it cannot give a short header timeout
    // and a longer idle one: the deadlines are ours (`ConnState`).
    let connection = http1::Builder::new()
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES)
        .serve_connection(io, service);
    match supervise(connection, &conn).await {
        Ended::Served(Ok(())) => {}
        Ended::Served(Err(e)) => tracing::debug!(%peer, error = %e, "connection failed"),
        Ended::Expired(why) => tracing::debug!(%peer, ?why, "connection timed out"),
        Ended::Closed(why) => tracing::debug!(%peer, ?why, "connection closed"),
    }
    drop(slot);
}

/// The router as hyper calls it: each request marks the connection busy,
/// gets the minimum-rate body and the peer address, and its response body
/// tells the connection when it is done.
fn router_service(
    router: Router,
    peer: SocketAddr,
    rate: BodyRate,
    conn: Arc<ConnState>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<ResponseBody>,
    Error = Infallible,
    Future: Send,
> {
    let router = TowerToHyperService::new(router);
    hyper::service::service_fn(move |req: Request<Incoming>| {
        conn.on_request();
        let mut req =
            req.map(|body| axum::body::Body::new(MinRateBody::new(body, rate, Arc::clone(&conn))));
        // What `into_make_service_with_connect_info` did: the rate limiter
        // and the client address read it.
        req.extensions_mut().insert(ConnectInfo(peer));
        let answer = router.call(req);
        let conn = Arc::clone(&conn);
        async move {
            let response = answer.await.unwrap_or_else(|never| match never {});
            let response = if conn.take_body_too_slow() {
                tracing::debug!(%peer, "request body below the minimum rate: answered 408");
                too_slow_response(response.headers(), rate)
            } else {
                response
            };
            Ok(response.map(|body| ResponseBody::new(body, conn)))
        }
    })
}

/// Drives the connection; after each step, closes it if asked to (at once
/// between requests, after the request in progress otherwise) or if its
/// deadline has passed.
async fn supervise<I, S, B>(connection: http1::Connection<I, S>, conn: &ConnState) -> Ended
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    let mut connection = pin!(connection);
    let mut timer = pin!(tokio::time::sleep(Duration::from_secs(86_400)));
    let mut finishing = false;
    poll_fn(|cx| {
        conn.register(cx.waker());
        if let Some(why) = conn.close_requested() {
            if conn.between_requests() {
                return Poll::Ready(Ended::Closed(why));
            }
            if !finishing {
                connection.as_mut().graceful_shutdown();
                finishing = true;
            }
        }
        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
            return Poll::Ready(Ended::Served(result));
        }
        let Some((at, why)) = conn.deadline() else {
            return Poll::Pending;
        };
        if timer.deadline() != at {
            timer.as_mut().reset(at);
        }
        timer.as_mut().poll(cx).map(|()| Ended::Expired(why))
    })
    .await
}
