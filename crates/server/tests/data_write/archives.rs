//! Archive upload (data-api.md §8.2, route 32 and 0.14 `POST /archive/<id>`):
//! a valid zip becomes a scan owned by the uploader; hostile zips are
//! refused with nothing left behind.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::zip::{self, Entry};

/// A small expanded-size cap, so that a "bomb" is cheap to send.
const MAX_EXPANDED: &str = "20000";

async fn app() -> (TestApp, String) {
    let app = spawn(&["--max-archive-expanded-size", MAX_EXPANDED]).await;
    let admin = app.admin().await;
    (app, admin)
}

/// The root's entries, without the server's own bookkeeping.
fn root_entries(app: &TestApp) -> Vec<String> {
    names_in(&app.root)
        .into_iter()
        .filter(|n| n != ".plantdb-auth" && n != ".locks" && n != ".plantdb-tmp")
        .collect()
}

fn files_of(body: &Value) -> BTreeSet<String> {
    body["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files list: {body}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .filter(|p| !p.ends_with('/'))
        .collect()
}

fn expected_files() -> BTreeSet<String> {
    [
        "files.json",
        "images/img0.jpg",
        "metadata/images.json",
        "metadata/images/img0.json",
        "metadata/metadata.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[tokio::test]
async fn a_valid_archive_becomes_a_scan_owned_by_the_uploader() {
    let (app, admin) = app().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    app.group(&admin, "lab", &["carl"]).await;
    let mut entries = zip::scan_entries(&json!({
        "owner": "admin",
        "sharing": ["lab", "ghost"],
        "plant": "p1",
        "timelapse": {"id": "tlx", "index": 3},
        "created": "2020-01-01T00:00:00",
        "created_by": "The Robot",
        "last_modified": "2020-01-01T00:00:00"
    }));
    entries.push(Entry::file(".hidden_file", b"secret"));
    entries.push(Entry::file("images/.partial.tmp", b"partial"));
    entries.push(Entry::dir("webcache/"));
    entries.push(Entry::file("webcache/0123.jpeg", b"cached"));
    let r = app
        .post_form(
            "/api/v1/assets/archive/uploaded",
            Some(&carl),
            zip_form(&zip::build(&entries)),
        )
        .await;
    let body = r.expect(200, "upload").clone();
    assert_eq!(body["message"], "ZIP file processed successfully");
    let files = files_of(&body);
    assert_eq!(
        files,
        expected_files(),
        "scan-relative paths, hidden and webcache skipped"
    );

    let dir = app.root.join("uploaded");
    assert!(!dir.join(".hidden_file").exists());
    assert!(!dir.join("images/.partial.tmp").exists());
    assert!(!dir.join("webcache").exists());
    assert_eq!(
        std::fs::read(dir.join("images/img0.jpg")).unwrap(),
        zip::image_bytes()
    );
    // Served at once.
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "list"), &json!(["uploaded"]));
    let r = app.get("/api/v1/files/uploaded/images/img0", None).await;
    r.expect(200, "download a file");
    assert_eq!(r.bytes, zip::image_bytes());
    let r = app.get("/api/v1/scans/uploaded/filesets", None).await;
    assert_eq!(r.expect(200, "filesets"), &json!({"filesets": ["images"]}));
    let r = app
        .get("/api/v1/files/uploaded/images/img0/metadata", None)
        .await;
    assert_eq!(r.expect(200, "file md")["metadata"]["shot"], 0);

    // The metadata: the uploader owns it; unknown groups and the timelapse
    // link are dropped; created kept; last_modified now.
    let md = app.scan_metadata_on_disk("uploaded");
    assert_eq!(md["owner"], "carl", "§8.2 step 6 / §12 P18: {md}");
    assert_eq!(md["sharing"], json!(["lab"]), "{md}");
    assert_eq!(md["plant"], "p1");
    assert!(md.get("timelapse").is_none(), "{md}");
    assert_eq!(md["created"], "2020-01-01T00:00:00");
    assert_eq!(md["created_by"], "The Robot");
    assert_python_iso(&md["last_modified"], "last_modified");
    assert_ne!(md["last_modified"], "2020-01-01T00:00:00");
    let r = app.get("/api/v1/scans/uploaded/metadata", None).await;
    assert_eq!(r.expect(200, "md")["metadata"], md);
    // The uploader (owner) can write to it.
    app.post_json(
        "/api/v1/scans/uploaded/metadata",
        Some(&carl),
        &json!({"metadata": {"x": 1}}),
    )
    .await
    .expect(200, "owner writes");
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );

    // An archive without created/created_by gets them.
    let r = app
        .post_form(
            "/api/v1/assets/archive/bare",
            Some(&carl),
            zip_form(&zip::scan_archive(&json!({}))),
        )
        .await;
    r.expect(200, "bare");
    let md = app.scan_metadata_on_disk("bare");
    assert_eq!(md["owner"], "carl");
    assert_python_iso(&md["created"], "created");
    assert!(md["created_by"].is_string(), "{md}");
    // An existing id: 409, the scan untouched.
    let r = app
        .post_form(
            "/api/v1/assets/archive/uploaded",
            Some(&carl),
            zip_form(&zip::scan_archive(&json!({"plant": "other"}))),
        )
        .await;
    r.expect_error(409, "conflict", "existing scan");
    assert_eq!(app.scan_metadata_on_disk("uploaded")["plant"], "p1");
}

