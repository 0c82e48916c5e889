//! What the real plantdb-commons 0.17 makes of our writes, and its lock
//! protocol against ours (data-api.md §1.7, §1.9). Runs when PLANTDB_PYTHON
//! names a python with plantdb-commons installed (scripts/python-env.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plantdb_data::fsdb::write::{
    Author, LockKind, LockResource, MetadataTarget, PythonLocks, ScanMetadataPolicy, Writer,
};
use plantdb_data::fsdb::MARKER;
use plantdb_data::DataError;
use serde_json::{json, Map, Value};

fn python() -> Option<OsString> {
    let python = std::env::var_os("PLANTDB_PYTHON");
    if python.is_none() {
        println!("skipped: set PLANTDB_PYTHON");
    }
    python
}

/// Reads a database with plantdb-commons, as its own tools would.
///
/// `read ROOT OUT`: every scan, fileset and file (bytes as hex, metadata),
/// the timelapses, and whether each JSON file we wrote is byte for byte
/// what Python's own writers produce from its content (`_store_scan` for
/// `files.json`, `json.dump(sort_keys=True, indent=4)` for metadata,
/// `json.dump(indent=4)` for `timelapse.json`).
/// `add ROOT SCAN FS FILE`: Python's own upload of a text file.
const FSDB_SCRIPT: &str = r#"
import contextlib, json, logging, os, sys
logging.disable(logging.CRITICAL)
from plantdb.commons.fsdb.core import FSDB
from plantdb.commons.fsdb.file_ops import _store_scan

def python_sorted(path):
    with open(path) as f:
        text = f.read()
    return json.dumps(json.loads(text), sort_keys=True, indent=4, separators=(',', ': ')) == text

def main():
    mode, root = sys.argv[1], sys.argv[2]
    with contextlib.redirect_stdout(sys.stderr):
        db = FSDB(root)
        # plantdb-commons 0.17 cannot connect to a database holding a
        # timelapse scan (Scan() asks `timelapse_exists`, which requires a
        # connected database): pretend, as a running process would be.
        db.is_connected = True
        db.connect()
        assert db.login("admin", "admin")
    if mode == "add":
        scan_id, fs_id, file_id = sys.argv[3:6]
        with contextlib.redirect_stdout(sys.stderr):
            f = db.get_scan(scan_id).get_fileset(fs_id).create_file(file_id, metadata={"by": "python"})
            f.write_raw(b"written by python", ext="txt")
            db.disconnect()
        return
    out = {"scans": {}, "timelapses": {}, "layout_ok": []}
    with contextlib.redirect_stdout(sys.stderr):
        for scan_id in sorted(db.list_scans(owner_only=False)):
            scan = db.get_scan(scan_id)
            path = str(scan.path())
            doc = {"metadata": scan.get_metadata(), "filesets": {}}
            files_json = os.path.join(path, "files.json")
            before = open(files_json, "rb").read()
            _store_scan(scan)
            doc["files_json_identical"] = open(files_json, "rb").read() == before
            for fs in scan.get_filesets():
                fs_doc = {"metadata": fs.get_metadata(), "files": []}
                for f in fs.get_files():
                    fs_doc["files"].append({
                        "id": f.id,
                        "filename": f.filename,
                        "hex": f.read_raw().hex(),
                        "metadata": f.get_metadata(),
                    })
                doc["filesets"][fs.id] = fs_doc
            meta_dir = os.path.join(path, "metadata")
            for dirpath, _, names in os.walk(meta_dir):
                for name in names:
                    if name.endswith(".json"):
                        p = os.path.join(dirpath, name)
                        out["layout_ok"].append([os.path.relpath(p, root), python_sorted(p)])
            out["scans"][scan_id] = doc
        for tl_id in db.list_timelapses():
            tl = db.get_timelapse(tl_id)
            marker = os.path.join(root, tl_id, "timelapse.json")
            text = open(marker).read()
            out["timelapses"][tl_id] = {
                "scans": tl.scans, "owner": tl.owner, "metadata": tl.metadata,
                "member_scans": sorted(tl.list_scans()),
                "marker_identical": json.dumps(json.loads(text), indent=4) == text,
            }
        db.disconnect()
    with open(sys.argv[3], "w") as f:
        json.dump(out, f)

main()
"#;

/// plantdb-commons' `LockManager`:
/// `hold ROOT LEVEL RESOURCE KIND SECONDS` prints `LOCKED` and holds; `try ROOT LEVEL RESOURCE KIND TIMEOUT` prints `ACQUIRED` or
/// `TIMEOUT`.
const LOCK_SCRIPT: &str = r#"
import logging, sys, time
logging.disable(logging.CRITICAL)
from plantdb.commons.fsdb.lock import LockManager, LockType, LockLevel, LockTimeoutError

