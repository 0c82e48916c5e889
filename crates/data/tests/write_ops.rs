//! The write side on disk: what each operation writes, in Python's layout;
//! conflicts; concurrent uploads; nothing left behind on failure; the
//! metadata protection rules (data-api.md §1.6, §1.9, §8.2, §9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use plantdb_data::fsdb::write::{
    remove_stale_temporaries, Author, LockKind, LockResource, MetadataTarget, PythonLocks,
    ScanMetadataPolicy, Writer,
};
use plantdb_data::fsdb::{self, layout, scan};
use plantdb_data::json::to_python_json_sorted;
use plantdb_data::DataError;
use serde_json::{json, Map, Value};

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(fsdb::MARKER), b"").unwrap();
    dir
}

fn alice() -> Author {
    Author {
        username: "alice".into(),
        fullname: "Alice Liddell".into(),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Every entry under `dir`, relative, sorted (hidden ones included).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(rel);
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    // An empty metadata directory made for a failed upload may stay (other
    // uploads may be using it); it holds nothing.
    out.retain(|rel| {
        let p = dir.join(rel);
        !(p.is_dir()
            && rel.starts_with("metadata/")
            && fs::read_dir(&p)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false))
    });
    out.sort();
    out
}

fn upload(
    writer: &Writer,
    scan_dir: &Path,
    fs_id: &str,
    bytes: &[u8],
) -> plantdb_data::fsdb::write::Upload {
    let mut up = writer.begin_upload(scan_dir, fs_id).unwrap();
    up.file().write_all(bytes).unwrap();
    up
}

/// A scan with one fileset, made with the writer.
fn scan_with_fileset(writer: &Writer, id: &str, fs_id: &str) -> PathBuf {
    let dir = writer
        .create_scan(id, obj(json!({"plant": "p1"})), &alice(), None)
        .unwrap();
    writer
        .create_fileset(&dir, id, fs_id, Map::new(), &alice())
        .unwrap();
    dir
}

#[test]
fn create_scan_writes_python_layout() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = writer
        .create_scan(
            "s1",
            obj(json!({"plant": "p1", "sharing": "team", "owner": "mallory", "created": "x"})),
            &alice(),
            None,
        )
        .unwrap();
    assert_eq!(dir, root.path().join("s1"));
    assert_eq!(
        fs::read_to_string(dir.join("files.json")).unwrap(),
        "{\n    \"filesets\": []\n}"
    );
    let md_text = fs::read_to_string(dir.join("metadata/metadata.json")).unwrap();
    let md = read_json(&dir.join("metadata/metadata.json"));
    assert_eq!(md_text, to_python_json_sorted(&md));
    assert_eq!(md["owner"], "alice");
    assert_eq!(md["created_by"], "Alice Liddell");
    assert_eq!(md["sharing"], json!(["team"]));
    assert_eq!(md["plant"], "p1");
    assert_eq!(md["created"], md["last_modified"]);
    let created = md["created"].as_str().unwrap();
    assert!(created.len() == 19 || created.len() == 26, "{created}");
    assert!(!created.ends_with('Z') && !created.contains('+'));
    // Nothing else at the root but the staging directory (now empty) and locks.
    assert_eq!(
        fs::read_dir(root.path().join(".plantdb-tmp"))
            .unwrap()
            .count(),
        0
    );
    assert!(layout::looks_like_scan(&dir));
    let loc = layout::list(root.path()).scans["s1"].clone();
    let loaded = scan::load(&loc).unwrap();
    assert!(loaded.filesets.is_empty());
    // No lock file left.
    let locks: Vec<_> = fs::read_dir(root.path().join(".locks")).unwrap().collect();
    assert!(locks.is_empty(), "{locks:?}");
}

