//! Creating scans, filesets, files and timelapses, and metadata POSTs
//! (data-api.md §1.6, §9.2-§9.5, §3 routes 8, 10, 13, 15, 17, 19, 22, 24).

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_new_scan_has_the_documented_files_and_keys() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let r = app
        .post_json(
            "/api/v1/scans/plant_1",
            Some(&admin),
            &json!({"metadata": {"plant": "A1", "nested": {"k": [1, 2]}}}),
        )
        .await;
    assert_eq!(
        r.expect(201, "create scan"),
        &json!({"message": "Scan created successfully", "id": "plant_1"})
    );
    let dir = app.root.join("plant_1");
    assert!(dir.join("metadata").is_dir());
    assert_eq!(read_json(&dir.join("files.json")), json!({"filesets": []}));
    let md = app.scan_metadata_on_disk("plant_1");
    assert_eq!(md["owner"], "admin");
    assert_eq!(md["created_by"], "PlantDB Admin");
    assert_eq!(md["plant"], "A1");
    assert_eq!(md["nested"], json!({"k": [1, 2]}));
    assert_python_iso(&md["created"], "created");
    assert_python_iso(&md["last_modified"], "last_modified");
    assert_eq!(md["created"], md["last_modified"]);
    // Served at once, with the same metadata.
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "list"), &json!(["plant_1"]));
    let r = app.get("/api/v1/scans/plant_1/metadata", None).await;
    assert_eq!(r.expect(200, "metadata")["metadata"], md);
    let r = app.get("/api/v1/scans/plant_1/filesets", None).await;
    assert_eq!(r.expect(200, "filesets"), &json!({"filesets": []}));

    // The body is optional (no body at all, or an empty object).
    let r = app
        .send(
            reqwest::Method::POST,
            "/api/v1/scans/plant_2",
            Some(&admin),
            None,
            Vec::new(),
        )
        .await;
    r.expect(201, "create without a body");
    let md = app.scan_metadata_on_disk("plant_2");
    assert_eq!(md["owner"], "admin");
    let r = app
        .post_json("/api/v1/scans/plant_3", Some(&admin), &json!({}))
        .await;
    r.expect(201, "create with {}");
    // No temporaries or staging directories left behind.
    assert_eq!(
        hidden_under(&app.root.join("plant_1")),
        Vec::<String>::new()
    );
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_creator_is_the_owner_whatever_the_metadata_says() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    app.scan(
        &carl,
        "spoof",
        json!({"owner": "admin", "created_by": "Someone Else", "created": "1999-01-01T00:00:00"}),
    )
    .await;
    let md = app.scan_metadata_on_disk("spoof");
    assert_eq!(md["owner"], "carl", "§1.6: owner = the creator");
    assert_eq!(md["created_by"], "carl Fullname");
    assert_ne!(md["created"], "1999-01-01T00:00:00");
}

#[tokio::test]
async fn scan_creation_refuses_bad_input_and_leaves_nothing() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "taken", json!({})).await;
    app.group(&admin, "lab", &[]).await;
    let before = names_in(&app.root);

    let r = app
        .post_json("/api/v1/scans/taken", Some(&admin), &json!({}))
        .await;
    r.expect_error(409, "conflict", "existing scan");
    // A reserved name.
    let r = app
        .post_json("/api/v1/scans/configs", Some(&admin), &json!({}))
        .await;
    r.expect_error(409, "conflict", "configs");

    // NEW_ID: first character alphanumeric, then [A-Za-z0-9_-], ≤ 128.
    let long = "a".repeat(129);
    for bad in ["a.b", "_lead", "-lead", "a%20b", long.as_str()] {
        let r = app
            .post_json(&format!("/api/v1/scans/{bad}"), Some(&admin), &json!({}))
            .await;
        r.expect_error(400, "invalid_input", &format!("bad id {bad}"));
    }
    let ok = "b".repeat(128);
    app.scan(&admin, &ok, json!({})).await;
    std::fs::remove_dir_all(app.root.join(&ok)).unwrap();

    let bad_bodies = [
        ("metadata a list", json!({"metadata": [1, 2]})),
        ("metadata a string", json!({"metadata": "x"})),
        ("metadata a number", json!({"metadata": 3})),
        (
            "unknown group",
            json!({"metadata": {"sharing": ["no_such_group"]}}),
        ),
        (
            "unknown group (string)",
            json!({"metadata": {"sharing": "no_such_group"}}),
        ),
        ("sharing not names", json!({"metadata": {"sharing": [1]}})),
        (
            "investigation not an object",
            json!({"metadata": {"investigation": "x"}}),
        ),
        (
            "title not a string",
            json!({"metadata": {"investigation": {"title": 5}}}),
        ),
        (
            "ageDays not a number",
            json!({"metadata": {"biologicalMaterial": {"ageDays": "ten"}}}),
        ),
        (
            "growthFacility.name",
            json!({"metadata": {"study": {"growthFacility": {"name": 5}}}}),
        ),
        (
            "growthFacility not an object",
            json!({"metadata": {"study": {"growthFacility": "greenhouse"}}}),
        ),
        (
            "organism.genus",
            json!({"metadata": {"biologicalMaterial": {"organism": {"genus": ["A"]}}}}),
        ),
        (
            "observedVariable.trait",
            json!({"metadata": {"observedVariable": {"trait": {}}}}),
        ),
    ];
    for (what, body) in &bad_bodies {
        let r = app
            .post_json("/api/v1/scans/new_scan", Some(&admin), body)
            .await;
        r.expect_error(400, "invalid_input", what);
    }
    let r = app
        .post_json(
            "/api/v1/scans/new_scan",
            Some(&admin),
            &json!({"metadata": {"biologicalMaterial": {"ageDays": "ten"}}}),
        )
        .await;
    assert!(
        r.message().contains("ageDays"),
        "§9.4: the message lists what is wrong: {}",
        r.message()
    );
    // Not JSON at all.
    let r = app
        .post_raw(
            "/api/v1/scans/new_scan",
            Some(&admin),
            "application/json",
            b"{not json",
        )
        .await;
    r.expect_error(400, "invalid_input", "malformed JSON");
    assert_eq!(names_in(&app.root), before, "nothing created");
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );

    // Valid biological metadata and sharing pass; a sharing string is a list.
    app.scan(
        &admin,
        "bio_ok",
        json!({
            "biologicalMaterial": {"ageDays": 12, "organism": {"genus": "Arabidopsis", "species": "thaliana"}},
            "study": {"title": "T", "growthFacility": {"name": "GH", "country": "FR"}},
            "investigation": null,
            "sharing": "lab",
            "free": {"anything": [1, "x"]}
        }),
    )
    .await;
    let md = app.scan_metadata_on_disk("bio_ok");
    assert_eq!(md["sharing"], json!(["lab"]));
    assert_eq!(md["biologicalMaterial"]["ageDays"], 12);
}

