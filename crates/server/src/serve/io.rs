//! The connection's socket as hyper sees it: every read and write tells the
//! connection's state where it stands, and hyper's own bodiless answer to a
//! request head it cannot parse (400, 414, 431) is replaced by the same
//! answer with the JSON error body.
//!
//! hyper offers no hook for those answers (hyperium/hyper#2583, #3225): it
//! writes them itself before reporting the error. They are recognised by
//! where the connection stands, not by their bytes alone: between requests
//! (no request handed to the router, the last response wholly flushed)
//! nothing but such an answer can be written.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::state::ConnState;
use super::MAX_HEAD_BYTES;

pub struct WatchedIo {
    stream: TcpStream,
    conn: Arc<ConnState>,
    /// Our answer instead of hyper's, and how much of it is sent.
    reply: Option<(Vec<u8>, usize)>,
}

impl WatchedIo {
    pub fn new(stream: TcpStream, conn: Arc<ConnState>) -> WatchedIo {
        WatchedIo {
            stream,
            conn,
            reply: None,
        }
    }

    /// Recognises hyper's answer to an unparsable head in what it writes.
    fn intercept(&mut self, first: &[u8]) -> bool {
        if self.reply.is_none() && self.conn.between_requests() {
            self.reply = json_reply(first).map(|bytes| (bytes, 0));
        }
        self.reply.is_some()
    }

    fn poll_send_reply(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((bytes, sent)) = &mut self.reply else {
            return Poll::Ready(Ok(()));
        };
        while *sent < bytes.len() {
            let polled = Pin::new(&mut self.stream).poll_write(cx, &bytes[*sent..]);
            self.conn.on_write(polled.is_pending());
            match ready!(polled)? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => *sent += n,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn tracked<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        self.conn.on_write(polled.is_pending());
        polled
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.conn.on_bytes_read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.intercept(buf) {
            ready!(this.poll_send_reply(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.tracked(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
        if this.intercept(first) {
            ready!(this.poll_send_reply(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.tracked(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_reply(cx))?;
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = polled {
            this.conn.on_flushed();
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_reply(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// hyper's bodiless `HTTP/1.1 400|414|431` head, as the same status with
/// the JSON error body; `None` for anything else.
fn json_reply(written: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(written)
        .ok()?
        .split("\r\n\r\n")
        .next()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let message = match code {
        "400" => "Malformed HTTP request: the request line or a header could not be parsed".to_owned(),
        "414" => "Request URI too long".to_owned(),
        "431" => format!(
            "Request header fields too large: the request line and headers may take {} KiB and 100 fields at most",
            MAX_HEAD_BYTES / 1024
        ),
        _ => return None,
    };
    let body = json!({"error": message, "message": message, "code": "invalid_input"}).to_string();
    let mut reply = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n",
        body.len()
    );
    for date in lines.filter(|l| l.get(..5).is_some_and(|n| n.eq_ignore_ascii_case("date:"))) {
        reply.push_str(date);
        reply.push_str("\r\n");
    }
    reply.push_str("\r\n");
    reply.push_str(&body);
    Some(reply.into_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(reply: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(reply.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn hypers_parse_errors_get_the_json_error_body() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
        let (head, body) = parts(&json_reply(hyper).unwrap());
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(!head.contains("content-length: 0"));
        assert_eq!(body["code"], "invalid_input");
        assert_eq!(body["error"], body["message"]);
        let (head, body) =
            parts(&json_reply(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").unwrap());
        assert!(head.contains(&format!("content-length: {}", body.to_string().len())));
    }

    #[test]
    fn anything_else_is_left_alone() {
        for written in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 413 Payload Too Large\r\n\r\n",
            b"0\r\n\r\n",
            b"",
            b"HTTP/1.1 4",
        ] {
            assert!(json_reply(written).is_none(), "{written:?}");
        }
    }
}