#[test]
fn create_scan_conflicts_and_bad_ids() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    writer
        .create_scan("s1", Map::new(), &alice(), None)
        .unwrap();
    fs::write(root.path().join("notes"), b"").unwrap();
    for taken in ["s1", "configs", "notes"] {
        assert!(matches!(
            writer.create_scan(taken, Map::new(), &alice(), None),
            Err(DataError::Conflict(_))
        ));
    }
    for bad in ["", "_x", "a.b", "a/b", "..", &"a".repeat(129)] {
        assert!(matches!(
            writer.create_scan(bad, Map::new(), &alice(), None),
            Err(DataError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        writer.create_scan("s2", Map::new(), &alice(), Some("nope")),
        Err(DataError::NotFound(_))
    ));
    assert!(!root.path().join("s2").exists());
    assert!(matches!(
        Writer::new(&root.path().join("s1")),
        Err(DataError::NotFound(_))
    ));
}

#[test]
fn timelapse_create_member_scan_and_delete() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let marker = writer
        .create_timelapse("tl", obj(json!({"interval": "P1D"})), &alice())
        .unwrap();
    let text = fs::read_to_string(root.path().join("tl/timelapse.json")).unwrap();
    let keys: Vec<&String> = marker.keys().collect();
    assert_eq!(keys, ["id", "created_at", "owner", "scans", "metadata"]);
    assert!(
        text.starts_with("{\n    \"id\": \"tl\",\n    \"created_at\": \""),
        "{text}"
    );
    assert_eq!(
        plantdb_data::json::to_python_json_unsorted_indent4(&Value::Object(marker.clone())),
        text
    );
    assert_eq!(marker["owner"], "alice");
    assert_eq!(marker["metadata"]["interval"], "P1D");
    assert!(marker["metadata"]["last_modified"].is_string());
    assert!(matches!(
        writer.create_timelapse("tl", Map::new(), &alice()),
        Err(DataError::Conflict(_))
    ));

    // A member scan: in the container, listed in the marker.
    let dir = writer
        .create_scan(
            "tl_d0",
            obj(json!({"timelapse": {"index": 0, "scheduled": "2026-09-03T10:00:00Z"}})),
            &alice(),
            Some("tl"),
        )
        .unwrap();
    assert_eq!(dir, root.path().join("tl/tl_d0"));
    let md = read_json(&dir.join("metadata/metadata.json"));
    assert_eq!(
        md["timelapse"],
        json!({"id": "tl", "index": 0, "scheduled": "2026-09-03T10:00:00Z"})
    );
    let marker = read_json(&root.path().join("tl/timelapse.json"));
    assert_eq!(marker["scans"], json!(["tl_d0"]));
    let text = fs::read_to_string(root.path().join("tl/timelapse.json")).unwrap();
    assert_eq!(
        plantdb_data::json::to_python_json_unsorted_indent4(&marker),
        text
    );
    // The id is taken, flat or nested, and a timelapse cannot take it either.
    assert!(matches!(
        writer.create_scan("tl_d0", Map::new(), &alice(), None),
        Err(DataError::Conflict(_))
    ));
    assert!(matches!(
        writer.create_scan("tl_d0", Map::new(), &alice(), Some("tl")),
        Err(DataError::Conflict(_))
    ));
    assert!(matches!(
        writer.create_timelapse("tl_d0", Map::new(), &alice()),
        Err(DataError::Conflict(_))
    ));
    let listing = layout::list(root.path());
    assert_eq!(listing.scans["tl_d0"].timelapse.as_deref(), Some("tl"));

    // A marker without owner gets the creator of its first scan.
    let mut m = read_json(&root.path().join("tl/timelapse.json"));
    m["owner"] = Value::Null;
    fs::write(root.path().join("tl/timelapse.json"), m.to_string()).unwrap();
    writer
        .create_scan("tl_d1", Map::new(), &alice(), Some("tl"))
        .unwrap();
    let m = read_json(&root.path().join("tl/timelapse.json"));
    assert_eq!(m["owner"], "alice");
    assert_eq!(m["scans"], json!(["tl_d0", "tl_d1"]));

    // Delete: refused while not empty, then moved to .trash.
    let err = writer.delete_timelapse("tl", false).unwrap_err();
    assert!(matches!(err, DataError::Conflict(_)));
    assert!(err
        .to_string()
        .starts_with("Timelapse 'tl' is not empty. Delete with recursive=true"));
    writer.delete_timelapse("tl", true).unwrap();
    assert!(!root.path().join("tl").exists());
    let trashed: Vec<String> = fs::read_dir(root.path().join(".trash"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(trashed.len(), 1);
    let name = &trashed[0];
    assert!(
        name.ends_with("Z_tl") && name.len() == "20261202T154537Z_tl".len(),
        "{name}"
    );
    assert!(root
        .path()
        .join(".trash")
        .join(name)
        .join("tl_d0/files.json")
        .is_file());
    assert!(matches!(
        writer.delete_timelapse("tl", true),
        Err(DataError::NotFound(_))
    ));
    // An empty one goes without `recursive`.
    writer
        .create_timelapse("tl2", Map::new(), &alice())
        .unwrap();
    writer.delete_timelapse("tl2", false).unwrap();
    assert!(!root.path().join("tl2").exists());
}

#[test]
fn filesets_and_files() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = writer
        .create_scan("s1", Map::new(), &alice(), None)
        .unwrap();
    writer
        .create_fileset(
            &dir,
            "s1",
            "images",
            obj(json!({"owner": "x", "sharing": ["g"], "desc": "d", "created_by": "z"})),
            &alice(),
        )
        .unwrap();
    assert!(dir.join("images").is_dir());
    let fs_md = read_json(&dir.join("metadata/images.json"));
    assert_eq!(fs_md["desc"], "d");
    assert_eq!(fs_md["created_by"], "Alice Liddell");
    assert!(fs_md.get("owner").is_none() && fs_md.get("sharing").is_none());
    assert!(matches!(
        writer.create_fileset(&dir, "s1", "images", Map::new(), &alice()),
        Err(DataError::Conflict(_))
    ));
    fs::create_dir(dir.join("stray")).unwrap();
    assert!(matches!(
        writer.create_fileset(&dir, "s1", "stray", Map::new(), &alice()),
        Err(DataError::Conflict(_))
    ));

    let up = upload(&writer, &dir, "images", b"\xff\xd8 jpeg bytes");
    assert!(up
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".upload."));
    let name = writer
        .commit_file(
            &dir,
            "s1",
            "images",
            "00000_rgb",
            "JPG",
            up,
            obj(json!({"pose": [1, 2], "owner": "x"})),
            &alice(),
        )
        .unwrap();
    assert_eq!(name, "00000_rgb.jpg");
    assert_eq!(
        fs::read(dir.join("images/00000_rgb.jpg")).unwrap(),
        b"\xff\xd8 jpeg bytes"
    );
    let file_md = read_json(&dir.join("metadata/images/00000_rgb.json"));
    assert_eq!(file_md["pose"], json!([1, 2]));
    assert!(file_md.get("owner").is_none());
    assert!(file_md["created"].is_string() && file_md["last_modified"].is_string());

    let up = upload(&writer, &dir, "images", b"ply");
    writer
        .commit_file(
            &dir,
            "s1",
            "images",
            "cloud",
            ".ply",
            up,
            Map::new(),
            &alice(),
        )
        .unwrap();
    let text = fs::read_to_string(dir.join("files.json")).unwrap();
    assert_eq!(
        text,
        "{\n    \"filesets\": [\n        {\n            \"files\": [\n                {\n                    \"file\": \"00000_rgb.jpg\",\n                    \"id\": \"00000_rgb\"\n                },\n                {\n                    \"file\": \"cloud.ply\",\n                    \"id\": \"cloud\"\n                }\n            ],\n            \"id\": \"images\"\n        }\n    ]\n}"
    );
    let loc = layout::list(root.path()).scans["s1"].clone();
    let loaded = scan::load(&loc).unwrap();
    let images = loaded.fileset("images").unwrap();
    assert_eq!(images.files.len(), 2);

    // Conflicts, bad input; the temporary never stays.
    let up = upload(&writer, &dir, "images", b"again");
    let err = writer
        .commit_file(
            &dir,
            "s1",
            "images",
            "cloud",
            "txt",
            up,
            Map::new(),
            &alice(),
        )
        .unwrap_err();
    assert!(matches!(err, DataError::Conflict(_)), "{err:?}");
    let up = upload(&writer, &dir, "images", b"again");
    let err = writer
        .commit_file(&dir, "s1", "images", "x", "exe", up, Map::new(), &alice())
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("Invalid file extension. Must be one of: .jpg"));
    let up = upload(&writer, &dir, "images", b"again");
    assert!(matches!(
        writer.commit_file(&dir, "s1", "images", "a.b", "txt", up, Map::new(), &alice()),
        Err(DataError::InvalidInput(_))
    ));
    // A data file of that name not in files.json (left by a crash between
    // placing the data and listing it): the retry replaces it.
    fs::write(dir.join("images/orphan.txt"), b"o").unwrap();
    let up = upload(&writer, &dir, "images", b"again");
    writer
        .commit_file(
            &dir,
            "s1",
            "images",
            "orphan",
            "txt",
            up,
            Map::new(),
            &alice(),
        )
        .unwrap();
    assert_eq!(fs::read(dir.join("images/orphan.txt")).unwrap(), b"again");
    assert!(dir.join("metadata/images/orphan.json").exists());
    // Dropped without commit.
    let up = upload(&writer, &dir, "images", b"abandoned");
    let temp = up.path().to_path_buf();
    assert!(temp.exists());
    drop(up);
    assert!(!temp.exists());
    assert!(tree(&dir.join("images"))
        .iter()
        .all(|n| !n.starts_with('.')));
    assert!(matches!(
        writer.begin_upload(&dir, "nope"),
        Err(DataError::NotFound(_))
    ));
}