#[tokio::test]
async fn scans_of_a_timelapse_go_inside_its_container() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let r = app
        .post_json(
            "/api/v1/timelapses",
            Some(&admin),
            &json!({"id": "tl1", "metadata": {"site": "A"}}),
        )
        .await;
    r.expect(201, "create timelapse");
    for (i, when) in [(1, "2026-09-03T14:00:00Z"), (0, "2026-09-03T10:00:00Z")] {
        app.scan(
            &admin,
            &format!("tl1_{i}"),
            json!({"timelapse": {"id": "tl1", "scheduled": when, "index": i}}),
        )
        .await;
    }
    let tl = app.root.join("tl1");
    assert!(tl.join("tl1_0/files.json").is_file());
    assert!(tl.join("tl1_1/metadata/metadata.json").is_file());
    assert!(!app.root.join("tl1_0").exists(), "not flat");
    let marker = read_json(&tl.join("timelapse.json"));
    assert_eq!(marker["scans"], json!(["tl1_1", "tl1_0"]), "creation order");
    assert_eq!(marker["owner"], "admin");
    assert_eq!(marker["metadata"]["site"], "A");
    let md = app.scan_metadata_on_disk("tl1/tl1_0");
    assert_eq!(md["timelapse"]["id"], "tl1");
    assert_eq!(md["owner"], "admin");

    let r = app.get("/api/v1/timelapses/tl1", None).await;
    let doc = r.expect(200, "get timelapse");
    assert_eq!(doc["scans"], json!(["tl1_1", "tl1_0"]));
    assert_eq!(doc["counts"], json!({"scans": 2}));
    let r = app.get("/api/v1/timelapses/tl1/scans", None).await;
    assert_eq!(r.expect(200, "tl scans"), &json!(["tl1_0", "tl1_1"]));
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "scans"), &json!(["tl1_0", "tl1_1"]));
    let r = app.get("/api/v1/scans/tl1_0/metadata", None).await;
    assert_eq!(r.expect(200, "md")["metadata"]["timelapse"]["index"], 0);

    // A scan id is unique across containers and the root.
    let r = app
        .post_json("/api/v1/scans/tl1_0", Some(&admin), &json!({}))
        .await;
    r.expect_error(409, "conflict", "flat scan named like a nested one");
    let r = app
        .post_json("/api/v1/scans/tl1", Some(&admin), &json!({}))
        .await;
    r.expect_error(409, "conflict", "scan named like a timelapse");
    // An unknown container.
    let r = app
        .post_json(
            "/api/v1/scans/orphan",
            Some(&admin),
            &json!({"metadata": {"timelapse": {"id": "nope"}}}),
        )
        .await;
    r.expect_error(404, "not_found", "unknown timelapse");
    assert!(!app.root.join("orphan").exists());
    assert!(!app.root.join("nope").exists());
    // A container id that is not a NEW_ID.
    let r = app
        .post_json(
            "/api/v1/scans/orphan",
            Some(&admin),
            &json!({"metadata": {"timelapse": {"id": "../x"}}}),
        )
        .await;
    r.expect_error(400, "invalid_input", "bad timelapse id");
    let marker = read_json(&tl.join("timelapse.json"));
    assert_eq!(marker["scans"], json!(["tl1_1", "tl1_0"]), "untouched");

    // Filesets and files work inside a container too.
    app.fileset(&admin, "tl1_0", "images").await;
    app.upload(
        Some(&admin),
        "tl1_0",
        "images",
        "img",
        "png",
        b"pngdata",
        None,
    )
    .await
    .expect(201, "upload in a timelapse scan");
    assert_eq!(
        std::fs::read(tl.join("tl1_0/images/img.png")).unwrap(),
        b"pngdata"
    );
    let r = app.get("/api/v1/files/tl1_0/images/img", None).await;
    r.expect(200, "download");
    assert_eq!(r.bytes, b"pngdata");
}

