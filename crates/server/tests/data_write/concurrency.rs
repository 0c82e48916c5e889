//! Concurrent writers (data-api.md §1.9 serialisation, §9.3): parallel
//! uploads into one fileset all land; racing creations of one id give
//! exactly one success; concurrent metadata merges lose nothing.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::*;

async fn setup() -> (Arc<TestApp>, String) {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;
    (Arc::new(app), admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_parallel_uploads_into_one_fileset_all_land() {
    let (app, admin) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("f{i:02}");
            let data = bytes_for(&id, 1000 + 97 * i);
            let meta = format!("{{\"i\": {i}}}");
            let r = app
                .upload(Some(&admin), "s", "fs", &id, "ply", &data, Some(&meta))
                .await;
            (id, r.status, String::from_utf8_lossy(&r.bytes).into_owned())
        }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        let (id, status, body) = t.await.unwrap();
        if status != 201 {
            failed.push(format!("{id}: {status} {body}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    let index = read_json(&app.root.join("s/files.json"));
    let files = index["filesets"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 64, "files.json lost entries: {index}");
    let mut listed = app.file_ids("s", "fs").await;
    listed.sort();
    let expected: Vec<String> = (0..64).map(|i| format!("f{i:02}")).collect();
    assert_eq!(listed, expected);
    for i in [0usize, 17, 63] {
        let id = format!("f{i:02}");
        let r = app.get(&format!("/api/v1/files/s/fs/{id}"), None).await;
        assert_eq!(r.bytes, bytes_for(&id, 1000 + 97 * i), "{id}");
        let md = read_json(&app.root.join(format!("s/metadata/fs/{id}.json")));
        assert_eq!(md["i"], i);
    }
    assert_eq!(names_in(&app.root.join("s/fs")).len(), 64);
    assert_eq!(hidden_under(&app.root.join("s")), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_of_one_id_give_exactly_one_file() {
    let (app, admin) = setup().await;
    // Same id, same and different extensions.
    for (round, exts) in [
        ("same", ["ply"; 8]),
        (
            "mixed",
            ["ply", "png", "txt", "json", "jpg", "PLY", "toml", "yaml"],
        ),
    ] {
        let id = format!("dup_{round}");
        let mut tasks = Vec::new();
        for (k, ext) in exts.into_iter().enumerate() {
            let (app, admin, id) = (app.clone(), admin.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let data = bytes_for(&format!("{id}-{k}"), 30_000);
                let r = app
                    .upload(Some(&admin), "s", "fs", &id, ext, &data, None)
                    .await;
                (k, r.status, r.body, data)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (k, status, body, data) = t.await.unwrap();
            match status {
                201 => winners.push((k, data)),
                409 => assert_error(&body, "conflict", &format!("{round} {k}")),
                other => panic!("{round} {k}: {other} {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "{round}: exactly one 201");
        let files: Vec<String> = names_in(&app.root.join("s/fs"))
            .into_iter()
            .filter(|n| n.starts_with(&format!("{id}.")))
            .collect();
        assert_eq!(files.len(), 1, "{round}: one data file: {files:?}");
        let r = app.get(&format!("/api/v1/files/s/fs/{id}"), None).await;
        assert_eq!(r.bytes, winners[0].1, "{round}: the winner's bytes");
        let index = read_json(&app.root.join("s/files.json"));
        let entries: Vec<&Value> = index["filesets"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["id"] == id.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "{round}: {index}");
        assert_eq!(entries[0]["file"], files[0].as_str());
    }
    assert_eq!(hidden_under(&app.root.join("s")), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creations_of_one_id_give_exactly_one_success() {
    let (app, admin) = setup().await;
    let paths = [
        ("scan", "/api/v1/scans/racy".to_string(), 201),
        ("fileset", "/api/v1/filesets/s/racy".to_string(), 201),
        ("timelapse", "/api/v1/timelapses".to_string(), 201),
    ];
    for (what, path, ok) in paths {
        let mut tasks = Vec::new();
        for k in 0..8 {
            let (app, admin, path) = (app.clone(), admin.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let body = json!({"id": "racy_tl", "metadata": {"k": k}});
                app.post_json(&path, Some(&admin), &body).await
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap().status);
        }
        statuses.sort();
        let mut expected = vec![409u16; 7];
        expected.insert(0, ok);
        assert_eq!(statuses, expected, "{what}");
    }
    let index = read_json(&app.root.join("s/files.json"));
    assert_eq!(index["filesets"].as_array().unwrap().len(), 2, "{index}");
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "scans"), &json!(["racy", "s"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_metadata_merges_lose_nothing() {
    let (app, admin) = setup().await;
    app.upload(Some(&admin), "s", "fs", "f", "txt", b"x", None)
        .await
        .expect(201, "upload");
    // Filesets created while the metadata changes (both rewrite scan files).
    let mut tasks = Vec::new();
    for k in 0..24 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let path = match k % 4 {
                0 => "/api/v1/scans/s/metadata".to_string(),
                1 => "/api/v1/filesets/s/fs/metadata".to_string(),
                2 => "/api/v1/files/s/fs/f/metadata".to_string(),
                _ => format!("/api/v1/filesets/s/extra_{k}"),
            };
            let body = json!({"metadata": {format!("k{k}"): k}});
            let r = app.post_json(&path, Some(&admin), &body).await;
            (path, r.status)
        }));
    }
    for t in tasks {
        let (path, status) = t.await.unwrap();
        assert!(status == 200 || status == 201, "{path}: {status}");
    }
    let scan = app.scan_metadata_on_disk("s");
    let fs = read_json(&app.root.join("s/metadata/fs.json"));
    let file = read_json(&app.root.join("s/metadata/fs/f.json"));
    for k in 0..24 {
        let key = format!("k{k}");
        match k % 4 {
            0 => assert_eq!(scan[&key], k, "scan lost {key}: {scan}"),
            1 => assert_eq!(fs[&key], k, "fileset lost {key}: {fs}"),
            2 => assert_eq!(file[&key], k, "file lost {key}: {file}"),
            _ => assert!(app.root.join(format!("s/extra_{k}")).is_dir()),
        }
    }
    let index = read_json(&app.root.join("s/files.json"));
    assert_eq!(index["filesets"].as_array().unwrap().len(), 7, "{index}");
    assert_eq!(index["filesets"][0]["files"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_archive_uploads_of_one_id_give_one_scan() {
    let (app, admin) = setup().await;
    let mut tasks = Vec::new();
    for k in 0..4 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let zip = crate::zip::scan_archive(&json!({ "k": k }));
            let r = app
                .post_form("/api/v1/assets/archive/racy", Some(&admin), zip_form(&zip))
                .await;
            (r.status, r.body)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 200 || status == 409, "{status} {body}");
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 409, 409, 409]);
    assert!(app.root.join("racy/files.json").is_file());
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_scans_in_one_timelapse_are_all_registered() {
    let (app, admin) = setup().await;
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "tl"}))
        .await
        .expect(201, "timelapse");
    let mut tasks = Vec::new();
    for k in 0..12 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"metadata": {"timelapse": {"id": "tl", "index": k}}});
            let r = app
                .post_json(&format!("/api/v1/scans/tl_{k:02}"), Some(&admin), &body)
                .await;
            (k, r.status)
        }));
    }
    for t in tasks {
        let (k, status) = t.await.unwrap();
        assert_eq!(status, 201, "tl_{k:02}");
    }
    let marker = read_json(&app.root.join("tl/timelapse.json"));
    let mut scans: Vec<String> = serde_json::from_value(marker["scans"].clone()).unwrap();
    scans.sort();
    let expected: Vec<String> = (0..12).map(|k| format!("tl_{k:02}")).collect();
    assert_eq!(scans, expected, "the marker lost scans: {marker}");
    let r = app.get("/api/v1/timelapses/tl", None).await;
    assert_eq!(r.expect(200, "tl")["counts"]["scans"], 12);
}

/// §1.7, §1.9: a write waits for the Python lock of its resource (held
/// here as a Python process would: `flock(LOCK_EX)` on
/// `.locks/<stem>.lock`), and leaves no lock file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_wait_for_python_locks() {
    let (app, admin) = setup().await;
    let locks = app.root.join(".locks");
    std::fs::create_dir_all(&locks).unwrap();
    let hold = |stem: &str| {
        let path = locks.join(format!("{stem}.lock"));
        let file = std::fs::File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.lock().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            // Python's release: unlock, close, unlink.
            file.unlock().unwrap();
            drop(file);
            let _ = std::fs::remove_file(&path);
        })
    };
    let cases: Vec<(&str, &str)> = vec![
        ("s", "scan metadata"),
        ("s_fs", "upload (fileset lock)"),
        ("s_fs", "fileset metadata"),
        ("s", "fileset creation is not under the scan lock"),
    ];
    for (stem, what) in cases {
        let holder = hold(stem);
        let t0 = std::time::Instant::now();
        let status = match what {
            "scan metadata" => {
                app.post_json(
                    "/api/v1/scans/s/metadata",
                    Some(&admin),
                    &json!({"metadata": {"x": 1}}),
                )
                .await
                .status
            }
            "upload (fileset lock)" => {
                app.upload(Some(&admin), "s", "fs", "locked", "txt", b"x", None)
                    .await
                    .status
            }
            "fileset metadata" => {
                app.post_json(
                    "/api/v1/filesets/s/fs/metadata",
                    Some(&admin),
                    &json!({"metadata": {"x": 1}}),
                )
                .await
                .status
            }
            _ => {
                app.post_json("/api/v1/filesets/s/other", Some(&admin), &json!({}))
                    .await
                    .status
            }
        };
        let elapsed = t0.elapsed();
        holder.join().unwrap();
        assert!(status == 200 || status == 201, "{what}: {status}");
        if what.contains("not under") {
            // Levels are independent (§1.7): no wait on the scan lock.
            assert!(
                elapsed < std::time::Duration::from_millis(1200),
                "{what}: {elapsed:?}"
            );
        } else {
            assert!(
                elapsed >= std::time::Duration::from_millis(1300),
                "{what} did not wait for the Python lock: {elapsed:?}"
            );
        }
    }
    let left: Vec<String> = names_in(&locks)
        .into_iter()
        .filter(|n| n.ends_with(".lock") || n.ends_with(".info"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "lock files are unlinked on release"
    );
}