#[test]
fn files_json_keeps_what_others_wrote() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = scan_with_fileset(&writer, "s1", "images");
    // Another program adds a fileset and an unknown key, in Python's layout.
    let mut index = read_json(&dir.join("files.json"));
    index["filesets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "Colmap__True", "files": [{"id": "cameras", "file": "cameras.json"}]}));
    index["extra"] = json!({"kept": true});
    fs::create_dir(dir.join("Colmap__True")).unwrap();
    fs::write(dir.join("Colmap__True/cameras.json"), b"{}").unwrap();
    fs::write(dir.join("files.json"), to_python_json_sorted(&index)).unwrap();

    let up = upload(&writer, &dir, "images", b"img");
    writer
        .commit_file(&dir, "s1", "images", "a", "png", up, Map::new(), &alice())
        .unwrap();
    let after = read_json(&dir.join("files.json"));
    assert_eq!(after["extra"], json!({"kept": true}));
    assert_eq!(
        after["filesets"][1]["files"],
        json!([{"id": "cameras", "file": "cameras.json"}])
    );
    assert_eq!(
        after["filesets"][0]["files"],
        json!([{"id": "a", "file": "a.png"}])
    );

    // A files.json that stays unreadable is never overwritten.
    fs::write(dir.join("files.json"), b"{\"filesets\": [").unwrap();
    let up = upload(&writer, &dir, "images", b"img");
    let err = writer
        .commit_file(&dir, "s1", "images", "b", "png", up, Map::new(), &alice())
        .unwrap_err();
    assert!(matches!(err, DataError::Corrupt(_)), "{err:?}");
    assert_eq!(
        fs::read(dir.join("files.json")).unwrap(),
        b"{\"filesets\": ["
    );
    assert!(!dir.join("images/b.png").exists());
    assert!(!dir.join("metadata/images/b.json").exists());
}