#[tokio::test]
async fn a_new_fileset_stores_the_request_metadata() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({"plant": "scan-level"})).await;
    let r = app
        .post_json(
            "/api/v1/filesets/s/images",
            Some(&admin),
            &json!({"metadata": {"camera": "rgb", "n": 3}, "fileset_id": "images", "scan_id": "s"}),
        )
        .await;
    assert_eq!(
        r.expect(201, "create fileset"),
        &json!({"message": "Fileset created successfully in 's'.", "id": "images"})
    );
    assert!(app.root.join("s/images").is_dir());
    let md = read_json(&app.root.join("s/metadata/images.json"));
    assert_eq!(md["camera"], "rgb", "§12 P7: the request's metadata");
    assert_eq!(md["n"], 3);
    assert!(md.get("plant").is_none(), "not a copy of the scan's: {md}");
    assert_eq!(md["created_by"], "PlantDB Admin");
    assert_python_iso(&md["created"], "created");
    assert_python_iso(&md["last_modified"], "last_modified");
    let index = read_json(&app.root.join("s/files.json"));
    assert_eq!(index, json!({"filesets": [{"files": [], "id": "images"}]}));
    let r = app.get("/api/v1/scans/s/filesets", None).await;
    assert_eq!(r.expect(200, "list"), &json!({"filesets": ["images"]}));
    let r = app.get("/api/v1/filesets/s/images/metadata", None).await;
    assert_eq!(r.expect(200, "md")["metadata"], md);
    let r = app.get("/api/v1/filesets/s/images/files", None).await;
    assert_eq!(r.expect(200, "files"), &json!({"files": []}));

    // Without a body.
    let r = app
        .send(
            reqwest::Method::POST,
            "/api/v1/filesets/s/other",
            Some(&admin),
            None,
            Vec::new(),
        )
        .await;
    r.expect(201, "fileset without a body");

    let r = app
        .post_json("/api/v1/filesets/s/images", Some(&admin), &json!({}))
        .await;
    r.expect_error(409, "conflict", "existing fileset");
    let r = app
        .post_json("/api/v1/filesets/nope/images", Some(&admin), &json!({}))
        .await;
    r.expect_error(404, "not_found", "unknown scan");
    let r = app
        .post_json("/api/v1/filesets/s/a.b", Some(&admin), &json!({}))
        .await;
    r.expect_error(400, "invalid_input", "bad fileset id");
    let r = app
        .post_json(
            "/api/v1/filesets/s/third",
            Some(&admin),
            &json!({"metadata": [1]}),
        )
        .await;
    r.expect_error(400, "invalid_input", "metadata not an object");
    assert_eq!(
        names_in(&app.root.join("s")),
        vec!["files.json", "images", "metadata", "other"]
    );
    let index = read_json(&app.root.join("s/files.json"));
    assert_eq!(index["filesets"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn uploaded_files_are_stored_byte_for_byte() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;

    // A binary PLY: every byte value (Python would decode it as UTF-8).
    let binary: Vec<u8> = (0u8..=255).collect();
    let r = app
        .upload(Some(&admin), "s", "fs", "cloud", "ply", &binary, None)
        .await;
    assert_eq!(
        r.expect(201, "upload ply"),
        &json!({"message": "File created and written successfully in fileset 'fs'.", "id": "cloud"})
    );
    assert_eq!(
        std::fs::read(app.root.join("s/fs/cloud.ply")).unwrap(),
        binary
    );
    let r = app.get("/api/v1/files/s/fs/cloud", None).await;
    r.expect(200, "download ply");
    assert_eq!(r.bytes, binary);
    // Text, with CRLF and non-ASCII, kept as-is.
    let text = "line 1\r\nwörld ✓\n\0end".as_bytes();
    app.upload(Some(&admin), "s", "fs", "notes", "txt", text, None)
        .await
        .expect(201, "upload txt");
    let r = app.get("/api/v1/files/s/fs/notes", None).await;
    assert_eq!(r.bytes, text);
    // An empty file.
    app.upload(Some(&admin), "s", "fs", "empty", "json", b"", None)
        .await
        .expect(201, "upload empty");
    assert_eq!(
        std::fs::read(app.root.join("s/fs/empty.json")).unwrap(),
        b""
    );

    // ext: with or without the dot, any case; stored lower-case.
    for (id, ext, stored) in [
        ("e1", "PLY", "e1.ply"),
        ("e2", ".Json", "e2.json"),
        ("e3", ".jpg", "e3.jpg"),
        ("e4", "TOML", "e4.toml"),
        ("e5", "yaml", "e5.yaml"),
        ("e6", ".TIF", "e6.tif"),
        ("e7", "jpeg", "e7.jpeg"),
        ("e8", "png", "e8.png"),
    ] {
        app.upload(Some(&admin), "s", "fs", id, ext, id.as_bytes(), None)
            .await
            .expect(201, &format!("ext {ext}"));
        assert_eq!(
            std::fs::read(app.root.join("s/fs").join(stored)).unwrap(),
            id.as_bytes(),
            "ext {ext}"
        );
    }
    let index = read_json(&app.root.join("s/files.json"));
    let files = index["filesets"][0]["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 11);
    assert_eq!(files[0], json!({"file": "cloud.ply", "id": "cloud"}));
    assert!(files.iter().all(|f| f["file"].is_string()), "no null file");
    assert!(files.contains(&json!({"file": "e2.json", "id": "e2"})));
    let listed = app.file_ids("s", "fs").await;
    assert_eq!(listed.len(), 11);
    assert!(listed.contains(&"e6".to_string()));

    // The part's file name is ignored: the name is <id><ext>.
    let form = Form::new()
        .file(
            "file",
            "../../evil_part_name.ply",
            "application/octet-stream",
            b"named",
        )
        .text("ext", "ply");
    app.post_form("/api/v1/files/s/fs/named", Some(&admin), form)
        .await
        .expect(201, "hostile part file name");
    assert_eq!(
        std::fs::read(app.root.join("s/fs/named.ply")).unwrap(),
        b"named"
    );
    assert!(!tree(&app.root).iter().any(|p| p.contains("evil_part_name")));
    assert!(!app
        .root
        .parent()
        .unwrap()
        .join("evil_part_name.ply")
        .exists());
    app.upload(Some(&admin), "s", "fs", "unused", "txt", b"", None)
        .await
        .expect(201, "one more");
    // The file metadata: request metadata + created, last_modified, created_by.
    let md = read_json(&app.root.join("s/metadata/fs/cloud.json"));
    assert_eq!(md["created_by"], "PlantDB Admin");
    assert_python_iso(&md["created"], "created");
    assert_python_iso(&md["last_modified"], "last_modified");
    assert!(md.get("owner").is_none());
    assert_eq!(
        hidden_under(&app.root.join("s")),
        Vec::<String>::new(),
        "no temporaries left"
    );
}

#[tokio::test]
async fn upload_metadata_as_json_or_python_literal() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "j",
        "txt",
        b"x",
        Some(r#"{"a": 1, "b": true, "c": {"d": [1.5, null]}}"#),
    )
    .await
    .expect(201, "JSON metadata");
    let md = read_json(&app.root.join("s/metadata/fs/j.json"));
    assert_eq!(md["a"], 1);
    assert_eq!(md["b"], true);
    assert_eq!(md["c"], json!({"d": [1.5, null]}));
    let r = app.get("/api/v1/files/s/fs/j/metadata", None).await;
    assert_eq!(r.expect(200, "md")["metadata"], md);

    app.upload(
        Some(&admin),
        "s",
        "fs",
        "p",
        "txt",
        b"x",
        Some("{'a': 1, 'b': True, 'c': None, 't': (1, 'two'), 'f': -2.5, \"q\": 'it\\'s'}"),
    )
    .await
    .expect(201, "Python literal metadata");
    let md = read_json(&app.root.join("s/metadata/fs/p.json"));
    assert_eq!(md["a"], 1);
    assert_eq!(md["b"], true);
    assert_eq!(md["c"], Value::Null);
    assert_eq!(md["t"], json!([1, "two"]));
    assert_eq!(md["f"], -2.5);
    assert_eq!(md["q"], "it's");

    // Empty metadata text = none.
    app.upload(Some(&admin), "s", "fs", "none", "txt", b"x", Some(""))
        .await
        .expect(201, "empty metadata field");

    // owner/sharing in file metadata are not stored (§1.6).
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "own",
        "txt",
        b"x",
        Some(r#"{"owner": "carl", "sharing": ["g"], "k": 1}"#),
    )
    .await
    .expect(201, "owner in file metadata");
    let md = read_json(&app.root.join("s/metadata/fs/own.json"));
    assert_eq!(md["k"], 1);
    assert!(
        md.get("owner").is_none() && md.get("sharing").is_none(),
        "{md}"
    );

    for (id, bad) in [
        ("m1", "[1, 2]"),
        ("m2", "42"),
        ("m3", "'text'"),
        ("m4", "{not: valid}"),
        ("m5", "{'a': __import__('os')}"),
        ("m6", "{'a': 1"),
    ] {
        let r = app
            .upload(Some(&admin), "s", "fs", id, "txt", b"x", Some(bad))
            .await;
        r.expect_error(400, "invalid_input", &format!("metadata {bad}"));
    }
    let listed = app.file_ids("s", "fs").await;
    assert_eq!(listed, vec!["j", "p", "none", "own"]);
    assert_eq!(
        names_in(&app.root.join("s/fs")),
        vec!["j.txt", "none.txt", "own.txt", "p.txt"],
        "nothing left by the refused uploads"
    );
    assert_eq!(
        names_in(&app.root.join("s/metadata/fs")),
        vec!["j.json", "none.json", "own.json", "p.json"]
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;
    app.upload(Some(&admin), "s", "fs", "one", "txt", b"original", None)
        .await
        .expect(201, "first upload");
    let index_before = std::fs::read(app.root.join("s/files.json")).unwrap();

    // Unknown extension: 400 listing the allowed ones.
    for ext in ["exe", ".tiff", "", "..jpg", "jpg.exe", "j pg"] {
        let r = app
            .upload(Some(&admin), "s", "fs", "two", ext, b"x", None)
            .await;
        let body = r.expect(400, &format!("ext {ext:?}"));
        assert!(
            body["code"] == "invalid_input" || body["code"] == "missing_field",
            "{body}"
        );
        if !ext.is_empty() {
            let msg = r.message();
            for allowed in [
                ".jpg", ".jpeg", ".png", ".tif", ".txt", ".json", ".ply", ".yaml", ".toml",
            ] {
                assert!(msg.contains(allowed), "{msg} lists {allowed}");
            }
        }
    }
    // Missing `file`.
    let form = Form::new().text("ext", "txt");
    let r = app
        .post_form("/api/v1/files/s/fs/two", Some(&admin), form)
        .await;
    r.expect(400, "missing file");
    // `file` sent as a plain field (no filename) still counts as the data,
    // or is refused: never a 500.
    // Missing `ext`.
    let form = Form::new().file("file", "a.txt", "text/plain", b"data");
    let r = app
        .post_form("/api/v1/files/s/fs/two", Some(&admin), form)
        .await;
    let body = r.expect(400, "missing ext").clone();
    assert!(
        body["code"] == "missing_field" || body["code"] == "invalid_input",
        "{body}"
    );
    // `ext` after `file` and metadata before: field order does not matter.
    let form = Form::new()
        .text("metadata", "{\"k\": 2}")
        .file("file", "a.bin", "application/octet-stream", b"ordered")
        .text("ext", "txt");
    app.post_form("/api/v1/files/s/fs/ordered", Some(&admin), form)
        .await
        .expect(201, "other field order");
    // An existing file id: 409, the stored bytes untouched, whatever the ext.
    for ext in ["txt", "png"] {
        let r = app
            .upload(Some(&admin), "s", "fs", "one", ext, b"replacement", None)
            .await;
        r.expect_error(409, "conflict", &format!("existing file ({ext})"));
    }
    assert_eq!(
        std::fs::read(app.root.join("s/fs/one.txt")).unwrap(),
        b"original"
    );
    // Unknown scan, fileset; bad new file id.
    let r = app
        .upload(Some(&admin), "nope", "fs", "x", "txt", b"x", None)
        .await;
    r.expect_error(404, "not_found", "unknown scan");
    let r = app
        .upload(Some(&admin), "s", "nope", "x", "txt", b"x", None)
        .await;
    r.expect_error(404, "not_found", "unknown fileset");
    let r = app
        .upload(Some(&admin), "s", "fs", "a.b", "txt", b"x", None)
        .await;
    r.expect_error(400, "invalid_input", "bad file id");
    // Not multipart.
    let r = app
        .post_json(
            "/api/v1/files/s/fs/two",
            Some(&admin),
            &json!({"file": "x", "ext": "txt"}),
        )
        .await;
    r.expect_error(400, "invalid_input", "JSON instead of multipart");

    let mut index: Value = serde_json::from_slice(&index_before).unwrap();
    index["filesets"][0]["files"]
        .as_array_mut()
        .unwrap()
        .push(json!({"file": "ordered.txt", "id": "ordered"}));
    assert_eq!(read_json(&app.root.join("s/files.json")), index);
    assert_eq!(
        names_in(&app.root.join("s/fs")),
        vec!["one.txt", "ordered.txt"]
    );
    assert_eq!(
        names_in(&app.root.join("s/metadata/fs")),
        vec!["one.json", "ordered.json"]
    );
    assert_eq!(hidden_under(&app.root.join("s")), Vec::<String>::new());
    assert_eq!(app.file_ids("s", "fs").await, vec!["one", "ordered"]);
}

#[tokio::test]
async fn metadata_posts_merge_replace_and_protect_keys() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({"a": 1, "b": {"x": 1}})).await;
    app.fileset(&admin, "s", "fs").await;
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "f",
        "txt",
        b"x",
        Some(r#"{"fa": 1}"#),
    )
    .await
    .expect(201, "upload");
    let created = app.scan_metadata_on_disk("s");

    let levels = [
        "/api/v1/scans/s/metadata",
        "/api/v1/filesets/s/fs/metadata",
        "/api/v1/files/s/fs/f/metadata",
    ];
    for path in levels {
        let before = app.get(path, None).await.expect(200, path)["metadata"].clone();
        std::thread::sleep(std::time::Duration::from_millis(5));
        // Shallow merge.
        let r = app
            .post_json(
                path,
                Some(&admin),
                &json!({"metadata": {"b": {"y": 2}, "c": 3}}),
            )
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        assert_eq!(stored["b"], json!({"y": 2}), "{path}: shallow");
        assert_eq!(stored["c"], 3);
        for (k, v) in before.as_object().unwrap() {
            if !["b", "c", "last_modified"].contains(&k.as_str()) {
                assert_eq!(&stored[k], v, "{path}: {k} kept by a merge");
            }
        }
        assert_ne!(stored["last_modified"], before["last_modified"], "{path}");
        assert_python_iso(&stored["last_modified"], path);
        let got = app.get(path, None).await.expect(200, path)["metadata"].clone();
        assert_eq!(
            got, stored,
            "{path}: the response is the whole stored object"
        );

        // created / created_by are server-managed.
        let r = app
            .post_json(
                path,
                Some(&admin),
                &json!({"metadata": {"created": "1999-01-01T00:00:00", "created_by": "Mallory"}}),
            )
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        assert_eq!(stored["created"], before["created"], "{path}");
        assert_eq!(stored["created_by"], before["created_by"], "{path}");

        // replace: true drops the other keys but keeps the protected ones.
        let r = app
            .post_json(
                path,
                Some(&admin),
                &json!({"metadata": {"z": 26}, "replace": true}),
            )
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        assert_eq!(stored["z"], 26, "{path}");
        assert!(stored.get("c").is_none(), "{path}: replaced: {stored}");
        assert!(stored.get("b").is_none(), "{path}: replaced: {stored}");
        assert_eq!(stored["created"], before["created"], "{path}: {stored}");
        assert_eq!(stored["created_by"], before["created_by"], "{path}");
        assert_python_iso(&stored["last_modified"], path);
        // replace: false is a merge.
        let r = app
            .post_json(
                path,
                Some(&admin),
                &json!({"metadata": {"y": 25}, "replace": false}),
            )
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        assert_eq!(
            (stored["y"].clone(), stored["z"].clone()),
            (json!(25), json!(26))
        );
        // replace must be a boolean; metadata must be an object and present.
        for (what, body) in [
            (
                "replace a string",
                json!({"metadata": {"q": 1}, "replace": "yes"}),
            ),
            (
                "replace a number",
                json!({"metadata": {"q": 1}, "replace": 1}),
            ),
            ("no metadata", json!({"replace": true})),
            ("metadata a list", json!({"metadata": [1]})),
            ("metadata a string", json!({"metadata": "x"})),
            ("empty body", json!(null)),
        ] {
            let r = app.post_json(path, Some(&admin), &body).await;
            r.expect_error(400, "invalid_input", &format!("{path}: {what}"));
        }
        let after = app.get(path, None).await.expect(200, path)["metadata"].clone();
        assert!(
            after.get("q").is_none(),
            "{path}: refused posts change nothing"
        );
    }

    // The scan keeps its owner through a replace.
    let md = app.scan_metadata_on_disk("s");
    assert_eq!(md["owner"], "admin", "replace kept the owner: {md}");
    assert_eq!(md["created"], created["created"]);
    // owner/sharing are dropped at fileset and file level.
    for path in &levels[1..] {
        let r = app
            .post_json(
                path,
                Some(&admin),
                &json!({"metadata": {"owner": "carl", "sharing": ["nogroup"], "k": 1}}),
            )
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        assert_eq!(stored["k"], 1);
        assert!(
            stored.get("owner").is_none() && stored.get("sharing").is_none(),
            "{path}: {stored}"
        );
    }
    // Unknown targets.
    for path in [
        "/api/v1/scans/nope/metadata",
        "/api/v1/filesets/s/nope/metadata",
        "/api/v1/files/s/fs/nope/metadata",
        "/api/v1/files/s/nope/f/metadata",
    ] {
        let r = app
            .post_json(path, Some(&admin), &json!({"metadata": {"k": 1}}))
            .await;
        r.expect_error(404, "not_found", path);
    }
    // Biological schema on scan updates (the incoming keys).
    let r = app
        .post_json(
            levels[0],
            Some(&admin),
            &json!({"metadata": {"study": {"startDate": 2020}}}),
        )
        .await;
    r.expect_error(400, "invalid_input", "bad study.startDate");
    assert_eq!(hidden_under(&app.root.join("s")), Vec::<String>::new());
}