mode, root, level, resource, kind, seconds = sys.argv[1:7]
manager = LockManager(root)
level = LockLevel(level)
kind = LockType(kind)
if mode == "hold":
    with manager.acquire_lock(resource, kind, user="python", level=level):
        print("LOCKED", flush=True)
        time.sleep(float(seconds))
else:
    try:
        with manager.acquire_lock(resource, kind, user="python", level=level, timeout=float(seconds)):
            print("ACQUIRED", flush=True)
    except LockTimeoutError:
        print("TIMEOUT", flush=True)
"#;

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn run(python: &OsString, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(python).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(clippy::too_many_arguments)]
fn commit(
    writer: &Writer,
    dir: &Path,
    scan: &str,
    fs_id: &str,
    id: &str,
    ext: &str,
    bytes: &[u8],
    md: Value,
) {
    let mut up = writer.begin_upload(dir, fs_id).unwrap();
    up.file().write_all(bytes).unwrap();
    writer
        .commit_file(dir, scan, fs_id, id, ext, up, obj(md), &alice())
        .unwrap();
}

fn alice() -> Author {
    Author {
        username: "alice".into(),
        fullname: "Alice Liddell".into(),
    }
}

#[test]
fn plantdb_commons_reads_what_we_write() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("db");
    fs::create_dir(&root).unwrap();
    fs::write(root.join(MARKER), b"").unwrap();
    let fsdb_py = script(work.path(), "fsdb.py", FSDB_SCRIPT);
    let writer = Writer::new(&root).unwrap();

    // A scan with two filesets, binary and text files, metadata updated at
    // every level.
    let dir = writer
        .create_scan(
            "s1",
            obj(json!({"plant": "p1", "study": {"title": "t"}, "unicode": "é ✓ 😀", "n": 1.5})),
            &alice(),
            None,
        )
        .unwrap();
    writer
        .create_fileset(&dir, "s1", "images", obj(json!({"kind": "rgb"})), &alice())
        .unwrap();
    writer
        .create_fileset(&dir, "s1", "PointCloud_1_0", Map::new(), &alice())
        .unwrap();
    let jpeg: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let ply: Vec<u8> =
        b"ply\nformat binary_little_endian 1.0\nend_header\n\x00\xff\xfe\x80".to_vec();
    commit(
        &writer,
        &dir,
        "s1",
        "images",
        "00000_rgb",
        "jpg",
        &jpeg,
        json!({"pose": [1.0, 2.5, -3]}),
    );
    commit(
        &writer,
        &dir,
        "s1",
        "images",
        "00001_rgb",
        ".JPG",
        b"\xff\xd8\xff",
        json!({}),
    );
    commit(
        &writer,
        &dir,
        "s1",
        "PointCloud_1_0",
        "PointCloud",
        "ply",
        &ply,
        json!({"n": 1}),
    );
    writer
        .update_metadata(
            MetadataTarget::Scan {
                dir: dir.clone(),
                id: "s1".into(),
            },
            obj(json!({"plant": "p2", "owner": "mallory"})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap();
    writer
        .update_metadata(
            MetadataTarget::Fileset {
                dir: dir.clone(),
                scan_id: "s1".into(),
                fs: "images".into(),
            },
            obj(json!({"workspace": {"x": [0, 1]}})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap();
    writer
        .update_metadata(
            MetadataTarget::File {
                dir: dir.clone(),
                scan_id: "s1".into(),
                fs: "images".into(),
                file: "00001_rgb".into(),
            },
            obj(json!({"tag": "t"})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap();
    // A timelapse with a member scan.
    writer
        .create_timelapse("tl", obj(json!({"interval": "P1D"})), &alice())
        .unwrap();
    writer
        .create_scan(
            "tl_d0",
            obj(json!({"timelapse": {"index": 0}})),
            &alice(),
            Some("tl"),
        )
        .unwrap();
    let files_json_before = fs::read(dir.join("files.json")).unwrap();

    let out_path = work.path().join("out.json");
    run(
        &python,
        &[
            fsdb_py.as_os_str(),
            "read".as_ref(),
            root.as_os_str(),
            out_path.as_os_str(),
        ],
    );
    let out: Value = serde_json::from_slice(&fs::read(&out_path).unwrap()).unwrap();

    assert_eq!(
        out["scans"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["s1", "tl_d0"]
    );
    let s1 = &out["scans"]["s1"];
    assert_eq!(s1["files_json_identical"], true, "{s1}");
    assert_eq!(fs::read(dir.join("files.json")).unwrap(), files_json_before);
    assert_eq!(s1["metadata"]["plant"], "p2");
    assert_eq!(s1["metadata"]["owner"], "alice");
    assert_eq!(s1["metadata"]["unicode"], "é ✓ 😀");
    assert_eq!(s1["metadata"]["created_by"], "Alice Liddell");
    let images = &s1["filesets"]["images"];
    assert_eq!(images["metadata"]["kind"], "rgb");
    assert_eq!(images["metadata"]["workspace"], json!({"x": [0, 1]}));
    let files = images["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["id"], "00000_rgb");
    assert_eq!(files[0]["filename"], "00000_rgb.jpg");
    assert_eq!(files[0]["hex"], hex(&jpeg));
    assert_eq!(files[0]["metadata"]["pose"], json!([1.0, 2.5, -3]));
    assert_eq!(files[1]["filename"], "00001_rgb.jpg");
    assert_eq!(files[1]["metadata"]["tag"], "t");
    let pcd = &s1["filesets"]["PointCloud_1_0"]["files"][0];
    assert_eq!(pcd["hex"], hex(&ply));
    assert_eq!(pcd["metadata"]["n"], 1);
    assert!(pcd["metadata"]["created"].is_string());
    for entry in out["layout_ok"].as_array().unwrap() {
        assert_eq!(entry[1], true, "not in Python's layout: {}", entry[0]);
    }
    assert!(out["layout_ok"].as_array().unwrap().len() >= 7);
    let tl = &out["timelapses"]["tl"];
    assert_eq!(tl["scans"], json!(["tl_d0"]));
    assert_eq!(tl["owner"], "alice");
    assert_eq!(tl["metadata"]["interval"], "P1D");
    assert_eq!(tl["marker_identical"], true);
    assert_eq!(tl["member_scans"], json!(["tl_d0"]));
    assert_eq!(
        out["scans"]["tl_d0"]["metadata"]["timelapse"],
        json!({"id": "tl", "index": 0})
    );
    assert_eq!(out["scans"]["tl_d0"]["files_json_identical"], true);

    // Python adds a file to our fileset, then we add one: both are kept.
    run(
        &python,
        &[
            fsdb_py.as_os_str(),
            "add".as_ref(),
            root.as_os_str(),
            "s1".as_ref(),
            "images".as_ref(),
            "py_file".as_ref(),
        ],
    );
    commit(
        &writer,
        &dir,
        "s1",
        "images",
        "rust_after",
        "txt",
        b"ours",
        json!({}),
    );
    run(
        &python,
        &[
            fsdb_py.as_os_str(),
            "read".as_ref(),
            root.as_os_str(),
            out_path.as_os_str(),
        ],
    );
    let out: Value = serde_json::from_slice(&fs::read(&out_path).unwrap()).unwrap();
    let files = out["scans"]["s1"]["filesets"]["images"]["files"]
        .as_array()
        .unwrap();
    let ids: Vec<&str> = files.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["00000_rgb", "00001_rgb", "py_file", "rust_after"]);
    assert_eq!(files[2]["hex"], hex(b"written by python"));
    assert_eq!(files[3]["hex"], hex(b"ours"));
    assert_eq!(out["scans"]["s1"]["files_json_identical"], true);
}

/// Starts a Python holder and waits until it holds the lock.
fn hold(
    python: &OsString,
    lock_py: &Path,
    root: &Path,
    level: &str,
    resource: &str,
    kind: &str,
    secs: f64,
) -> std::process::Child {
    let mut child = Command::new(python)
        .arg(lock_py)
        .args([
            "hold".as_ref(),
            root.as_os_str(),
            level.as_ref(),
            resource.as_ref(),
            kind.as_ref(),
        ])
        .arg(secs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "LOCKED");
    child
}

fn python_try(
    python: &OsString,
    lock_py: &Path,
    root: &Path,
    level: &str,
    resource: &str,
    kind: &str,
    timeout: f64,
) -> String {
    let out = run(
        python,
        &[
            lock_py.as_os_str(),
            "try".as_ref(),
            root.as_os_str(),
            level.as_ref(),
            resource.as_ref(),
            kind.as_ref(),
            timeout.to_string().as_ref(),
        ],
    );
    out.trim().to_string()
}

#[test]
fn python_lock_holder_makes_us_wait() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let lock_py = script(root, "lock.py", LOCK_SCRIPT);

    let mut child = hold(&python, &lock_py, root, "scan", "s1", "exclusive", 1.5);
    let held_since = Instant::now();
    let short = PythonLocks::new(root).with_timeout(Duration::from_millis(300));
    let err = short
        .acquire(LockResource::Scan("s1"), LockKind::Exclusive, "rust")
        .unwrap_err();
    assert!(matches!(err, DataError::Busy(_)), "{err:?}");
    // The Python .info is there while it holds the lock.
    let info: Value =
        serde_json::from_slice(&fs::read(root.join(".locks/s1.info")).unwrap()).unwrap();
    assert_eq!(info["user"], "python");
    // Other levels of the same scan are independent.
    drop(
        short
            .acquire(
                LockResource::Fileset("s1", "images"),
                LockKind::Exclusive,
                "rust",
            )
            .unwrap(),
    );

    let patient = PythonLocks::new(root).with_timeout(Duration::from_secs(20));
    let guard = patient
        .acquire(LockResource::Scan("s1"), LockKind::Exclusive, "rust")
        .unwrap();
    assert!(
        held_since.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        held_since.elapsed()
    );
    let info: Value =
        serde_json::from_slice(&fs::read(root.join(".locks/s1.info")).unwrap()).unwrap();
    assert_eq!(info["user"], "rust");
    assert_eq!(info["lock_type"], "exclusive");
    assert!(child.wait().unwrap().success());
    drop(guard);
    assert!(!root.join(".locks/s1.lock").exists());

    // A shared Python lock admits our shared lock, not our exclusive one.
    let mut child = hold(&python, &lock_py, root, "file", "s1/fs/f", "shared", 1.0);
    let file = LockResource::File("s1", "fs", "f");
    drop(short.acquire(file, LockKind::Shared, "rust").unwrap());
    assert!(matches!(
        short.acquire(file, LockKind::Exclusive, "rust"),
        Err(DataError::Busy(_))
    ));
    assert!(child.wait().unwrap().success());
    drop(short.acquire(file, LockKind::Exclusive, "rust").unwrap());
}

#[test]
fn our_lock_makes_python_wait() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let lock_py = script(root, "lock.py", LOCK_SCRIPT);
    let locks = PythonLocks::new(root);

    for (level, resource, ours) in [
        ("scan", "s1", LockResource::Scan("s1")),
        (
            "fileset",
            "s1/images",
            LockResource::Fileset("s1", "images"),
        ),
        (
            "file",
            "s1/images/f1",
            LockResource::File("s1", "images", "f1"),
        ),
    ] {
        let guard = locks.acquire(ours, LockKind::Exclusive, "rust").unwrap();
        let started = Instant::now();
        assert_eq!(
            python_try(&python, &lock_py, root, level, resource, "exclusive", 0.5),
            "TIMEOUT"
        );
        assert_eq!(
            python_try(&python, &lock_py, root, level, resource, "shared", 0.5),
            "TIMEOUT"
        );
        assert!(started.elapsed() >= Duration::from_millis(900));
        // Python's start-up clean-up of stale locks left ours alone.
        assert!(guard.lock_path().exists());
        let other = PythonLocks::new(root).with_timeout(Duration::from_millis(100));
        assert!(matches!(
            other.acquire(ours, LockKind::Exclusive, "x"),
            Err(DataError::Busy(_))
        ));
        drop(guard);
        assert_eq!(
            python_try(&python, &lock_py, root, level, resource, "exclusive", 0.5),
            "ACQUIRED"
        );
    }

    // Our writer against a Python holder of the fileset lock: 503, then fine.
    let db = root.join("db");
    fs::create_dir(&db).unwrap();
    fs::write(db.join(MARKER), b"").unwrap();
    let writer = Writer::new(&db)
        .unwrap()
        .with_lock_timeout(Duration::from_millis(300));
    let dir = writer
        .create_scan("s1", Map::new(), &alice(), None)
        .unwrap();
    writer
        .create_fileset(&dir, "s1", "images", Map::new(), &alice())
        .unwrap();
    let mut child = hold(
        &python,
        &lock_py,
        &db,
        "fileset",
        "s1/images",
        "exclusive",
        1.0,
    );
    let mut up = writer.begin_upload(&dir, "images").unwrap();
    up.file().write_all(b"x").unwrap();
    let err = writer
        .commit_file(&dir, "s1", "images", "a", "txt", up, Map::new(), &alice())
        .unwrap_err();
    assert!(matches!(err, DataError::Busy(_)), "{err:?}");
    assert!(child.wait().unwrap().success());
    commit(&writer, &dir, "s1", "images", "a", "txt", b"x", json!({}));
}