#[test]
fn sixty_four_concurrent_commits_into_one_fileset_are_all_kept() {
    let root = root();
    let writer = Arc::new(Writer::new(root.path()).unwrap());
    let dir = scan_with_fileset(&writer, "s1", "images");
    std::thread::scope(|scope| {
        for i in 0..64 {
            let writer = Arc::clone(&writer);
            let dir = dir.clone();
            scope.spawn(move || {
                let bytes = format!("file {i}").repeat(1000);
                let up = upload(&writer, &dir, "images", bytes.as_bytes());
                writer
                    .commit_file(
                        &dir,
                        "s1",
                        "images",
                        &format!("f{i:02}"),
                        "txt",
                        up,
                        obj(json!({"i": i})),
                        &alice(),
                    )
                    .unwrap();
            });
        }
    });
    let index = read_json(&dir.join("files.json"));
    let files = index["filesets"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 64);
    let mut ids: Vec<&str> = files.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 64);
    for i in 0..64 {
        let data = fs::read_to_string(dir.join(format!("images/f{i:02}.txt"))).unwrap();
        assert_eq!(data, format!("file {i}").repeat(1000));
        let md = read_json(&dir.join(format!("metadata/images/f{i:02}.json")));
        assert_eq!(md["i"], i);
    }
    assert!(tree(&dir)
        .iter()
        .all(|n| !n.rsplit('/').next().unwrap().starts_with('.')));
}

