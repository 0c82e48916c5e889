//! Who may write (data-api.md §2.2, §2.3; contract.md §1): anonymous and
//! bad tokens 401, readers 403, contributors on their own scans, group
//! members through `sharing`, admins, API-token grants; owner and sharing
//! changes.

use serde_json::json;

use crate::helpers::*;
use crate::zip;

struct World {
    app: TestApp,
    admin: String,
    rita: String,
    carl: String,
    dora: String,
    gina: String,
}

/// admin; rita (reader); carl, dora (contributors); gina (reader, member
/// of group `lab`). Scans `carl_scan` (carl's) and `dora_scan` (dora's,
/// shared with `lab`), each with fileset `fs` holding file `f`.
async fn world() -> World {
    let app = spawn(&[]).await;
    let admin = app.admin().await;
    let rita = app.user(&admin, "rita", &["reader"]).await;
    let carl = app.user(&admin, "carl", &["contributor"]).await;
    let dora = app.user(&admin, "dora", &["contributor"]).await;
    let gina = app.user(&admin, "gina", &["reader"]).await;
    app.group(&admin, "lab", &["gina"]).await;
    app.group(&admin, "other", &[]).await;
    for (token, scan, sharing) in [
        (&carl, "carl_scan", json!([])),
        (&dora, "dora_scan", json!(["lab"])),
    ] {
        app.scan(token, scan, json!({ "sharing": sharing })).await;
        app.fileset(token, scan, "fs").await;
        app.upload(Some(token), scan, "fs", "f", "txt", b"x", None)
            .await
            .expect(201, "setup upload");
    }
    assert_eq!(app.scan_metadata_on_disk("carl_scan")["owner"], "carl");
    World {
        app,
        admin,
        rita,
        carl,
        dora,
        gina,
    }
}

/// The five write operations on `scan` (fileset, file, metadata at three
/// levels) as `token`; each creates something new (named after `tag`).
async fn write_ops(
    app: &TestApp,
    token: Option<&str>,
    scan: &str,
    tag: &str,
) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    let path = format!("/api/v1/filesets/{scan}/fs_{tag}");
    out.push((
        path.clone(),
        app.post_json(&path, token, &json!({"metadata": {"t": tag}}))
            .await,
    ));
    let path = format!("/api/v1/files/{scan}/fs/file_{tag}");
    out.push((
        path.clone(),
        app.post_form(&path, token, upload_form(tag.as_bytes(), "txt", None))
            .await,
    ));
    for path in [
        format!("/api/v1/scans/{scan}/metadata"),
        format!("/api/v1/filesets/{scan}/fs/metadata"),
        format!("/api/v1/files/{scan}/fs/f/metadata"),
    ] {
        let body = json!({"metadata": {format!("k_{tag}"): tag}});
        out.push((path.clone(), app.post_json(&path, token, &body).await));
    }
    out
}

async fn assert_writes(app: &TestApp, token: Option<&str>, scan: &str, tag: &str, allowed: bool) {
    for (path, r) in write_ops(app, token, scan, tag).await {
        let what = format!("{tag}: {path}");
        if allowed {
            assert!(
                r.status == 200 || r.status == 201,
                "{what}: {} {}",
                r.status,
                r.body
            );
        } else {
            r.expect_error(403, "forbidden", &what);
        }
    }
    // What a refused caller sent left no trace.
    let dir = app.root.join(scan);
    let has_fs = dir.join(format!("fs_{tag}")).exists();
    let has_file = dir.join(format!("fs/file_{tag}.txt")).exists();
    let md = app.scan_metadata_on_disk(scan);
    let has_key = md.get(format!("k_{tag}")).is_some();
    assert_eq!(
        (has_fs, has_file, has_key),
        (allowed, allowed, allowed),
        "{tag}"
    );
    assert_eq!(hidden_under(&dir), Vec::<String>::new(), "{tag}");
}