#[tokio::test]
async fn posting_back_a_whole_get_document_succeeds() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    app.group(&admin, "lab", &["carl"]).await;
    app.scan(&carl, "s", json!({"plant": "p", "sharing": ["lab"]}))
        .await;
    app.fileset(&carl, "s", "fs").await;
    app.upload(Some(&carl), "s", "fs", "f", "txt", b"x", None)
        .await
        .expect(201, "upload");
    for path in [
        "/api/v1/scans/s/metadata",
        "/api/v1/filesets/s/fs/metadata",
        "/api/v1/files/s/fs/f/metadata",
    ] {
        let mut doc = app.get(path, None).await.expect(200, path)["metadata"].clone();
        doc["extra"] = json!("added");
        // As the owner, a contributor: unchanged owner/sharing are fine.
        let r = app
            .post_json(path, Some(&carl), &json!({ "metadata": doc }))
            .await;
        let stored = r.expect(200, path)["metadata"].clone();
        for (k, v) in doc.as_object().unwrap() {
            if k != "last_modified" {
                assert_eq!(&stored[k], v, "{path}: {k}");
            }
        }
        // And with replace: true.
        let r = app
            .post_json(
                path,
                Some(&carl),
                &json!({ "metadata": stored, "replace": true }),
            )
            .await;
        r.expect(200, &format!("{path} replace"));
    }
    let md = app.scan_metadata_on_disk("s");
    assert_eq!(md["owner"], "carl");
    assert_eq!(md["sharing"], json!(["lab"]));
}