#[test]
fn same_file_id_raced_by_many_threads_is_created_once() {
    let root = root();
    let writer = Arc::new(Writer::new(root.path()).unwrap());
    let dir = scan_with_fileset(&writer, "s1", "images");
    let outcomes: Vec<Result<String, DataError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let writer = Arc::clone(&writer);
                let dir = dir.clone();
                scope.spawn(move || {
                    let up = upload(&writer, &dir, "images", format!("{i}").as_bytes());
                    let ext = if i % 2 == 0 { "txt" } else { "json" };
                    writer.commit_file(&dir, "s1", "images", "same", ext, up, Map::new(), &alice())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .all(|e| matches!(e, DataError::Conflict(_))));
    let index = read_json(&dir.join("files.json"));
    assert_eq!(
        index["filesets"][0]["files"],
        json!([{"id": "same", "file": won[0]}])
    );
    let data_files: Vec<String> = tree(&dir.join("images"));
    assert_eq!(data_files, vec![won[0].clone()]);
    assert!(dir.join("metadata/images/same.json").is_file());
}

#[test]
fn failed_commit_leaves_nothing() {
    let root = root();
    let writer = Writer::new(root.path())
        .unwrap()
        .with_lock_timeout(Duration::from_millis(200));
    let dir = scan_with_fileset(&writer, "s1", "images");
    let before = tree(&dir);
    let files_json = fs::read(dir.join("files.json")).unwrap();

    // 1. The fileset lock is held by another program: 503, nothing written.
    let other = PythonLocks::new(root.path());
    let held = other
        .acquire(
            LockResource::Fileset("s1", "images"),
            LockKind::Exclusive,
            "pipeline",
        )
        .unwrap();
    let up = upload(&writer, &dir, "images", b"data");
    let err = writer
        .commit_file(&dir, "s1", "images", "a", "txt", up, Map::new(), &alice())
        .unwrap_err();
    assert!(matches!(err, DataError::Busy(_)), "{err:?}");
    assert!(err.to_string().contains("locked by another program"));
    drop(held);
    assert_eq!(tree(&dir), before);

    // 2. The file metadata directory cannot be made: the data file written
    //    just before is removed again.
    let _ = fs::remove_dir(dir.join("metadata/images")); // left empty by step 1
    fs::write(dir.join("metadata/images"), b"in the way").unwrap();
    let up = upload(&writer, &dir, "images", b"data");
    assert!(writer
        .commit_file(&dir, "s1", "images", "a", "txt", up, Map::new(), &alice())
        .is_err());
    fs::remove_file(dir.join("metadata/images")).unwrap();
    assert_eq!(tree(&dir), before);

    // 3. files.json cannot be updated (the fileset's "files" is not a
    //    list): the data file and the metadata written before are removed.
    let mut index = read_json(&dir.join("files.json"));
    index["filesets"][0]["files"] = json!(5);
    fs::write(dir.join("files.json"), to_python_json_sorted(&index)).unwrap();
    let up = upload(&writer, &dir, "images", b"data");
    let err = writer
        .commit_file(&dir, "s1", "images", "a", "txt", up, Map::new(), &alice())
        .unwrap_err();
    assert!(matches!(err, DataError::Corrupt(_)), "{err:?}");
    fs::write(dir.join("files.json"), &files_json).unwrap();
    assert_eq!(tree(&dir), before);
    let _ = fs::remove_dir(dir.join("metadata/images"));

    // 4. The fileset vanished from files.json meanwhile: 404, nothing left.
    let mut index = read_json(&dir.join("files.json"));
    index["filesets"] = json!([]);
    fs::write(dir.join("files.json"), to_python_json_sorted(&index)).unwrap();
    let up = upload(&writer, &dir, "images", b"data");
    let err = writer
        .commit_file(&dir, "s1", "images", "a", "txt", up, Map::new(), &alice())
        .unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)), "{err:?}");
    fs::write(dir.join("files.json"), &files_json).unwrap();
    assert_eq!(tree(&dir), before);
    // Never a "file": null entry.
    assert!(!fs::read_to_string(dir.join("files.json"))
        .unwrap()
        .contains("null"));
}