#[tokio::test]
async fn an_admin_upload_keeps_an_existing_archive_owner() {
    let (app, admin) = app().await;
    app.user(&admin, "dora", &["contributor"]).await;
    app.post_form(
        "/api/v1/assets/archive/by_dora",
        Some(&admin),
        zip_form(&zip::scan_archive(&json!({"owner": "dora"}))),
    )
    .await
    .expect(200, "owner dora");
    assert_eq!(app.scan_metadata_on_disk("by_dora")["owner"], "dora");
    app.post_form(
        "/api/v1/assets/archive/by_ghost",
        Some(&admin),
        zip_form(&zip::scan_archive(&json!({"owner": "ghost_user"}))),
    )
    .await
    .expect(200, "owner unknown");
    assert_eq!(app.scan_metadata_on_disk("by_ghost")["owner"], "admin");
}

#[tokio::test]
async fn a_top_directory_is_stripped_and_the_014_route_works() {
    let (app, admin) = app().await;
    // Without explicit directory entries (Python would extract one level
    // too deep), and with them.
    for (id, explicit) in [("top_implicit", false), ("top_explicit", true)] {
        let entries: Vec<Entry> = zip::scan_entries(&json!({"plant": id}))
            .into_iter()
            .filter(|e| explicit || !e.name.ends_with(b"/"))
            .map(|mut e| {
                let mut name = b"myscan/".to_vec();
                name.extend_from_slice(&e.name);
                e.name = name;
                e
            })
            .chain(explicit.then(|| Entry::dir("myscan/")))
            .collect();
        let r = app
            .post_form(
                &format!("/api/v1/assets/archive/{id}"),
                Some(&admin),
                zip_form(&zip::build(&entries)),
            )
            .await;
        let body = r.expect(200, id).clone();
        assert_eq!(files_of(&body), expected_files(), "{id}");
        let dir = app.root.join(id);
        assert!(dir.join("files.json").is_file(), "{id}");
        assert!(!dir.join("myscan").exists(), "{id}");
        assert_eq!(app.scan_metadata_on_disk(id)["plant"], id);
        let r = app
            .get(&format!("/api/v1/files/{id}/images/img0"), None)
            .await;
        r.expect(200, id);
        assert_eq!(r.bytes, zip::image_bytes());
    }
    // The 0.14 route: same rules, its own message; Windows' part type.
    let form = Form::new().file(
        "zip_file",
        "Scan.ZIP",
        "application/x-zip-compressed",
        &zip::scan_archive(&json!({})),
    );
    let r = app
        .post_form("/archive/old_style", Some(&admin), form)
        .await;
    let body = r.expect(200, "0.14 upload").clone();
    assert_eq!(body["message"], "Zip file processed successfully");
    assert_eq!(files_of(&body), expected_files());
    app.get("/api/v1/scans/old_style", None)
        .await
        .expect(200, "served");
    let r = app
        .post_form(
            "/archive/old_style",
            Some(&admin),
            zip_form(&zip::scan_archive(&json!({}))),
        )
        .await;
    r.expect_error(409, "conflict", "0.14 existing");
    let r = app
        .post_form(
            "/archive/anon14",
            None,
            zip_form(&zip::scan_archive(&json!({}))),
        )
        .await;
    r.expect_error(401, "not_authenticated", "0.14 anonymous");
}