/// §1.9: "re-read files.json from disk under the lock before modifying it,
/// so that entries written by other processes are kept"; reads reflect the
/// disk. A Python process changes the scan behind the server's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_keep_changes_made_by_other_processes() {
    let (app, admin) = setup().await;
    // Warm the server's caches.
    app.get("/api/v1/scans/s/metadata", None)
        .await
        .expect(200, "md");
    app.get("/api/v1/filesets/s/fs/files", None)
        .await
        .expect(200, "files");
    // Another process adds a key and a fileset.
    let md_path = app.root.join("s/metadata/metadata.json");
    let mut md = read_json(&md_path);
    md["external"] = json!("written by python");
    std::fs::write(&md_path, serde_json::to_string_pretty(&md).unwrap()).unwrap();
    let index_path = app.root.join("s/files.json");
    let mut index = read_json(&index_path);
    index["filesets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "py_fs", "files": [{"id": "py_f", "file": "py_f.txt"}]}));
    std::fs::create_dir_all(app.root.join("s/py_fs")).unwrap();
    std::fs::write(app.root.join("s/py_fs/py_f.txt"), b"python").unwrap();
    std::fs::write(&index_path, serde_json::to_string_pretty(&index).unwrap()).unwrap();

    let r = app
        .post_json(
            "/api/v1/scans/s/metadata",
            Some(&admin),
            &json!({"metadata": {"mine": 2}}),
        )
        .await;
    let stored = r.expect(200, "merge").clone();
    assert_eq!(
        stored["metadata"]["external"], "written by python",
        "{stored}"
    );
    assert_eq!(stored["metadata"]["mine"], 2);
    app.upload(Some(&admin), "s", "fs", "rust_f", "txt", b"rust", None)
        .await
        .expect(201, "upload");
    app.fileset(&admin, "s", "rust_fs").await;
    let index = read_json(&index_path);
    let ids: Vec<&str> = index["filesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["fs", "py_fs", "rust_fs"], "{index}");
    let r = app.get("/api/v1/files/s/py_fs/py_f", None).await;
    r.expect(200, "the external file is served");
    assert_eq!(r.bytes, b"python");
    // The other process's upload, then ours into the same fileset.
    app.upload(Some(&admin), "s", "py_fs", "r2", "txt", b"r2", None)
        .await
        .expect(201, "upload into the external fileset");
    assert_eq!(app.file_ids("s", "py_fs").await, vec!["py_f", "r2"]);
}

/// §9.3: the data transfer is not under any lock: while one client sends
/// its bytes slowly, other uploads into the same fileset and metadata
/// writes of the scan go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_upload_does_not_block_other_writes() {
    use tokio::io::AsyncWriteExt;
    let (app, admin) = setup().await;
    let (ct, body) = upload_form(&bytes_for("slow", 100_000), "ply", None).finish();
    let head = format!(
        "POST /api/v1/files/s/fs/slow HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        app.addr(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let t0 = std::time::Instant::now();
    let r = app
        .upload(Some(&admin), "s", "fs", "fast", "txt", b"fast", None)
        .await;
    r.expect(201, "a second upload meanwhile");
    app.post_json(
        "/api/v1/scans/s/metadata",
        Some(&admin),
        &json!({"metadata": {"during": true}}),
    )
    .await
    .expect(200, "metadata meanwhile");
    app.post_json(
        "/api/v1/filesets/s/fs/metadata",
        Some(&admin),
        &json!({"metadata": {"during": true}}),
    )
    .await
    .expect(200, "fileset metadata meanwhile");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t0.elapsed()
    );
    // The slow client finishes.
    stream.write_all(&body[body.len() / 2..]).await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let mut ids = app.file_ids("s", "fs").await;
    ids.sort();
    assert_eq!(ids, vec!["fast", "slow"]);
    let r = app.get("/api/v1/files/s/fs/slow", None).await;
    assert_eq!(r.bytes, bytes_for("slow", 100_000));
}
