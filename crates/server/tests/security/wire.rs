//! Below reqwest: raw bytes on a socket, and hand-encoded query strings.

use std::io::Read as _;
use std::time::Instant;

use crate::helpers::REQUEST_BUDGET;

/// Sends raw bytes on a new connection and returns the status code of the
/// answer, or `None` if the server closed the connection without one.
/// Panics if nothing happens within [`REQUEST_BUDGET`] (a hang).
pub fn raw_status(port: u16, request: &[u8]) -> Option<u16> {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let _ = stream.set_read_timeout(Some(REQUEST_BUDGET));
    let _ = stream.set_write_timeout(Some(REQUEST_BUDGET));
    // The server may answer and close before the whole request is written.
    let _ = stream.write_all(request);
    let _ = stream.flush();
    let started = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer after {:?}: {e}", started.elapsed()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1).and_then(|s| s.parse().ok())
}

/// `path?username=<value>`, percent-encoding every byte outside the
/// unreserved set.
pub fn username_query(path: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{path}?username={encoded}")
}