#[tokio::test]
async fn a_downloaded_archive_uploads_again_identically() {
    let (app, admin) = app().await;
    app.scan(&admin, "orig", json!({"plant": "round-trip"}))
        .await;
    app.fileset(&admin, "orig", "images").await;
    let data: Vec<Vec<u8>> = (0..3)
        .map(|i| bytes_for(&format!("img{i}"), 700 + i))
        .collect();
    for (i, d) in data.iter().enumerate() {
        app.upload(
            Some(&admin),
            "orig",
            "images",
            &format!("img{i}"),
            "jpg",
            d,
            Some(&format!("{{\"i\": {i}}}")),
        )
        .await
        .expect(201, "upload");
    }
    let r = app.get("/api/v1/assets/archive/orig", None).await;
    r.expect(200, "download archive");
    let zip_bytes = r.bytes.clone();
    let r = app
        .post_form(
            "/api/v1/assets/archive/copy",
            Some(&admin),
            zip_form(&zip_bytes),
        )
        .await;
    let body = r.expect(200, "re-upload").clone();
    let files = files_of(&body);
    assert!(files.contains("images/img2.jpg"), "{files:?}");
    for (i, d) in data.iter().enumerate() {
        let r = app
            .get(&format!("/api/v1/files/copy/images/img{i}"), None)
            .await;
        r.expect(200, "download copy");
        assert_eq!(&r.bytes, d, "img{i}");
        let r = app
            .get(&format!("/api/v1/files/copy/images/img{i}/metadata"), None)
            .await;
        assert_eq!(r.expect(200, "md")["metadata"]["i"], i);
    }
    assert_eq!(app.scan_metadata_on_disk("copy")["plant"], "round-trip");
    assert_eq!(
        read_json(&app.root.join("copy/files.json")),
        read_json(&app.root.join("orig/files.json"))
    );
}