#[tokio::test]
async fn timelapse_ids_are_immutable_in_scan_metadata() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "tl"}))
        .await
        .expect(201, "timelapse");
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "tl2"}))
        .await
        .expect(201, "timelapse 2");
    app.scan(&admin, "n0", json!({"timelapse": {"id": "tl", "index": 0}}))
        .await;
    app.scan(&admin, "flat", json!({})).await;
    let path = "/api/v1/scans/n0/metadata";
    // A changed id is kept as stored; other timelapse keys are editable.
    let r = app
        .post_json(
            path,
            Some(&admin),
            &json!({"metadata": {"timelapse": {"id": "tl2", "index": 5, "scheduled": "2026-01-01T00:00:00Z"}}}),
        )
        .await;
    let stored = r.expect(200, "change id")["metadata"].clone();
    assert_eq!(stored["timelapse"]["id"], "tl");
    assert_eq!(stored["timelapse"]["index"], 5);
    // Removing it (replace without timelapse, or timelapse: null) keeps it.
    for body in [
        json!({"metadata": {"timelapse": null}}),
        json!({"metadata": {"timelapse": {"index": 6}}}),
        json!({"metadata": {"other": 1}, "replace": true}),
        json!({"metadata": {"timelapse": "tl2"}}),
    ] {
        let r = app.post_json(path, Some(&admin), &body).await;
        let stored = r.expect(200, &body.to_string())["metadata"].clone();
        assert_eq!(stored["timelapse"]["id"], "tl", "{body} -> {stored}");
    }
    assert_eq!(app.scan_metadata_on_disk("tl/n0")["timelapse"]["id"], "tl");
    // Still served from its container.
    app.get("/api/v1/scans/n0", None)
        .await
        .expect(200, "scan still served");
    // A flat scan cannot gain one.
    let r = app
        .post_json(
            "/api/v1/scans/flat/metadata",
            Some(&admin),
            &json!({"metadata": {"timelapse": {"id": "tl", "index": 1}}}),
        )
        .await;
    let stored = r.expect(200, "flat gains id")["metadata"].clone();
    assert!(
        stored.get("timelapse").and_then(|t| t.get("id")).is_none(),
        "{stored}"
    );
    app.get("/api/v1/scans/flat", None)
        .await
        .expect(200, "flat still served");
    let r = app.get("/api/v1/timelapses/tl", None).await;
    assert_eq!(r.expect(200, "tl")["counts"]["scans"], 1);
}

