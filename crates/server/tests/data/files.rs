//! Raw files (data-api.md §3.1 #21, §3.3, §10.1, D1): bytes, types,
//! validators, ranges, HEAD; the file-path routes never leave a scan.

use std::path::Path;

use serde_json::json;

use crate::fixture::*;
use crate::helpers::*;

const TEXT: &[u8] = b"0123456789abcdefghij";

fn build(root: &Path) {
    let mut s = ScanFixture::new(root, "s");
    s.metadata(json!({"owner": "guest"}));
    s.rgb("a", "a.png", &png(4, 4));
    for (id, name) in [
        ("jpg", "f.jpg"),
        ("jpeg", "f.jpeg"),
        ("png", "f.png"),
        ("tif", "f.tif"),
        ("tiff", "f.tiff"),
        ("json", "f.json"),
        ("txt", "f.txt"),
        ("ply", "f.ply"),
        ("toml", "f.toml"),
        ("yaml", "f.yaml"),
        ("yml", "f.yml"),
        ("zip", "f.zip"),
        ("p", "f.p"),
        ("noext", "noext"),
    ] {
        s.file("data", id, name, TEXT);
    }
    // files.json entries that must never be served (§1.3).
    s.entry("data", "escape", "../../users.json");
    s.entry("data", "hidden", ".secret");
    s.write("data/.secret", b"secret");
    s.entry("data", "missing", "missing.txt");
    // A data file that is a symlink out of the database.
    s.entry("data", "link_out", "link_out.txt");
    s.finish();
    s.write("measures.json", br#"{"angles": []}"#);
    s.write("pipeline.toml", b"[Voxels]\n");
    s.write(".hidden_file", b"hidden");
    s.write(".hidden_dir/x.txt", b"hidden");
    s.write("webcache/cached.jpeg", b"cache");
    s.write("images/.dot.png", b"dot");
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(root.join("outside_secret.txt"), b"outside").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(root.join("users.json"), s.dir.join("users_link.json")).unwrap();
        symlink(
            root.join("outside_secret.txt"),
            s.dir.join("data/link_out.txt"),
        )
        .unwrap();
        symlink("/etc/passwd", s.dir.join("passwd")).unwrap();
        symlink(root.join("outside"), s.dir.join("outdir")).unwrap();
        symlink(s.dir.join(".hidden_file"), s.dir.join("to_hidden.txt")).unwrap();
        // A link inside the scan to a visible file of the scan: fine.
        symlink(s.dir.join("measures.json"), s.dir.join("inner_link.json")).unwrap();
        // A "scan" that is a symlink to a directory outside the root.
        let elsewhere = scratch_dir();
        let mut out = ScanFixture::new(&elsewhere, "linked");
        out.metadata(json!({}));
        out.rgb("a", "a.png", &png(4, 4));
        out.finish();
        symlink(elsewhere.join("linked"), root.join("linked_scan")).unwrap();
    }
    std::fs::create_dir_all(root.join(".plantdb-auth")).unwrap();
    std::fs::write(root.join(".plantdb-auth/jwt.key.test"), b"key").unwrap();
    std::fs::create_dir_all(root.join(".locks")).unwrap();
    std::fs::write(root.join(".locks/lock_manager.log"), b"log").unwrap();
    timelapse(root, "tl", &["tl_s"]);
    simple_scan(root, "tl/tl_s", json!({"timelapse": {"id": "tl"}}));
}

async fn app() -> TestApp {
    spawn_with(build, &[]).await
}

#[tokio::test]
async fn file_bytes_and_content_types() {
    let app = app().await;
    for (id, ty) in [
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("tif", "image/tiff"),
        ("tiff", "image/tiff"),
        ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("ply", "application/octet-stream"),
        ("toml", "application/toml"),
        ("yaml", "application/yaml"),
        ("yml", "application/yaml"),
        ("zip", "application/zip"),
        ("p", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ] {
        let r = app.get(&format!("/api/v1/files/s/data/{id}")).await;
        assert_eq!(r.status(), 200, "{id}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], ty, "{id}");
        assert_eq!(h["cache-control"], "no-cache", "{id}");
        assert_eq!(h["accept-ranges"], "bytes", "{id}");
        let name = if id == "noext" {
            "noext".to_string()
        } else {
            format!("f.{id}")
        };
        assert_eq!(
            h["content-disposition"],
            format!("inline; filename={name}").as_str()
        );
        assert!(
            h.contains_key("etag") && h.contains_key("last-modified"),
            "{id}"
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), TEXT);
        // The same file through the file-path route.
        let r = app
            .get(&format!("/api/v1/assets/files/s/data/{name}"))
            .await;
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["content-type"], ty, "{name}");
    }
}

