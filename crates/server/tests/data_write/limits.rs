//! Body limits and stalled uploads (data-api.md §9.1, §13.4): 413 over
//! `--max-upload-size` / `--max-json-body`, 408 for an upload that stops
//! sending, 400 for malformed multipart; nothing is ever kept.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::zip::{self, Entry};

async fn with_fileset(extra: &[&str]) -> (TestApp, String) {
    let app = spawn(extra).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({"k": "v"})).await;
    app.fileset(&admin, "s", "fs").await;
    (app, admin)
}

/// Nothing but the committed files in the fileset, and files.json as it was.
fn assert_fileset_clean(app: &TestApp, files: &[&str], what: &str) {
    let expect: Vec<String> = files.iter().map(|s| s.to_string()).collect();
    assert_eq!(names_in(&app.root.join("s/fs")), expect, "{what}");
    assert_eq!(
        hidden_under(&app.root.join("s")),
        Vec::<String>::new(),
        "{what}"
    );
    let index = read_json(&app.root.join("s/files.json"));
    let listed = index["filesets"][0]["files"].as_array().unwrap().len();
    assert_eq!(listed, files.len(), "{what}: {index}");
}

#[tokio::test]
async fn uploads_over_max_upload_size_are_413_and_leave_nothing() {
    let (app, admin) = with_fileset(&["--max-upload-size", "1000"]).await;
    for size in [2000usize, 1001, 200_000] {
        let r = app
            .upload(
                Some(&admin),
                "s",
                "fs",
                "big",
                "ply",
                &vec![7u8; size],
                None,
            )
            .await;
        r.expect_error(413, "payload_too_large", &format!("{size} bytes"));
        assert_fileset_clean(&app, &[], &format!("{size} bytes"));
    }
    // The limit itself is fine, and the server keeps serving.
    let data = bytes_for("fits", 1000);
    app.upload(Some(&admin), "s", "fs", "big", "ply", &data, None)
        .await
        .expect(201, "1000 bytes");
    let r = app.get("/api/v1/files/s/fs/big", None).await;
    assert_eq!(r.bytes, data);
    assert_fileset_clean(&app, &["big.ply"], "after");

    // An archive over the limit: 413, no scan, nothing staged.
    let mut entries = zip::scan_entries(&json!({}));
    entries.push(Entry::file("images/pad.jpg", &[1u8; 1500]));
    let r = app
        .post_form(
            "/api/v1/assets/archive/too_big",
            Some(&admin),
            zip_form(&zip::build(&entries)),
        )
        .await;
    r.expect_error(413, "payload_too_large", "archive");
    assert!(!app.root.join("too_big").exists());
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
    app.get("/api/v1/scans", None).await.expect(200, "serving");
}

#[tokio::test]
async fn json_bodies_over_max_json_body_are_413() {
    let (app, admin) = with_fileset(&["--max-json-body", "100"]).await;
    let big = json!({"metadata": {"pad": "x".repeat(150)}});
    let small = json!({"metadata": {"pad": "x"}});
    for path in [
        "/api/v1/scans/s/metadata",
        "/api/v1/filesets/s/fs/metadata",
        "/api/v1/scans/new_scan",
        "/api/v1/filesets/s/new_fs",
    ] {
        let r = app.post_json(path, Some(&admin), &big).await;
        r.expect_error(413, "payload_too_large", path);
    }
    let r = app
        .post_json(
            "/api/v1/timelapses",
            Some(&admin),
            &json!({"id": "tl", "metadata": {"pad": "x".repeat(150)}}),
        )
        .await;
    r.expect_error(413, "payload_too_large", "timelapse");
    assert!(!app.root.join("new_scan").exists());
    assert!(!app.root.join("s/new_fs").exists());
    assert!(!app.root.join("tl").exists());
    assert_eq!(app.scan_metadata_on_disk("s")["k"], "v");
    assert!(app.scan_metadata_on_disk("s").get("pad").is_none());
    // The multipart metadata field has the same limit.
    let pad = format!("{{\"pad\": \"{}\"}}", "x".repeat(150));
    let r = app
        .upload(Some(&admin), "s", "fs", "f", "txt", b"data", Some(&pad))
        .await;
    r.expect_error(413, "payload_too_large", "upload metadata field");
    assert_fileset_clean(&app, &[], "metadata field");
    // Under the limit.
    app.post_json("/api/v1/scans/s/metadata", Some(&admin), &small)
        .await
        .expect(200, "small");
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "f",
        "txt",
        &vec![b'a'; 5000],
        Some("{\"ok\": 1}"),
    )
    .await
    .expect(201, "file bigger than the JSON limit");
}