#[tokio::test]
async fn timelapses_are_created_read_and_moved_to_the_trash() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let r = app
        .post_json(
            "/api/v1/timelapses",
            Some(&admin),
            &json!({"id": "tl", "metadata": {"site": "greenhouse"}}),
        )
        .await;
    let doc = r.expect(201, "create").clone();
    assert_eq!(doc["id"], "tl");
    assert_eq!(doc["owner"], "admin");
    assert_eq!(doc["scans"], json!([]));
    assert_eq!(doc["counts"], json!({"scans": 0}));
    assert_eq!(doc["metadata"]["site"], "greenhouse");
    assert_python_iso(&doc["created_at"], "created_at");
    assert_python_iso(&doc["metadata"]["last_modified"], "last_modified");
    let marker = read_json(&app.root.join("tl/timelapse.json"));
    assert_eq!(marker["id"], "tl");
    assert_eq!(marker["scans"], json!([]));
    let r = app.get("/api/v1/timelapses/tl", None).await;
    assert_eq!(r.expect(200, "get"), &doc);
    // `name` is an alias of `id`.
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"name": "tl0"}))
        .await
        .expect(201, "name");
    let r = app.get("/api/v1/timelapses", None).await;
    assert_eq!(r.expect(200, "list"), &json!(["tl", "tl0"]));

    // Conflicts and bad input.
    app.scan(&admin, "flat", json!({})).await;
    for (what, body, status) in [
        ("existing", json!({"id": "tl"}), 409),
        ("a scan's id", json!({"id": "flat"}), 409),
        ("configs", json!({"id": "configs"}), 409),
        ("no id", json!({"metadata": {}}), 400),
        ("bad id", json!({"id": "a.b"}), 400),
        ("traversal", json!({"id": "../up"}), 400),
        ("id not a string", json!({"id": 5}), 400),
        (
            "metadata not an object",
            json!({"id": "tlm", "metadata": [1]}),
            400,
        ),
        ("body a list", json!(["tl9"]), 400),
    ] {
        let r = app
            .post_json("/api/v1/timelapses", Some(&admin), &body)
            .await;
        r.expect(status, what);
        assert!(r.body["code"].is_string(), "{what}: {}", r.body);
    }
    assert!(!app.root.join("tlm").exists());

    app.scan(&admin, "tl_a", json!({"timelapse": {"id": "tl"}}))
        .await;
    // Not empty: 409 without recursive, nothing moved.
    let r = app.delete("/api/v1/timelapses/tl", Some(&admin)).await;
    r.expect_error(409, "conflict", "not empty");
    let r = app
        .delete("/api/v1/timelapses/tl?recursive=false", Some(&admin))
        .await;
    r.expect_error(409, "conflict", "not empty, recursive=false");
    assert!(app.root.join("tl/tl_a/files.json").is_file());
    let r = app
        .delete("/api/v1/timelapses/tl?recursive=true", Some(&admin))
        .await;
    r.expect(204, "recursive delete");
    assert!(r.bytes.is_empty(), "204 has no body");
    assert!(!app.root.join("tl").exists());
    let r = app.get("/api/v1/timelapses/tl", None).await;
    r.expect_error(404, "not_found", "gone");
    let r = app.get("/api/v1/timelapses", None).await;
    assert_eq!(r.expect(200, "list"), &json!(["tl0"]));
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "scans"), &json!(["flat"]), "its scans left");
    app.get("/api/v1/scans/tl_a", None).await.expect_error(
        404,
        "not_found",
        "scan of a deleted timelapse",
    );

    // In .trash/<UTC yyyymmddThhmmssZ>_tl/, never served.
    let trash = names_in(&app.root.join(".trash"));
    assert_eq!(trash.len(), 1, "{trash:?}");
    let name = &trash[0];
    let (stamp, rest) = name.split_at(16);
    assert_eq!(rest, "_tl", "{name}");
    assert!(
        stamp.len() == 16
            && stamp[..8].bytes().all(|b| b.is_ascii_digit())
            && &stamp[8..9] == "T"
            && stamp[9..15].bytes().all(|b| b.is_ascii_digit())
            && stamp.ends_with('Z'),
        "{name}"
    );
    assert!(app
        .root
        .join(".trash")
        .join(name)
        .join("tl_a/files.json")
        .is_file());
    app.get("/api/v1/refresh", None)
        .await
        .expect(200, "refresh");
    let r = app.get("/api/v1/scans", None).await;
    assert_eq!(r.expect(200, "scans"), &json!(["flat"]));
    let r = app.get("/api/v1/timelapses", None).await;
    assert_eq!(r.expect(200, "list"), &json!(["tl0"]));
    for path in [
        format!("/api/v1/assets/files/.trash/{name}/timelapse.json"),
        format!("/api/v1/assets/files/.trash/{name}/tl_a/files.json"),
        format!("/files/.trash/{name}/tl_a/files.json"),
        "/api/v1/timelapses/.trash".to_string(),
        "/api/v1/scans/.trash".to_string(),
    ] {
        let r = app.get(&path, None).await;
        assert!(
            r.status == 404 || r.status == 400,
            "{path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
    }
    // The id can be used again.
    app.post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "tl"}))
        .await
        .expect(201, "re-create");
    // An empty timelapse goes without recursive; an unknown one is 404.
    app.delete("/api/v1/timelapses/tl0", Some(&admin))
        .await
        .expect(204, "empty");
    app.delete("/api/v1/timelapses/nope", Some(&admin))
        .await
        .expect_error(404, "not_found", "unknown");
    app.delete("/api/v1/timelapses/tl?recursive=maybe", Some(&admin))
        .await
        .expect_error(400, "invalid_input", "bad recursive");
    assert_eq!(names_in(&app.root.join(".trash")).len(), 2);
}