#[tokio::test]
async fn the_write_permission_matrix() {
    let w = world().await;
    let app = &w.app;
    assert_writes(app, Some(&w.rita), "carl_scan", "rita", false).await;
    assert_writes(app, Some(&w.carl), "carl_scan", "carl_own", true).await;
    // contract.md §1: on a scan it neither owns nor shares, a user's
    // effective role is its highest global role: a contributor writes.
    assert_writes(app, Some(&w.carl), "dora_scan", "carl_other", true).await;
    assert_writes(app, Some(&w.dora), "dora_scan", "dora_own", true).await;
    // gina is a reader, but a member of `lab`, which dora_scan is shared with.
    assert_writes(app, Some(&w.gina), "dora_scan", "gina_shared", true).await;
    assert_writes(app, Some(&w.gina), "carl_scan", "gina_unshared", false).await;
    assert_writes(app, Some(&w.admin), "carl_scan", "admin_c", true).await;
    assert_writes(app, Some(&w.admin), "dora_scan", "admin_d", true).await;
    // The group member's writes do not make it the owner.
    assert_eq!(app.scan_metadata_on_disk("dora_scan")["owner"], "dora");
    let fs_md = read_json(&app.root.join("dora_scan/metadata/fs_gina_shared.json"));
    assert_eq!(fs_md["created_by"], "gina Fullname");
}