/// Sends the head of a request and `body_part`, then waits for an answer
/// (at most `wait`): `(status or None if closed without one, elapsed)`.
async fn stall(
    app: &TestApp,
    head: &str,
    body_part: &[u8],
    wait: Duration,
) -> (Option<u16>, Duration) {
    stall_observing(app, head, body_part, wait).await.0
}

/// [`stall`], plus the hidden entries under the scan `s` when the wait
/// ended (the connection still open).
async fn stall_observing(
    app: &TestApp,
    head: &str,
    body_part: &[u8],
    wait: Duration,
) -> ((Option<u16>, Duration), Vec<String>) {
    let mut stream = TcpStream::connect(app.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body_part).await.unwrap();
    stream.flush().await.unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let elapsed = start.elapsed();
    let hidden = hidden_under(&app.root.join("s"));
    if read.is_err() {
        return ((None, elapsed.max(wait)), hidden);
    }
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .or(Some(0)); // closed without an answer: 0
    ((status, elapsed), hidden)
}

fn upload_head(app: &TestApp, token: &str, path: &str, ct: &str, len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ct}\r\nContent-Length: {len}\r\n\r\n",
        app.addr()
    )
}

async fn wait_clean(app: &TestApp) {
    // The handler cleans up when it ends; give it a moment.
    for _ in 0..40 {
        if hidden_under(&app.root.join("s")).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stalled_upload_is_abandoned_and_leaves_nothing() {
    let (app, admin) = with_fileset(&["--upload-stall-timeout", "2"]).await;
    let (ct, body) = upload_form(&bytes_for("stall", 20_000), "ply", None).finish();
    let head = upload_head(&app, &admin, "/api/v1/files/s/fs/stalled", &ct, body.len());
    // Half the body: the file's bytes stop in the middle.
    let (status, elapsed) = stall(
        &app,
        &head,
        &body[..body.len() / 2],
        Duration::from_secs(10),
    )
    .await;
    assert!(
        matches!(status, Some(408) | Some(0)),
        "stalled mid-file: {status:?} after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    wait_clean(&app).await;
    assert_fileset_clean(&app, &[], "stalled mid-file");
    // The server keeps working; the same id can be uploaded.
    app.upload(Some(&admin), "s", "fs", "stalled", "ply", b"ok", None)
        .await
        .expect(201, "after a stall");
}

/// A client that sends the headers and then (almost) nothing: the stall
/// limit applies to the whole upload body, not only to the file's bytes.
#[tokio::test]
async fn an_upload_that_stalls_before_the_file_part_is_abandoned() {
    let (app, admin) = with_fileset(&["--upload-stall-timeout", "2"]).await;
    let (ct, body) = upload_form(&bytes_for("stall", 2_000), "ply", None).finish();
    let head = upload_head(&app, &admin, "/api/v1/files/s/fs/early", &ct, body.len());
    let mut outcomes = Vec::new();
    // Nothing of the body; the middle of the first part's headers; the
    // file sent whole but the `ext` field after it cut.
    let after_file = body.len() - 40;
    for cut in [0usize, 20, after_file] {
        let ((status, elapsed), hidden) =
            stall_observing(&app, &head, &body[..cut], Duration::from_secs(4)).await;
        outcomes.push(format!(
            "{cut} of {} body bytes sent, then nothing: {status:?} after {elapsed:.1?} \
             (None = no answer); temporaries meanwhile: {hidden:?}",
            body.len()
        ));
        let ok = matches!(status, Some(408) | Some(0)) && elapsed < Duration::from_secs(4);
        if ok {
            outcomes.pop();
        }
    }
    wait_clean(&app).await;
    assert!(outcomes.is_empty(), "{}", outcomes.join("\n"));
    assert_fileset_clean(&app, &[], "stalled before the file");
}

#[tokio::test]
async fn a_stalled_archive_upload_is_abandoned() {
    let (app, admin) = with_fileset(&["--upload-stall-timeout", "2"]).await;
    let mut entries = zip::scan_entries(&json!({}));
    entries.push(Entry::file("images/pad.jpg", &bytes_for("pad", 20_000)));
    let (ct, body) = zip_form(&zip::build(&entries)).finish();
    let head = upload_head(
        &app,
        &admin,
        "/api/v1/assets/archive/stalled",
        &ct,
        body.len(),
    );
    let (status, elapsed) = stall(
        &app,
        &head,
        &body[..body.len() / 2],
        Duration::from_secs(10),
    )
    .await;
    assert!(
        matches!(status, Some(408) | Some(0)) && elapsed < Duration::from_secs(8),
        "{status:?} after {elapsed:?}"
    );
    for _ in 0..40 {
        if names_in(&app.root.join(".plantdb-tmp")).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
    assert!(!app.root.join("stalled").exists());
}

#[tokio::test]
async fn malformed_multipart_is_400_and_leaves_nothing() {
    let (app, admin) = with_fileset(&[]).await;
    let path = "/api/v1/files/s/fs/m";
    let b = "XyZbOuNdArY";
    let mp = format!("multipart/form-data; boundary={b}");
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("no boundary parameter", "multipart/form-data".into(), b"--x\r\n\r\n".to_vec()),
        ("garbage body", mp.clone(), b"this is not multipart at all".to_vec()),
        ("empty body", mp.clone(), Vec::new()),
        (
            "no closing delimiter",
            mp.clone(),
            format!("--{b}\r\nContent-Disposition: form-data; name=\"ext\"\r\n\r\ntxt\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc").into_bytes(),
        ),
        (
            "part without headers end",
            mp.clone(),
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"").into_bytes(),
        ),
        (
            "part without Content-Disposition",
            mp.clone(),
            format!("--{b}\r\nContent-Type: text/plain\r\n\r\nabc\r\n--{b}--\r\n").into_bytes(),
        ),
        ("urlencoded form", "application/x-www-form-urlencoded".into(), b"file=abc&ext=txt".to_vec()),
        ("no content type", String::new(), b"abc".to_vec()),
    ];
    for (what, ct, body) in cases {
        let r = if ct.is_empty() {
            app.send(reqwest::Method::POST, path, Some(&admin), None, body)
                .await
        } else {
            app.post_raw(path, Some(&admin), &ct, &body).await
        };
        r.expect_error(400, "invalid_input", what);
        assert_fileset_clean(&app, &[], what);
    }
    // The archive route too.
    let r = app
        .post_raw("/api/v1/assets/archive/m", Some(&admin), &mp, b"garbage")
        .await;
    r.expect_error(400, "invalid_input", "archive garbage");
    assert!(!app.root.join("m").exists());
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    let (app, admin) = with_fileset(&[]).await;
    let (ct, body) = upload_form(&bytes_for("gone", 50_000), "ply", None).finish();
    let head = upload_head(&app, &admin, "/api/v1/files/s/fs/gone", &ct, body.len());
    let mut stream = TcpStream::connect(app.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    wait_clean(&app).await;
    assert_fileset_clean(&app, &[], "disconnected mid-upload");
    app.upload(Some(&admin), "s", "fs", "gone", "ply", b"again", None)
        .await
        .expect(201, "the same id afterwards");
}

/// The small fields of an upload (`ext`, `metadata`) have limits
/// (`--max-json-body` for `metadata`): a field over its limit is refused
/// as soon as the limit is passed, not after reading it all into memory
/// (a client could otherwise make the server buffer gigabytes).
#[tokio::test]
async fn oversized_small_fields_are_refused_without_reading_them_whole() {
    let (app, admin) = with_fileset(&["--max-json-body", "100"]).await;
    let b = "XyZbOuNdArY";
    let mut outcomes = Vec::new();
    for (field, id) in [("metadata", "big_meta"), ("ext", "big_ext")] {
        // The file, then a huge field of which only 64 KiB is sent.
        let mut body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&vec![b'x'; 64 * 1024]);
        let declared = body.len() + 100 * 1024 * 1024;
        let head = upload_head(
            &app,
            &admin,
            &format!("/api/v1/files/s/fs/{id}"),
            &format!("multipart/form-data; boundary={b}"),
            declared,
        );
        let ((status, elapsed), _) =
            stall_observing(&app, &head, &body, Duration::from_secs(4)).await;
        if status != Some(413) {
            outcomes.push(format!(
                "a '{field}' field 64 KiB into a declared 100 MiB: {status:?} after {elapsed:.1?} \
                 (None = no answer: the server keeps reading the field)"
            ));
        }
    }
    wait_clean(&app).await;
    assert!(outcomes.is_empty(), "{}", outcomes.join("\n"));
    assert_fileset_clean(&app, &[], "oversized fields");
}