/// §1.3, §1.4, §1.5: files written in Python's format (sorted keys,
/// 4-space indent, ASCII escapes; the timelapse marker unsorted).
#[tokio::test]
async fn files_are_written_in_python_format() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({"zeta": 1, "alpha": "é"}))
        .await;
    app.fileset(&admin, "s", "fs").await;
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "f",
        "txt",
        b"x",
        Some(r#"{"b": "ü", "a": [1, 2]}"#),
    )
    .await
    .expect(201, "upload");
    let text = std::fs::read_to_string(app.root.join("s/files.json")).unwrap();
    assert!(
        text.starts_with("{\n    \"filesets\": [\n        {\n            \"files\": ["),
        "files.json: sorted keys, indent 4:\n{text}"
    );
    let text = std::fs::read_to_string(app.root.join("s/metadata/metadata.json")).unwrap();
    assert!(text.is_ascii(), "ASCII escapes: {text}");
    assert!(text.contains("\"alpha\": \"\\u00e9\""), "{text}");
    assert!(
        text.find("\"alpha\"").unwrap() < text.find("\"zeta\"").unwrap(),
        "sorted: {text}"
    );
    assert!(text.starts_with("{\n    \""), "{text}");
    let text = std::fs::read_to_string(app.root.join("s/metadata/fs/f.json")).unwrap();
    assert!(text.contains("\"b\": \"\\u00fc\""), "{text}");
    assert!(
        text.contains("\"a\": [\n        1,\n        2\n    ]"),
        "{text}"
    );
    app.post_json(
        "/api/v1/timelapses",
        Some(&admin),
        &json!({"id": "tl", "metadata": {"z": 1, "a": 2}}),
    )
    .await
    .expect(201, "timelapse");
    let text = std::fs::read_to_string(app.root.join("tl/timelapse.json")).unwrap();
    let pos = |k: &str| {
        text.find(&format!("\"{k}\""))
            .unwrap_or_else(|| panic!("{k} in {text}"))
    };
    assert!(
        pos("id") < pos("created_at")
            && pos("created_at") < pos("owner")
            && pos("owner") < pos("scans")
            && pos("scans") < pos("metadata"),
        "marker keys in Python's order: {text}"
    );
    assert!(text.starts_with("{\n    \"id\": \"tl\""), "{text}");
}

/// §1.6: created, created_by and last_modified are the server's at
/// creation, whatever the request says; a scan created in a timelapse
/// updates the marker's `metadata.last_modified`.
#[tokio::test]
async fn creation_timestamps_are_the_servers() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let fake = json!({"created": "1999-01-01T00:00:00", "created_by": "Mallory",
        "last_modified": "1999-01-01T00:00:00", "keep": 1});
    app.scan(&admin, "s", fake.clone()).await;
    app.post_json(
        "/api/v1/filesets/s/fs",
        Some(&admin),
        &json!({ "metadata": fake }),
    )
    .await
    .expect(201, "fileset");
    app.upload(
        Some(&admin),
        "s",
        "fs",
        "f",
        "txt",
        b"x",
        Some(&fake.to_string()),
    )
    .await
    .expect(201, "file");
    for (what, md) in [
        ("scan", app.scan_metadata_on_disk("s")),
        ("fileset", read_json(&app.root.join("s/metadata/fs.json"))),
        ("file", read_json(&app.root.join("s/metadata/fs/f.json"))),
    ] {
        assert_eq!(md["keep"], 1, "{what}");
        assert_eq!(md["created_by"], "PlantDB Admin", "{what}: {md}");
        assert_ne!(md["created"], "1999-01-01T00:00:00", "{what}: {md}");
        assert_ne!(md["last_modified"], "1999-01-01T00:00:00", "{what}: {md}");
    }

    let r = app
        .post_json("/api/v1/timelapses", Some(&admin), &json!({"id": "tl"}))
        .await;
    let before = r.expect(201, "timelapse")["metadata"]["last_modified"].clone();
    std::thread::sleep(std::time::Duration::from_millis(5));
    app.scan(&admin, "tl_0", json!({"timelapse": {"id": "tl"}}))
        .await;
    let marker = read_json(&app.root.join("tl/timelapse.json"));
    assert_ne!(marker["metadata"]["last_modified"], before, "{marker}");
    assert_python_iso(&marker["metadata"]["last_modified"], "marker");
    // A `timelapse.id` naming a flat scan (no marker) is not a container.
    let r = app
        .post_json(
            "/api/v1/scans/tl_1",
            Some(&admin),
            &json!({"metadata": {"timelapse": {"id": "s"}}}),
        )
        .await;
    r.expect_error(404, "not_found", "a scan is not a timelapse");
    assert!(!app.root.join("s/tl_1").exists());
}