#[tokio::test]
async fn creating_needs_the_create_permission() {
    let w = world().await;
    let app = &w.app;
    for (who, token, id, status) in [
        ("rita", &w.rita, "by_rita", 403),
        ("gina", &w.gina, "by_gina", 403),
        ("carl", &w.carl, "by_carl", 201),
        ("admin", &w.admin, "by_admin", 201),
    ] {
        let r = app
            .post_json(&format!("/api/v1/scans/{id}"), Some(token), &json!({}))
            .await;
        r.expect(status, &format!("{who} creates a scan"));
        assert_eq!(app.root.join(id).exists(), status == 201, "{who}");
        let r = app
            .post_json(
                "/api/v1/timelapses",
                Some(token),
                &json!({"id": format!("tl_{id}")}),
            )
            .await;
        r.expect(status, &format!("{who} creates a timelapse"));
        if status == 403 {
            assert_error(&r.body, "forbidden", who);
        }
        let r = app
            .post_form(
                &format!("/api/v1/assets/archive/zip_{id}"),
                Some(token),
                zip_form(&zip::scan_archive(&json!({}))),
            )
            .await;
        r.expect(
            if status == 201 { 200 } else { 403 },
            &format!("{who} uploads an archive"),
        );
    }
    // Deleting a timelapse needs DELETE (admins only).
    for (who, token) in [("rita", &w.rita), ("carl", &w.carl), ("gina", &w.gina)] {
        let r = app
            .delete("/api/v1/timelapses/tl_by_carl", Some(token))
            .await;
        r.expect_error(403, "forbidden", &format!("{who} deletes a timelapse"));
    }
    assert!(app.root.join("tl_by_carl/timelapse.json").is_file());
    app.delete("/api/v1/timelapses/tl_by_carl", Some(&w.admin))
        .await
        .expect(204, "admin deletes");
    assert_eq!(
        names_in(&app.root.join(".plantdb-tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn without_a_valid_token_every_write_is_401() {
    let w = world().await;
    let app = &w.app;
    let refresh = app.refresh_token("carl", USER_PW).await;
    let before = tree(&app.root);
    let zip = zip::scan_archive(&json!({}));
    for (token, code) in [
        (None, "not_authenticated"),
        (Some("abc.def.ghi"), "invalid_token"),
        (Some(refresh.as_str()), "invalid_token"),
        (Some(""), "invalid_token"),
    ] {
        let t = token;
        let what = |p: &str| format!("{code} ({:?}): {p}", t.map(|s| &s[..s.len().min(10)]));
        for (path, r) in write_ops(app, token, "carl_scan", "anon").await {
            r.expect_error(401, code, &what(&path));
        }
        let r = app
            .post_json("/api/v1/scans/anon_scan", token, &json!({}))
            .await;
        r.expect_error(401, code, &what("create scan"));
        let r = app
            .post_json("/api/v1/timelapses", token, &json!({"id": "anon_tl"}))
            .await;
        r.expect_error(401, code, &what("create timelapse"));
        let r = app.delete("/api/v1/timelapses/anon_tl", token).await;
        r.expect_error(401, code, &what("delete timelapse"));
        for path in ["/api/v1/assets/archive/anon_zip", "/archive/anon_zip"] {
            let r = app.post_form(path, token, zip_form(&zip)).await;
            r.expect_error(401, code, &what(path));
        }
    }
    // Other schemes are not tokens.
    for header in [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Token abc",
        &format!("bearer{}", w.carl),
    ] {
        let r = app
            .client
            .post(format!("{}/api/v1/scans/carl_scan/metadata", app.url))
            .header("Authorization", header)
            .json(&json!({"metadata": {"x": 1}}))
            .send()
            .await
            .unwrap();
        let r = Reply::read(r).await;
        r.expect_error(401, "invalid_token", header);
    }
    // Deleting a timelapse anonymously: 401 too.
    app.post_json(
        "/api/v1/timelapses",
        Some(&w.admin),
        &json!({"id": "keep_tl"}),
    )
    .await
    .expect(201, "timelapse");
    app.delete("/api/v1/timelapses/keep_tl", None)
        .await
        .expect_error(401, "not_authenticated", "anonymous delete");
    assert!(app.root.join("keep_tl").is_dir());
    std::fs::remove_dir_all(app.root.join("keep_tl")).unwrap();
    let after: Vec<String> = tree(&app.root)
        .into_iter()
        .filter(|p| !p.starts_with(".plantdb-auth") && !p.starts_with(".locks"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|p| !p.starts_with(".plantdb-auth") && !p.starts_with(".locks"))
        .collect();
    assert_eq!(after, before, "nothing written by unauthenticated writes");
}

/// §2.2: "token → ... → permission (403) → request body (400/413)": a bad
/// body from someone who may not write is a 401/403, not a 400.
#[tokio::test]
async fn authentication_and_permission_come_before_the_body() {
    let w = world().await;
    let app = &w.app;
    let bad_bodies = [
        ("/api/v1/scans/new_one", json!({"metadata": 5})),
        ("/api/v1/scans/carl_scan/metadata", json!({"metadata": "x"})),
        (
            "/api/v1/scans/carl_scan/metadata",
            json!({"replace": "x", "metadata": {}}),
        ),
        ("/api/v1/filesets/carl_scan/newfs", json!({"metadata": [1]})),
        ("/api/v1/filesets/carl_scan/fs/metadata", json!({})),
        (
            "/api/v1/files/carl_scan/fs/f/metadata",
            json!({"metadata": 1}),
        ),
        ("/api/v1/timelapses", json!({"metadata": {}})),
    ];
    let mut failures = Vec::new();
    for (token, status, code) in [
        (None, 401, "not_authenticated"),
        (Some("abc.def.ghi"), 401, "invalid_token"),
        (Some(w.rita.as_str()), 403, "forbidden"),
    ] {
        for (path, body) in &bad_bodies {
            let r = app.post_json(path, token, body).await;
            if r.status != status || r.body["code"] != code {
                failures.push(format!(
                    "{path} {body} as {code}: got {} {}",
                    r.status, r.body
                ));
            }
        }
        // Malformed JSON.
        let r = app
            .post_raw(
                "/api/v1/scans/carl_scan/metadata",
                token,
                "application/json",
                b"{nope",
            )
            .await;
        if r.status != status {
            failures.push(format!(
                "malformed JSON as {code}: got {} {}",
                r.status, r.body
            ));
        }
        // A multipart upload without `ext`.
        let form = Form::new().file("file", "a", "text/plain", b"x");
        let r = app
            .post_form("/api/v1/files/carl_scan/fs/noext", token, form)
            .await;
        if r.status != status {
            failures.push(format!(
                "upload without ext as {code}: got {} {}",
                r.status, r.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn api_tokens_write_where_their_grant_says() {
    let w = world().await;
    let app = &w.app;
    let dora_rw = app
        .api_token(&w.admin, json!({"dora_*": ["read", "write"]}))
        .await;
    assert_writes(app, Some(&dora_rw), "dora_scan", "api_dora", true).await;
    assert_writes(app, Some(&dora_rw), "carl_scan", "api_carl", false).await;
    let r = app
        .post_json("/api/v1/scans/dora_new", Some(&dora_rw), &json!({}))
        .await;
    r.expect_error(403, "forbidden", "create without a create grant");

    let creator = app.api_token(&w.admin, json!({"new_*": ["create"]})).await;
    let r = app
        .post_json("/api/v1/scans/new_one", Some(&creator), &json!({}))
        .await;
    r.expect(201, "create with a matching grant");
    assert_eq!(app.scan_metadata_on_disk("new_one")["owner"], "admin");
    let r = app
        .post_json("/api/v1/scans/other_one", Some(&creator), &json!({}))
        .await;
    r.expect_error(403, "forbidden", "create outside the grant");
    let r = app
        .post_json(
            "/api/v1/timelapses",
            Some(&creator),
            &json!({"id": "new_tl"}),
        )
        .await;
    r.expect(201, "timelapse with a matching grant");
    let r = app
        .post_json(
            "/api/v1/timelapses",
            Some(&creator),
            &json!({"id": "old_tl"}),
        )
        .await;
    r.expect_error(403, "forbidden", "timelapse outside the grant");
    let r = app
        .post_form(
            "/api/v1/assets/archive/new_zip",
            Some(&creator),
            zip_form(&zip::scan_archive(&json!({}))),
        )
        .await;
    r.expect(200, "archive with a matching grant");
    let r = app
        .post_form(
            "/api/v1/assets/archive/other_zip",
            Some(&creator),
            zip_form(&zip::scan_archive(&json!({}))),
        )
        .await;
    r.expect_error(403, "forbidden", "archive outside the grant");

    // A read-only grant cannot write, even on the holder's own scan.
    let carl_read = app.api_token(&w.carl, json!({"carl_scan": ["read"]})).await;
    assert_writes(app, Some(&carl_read), "carl_scan", "api_ro", false).await;
    // A grant by exact name opens that scan only.
    let carl_own = app
        .api_token(&w.carl, json!({"carl_scan": ["read", "write"]}))
        .await;
    assert_writes(app, Some(&carl_own), "carl_scan", "api_carl_own", true).await;
    assert_writes(app, Some(&carl_own), "dora_scan", "api_carl_dora", false).await;
    // The grant is intersected with the holder's own (global) permissions:
    // gina, a reader, writes dora_scan through `lab` with her session, but
    // a token of hers only reads.
    let gina_read = app.api_token(&w.gina, json!({"*": ["read"]})).await;
    assert_writes(app, Some(&gina_read), "dora_scan", "api_gina", false).await;
    let r = app
        .post_json(
            "/api/v1/auth/token/create-api-token",
            Some(&w.gina),
            &json!({"token_exp": 3600, "datasets": {"*": ["write"]}}),
        )
        .await;
    r.expect(400, "a reader cannot mint a write grant");
}

#[tokio::test]
async fn owner_changes_need_manage_users_and_an_existing_user() {
    let w = world().await;
    let app = &w.app;
    let path = "/api/v1/scans/carl_scan/metadata";
    // The owner itself may not give the scan away.
    let r = app
        .post_json(path, Some(&w.carl), &json!({"metadata": {"owner": "dora"}}))
        .await;
    r.expect_error(403, "forbidden", "contributor changes owner");
    // Nor through replace.
    let r = app
        .post_json(
            path,
            Some(&w.carl),
            &json!({"metadata": {"owner": "dora"}, "replace": true}),
        )
        .await;
    r.expect_error(403, "forbidden", "contributor changes owner (replace)");
    // A group member with write access neither.
    let r = app
        .post_json(
            "/api/v1/scans/dora_scan/metadata",
            Some(&w.gina),
            &json!({"metadata": {"owner": "gina"}}),
        )
        .await;
    r.expect_error(403, "forbidden", "group member changes owner");
    assert_eq!(app.scan_metadata_on_disk("carl_scan")["owner"], "carl");
    assert_eq!(app.scan_metadata_on_disk("dora_scan")["owner"], "dora");
    // An unchanged owner is ignored.
    let r = app
        .post_json(
            path,
            Some(&w.carl),
            &json!({"metadata": {"owner": "carl", "x": 1}}),
        )
        .await;
    assert_eq!(r.expect(200, "same owner")["metadata"]["owner"], "carl");
    // An admin may, to an existing user only.
    for bad in [json!("nobody"), json!(5), json!("Not A Name!")] {
        let r = app
            .post_json(path, Some(&w.admin), &json!({"metadata": {"owner": bad}}))
            .await;
        r.expect_error(400, "invalid_input", &format!("owner {bad}"));
    }
    let r = app
        .post_json(
            path,
            Some(&w.admin),
            &json!({"metadata": {"owner": "dora"}}),
        )
        .await;
    assert_eq!(
        r.expect(200, "admin changes owner")["metadata"]["owner"],
        "dora"
    );
    assert_eq!(app.scan_metadata_on_disk("carl_scan")["owner"], "dora");
    // Ownership is what lets a reader write: give the scan to rita (a
    // reader), then take it back.
    assert_writes(app, Some(&w.rita), "carl_scan", "rita_before", false).await;
    let r = app
        .post_json(
            path,
            Some(&w.admin),
            &json!({"metadata": {"owner": "rita"}, "replace": true}),
        )
        .await;
    assert_eq!(
        r.expect(200, "owner via replace")["metadata"]["owner"],
        "rita"
    );
    assert_writes(app, Some(&w.rita), "carl_scan", "rita_owner", true).await;
    let r = app
        .post_json(
            path,
            Some(&w.admin),
            &json!({"metadata": {"owner": "dora"}}),
        )
        .await;
    r.expect(200, "owner back to dora");
    assert_writes(app, Some(&w.rita), "carl_scan", "rita_after", false).await;
    // Owner changes at fileset/file level are dropped, not applied.
    let r = app
        .post_json(
            "/api/v1/filesets/carl_scan/fs/metadata",
            Some(&w.dora),
            &json!({"metadata": {"owner": "carl"}}),
        )
        .await;
    r.expect(200, "fileset owner dropped");
    assert_eq!(app.scan_metadata_on_disk("carl_scan")["owner"], "dora");
}

#[tokio::test]
async fn sharing_changes_need_write_and_existing_groups() {
    let w = world().await;
    let app = &w.app;
    let path = "/api/v1/scans/carl_scan/metadata";
    // gina cannot write carl_scan yet.
    assert_writes(app, Some(&w.gina), "carl_scan", "before_share", false).await;
    // Someone without WRITE (readers outside its groups) cannot share.
    for token in [&w.rita, &w.gina] {
        let r = app
            .post_json(
                path,
                Some(token),
                &json!({"metadata": {"sharing": ["lab"]}}),
            )
            .await;
        r.expect_error(403, "forbidden", "share without write");
    }
    // Unknown groups: 400, nothing changed.
    for bad in [
        json!(["ghost"]),
        json!(["lab", "ghost"]),
        json!("ghost"),
        json!([3]),
        json!(7),
    ] {
        let r = app
            .post_json(path, Some(&w.carl), &json!({"metadata": {"sharing": bad}}))
            .await;
        r.expect_error(400, "invalid_input", &format!("sharing {bad}"));
    }
    assert_eq!(app.scan_metadata_on_disk("carl_scan")["sharing"], json!([]));
    // The owner shares with `lab` (a string is a one-element list).
    let r = app
        .post_json(
            path,
            Some(&w.carl),
            &json!({"metadata": {"sharing": "lab"}}),
        )
        .await;
    assert_eq!(
        r.expect(200, "share")["metadata"]["sharing"],
        json!(["lab"])
    );
    assert_writes(app, Some(&w.gina), "carl_scan", "after_share", true).await;
    // replace: true keeps the protected sharing (and owner).
    let r = app
        .post_json(
            path,
            Some(&w.carl),
            &json!({"metadata": {"fresh": 1}, "replace": true}),
        )
        .await;
    let stored = r.expect(200, "replace")["metadata"].clone();
    assert_eq!(stored["sharing"], json!(["lab"]), "{stored}");
    assert_eq!(stored["owner"], "carl", "{stored}");
    // A shared member may share further (it has WRITE).
    let r = app
        .post_json(
            path,
            Some(&w.gina),
            &json!({"metadata": {"sharing": ["lab", "other"]}}),
        )
        .await;
    assert_eq!(
        r.expect(200, "member shares")["metadata"]["sharing"],
        json!(["lab", "other"])
    );
    // Unsharing.
    let r = app
        .post_json(path, Some(&w.carl), &json!({"metadata": {"sharing": []}}))
        .await;
    assert_eq!(r.expect(200, "unshare")["metadata"]["sharing"], json!([]));
    assert_writes(app, Some(&w.gina), "carl_scan", "after_unshare", false).await;
    // Creating a scan shared with a group lets its members write at once.
    app.scan(&w.carl, "carl_shared", json!({"sharing": ["lab"]}))
        .await;
    app.fileset(&w.carl, "carl_shared", "fs").await;
    app.upload(Some(&w.carl), "carl_shared", "fs", "f", "txt", b"x", None)
        .await
        .expect(201, "upload");
    assert_writes(app, Some(&w.gina), "carl_shared", "created_shared", true).await;
}

/// contract.md §1: "the grant is still intersected with the user's current
/// permissions at every use, so demoting a user demotes its tokens".
#[tokio::test]
async fn a_demoted_users_api_token_loses_its_write_rights() {
    let w = world().await;
    let app = &w.app;
    let token = app
        .api_token(&w.carl, json!({"*": ["read", "write", "create"]}))
        .await;
    assert_writes(app, Some(&token), "carl_scan", "api_before", true).await;
    app.post_json("/api/v1/scans/made_by_token", Some(&token), &json!({}))
        .await
        .expect(201, "create with the token");
    let r = app
        .send(
            reqwest::Method::PATCH,
            "/api/v1/users/carl",
            Some(&w.admin),
            Some("application/json"),
            serde_json::to_vec(&json!({"roles": ["reader"]})).unwrap(),
        )
        .await;
    r.expect(200, "demote carl");
    let r = app
        .post_json("/api/v1/scans/made_after", Some(&token), &json!({}))
        .await;
    assert!(
        r.status == 403 || r.status == 401,
        "create after demotion: {} {}",
        r.status,
        r.body
    );
    // Even on the scan carl owns: the token's grant is cut to read.
    for (path, r) in write_ops(app, Some(&token), "carl_scan", "api_after").await {
        assert!(
            r.status == 403 || r.status == 401,
            "{path} after demotion: {} {}",
            r.status,
            r.body
        );
    }
    assert!(!app.root.join("made_after").exists());
}

/// contract.md §1: usernames are stored lower-case and looked up
/// case-insensitively. An owner given as `RITA` names the user `rita`; it
/// must be stored as `rita`, or the scan belongs to nobody (ownership
/// compares names exactly, as Python does).
#[tokio::test]
async fn an_owner_named_in_another_case_is_stored_as_the_users_name() {
    let w = world().await;
    let app = &w.app;
    let path = "/api/v1/scans/carl_scan/metadata";
    let r = app
        .post_json(
            path,
            Some(&w.admin),
            &json!({"metadata": {"owner": "RITA"}}),
        )
        .await;
    if r.status == 200 {
        assert_eq!(
            r.body["metadata"]["owner"], "rita",
            "owner stored as given, not as the user's name: {}",
            r.body
        );
        assert_writes(app, Some(&w.rita), "carl_scan", "rita_upper", true).await;
    } else {
        r.expect_error(400, "invalid_input", "upper-case owner");
    }
}