#[tokio::test]
async fn conditional_requests_answer_304() {
    let app = app().await;
    let path = "/api/v1/files/s/data/txt";
    let r = app.get(path).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    let r = app.get_h(path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = app.get_h(path, &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(r.status(), 200);
    let r = app.get_h(path, &[("If-Modified-Since", &modified)]).await;
    assert_eq!(r.status(), 304);
    let r = app
        .get_h(
            path,
            &[("If-Modified-Since", "Thu, 01 Jan 1998 00:00:00 GMT")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // The file-path route and the previews have validators too.
    let r = app.get("/api/v1/assets/files/s/measures.json").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = app
        .get_h(
            "/api/v1/assets/files/s/measures.json",
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(r.status(), 304);
    // A changed file gets a new validator.
    std::fs::write(app.root.join("s/data/f.txt"), b"changed!").unwrap();
    touch_by(&app.root.join("s/data/f.txt"), 10);
    let r = app.get_h(path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"changed!");
}

#[tokio::test]
async fn ranges_answer_206_and_unsatisfiable_ranges_416() {
    let app = app().await;
    let path = "/api/v1/files/s/data/txt";
    let r = app.get_h(path, &[("Range", "bytes=2-5")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 2-5/20");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"2345");
    let r = app.get_h(path, &[("Range", "bytes=-3")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 17-19/20");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hij");
    let r = app.get_h(path, &[("Range", "bytes=15-")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"fghij");
    let r = app.get_h(path, &[("Range", "bytes=18-100")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 18-19/20");
    // An end before the start is not a range: ignored, the whole file.
    let r = app.get_h(path, &[("Range", "bytes=5-2")]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-range").is_none());
    assert_eq!(r.bytes().await.unwrap().len(), 20);
    for bad in ["bytes=20-", "bytes=100-200"] {
        let r = app.get_h(path, &[("Range", bad)]).await;
        assert_eq!(r.status(), 416, "{bad}");
        assert_eq!(r.headers()["content-range"], "bytes */20", "{bad}");
    }
    let r = app
        .get_h(
            "/api/v1/assets/files/s/data/f.txt",
            &[("Range", "bytes=0-0")],
        )
        .await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"0");
}

#[tokio::test]
async fn head_answers_the_headers_without_a_body() {
    let app = app().await;
    for path in [
        "/api/v1/files/s/data/txt",
        "/api/v1/assets/files/s/data/f.txt",
        "/files/s/data/f.txt",
    ] {
        let r = app
            .client
            .head(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-length"], "20", "{path}");
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(r.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn file_entries_that_leave_the_fileset_or_are_missing_are_404() {
    let app = app().await;
    for id in ["escape", "hidden", "missing", "link_out", "nope"] {
        let (status, body) = app.get_json(&format!("/api/v1/files/s/data/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
        assert_error(&body, "not_found");
    }
    let (status, body) = app.get_json("/api/v1/filesets/s/data/files").await;
    assert_eq!(status, 200);
    let listed = ids(&body["files"]);
    for dropped in ["escape", "hidden", "missing"] {
        assert!(
            !listed.iter().any(|i| i == dropped),
            "{dropped} in {listed:?}"
        );
    }
    for (path, code) in [
        ("/api/v1/files/nope/data/txt", 404),
        ("/api/v1/files/s/nope/txt", 404),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status.as_u16(), code, "{path}: {body}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn the_file_path_route_serves_files_inside_scans() {
    let app = app().await;
    for prefix in ["/api/v1/assets/files", "/files"] {
        for (rel, ty) in [
            ("s/files.json", "application/json"),
            ("s/metadata/metadata.json", "application/json"),
            ("s/metadata/images/a.json", "application/json"),
            ("s/measures.json", "application/json"),
            ("s/pipeline.toml", "application/toml"),
            ("s/images/a.png", "image/png"),
            ("s/webcache/cached.jpeg", "image/jpeg"),
            ("s/inner_link.json", "application/json"),
            ("tl/tl_s/files.json", "application/json"),
            ("tl_s/files.json", "application/json"),
            ("tl/tl_s/metadata/metadata.json", "application/json"),
        ] {
            let r = app.get(&format!("{prefix}/{rel}")).await;
            assert_eq!(r.status(), 200, "{prefix}/{rel}");
            assert_eq!(r.headers()["content-type"], ty, "{prefix}/{rel}");
            assert_eq!(r.headers()["cache-control"], "no-cache");
            let name = rel.rsplit('/').next().unwrap();
            assert_eq!(
                r.headers()["content-disposition"],
                format!("inline; filename={name}").as_str()
            );
            let on_disk = if rel.starts_with("tl_s/") {
                app.root.join("tl").join(rel)
            } else {
                app.root.join(rel)
            };
            assert_eq!(
                r.bytes().await.unwrap().as_ref(),
                std::fs::read(on_disk).unwrap().as_slice(),
                "{rel}"
            );
        }
    }
}

#[tokio::test]
async fn the_file_path_route_refuses_everything_else() {
    let app = app().await;
    let root = app.root.to_string_lossy().into_owned();
    let refused = [
        "users.json".to_string(),
        "groups.json".to_string(),
        "romidb".to_string(),
        ".locks/lock_manager.log".to_string(),
        ".plantdb-auth/jwt.key".to_string(),
        ".plantdb-auth/jwt.key.test".to_string(),
        "outside_secret.txt".to_string(),
        "s/../users.json".to_string(),
        "s/%2e%2e/users.json".to_string(),
        "s/%2E%2E/%2E%2E/etc/passwd".to_string(),
        "s/..%2Fusers.json".to_string(),
        "s%2F..%2Fusers.json".to_string(),
        "..%2Fetc%2Fpasswd".to_string(),
        "%2Fetc%2Fpasswd".to_string(),
        "/etc/passwd".to_string(),
        format!("{}/users.json", root.trim_start_matches('/')),
        format!("%2F{}/users.json", root.trim_start_matches('/')),
        "s/.hidden_file".to_string(),
        "s/.hidden_dir/x.txt".to_string(),
        "s/images/.dot.png".to_string(),
        "s/./files.json".to_string(),
        "s//files.json".to_string(),
        "s/files.json/".to_string(),
        "s".to_string(),
        "s/".to_string(),
        "s/images".to_string(),
        "s/metadata".to_string(),
        "s/users_link.json".to_string(),
        "s/passwd".to_string(),
        "s/outdir".to_string(),
        "s/data/link_out.txt".to_string(),
        "s/to_hidden.txt".to_string(),
        "s/data/..%5C..%5Cusers.json".to_string(),
        "tl/timelapse.json".to_string(),
        "tl".to_string(),
        "tl/s/files.json".to_string(),
        "nope/files.json".to_string(),
        "linked_scan/files.json".to_string(),
        "S/files.json".to_string(),
    ];
    for prefix in ["/api/v1/assets/files", "/files"] {
        for rel in &refused {
            let path = format!("{prefix}/{rel}");
            let r = app.raw_get(&path).await;
            assert_eq!(
                r.status,
                404,
                "{path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let text = String::from_utf8_lossy(&r.body).into_owned();
            assert!(!text.contains(&root), "{path} leaks the root: {text}");
            assert!(
                !text.contains("outside") && !text.contains("secret") && !text.contains("root:")
            );
            assert_error(&r.json(), "not_found");
        }
    }
    // A symlinked scan outside the root is not a scan at all.
    let (_, listed) = app.get_json("/api/v1/scans").await;
    assert!(!ids(&listed).iter().any(|i| i == "linked_scan"), "{listed}");
    let (status, _) = app.get_json("/api/v1/scans/linked_scan").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn error_bodies_never_name_the_database_directory() {
    let app = app().await;
    let root = app.root.to_string_lossy().into_owned();
    for path in [
        "/api/v1/scans/nope",
        "/api/v1/scans/nope/metadata",
        "/api/v1/files/s/data/missing",
        "/api/v1/files/s/data/escape",
        "/api/v1/files/s/data/link_out",
        "/api/v1/assets/image/nope/images/a",
        "/api/v1/assets/image/s/images/nope",
        "/api/v1/assets/image/s/data/json",
        "/api/v1/assets/pointcloud/s",
        "/api/v1/assets/mesh/s",
        "/api/v1/assets/skeleton/s",
        "/api/v1/assets/sequence/s",
        "/api/v1/assets/archive/nope",
        "/api/v1/refresh?scan_id=nope",
        "/image/nope/images/a",
        "/scans/nope",
        "/nope",
    ] {
        let r = app.get(path).await;
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let text = r.text().await.unwrap();
        assert!(!text.contains(&root), "{path}: {text}");
        assert!(!text.contains("/tmp"), "{path}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(body["code"].is_string(), "{path}: {text}");
    }
}

#[tokio::test]
async fn validator_and_range_edge_cases() {
    let app = app().await;
    let path = "/api/v1/files/s/data/txt";
    let r = app.get(path).await;
    let modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    let r = app
        .get_h(
            path,
            &[
                ("If-None-Match", "\"other\""),
                ("If-Modified-Since", &modified),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.get_h(path, &[("If-None-Match", "*")]).await;
    assert_eq!(r.status(), 304);
    // Several ranges: the whole file is a valid answer.
    let r = app.get_h(path, &[("Range", "bytes=0-1,4-5")]).await;
    assert!(r.status() == 200 || r.status() == 206, "{}", r.status());
    let r = app.get_h(path, &[("Range", "bytes=-0")]).await;
    assert_eq!(r.status(), 416);
    // Not a byte range: ignored.
    let r = app.get_h(path, &[("Range", "items=0-1")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), TEXT);
    let r = app.get_h(path, &[("Range", "bytes=0-1")]).await;
    assert_eq!(r.headers()["content-length"], "2");
}