#[test]
fn failed_scan_creation_leaves_nothing() {
    let root = root();
    let writer = Writer::new(root.path())
        .unwrap()
        .with_lock_timeout(Duration::from_millis(200));
    writer.create_timelapse("tl", Map::new(), &alice()).unwrap();
    // The timelapse marker is broken: the scan is not created.
    fs::write(root.path().join("tl/timelapse.json"), b"[1, 2]").unwrap();
    let err = writer
        .create_scan("s", Map::new(), &alice(), Some("tl"))
        .unwrap_err();
    assert!(matches!(err, DataError::Corrupt(_)), "{err:?}");
    assert_eq!(tree(&root.path().join("tl")), vec!["timelapse.json"]);
    // Locked by another program: 503.
    let other = PythonLocks::new(root.path());
    let held = other
        .acquire(LockResource::Scan("s"), LockKind::Exclusive, "pipeline")
        .unwrap();
    assert!(matches!(
        writer.create_scan("s", Map::new(), &alice(), None),
        Err(DataError::Busy(_))
    ));
    drop(held);
    assert!(!root.path().join("s").exists());
    assert_eq!(
        fs::read_dir(root.path().join(".plantdb-tmp"))
            .unwrap()
            .count(),
        0
    );
}

fn scan_target(dir: &Path) -> MetadataTarget {
    MetadataTarget::Scan {
        dir: dir.to_path_buf(),
        id: "s1".into(),
    }
}

#[test]
fn metadata_update_rules() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = writer
        .create_scan(
            "s1",
            obj(json!({"a": 1, "b": {"x": 1}, "sharing": ["team"]})),
            &alice(),
            None,
        )
        .unwrap();
    let stored = read_json(&dir.join("metadata/metadata.json"));

    // Merge: shallow; created/created_by/owner/sharing of the patch ignored.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"b": {"y": 2}, "c": 3, "owner": "mallory", "sharing": [],
                       "created": "1999", "created_by": "M", "timelapse": {"id": "tl", "index": 4}})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap();
    assert_eq!(out["a"], 1);
    assert_eq!(out["b"], json!({"y": 2}));
    assert_eq!(out["c"], 3);
    assert_eq!(out["owner"], "alice");
    assert_eq!(out["sharing"], json!(["team"]));
    assert_eq!(out["created"], stored["created"]);
    assert_eq!(out["created_by"], "Alice Liddell");
    // A flat scan does not gain a timelapse id; other timelapse keys stay.
    assert_eq!(out["timelapse"], json!({"index": 4}));
    assert_ne!(out["last_modified"], Value::Null);
    let on_disk = fs::read_to_string(dir.join("metadata/metadata.json")).unwrap();
    assert_eq!(on_disk, to_python_json_sorted(&Value::Object(out.clone())));

    // The policy applies owner and sharing at scan level.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"owner": "ignored"})),
            false,
            ScanMetadataPolicy {
                owner: Some("bob".into()),
                sharing: Some(vec!["g1".into(), "g2".into()]),
            },
        )
        .unwrap();
    assert_eq!(out["owner"], "bob");
    assert_eq!(out["sharing"], json!(["g1", "g2"]));

    // Replace: the patch replaces, protected keys kept.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"only": true})),
            true,
            ScanMetadataPolicy::default(),
        )
        .unwrap();
    let keys: Vec<&str> = out.keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "created",
            "created_by",
            "last_modified",
            "only",
            "owner",
            "sharing"
        ]
    );

    // Posting back a whole GET document succeeds.
    let whole = out.clone();
    writer
        .update_metadata(
            scan_target(&dir),
            whole,
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap();

    // A scan deleted meanwhile is not recreated.
    let gone = root.path().join("gone");
    let err = writer
        .update_metadata(
            MetadataTarget::Scan {
                dir: gone.clone(),
                id: "gone".into(),
            },
            obj(json!({"a": 1})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)), "{err:?}");
    assert!(!gone.exists());
    let err = writer
        .update_metadata(
            MetadataTarget::Fileset {
                dir: dir.clone(),
                scan_id: "s1".into(),
                fs: "nope".into(),
            },
            obj(json!({"a": 1})),
            false,
            ScanMetadataPolicy::default(),
        )
        .unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)), "{err:?}");
    assert!(!dir.join("metadata/nope.json").exists());
}

