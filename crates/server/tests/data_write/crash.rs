//! Crash safety of uploads (data-api.md §1.9, §9.3, §11 D8): `kill -9` the
//! real binary in the middle of 16 concurrent upload loops, restart it on
//! the same directory: files.json parses, every acknowledged upload is
//! there with its exact bytes, no `"file": null`, no torn visible file,
//! a retry of an unacknowledged upload works, stale temporaries are never
//! served and old ones are removed at start.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::helpers::{bytes_for, names_in, read_json, upload_form, ADMIN_PW};
use crate::support::server::{new_db_dir, ServeCommand, ServerProcess};

const WORKERS: usize = 16;
const ROUNDS: usize = 2;

fn start(db: &Path) -> ServerProcess {
    ServeCommand::new()
        .arg("--db")
        .arg(db)
        .args([
            "--no-rate-limits",
            "--argon2-memory",
            "64",
            "--argon2-iterations",
            "1",
            "--log-level",
            "warn",
        ])
        .env("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)
        .start()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn login(server: &ServerProcess) -> String {
    let r = client()
        .post(format!("{}/api/v1/auth/login", server.origin()))
        .json(&json!({"username": "admin", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login");
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn size_of(round: usize, worker: usize, n: usize) -> usize {
    1000 + (round * 7 + worker * 131 + n * 7919) % 200_000
}

async fn upload(
    client: &reqwest::Client,
    origin: &str,
    token: &str,
    id: &str,
    data: &[u8],
) -> Result<(u16, String), reqwest::Error> {
    let (ct, body) = upload_form(data, "ply", Some("{\"robot\": true}")).finish();
    let r = client
        .post(format!("{origin}/api/v1/files/s/fs/{id}"))
        .bearer_auth(token)
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((status, text))
}

/// Uploads until the server dies; records what was attempted and what was
/// acknowledged.
/// What the workers of a round share.
struct Shared {
    attempted: Mutex<BTreeMap<String, Vec<u8>>>,
    acked: Mutex<Vec<String>>,
    /// Acknowledged in this round.
    count: AtomicUsize,
    dead: AtomicBool,
}

async fn worker(origin: String, token: String, round: usize, w: usize, shared: Arc<Shared>) {
    let client = client();
    for n in 0.. {
        if shared.dead.load(Ordering::Relaxed) {
            break;
        }
        let id = format!("r{round}w{w:02}n{n:03}");
        let data = bytes_for(&id, size_of(round, w, n));
        shared
            .attempted
            .lock()
            .unwrap()
            .insert(id.clone(), data.clone());
        match upload(&client, &origin, &token, &id, &data).await {
            Ok((201, _)) => {
                shared.acked.lock().unwrap().push(id);
                shared.count.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, text)) => panic!("{id}: unexpected {status} {text}"),
            Err(_) => break, // the kill
        }
    }
}

/// A stale temporary name of ours: `.<name>.<16 hex>.tmp`.
fn temp_name(name: &str, token: u64) -> String {
    format!(".{name}.{token:016x}.tmp")
}

fn plant(path: &Path, age: Duration) {
    std::fs::write(path, b"half-written temporary").unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_uploads_loses_nothing_acknowledged() {
    crash_rounds(false).await;
}

/// §1.9 "a crash leaves the old or the new file", §9.3 "any failure removes
/// what was written": an upload cut by a crash must not leave its data
/// file visible but unlisted, where it makes every retry of that id a 409
/// while the file is neither listed nor downloadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_uploads_leaves_no_orphan_blocking_a_retry() {
    crash_rounds(true).await;
}

/// Rounds of 16 upload loops killed with SIGKILL, then a restart and the
/// checks. With `check_orphans`, unlisted data files left by the crash
/// fail the test (their retry must work); without, they are only checked
/// to be whole, and their ids are not retried.
async fn crash_rounds(check_orphans: bool) {
    let db = new_db_dir();
    let mut server = start(db.path());
    let token = login(&server).await;
    let http = client();
    for (path, body) in [
        (
            "/api/v1/scans/s",
            json!({"metadata": {"robot": "plant-imager"}}),
        ),
        ("/api/v1/filesets/s/fs", json!({})),
    ] {
        let r = http
            .post(format!("{}{path}", server.origin()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{path}");
    }
    let shared = Arc::new(Shared {
        attempted: Mutex::new(BTreeMap::new()),
        acked: Mutex::new(Vec::new()),
        count: AtomicUsize::new(0),
        dead: AtomicBool::new(false),
    });
    let (attempted, acked) = (&shared.attempted, &shared.acked);
    let fs_dir = db.path().join("s/fs");
    let hour = Duration::from_secs(3600);

    for round in 0..ROUNDS {
        let token = login(&server).await;
        shared.count.store(0, Ordering::SeqCst);
        shared.dead.store(false, Ordering::SeqCst);
        let (count, dead) = (&shared.count, &shared.dead);
        let tasks: Vec<_> = (0..WORKERS)
            .map(|w| {
                tokio::spawn(worker(
                    server.origin().to_string(),
                    token.clone(),
                    round,
                    w,
                    shared.clone(),
                ))
            })
            .collect();
        // Kill once uploads are flowing, at a moment that varies.
        let t0 = Instant::now();
        while count.load(Ordering::SeqCst) < 24 && t0.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let jitter = (SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 150) as u64;
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        server.kill();
        dead.store(true, Ordering::SeqCst);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("a worker hung after the kill")
                .unwrap();
        }
        let acked_now = acked.lock().unwrap().len();
        eprintln!("round {round}: {acked_now} acknowledged uploads in total at the kill");
        assert!(count.load(Ordering::SeqCst) >= 24, "uploads were flowing");

        // On disk, before any restart: files.json parses, no null entries,
        // every entry's data file complete.
        let index = read_json(&db.path().join("s/files.json"));
        let files = index["filesets"][0]["files"].as_array().unwrap().clone();
        let attempted_now = attempted.lock().unwrap().clone();
        for entry in &files {
            let (id, file) = (entry["id"].as_str(), entry["file"].as_str());
            let (Some(id), Some(file)) = (id, file) else {
                panic!("a files.json entry without id or file: {entry}");
            };
            let on_disk = std::fs::read(fs_dir.join(file))
                .unwrap_or_else(|e| panic!("{file} listed but unreadable: {e}"));
            assert_eq!(Some(&on_disk), attempted_now.get(id), "{id}: torn data");
        }
        // Every visible file is whole (listed or not).
        for name in names_in(&fs_dir) {
            if name.starts_with('.') {
                continue;
            }
            let id = name.trim_end_matches(".ply");
            let on_disk = std::fs::read(fs_dir.join(&name)).unwrap();
            assert_eq!(
                Some(&on_disk),
                attempted_now.get(id),
                "visible {name} is torn"
            );
        }

        // Temporaries as a crash leaves them: fresh ones and old ones.
        let fresh = temp_name("upload", 0x0123_4567_89ab_cdef + round as u64);
        let old = temp_name("upload", 0x0fed_cba9_8765_4321 + round as u64);
        let old_index = temp_name("files.json", 0x0aaa_bbbb_cccc_dddd + round as u64);
        let old_md = temp_name("x.json", 0x0abc_abc0_abc0_abc0 + round as u64);
        plant(&fs_dir.join(&fresh), Duration::ZERO);
        plant(&fs_dir.join(&old), 2 * hour);
        plant(&db.path().join("s").join(&old_index), 2 * hour);
        std::fs::create_dir_all(db.path().join("s/metadata/fs")).unwrap();
        plant(&db.path().join("s/metadata/fs").join(&old_md), 2 * hour);

        // Restart on the same directory.
        server = start(db.path());
        let token = login(&server).await;
        let origin = server.origin().to_string();
        assert!(
            !fs_dir.join(&old).exists(),
            "an old upload temporary survived the start"
        );
        assert!(!db.path().join("s").join(&old_index).exists());
        assert!(!db.path().join("s/metadata/fs").join(&old_md).exists());
        assert!(
            fs_dir.join(&fresh).exists(),
            "a fresh temporary is not touched"
        );
        let r = http
            .get(format!("{origin}/api/v1/filesets/s/fs/files"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let listed: Value = r.json().await.unwrap();
        let listed: Vec<String> = serde_json::from_value(listed["files"].clone()).unwrap();
        for id in acked.lock().unwrap().iter() {
            assert!(
                listed.contains(id),
                "acknowledged {id} is not listed after the crash"
            );
        }
        let acked_list = acked.lock().unwrap().clone();
        for id in &acked_list {
            let r = http
                .get(format!("{origin}/api/v1/files/s/fs/{id}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{id}");
            let bytes = r.bytes().await.unwrap();
            assert_eq!(
                Some(&bytes.to_vec()),
                attempted_now.get(id),
                "{id}: bytes differ"
            );
        }
        // Hidden temporaries are never served.
        for path in [
            format!("/api/v1/assets/files/s/fs/{fresh}"),
            format!("/files/s/fs/{fresh}"),
            format!("/api/v1/files/s/fs/{}", fresh.trim_end_matches(".tmp")),
        ] {
            let r = http.get(format!("{origin}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            assert!(status == 404 || status == 400, "{path}: {status}");
        }
        assert!(listed.iter().all(|id| !id.starts_with('.')), "{listed:?}");
        // A robot retries what was not acknowledged: the retry must succeed
        // when the file is not listed.
        let mut retried = 0;
        for (id, data) in attempted_now.iter() {
            if listed.contains(id) {
                continue;
            }
            let orphan = fs_dir.join(format!("{id}.ply")).exists();
            if orphan && !check_orphans {
                eprintln!("round {round}: {id} left an orphan data file (not retried)");
                continue;
            }
            let (status, text) = upload(&http, &origin, &token, id, data).await.unwrap();
            if status != 201 {
                let visible = names_in(&fs_dir);
                let in_index = read_json(&db.path().join("s/files.json"))["filesets"][0]["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["id"] == id.as_str());
                panic!(
                    "retry of {id}, not listed after the crash: {status} {text}; \
                     data file {id}.ply on disk: {}, in files.json: {in_index}, \
                     metadata file: {}",
                    visible.contains(&format!("{id}.ply")),
                    db.path().join(format!("s/metadata/fs/{id}.json")).exists()
                );
            }
            assert_eq!(status, 201, "retry of unlisted {id}: {text}");
            retried += 1;
            acked.lock().unwrap().push(id.clone());
        }
        eprintln!("round {round}: {retried} unacknowledged uploads retried");
        std::fs::remove_file(fs_dir.join(&fresh)).unwrap();
    }
    // The final state is consistent.
    let index = read_json(&db.path().join("s/files.json"));
    let files = index["filesets"][0]["files"].as_array().unwrap();
    // Every acknowledged upload has its entry; an upload committed just
    // before the kill but never acknowledged may be there too (the client
    // finds it listed), never twice.
    let acked_ids = acked.lock().unwrap().clone();
    let listed_ids: Vec<&str> = files.iter().filter_map(|e| e["id"].as_str()).collect();
    for id in &acked_ids {
        assert!(
            listed_ids.contains(&id.as_str()),
            "acknowledged {id} is listed"
        );
    }
    let mut unique = listed_ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), listed_ids.len(), "one entry per file id");
    let visible: Vec<String> = names_in(&fs_dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    if check_orphans {
        assert_eq!(visible.len(), files.len(), "no orphan data files");
    }
}

/// Hostile nesting in metadata (JSON bodies, the upload's JSON or Python
/// literal field) is refused without bringing the process down (a stack
/// overflow would abort it: hence the real binary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_metadata_does_not_crash_the_server() {
    let db = new_db_dir();
    let server = start(db.path());
    let token = login(&server).await;
    let http = client();
    let origin = server.origin().to_string();
    for (path, body) in [
        ("/api/v1/scans/s", json!({})),
        ("/api/v1/filesets/s/fs", json!({})),
    ] {
        let r = http
            .post(format!("{origin}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{path}");
    }
    let depth = 200_000;
    let nested = |open: &str, close: &str| {
        format!(
            "{{\"metadata\": {{\"a\": {}1{}}}}}",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    let mut statuses = Vec::new();
    for body in [nested("[", "]"), nested("{\"k\":", "}")] {
        let r = http
            .post(format!("{origin}/api/v1/scans/s/metadata"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await;
        statuses.push(r.map(|r| r.status().as_u16()).map_err(|e| e.to_string()));
    }
    for (k, meta) in [
        "[".repeat(depth) + &"]".repeat(depth),
        "{'a': ".to_string() + &"(".repeat(depth) + &")".repeat(depth) + "}",
        "{'a': ".to_string() + &"{'b': ".repeat(depth) + &"}".repeat(depth + 1),
    ]
    .into_iter()
    .enumerate()
    {
        let (ct, body) = upload_form(b"x", "txt", Some(&meta)).finish();
        let r = http
            .post(format!("{origin}/api/v1/files/s/fs/deep{k}"))
            .bearer_auth(&token)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .await;
        statuses.push(r.map(|r| r.status().as_u16()).map_err(|e| e.to_string()));
    }
    let alive = http
        .get(format!("{origin}/api/v1/health"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(
        alive.as_ref().ok(),
        Some(&200),
        "the server died: {statuses:?}\n{}",
        server.output()
    );
    for s in &statuses {
        assert_eq!(s.as_ref().ok(), Some(&400), "{statuses:?}");
    }
}
