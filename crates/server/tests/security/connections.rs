//! Connections: slowloris and idle clients, the connection bound, slow
//! bodies, hyper's own answers to unparsable requests, long uploads and a
//! graceful stop, on raw sockets against the real binary. Every server runs
//! with short timeouts (`--header-timeout` and friends) so that the tests
//! stay quick; the bounds checked are generous for a loaded machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Options, Server, HEAVY, REQUEST_BUDGET};
use crate::support::server::ServeCommand;

fn start(args: &[&str]) -> Server {
    Server::start(Options::test_mode().arg("--no-demo").args(args))
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The contract's error body, with a JSON content type.
    fn assert_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}: {self:?}"
        );
        assert_eq!(self.body["code"], code, "{what}: {self:?}");
        let error = self.body["error"].as_str().unwrap_or("");
        assert!(!error.is_empty(), "{what}: no error text: {self:?}");
        assert_eq!(
            self.body["message"], error,
            "{what}: error and message differ"
        );
    }
}

/// Reads one response (head, then `Content-Length` bytes); `None` if the
/// connection ends first. Panics after [`REQUEST_BUDGET`].
async fn read_reply<R: AsyncRead + Unpin>(stream: &mut R) -> Option<Raw> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let head_len = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        let mut raw = Raw {
            status: head.split_whitespace().nth(1)?.parse().ok()?,
            head,
            body: Value::Null,
        };
        let len: usize = raw
            .header("content-length")
            .map_or(Some(0), |v| v.parse().ok())?;
        while buf.len() < head_len + len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        raw.body = serde_json::from_slice(&buf[head_len..head_len + len]).unwrap_or(Value::Null);
        Some(raw)
    };
    tokio::time::timeout(REQUEST_BUDGET, read)
        .await
        .unwrap_or_else(|_| panic!("no response within {REQUEST_BUDGET:?}"))
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(port: u16, request: &[u8]) -> Option<Raw> {
    let mut stream = connect(port).await;
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request).await;
    read_reply(&mut stream).await
}

/// How long after `opened` the server closed `stream`, if within `limit`;
/// with `drip`, one more header byte is sent every second meanwhile.
async fn closed_after(
    stream: &mut TcpStream,
    opened: Instant,
    limit: Duration,
    drip: bool,
) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    while opened.elapsed() < limit {
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(opened.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) if drip => {
                if stream.write_all(b"X").await.is_err() {
                    return Some(opened.elapsed());
                }
            }
            Err(_) => {}
        }
    }
    None
}

/// True if the server has closed `stream` (checked for 100 ms).
async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
    matches!(read, Ok(Ok(0)) | Ok(Err(_)))
}

fn assert_between(took: Option<Duration>, low: f64, high: f64, what: &str) {
    let took = took.unwrap_or_else(|| panic!("{what}: still open after {high} s"));
    let secs = took.as_secs_f64();
    assert!(
        (low..high).contains(&secs),
        "{what}: closed after {secs:.2} s, expected {low}..{high} s"
    );
}

const HEALTH: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";

/// A new client (its own connection) asks for health; how long it took,
/// and the client, whose connection stays open while it is kept.
async fn new_client_served(server: &Server, what: &str) -> (Duration, reqwest::Client) {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_BUDGET)
        .build()
        .unwrap();
    let reply = client
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(reply.status(), 200, "{what}");
    let took = started.elapsed();
    let _ = reply.bytes().await;
    (took, client)
}

async fn assert_serving(server: &Server, what: &str) -> Duration {
    new_client_served(server, what).await.0
}

#[tokio::test]
async fn slowloris_and_silent_clients_are_cut_at_the_header_timeout() {
    let server = start(&["--header-timeout", "2", "--idle-timeout", "30"]);
    let (mut slow, mut silent) = (connect(server.port).await, connect(server.port).await);
    let opened = Instant::now();
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header byte a second: never a complete head.
    let limit = Duration::from_secs(10);
    let (slow_took, silent_took) = tokio::join!(
        closed_after(&mut slow, opened, limit, true),
        closed_after(&mut silent, opened, limit, false)
    );
    assert_between(slow_took, 1.5, 5.0, "one header byte a second");
    assert_between(silent_took, 1.5, 5.0, "nothing sent");
    assert_serving(&server, "after the slow clients").await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let server = start(&["--header-timeout", "1", "--idle-timeout", "3"]);
    let mut stream = connect(server.port).await;
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_reply(&mut stream).await.map(|r| r.status), Some(200));
    // Past the header timeout, within the idle one: still usable.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(HEALTH).await.unwrap();
    let second = read_reply(&mut stream).await;
    assert_eq!(second.map(|r| r.status), Some(200), "kept alive for 1.5 s");
    let answered = Instant::now();
    let took = closed_after(&mut stream, answered, Duration::from_secs(10), false).await;
    assert_between(took, 2.5, 6.0, "idle after a response");
}