#[test]
fn timelapse_id_is_immutable() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    writer.create_timelapse("tl", Map::new(), &alice()).unwrap();
    let dir = writer
        .create_scan(
            "s1",
            obj(json!({"timelapse": {"index": 1}})),
            &alice(),
            Some("tl"),
        )
        .unwrap();
    let policy = ScanMetadataPolicy::default;
    // Changed: kept as stored; other keys editable.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"timelapse": {"id": "other", "index": 2}})),
            false,
            policy(),
        )
        .unwrap();
    assert_eq!(out["timelapse"], json!({"id": "tl", "index": 2}));
    // Removed from the object: put back.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"timelapse": {"scheduled": "x"}})),
            false,
            policy(),
        )
        .unwrap();
    assert_eq!(out["timelapse"], json!({"id": "tl", "scheduled": "x"}));
    // Not an object: ignored.
    let out = writer
        .update_metadata(
            scan_target(&dir),
            obj(json!({"timelapse": null})),
            false,
            policy(),
        )
        .unwrap();
    assert_eq!(out["timelapse"], json!({"id": "tl", "scheduled": "x"}));
    // Replace without timelapse: the id stays.
    let out = writer
        .update_metadata(scan_target(&dir), obj(json!({"k": 1})), true, policy())
        .unwrap();
    assert_eq!(out["timelapse"], json!({"id": "tl"}));
}

#[test]
fn fileset_and_file_metadata_updates() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = scan_with_fileset(&writer, "s1", "images");
    let up = upload(&writer, &dir, "images", b"x");
    writer
        .commit_file(
            &dir,
            "s1",
            "images",
            "f",
            "txt",
            up,
            obj(json!({"k": 1})),
            &alice(),
        )
        .unwrap();
    // A Python-made fileset metadata carries an owner: it stays.
    let mut fs_md = read_json(&dir.join("metadata/images.json"));
    fs_md["owner"] = json!("admin");
    fs::write(
        dir.join("metadata/images.json"),
        to_python_json_sorted(&fs_md),
    )
    .unwrap();
    let out = writer
        .update_metadata(
            MetadataTarget::Fileset {
                dir: dir.clone(),
                scan_id: "s1".into(),
                fs: "images".into(),
            },
            obj(json!({"owner": "mallory", "sharing": ["g"], "workspace": {"x": [0, 1]}})),
            false,
            ScanMetadataPolicy {
                owner: Some("ignored at this level".into()),
                sharing: None,
            },
        )
        .unwrap();
    assert_eq!(out["owner"], "admin");
    assert!(out.get("sharing").is_none());
    assert_eq!(out["workspace"], json!({"x": [0, 1]}));

    let target = MetadataTarget::File {
        dir: dir.clone(),
        scan_id: "s1".into(),
        fs: "images".into(),
        file: "f".into(),
    };
    let out = writer
        .update_metadata(
            target.clone(),
            obj(json!({"k": 2, "z": 0})),
            false,
            Default::default(),
        )
        .unwrap();
    assert_eq!(out["k"], 2);
    assert_eq!(out["z"], 0);
    assert!(out["created"].is_string());
    assert_eq!(read_json(&dir.join("metadata/images/f.json"))["k"], 2);

    // A missing file starts from {}; a broken one is refused unless replaced.
    fs::remove_file(dir.join("metadata/images/f.json")).unwrap();
    let out = writer
        .update_metadata(
            target.clone(),
            obj(json!({"n": 1})),
            false,
            Default::default(),
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    fs::write(dir.join("metadata/images/f.json"), b"{broken").unwrap();
    assert!(matches!(
        writer.update_metadata(
            target.clone(),
            obj(json!({"n": 1})),
            false,
            Default::default()
        ),
        Err(DataError::Corrupt(_))
    ));
    let out = writer
        .update_metadata(target, obj(json!({"n": 2})), true, Default::default())
        .unwrap();
    assert_eq!(out["n"], 2);
}