#[tokio::test]
async fn hostile_archives_are_refused_and_leave_nothing() {
    let (app, admin) = app().await;
    let nonce = std::process::id();
    let evil = format!("evil_{nonce}.txt");
    let base = zip::scan_entries(&json!({}));
    let with = |extra: Vec<Entry>| -> Vec<u8> {
        let mut e = base.clone();
        e.extend(extra);
        zip::build(&e)
    };
    let valid = zip::build(&base);
    let mut encrypted = base.clone();
    encrypted[2].flags = 1;
    let mut bad_crc = base.clone();
    bad_crc[2].crc = Some(0xDEAD_BEEF);
    let mut lying = base.clone();
    lying[2].declared_size = Some(3_000_000_000);
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "dotdot",
            with(vec![Entry::file(&format!("images/../../{evil}"), b"x")]),
            &[400],
        ),
        (
            "dotdot at the top",
            with(vec![Entry::file(&format!("../{evil}"), b"x")]),
            &[400],
        ),
        (
            "deep dotdot",
            with(vec![Entry::file(&format!("../../../../{evil}"), b"x")]),
            &[400],
        ),
        (
            "absolute",
            with(vec![Entry::file(&format!("/{evil}"), b"x")]),
            &[400],
        ),
        (
            "backslash",
            with(vec![Entry::file("images\\b.jpg", b"x")]),
            &[400],
        ),
        (
            "backslash traversal",
            with(vec![Entry::file(&format!("..\\..\\{evil}"), b"x")]),
            &[400],
        ),
        (
            "symlink",
            with(vec![Entry::symlink("images/link.jpg", "/etc/passwd")]),
            &[400],
        ),
        (
            "symlink dir",
            with(vec![Entry::symlink("images/up", "../..")]),
            &[400],
        ),
        (
            "NUL in a name",
            with(vec![Entry::raw_name(b"images/a\0b.jpg", b"x")]),
            &[400],
        ),
        (
            "non-UTF-8 name",
            with(vec![Entry::raw_name(b"images/\xff\xfe.jpg", b"x")]),
            &[400],
        ),
        ("encrypted entry", zip::build(&encrypted), &[400]),
        ("CRC mismatch", zip::build(&bad_crc), &[400]),
        (
            "bomb: actual size",
            with(vec![Entry::file("images/big.jpg", &vec![0u8; 30_000])]),
            &[413],
        ),
        ("bomb: declared size", zip::build(&lying), &[400, 413]),
        ("truncated", valid[..valid.len() / 2].to_vec(), &[400]),
        ("truncated end", valid[..valid.len() - 10].to_vec(), &[400]),
        ("not a zip", b"hello, this is not a zip".to_vec(), &[400]),
        ("empty", Vec::new(), &[400]),
        (
            "no images dir",
            zip::build(&[
                Entry::file("files.json", b"{\"filesets\": []}"),
                Entry::file("metadata/metadata.json", b"{}"),
            ]),
            &[400],
        ),
        ("no files.json", zip::build(&base[1..]), &[400]),
        (
            "too deep",
            with(vec![Entry::file("images/a/b/c.jpg", b"x")]),
            &[400],
        ),
        (
            "two top directories",
            zip::build(
                &base
                    .iter()
                    .cloned()
                    .map(|mut e| {
                        let mut n = b"a/".to_vec();
                        n.extend_from_slice(&e.name);
                        e.name = n;
                        e
                    })
                    .chain([Entry::file("b/files.json", b"{}")])
                    .collect::<Vec<_>>(),
            ),
            &[400],
        ),
        (
            "files.json not JSON",
            {
                let mut e = base.clone();
                e[0] = Entry::file("files.json", b"{not json");
                zip::build(&e)
            },
            &[400],
        ),
        (
            "files.json without filesets",
            {
                let mut e = base.clone();
                e[0] = Entry::file("files.json", b"{\"other\": []}");
                zip::build(&e)
            },
            &[400],
        ),
    ];
    let mut cases = cases;
    let replaced = |name: &str, data: &[u8]| -> Vec<u8> {
        let mut e = base.clone();
        for entry in e.iter_mut() {
            if entry.name == name.as_bytes() {
                entry.data = data.to_vec();
            }
        }
        zip::build(&e)
    };
    cases.push((
        "metadata.json not an object",
        replaced("metadata/metadata.json", b"[1, 2]"),
        &[400],
    ));
    cases.push((
        "metadata.json not JSON",
        replaced("metadata/metadata.json", b"{oops"),
        &[400],
    ));
    cases.push((
        "a file where a directory is",
        with(vec![Entry::file("metadata/images", b"x")]),
        &[400],
    ));
    cases.push((
        "a directory where a file is",
        with(vec![Entry::dir("images/img0.jpg/")]),
        &[400],
    ));
    let before = root_entries(&app);
    let mut failures = Vec::new();
    for (i, (what, bytes, statuses)) in cases.iter().enumerate() {
        let id = format!("bad_{i}");
        let r = app
            .post_form(
                &format!("/api/v1/assets/archive/{id}"),
                Some(&admin),
                zip_form(bytes),
            )
            .await;
        if !statuses.contains(&r.status) {
            failures.push(format!(
                "{what}: expected {statuses:?}, got {} {}",
                r.status,
                String::from_utf8_lossy(&r.bytes)
            ));
            continue;
        }
        let code = if r.status == 413 {
            "payload_too_large"
        } else {
            "invalid_input"
        };
        assert_error(&r.body, code, what);
        let tmp = names_in(&app.root.join(".plantdb-tmp"));
        if !tmp.is_empty() {
            failures.push(format!("{what}: left in .plantdb-tmp: {tmp:?}"));
        }
        if root_entries(&app) != before {
            failures.push(format!(
                "{what}: the root changed: {:?}",
                root_entries(&app)
            ));
        }
    }
    for place in [
        app.root.clone(),
        app.root.join(".plantdb-tmp"),
        app.root.parent().unwrap().to_path_buf(),
        std::path::PathBuf::from("/tmp"),
        std::path::PathBuf::from("/"),
    ] {
        assert!(
            !place.join(&evil).exists(),
            "escaped into {}",
            place.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "still serving"), &json!([]));
}