#[tokio::test]
async fn idle_and_slow_clients_do_not_keep_new_clients_out() {
    let server = start(&[
        "--max-connections",
        "8",
        "--header-timeout",
        "4",
        "--idle-timeout",
        "30",
    ]);
    let opened = Instant::now();
    let mut hogs = Vec::new();
    for i in 0..8 {
        let mut stream = connect(server.port).await;
        if i % 2 == 1 {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        hogs.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Each new client takes the slot of the longest-waiting hog at once
    // (the clients are kept: their connections stay open too).
    let mut clients = Vec::new();
    for round in 0..3 {
        let (took, client) = new_client_served(&server, &format!("new client {round}")).await;
        assert!(
            took < Duration::from_secs(3),
            "new client {round} waited {took:?}"
        );
        clients.push(client);
    }
    let mut evicted = 0;
    for hog in &mut hogs {
        evicted += usize::from(is_closed(hog).await);
    }
    assert!(evicted >= 3, "{evicted} hogs closed for 3 new clients");
    // The header timeout frees the others.
    for hog in &mut hogs {
        let took = closed_after(hog, opened, Duration::from_secs(10), false).await;
        assert!(took.is_some(), "a hog outlived the header timeout");
    }
    assert_serving(&server, "after the hogs").await;
}

#[tokio::test]
async fn when_every_slot_has_a_request_in_progress_a_new_client_waits_for_one() {
    let server = start(&["--max-connections", "8", "--body-timeout", "2"]);
    let head = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    let mut busy = Vec::new();
    for _ in 0..8 {
        let mut stream = connect(server.port).await;
        stream.write_all(head).await.unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = assert_serving(&server, "the 9th client").await;
    assert!(
        waited > Duration::from_millis(800),
        "served after {waited:?}: a 9th connection was opened"
    );
    for stream in &mut busy {
        let reply = read_reply(stream)
            .await
            .expect("an answer to the stalled body");
        reply.assert_error(408, "timeout", "stalled body");
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
}

/// A login whose body (whitespace-padded JSON) is sent in 1 KiB pieces,
/// `pause` apart; the answer is read while it is being sent.
async fn login_sent_at(port: u16, body_len: usize, pause: Duration) -> Option<Raw> {
    let json = br#"{"username":"nobody","password":"not-the-password"}"#;
    let mut body = vec![b' '; body_len - json.len()];
    body.extend_from_slice(json);
    let (mut reader, mut writer) = connect(port).await.into_split();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for piece in body.chunks(1024) {
            writer.write_all(piece).await?;
            tokio::time::sleep(pause).await;
        }
        std::io::Result::Ok(writer)
    });
    let reply = read_reply(&mut reader).await;
    sending.abort();
    reply
}

#[tokio::test]
async fn a_body_below_the_minimum_rate_is_408_and_one_above_it_is_not() {
    let server = start(&["--body-timeout", "1", "--body-min-rate", "1024"]);
    let started = Instant::now();
    let (slow, steady) = tokio::join!(
        // 1 KiB every 4 s: a quarter of the minimum rate.
        login_sent_at(server.port, 8 * 1024, Duration::from_secs(4)),
        // 12 KiB at 4 KiB/s: 3 s, longer than --body-timeout.
        login_sent_at(server.port, 12 * 1024, Duration::from_millis(250)),
    );
    let slow = slow.expect("an answer to the slow body");
    slow.assert_error(408, "timeout", "256 bytes/s");
    let steady = steady.expect("an answer to the steady body");
    steady.assert_error(401, "invalid_credentials", "4 KiB/s");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn hypers_own_parse_errors_carry_the_json_error_body() {
    let server = start(&[]);
    let mut many_headers = String::from("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        many_headers.push_str(&format!("X-Filler-{i}: v\r\n"));
    }
    many_headers.push_str("\r\n");
    let big_header = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(66 * 1024)
    );
    let cases: [(&str, &[u8], u16); 5] = [
        ("garbage request line", b"GARBAGE\r\n\r\n", 400),
        (
            "header without a colon",
            b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
            400,
        ),
        (
            "space before the colon",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            400,
        ),
        ("200 headers", many_headers.as_bytes(), 431),
        ("66 KiB header", big_header.as_bytes(), 431),
    ];
    for (what, request, status) in cases {
        let reply = exchange(server.port, request)
            .await
            .unwrap_or_else(|| panic!("{what}: no answer"));
        reply.assert_error(status, "invalid_input", what);
        assert_eq!(reply.header("connection"), Some("close"), "{what}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    }
    // On a kept-alive connection, after a first request.
    let mut stream = connect(server.port).await;
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_reply(&mut stream).await.map(|r| r.status), Some(200));
    stream.write_all(b"GARBAGE\r\n\r\n").await.unwrap();
    let reply = read_reply(&mut stream).await.expect("an answer");
    reply.assert_error(400, "invalid_input", "second request");
}

#[tokio::test]
async fn a_50_mb_upload_at_a_normal_rate_outlasts_the_body_timeout() {
    let _heavy = HEAVY.lock().await;
    let server = start(&["--body-timeout", "1"]);
    let admin = server.admin_token().await;
    for (path, body) in [
        ("/api/v1/scans/s", json!({"metadata": {}})),
        ("/api/v1/filesets/s/fs", json!({})),
    ] {
        server
            .post_json(path, Some(&admin), &body)
            .await
            .expect(201);
    }
    let boundary = "connectionsTestBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"ext\"\r\n\r\nply\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.ply\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    let size = 50_000_000;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /api/v1/files/s/fs/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = connect(server.port).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    // 1 MiB every 40 ms (~25 MB/s): about 2 s, twice --body-timeout.
    let started = Instant::now();
    for piece in body.chunks(1 << 20) {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let reply = read_reply(&mut stream)
        .await
        .expect("an answer to the upload");
    assert_eq!(reply.status, 201, "{reply:?}");
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let stored = server
        .request(reqwest::Method::GET, "/api/v1/files/s/fs/big")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.unwrap();
    assert!(
        stored == data,
        "the stored file differs ({} bytes)",
        stored.len()
    );
}

#[tokio::test]
async fn sigterm_lets_the_request_in_progress_finish() {
    let process = Arc::new(
        ServeCommand::new()
            .args(["--test", "--no-demo", "--no-rate-limits"])
            .env("PLANTDB_LOG_LEVEL", "warn")
            .start(),
    );
    let port = process.port();
    let body = br#"{"username":"nobody","password":"not-the-password"}"#;
    let mut in_flight = connect(port).await;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body[..10]).await.unwrap();
    let mut idle = connect(port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Arc::clone(&process);
    let stopped = tokio::task::spawn_blocking(move || stopping.terminate(Duration::from_secs(15)));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(is_closed(&mut idle).await, "an idle connection stays open");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "still accepting after SIGTERM"
    );
    in_flight.write_all(&body[10..]).await.unwrap();
    let reply = read_reply(&mut in_flight)
        .await
        .expect("the in-flight answer");
    reply.assert_error(401, "invalid_credentials", "login in flight");
    let status = stopped.await.unwrap().expect("the server did not exit");
    assert!(status.success(), "exit status {status:?}");
}

/// `GET /api/v1/health` from the local address `from`.
async fn health_from(port: u16, from: [u8; 4]) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let mut stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    read_reply(&mut stream).await.expect("an answer").status
}

#[tokio::test]
async fn the_rate_limiter_still_sees_each_clients_address() {
    let opts = Options::test_mode()
        .args(&["--no-demo", "--rate-limit-health", "2"])
        .with_rate_limits();
    let server = Server::start(opts);
    let statuses = [
        health_from(server.port, [127, 0, 0, 2]).await,
        health_from(server.port, [127, 0, 0, 2]).await,
        health_from(server.port, [127, 0, 0, 2]).await,
    ];
    assert_eq!(statuses, [200, 200, 429], "from 127.0.0.2");
    assert_eq!(
        health_from(server.port, [127, 0, 0, 1]).await,
        200,
        "another client"
    );
}