#[test]
fn install_archive_rewrites_metadata_and_renames() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let staging = writer.staging_dir().unwrap();
    assert!(staging.starts_with(root.path().join(".plantdb-tmp")));
    fs::create_dir_all(staging.join("metadata")).unwrap();
    fs::create_dir_all(staging.join("images")).unwrap();
    fs::write(staging.join("images/a.jpg"), b"jpg").unwrap();
    fs::write(
        staging.join("files.json"),
        to_python_json_sorted(
            &json!({"filesets": [{"id": "images", "files": [{"id": "a", "file": "a.jpg"}]}]}),
        ),
    )
    .unwrap();
    fs::write(
        staging.join("metadata/metadata.json"),
        json!({"owner": "admin", "sharing": ["team", "ghosts"], "timelapse": {"id": "tl"},
               "created": "2020-01-01T00:00:00", "plant": "p"})
        .to_string(),
    )
    .unwrap();
    let target = writer
        .install_archive(&staging, "up1", &alice(), None, &["team".into()])
        .unwrap();
    assert_eq!(target, root.path().join("up1"));
    assert!(!staging.exists());
    let md = read_json(&target.join("metadata/metadata.json"));
    assert_eq!(md["owner"], "alice");
    assert_eq!(md["sharing"], json!(["team"]));
    assert!(md.get("timelapse").is_none());
    assert_eq!(md["created"], "2020-01-01T00:00:00");
    assert_eq!(md["created_by"], "Alice Liddell");
    assert_eq!(md["plant"], "p");
    assert!(md["last_modified"].is_string());
    assert!(layout::list(root.path()).scans.contains_key("up1"));

    // keep_owner: an existing user stays owner; sharing none left → removed.
    let staging = writer.staging_dir().unwrap();
    fs::create_dir_all(staging.join("metadata")).unwrap();
    fs::write(staging.join("files.json"), b"{\"filesets\": []}").unwrap();
    fs::write(
        staging.join("metadata/metadata.json"),
        br#"{"owner": "admin", "sharing": "ghosts"}"#,
    )
    .unwrap();
    let users = vec!["admin".to_string(), "alice".to_string()];
    let target = writer
        .install_archive(&staging, "up2", &alice(), Some(&users), &[])
        .unwrap();
    let md = read_json(&target.join("metadata/metadata.json"));
    assert_eq!(md["owner"], "admin");
    assert!(md.get("sharing").is_none());

    // Taken id: 409, staging left to the caller.
    let staging = writer.staging_dir().unwrap();
    fs::write(staging.join("files.json"), b"{\"filesets\": []}").unwrap();
    assert!(matches!(
        writer.install_archive(&staging, "up1", &alice(), None, &[]),
        Err(DataError::Conflict(_))
    ));
    assert!(staging.exists());
    // metadata.json not an object: 400.
    fs::create_dir_all(staging.join("metadata")).unwrap();
    fs::write(staging.join("metadata/metadata.json"), b"[]").unwrap();
    assert!(matches!(
        writer.install_archive(&staging, "up3", &alice(), None, &[]),
        Err(DataError::InvalidInput(_))
    ));
}

#[test]
fn stale_temporaries_are_removed_at_start() {
    let root = root();
    let writer = Writer::new(root.path()).unwrap();
    let dir = scan_with_fileset(&writer, "s1", "images");
    writer.create_timelapse("tl", Map::new(), &alice()).unwrap();
    let nested = writer
        .create_scan("tl_1", Map::new(), &alice(), Some("tl"))
        .unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    let make = |path: PathBuf, stale: bool| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let f = fs::File::create(&path).unwrap();
        if stale {
            f.set_modified(old).unwrap();
        }
        path
    };
    let stale = [
        make(dir.join(".files.json.0123456789abcdef.tmp"), true),
        make(dir.join("images/.upload.0123456789abcdef.tmp"), true),
        make(
            dir.join("metadata/.metadata.json.0123456789abcdef.tmp"),
            true,
        ),
        make(
            dir.join("metadata/images/.f.json.0123456789abcdef.tmp"),
            true,
        ),
        make(dir.join("webcache/.x.jpg.0123456789abcdef.tmp"), true),
        make(nested.join(".files.json.0123456789abcdef.tmp"), true),
        make(
            root.path().join("tl/.timelapse.json.0123456789abcdef.tmp"),
            true,
        ),
    ];
    let kept = [
        make(dir.join(".files.json.fedcba9876543210.tmp"), false),
        make(dir.join(".hidden_by_someone.tmp"), true),
        make(dir.join("images/data.tmp"), true),
    ];
    let staged_old = writer.staging_dir().unwrap();
    fs::write(staged_old.join("x"), b"x").unwrap();
    let staged_new = writer.staging_dir().unwrap();
    fs::File::open(&staged_old)
        .unwrap()
        .set_modified(old)
        .unwrap();

    assert_eq!(remove_stale_temporaries(root.path()), stale.len() + 1);
    for p in &stale {
        assert!(!p.exists(), "{}", p.display());
    }
    for p in &kept {
        assert!(p.exists(), "{}", p.display());
    }
    assert!(!staged_old.exists());
    assert!(staged_new.exists());
}