#[tokio::test]
async fn bad_upload_requests_are_refused() {
    let (app, admin) = app().await;
    app.scan(&admin, "exists", json!({})).await;
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "a_tl"}))
        .await
        .expect(201, "timelapse");
    let zip_bytes = zip::scan_archive(&json!({}));
    let before = root_entries(&app);
    let forms: Vec<(&str, &str, Form, u16, &str)> = vec![
        (
            "wrong part type",
            "t1",
            Form::new().file("zip_file", "scan.zip", "text/plain", &zip_bytes),
            400,
            "invalid_input",
        ),
        (
            "octet-stream part type",
            "t2",
            Form::new().file(
                "zip_file",
                "scan.zip",
                "application/octet-stream",
                &zip_bytes,
            ),
            400,
            "invalid_input",
        ),
        (
            "name not .zip",
            "t3",
            Form::new().file("zip_file", "scan.tar", "application/zip", &zip_bytes),
            400,
            "invalid_input",
        ),
        (
            "missing zip_file",
            "t4",
            Form::new().file("file", "scan.zip", "application/zip", &zip_bytes),
            400,
            "invalid_input",
        ),
        ("no parts", "t5", Form::new(), 400, "invalid_input"),
        (
            "existing scan",
            "exists",
            zip_form(&zip_bytes),
            409,
            "conflict",
        ),
        (
            "existing timelapse",
            "a_tl",
            zip_form(&zip_bytes),
            409,
            "conflict",
        ),
        ("reserved", "configs", zip_form(&zip_bytes), 409, "conflict"),
        ("bad id", "a.b", zip_form(&zip_bytes), 400, "invalid_input"),
        (
            "leading dash",
            "-a",
            zip_form(&zip_bytes),
            400,
            "invalid_input",
        ),
    ];
    for (what, id, form, status, code) in forms {
        let r = app
            .post_form(&format!("/api/v1/assets/archive/{id}"), Some(&admin), form)
            .await;
        r.expect_error(status, code, what);
    }
    let r = app
        .post_json(
            "/api/v1/assets/archive/t6",
            Some(&admin),
            &json!({"zip_file": "x"}),
        )
        .await;
    r.expect_error(400, "invalid_input", "JSON instead of multipart");
    let r = app
        .post_raw(
            "/api/v1/assets/archive/t7",
            Some(&admin),
            "application/zip",
            &zip_bytes,
        )
        .await;
    r.expect_error(400, "invalid_input", "a raw zip body");
    assert_eq!(root_entries(&app), before);
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
    assert_eq!(
        read_json(&app.root.join("exists/files.json")),
        json!({"filesets": []})
    );
}