/// §1.4: NaN and Infinity are read but never written.
#[tokio::test]
async fn non_finite_numbers_are_never_written() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;
    let body = br#"{"metadata": {"a": NaN, "b": Infinity, "c": -Infinity, "d": 1}}"#;
    for path in [
        "/api/v1/scans/s/metadata",
        "/api/v1/filesets/s/fs/metadata",
        "/api/v1/scans/s2",
        "/api/v1/filesets/s/fs2",
    ] {
        let r = app
            .post_raw(path, Some(&admin), "application/json", body)
            .await;
        assert!(
            [200, 201, 400].contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
    }
    for (id, meta) in [
        ("j", r#"{"a": NaN, "b": 1e999}"#),
        ("p", "{'a': 1e999, 'b': -1e999}"),
    ] {
        let r = app
            .upload(Some(&admin), "s", "fs", id, "txt", b"x", Some(meta))
            .await;
        assert!(
            [201, 400].contains(&r.status),
            "{meta}: {} {}",
            r.status,
            r.body
        );
    }
    // Every JSON file written parses as standard JSON.
    for path in tree(&app.root) {
        if path.ends_with(".json") && !path.starts_with(".plantdb-auth") {
            let text = std::fs::read_to_string(app.root.join(&path)).unwrap();
            assert!(
                serde_json::from_str::<Value>(&text).is_ok(),
                "{path} is not standard JSON:\n{text}"
            );
        }
    }
    let r = app.get("/api/v1/scans/s/metadata", None).await;
    r.expect(200, "read back");
}

/// A fileset may not take the name of the scan's own `metadata` directory
/// (its metadata file would be `metadata/metadata.json`).
#[tokio::test]
async fn a_fileset_cannot_shadow_the_scan_metadata() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    app.scan(&carl, "s", json!({"plant": "p"})).await;
    let before = app.scan_metadata_on_disk("s");
    let r = app
        .post_json(
            "/api/v1/filesets/s/metadata",
            Some(&carl),
            &json!({"metadata": {"x": 1}}),
        )
        .await;
    assert!(
        r.status == 409 || r.status == 400,
        "fileset 'metadata': {} {}",
        r.status,
        r.body
    );
    assert_eq!(app.scan_metadata_on_disk("s"), before);
    // Ids with encoded separators or dots never reach the disk.
    for id in ["a%2Fb", "%2E%2Ehidden", "a%00b", "%2eb"] {
        let r = app
            .post_json(&format!("/api/v1/scans/{id}"), Some(&admin), &json!({}))
            .await;
        r.expect_error(400, "invalid_input", id);
        let r = app
            .post_json(
                &format!("/api/v1/filesets/s/{id}"),
                Some(&admin),
                &json!({}),
            )
            .await;
        assert!(r.status == 400 || r.status == 404, "{id}: {}", r.status);
    }
    assert_eq!(
        names_in(&app.root.join("s")),
        vec!["files.json", "metadata"]
    );
}

/// §3.1, §4.3: the writes Python does not have are JSON 405 (or 404 for
/// the 0.14 write API), never a success.
#[tokio::test]
async fn unsupported_write_methods_are_refused() {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    app.scan(&admin, "s", json!({})).await;
    app.fileset(&admin, "s", "fs").await;
    app.upload(Some(&admin), "s", "fs", "f", "txt", b"x", None)
        .await
        .expect(201, "upload");
    use reqwest::Method;
    let cases = [
        (Method::DELETE, "/api/v1/scans/s"),
        (Method::PUT, "/api/v1/scans/s"),
        (Method::PATCH, "/api/v1/scans/s/metadata"),
        (Method::DELETE, "/api/v1/filesets/s/fs"),
        (Method::GET, "/api/v1/filesets/s/fs"),
        (Method::DELETE, "/api/v1/files/s/fs/f"),
        (Method::PUT, "/api/v1/files/s/fs/f"),
        (Method::POST, "/api/v1/scans"),
        (Method::POST, "/api/v1/timelapses/tl"),
        (Method::DELETE, "/api/v1/timelapses"),
        (Method::DELETE, "/api/v1/assets/archive/s"),
        (Method::POST, "/scans/s"),
        (Method::POST, "/files/s"),
    ];
    for (method, path) in cases {
        let r = app
            .send(
                method.clone(),
                path,
                Some(&admin),
                Some("application/json"),
                b"{}".to_vec(),
            )
            .await;
        assert!(
            r.status == 405 || r.status == 404,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        let code = if r.status == 405 {
            "method_not_allowed"
        } else {
            "not_found"
        };
        assert_error(&r.body, code, &format!("{method} {path}"));
    }
    for path in [
        "/api/scan",
        "/api/scan/s/metadata",
        "/api/fileset",
        "/api/file",
        "/api/fileset/s/fs/files",
    ] {
        let r = app.post_json(path, Some(&admin), &json!({})).await;
        assert!(r.status == 404 || r.status == 405, "{path}: {}", r.status);
    }
    assert!(app.root.join("s/fs/f.txt").is_file());
    assert_eq!(app.file_ids("s", "fs").await, vec!["f"]);
}

#[tokio::test]
async fn write_routes_live_under_the_url_prefix() {
    let app = spawn(&["--url-prefix", "/plantdb"]).await;
    let base = app.url.trim_end_matches("/plantdb").to_string();
    let login = app
        .client
        .post(format!("{base}/plantdb/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    let body: Value = login.json().await.unwrap();
    let admin = body["access_token"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value| {
        app.client
            .post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let r = post("/plantdb/api/v1/scans/p", json!({})).await.unwrap();
    assert_eq!(r.status(), 201);
    let r = post("/plantdb/api/v1/filesets/p/fs", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (ct, form) = upload_form(b"prefixed", "txt", None).finish();
    let r = app
        .client
        .post(format!("{base}/plantdb/api/v1/files/p/fs/f"))
        .bearer_auth(&admin)
        .header("Content-Type", ct)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = post(
        "/plantdb/api/v1/scans/p/metadata",
        json!({"metadata": {"k": 1}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (ct, form) = zip_form(&crate::zip::scan_archive(&json!({}))).finish();
    let r = app
        .client
        .post(format!("{base}/plantdb/archive/z"))
        .bearer_auth(&admin)
        .header("Content-Type", ct)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        std::fs::read(app.root.join("p/fs/f.txt")).unwrap(),
        b"prefixed"
    );
    assert!(app.root.join("z/files.json").is_file());
    // Not without the prefix.
    let r = post("/api/v1/scans/q", json!({})).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!app.root.join("q").exists());
}
