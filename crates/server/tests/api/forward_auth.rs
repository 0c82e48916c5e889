//! Forward authentication decided on the original request (issue 14 item
//! 3): `/api/v1/authz/verify` with `X-Original-Method`/`X-Original-URI`
//! (nginx) or `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik) answers
//! what the data API would: the route's permission on its scan, from the
//! scan's owner and sharing, the caller's roles and an API token's grants.

use std::path::Path;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::*;

const VERIFY: &str = "/api/v1/authz/verify";

/// A scan directory with one fileset `images` holding `a.txt`.
fn scan(root: &Path, id: &str, metadata: Value) {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("metadata")).unwrap();
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::write(dir.join("images").join("a.txt"), b"a").unwrap();
    let files = json!({"filesets": [{"id": "images", "files": [{"id": "a", "file": "a.txt"}]}]});
    std::fs::write(dir.join("files.json"), files.to_string()).unwrap();
    std::fs::write(
        dir.join("metadata").join("metadata.json"),
        metadata.to_string(),
    )
    .unwrap();
}

/// A database with three scans: alice's own, one admin shares with the
/// group `lab` (bob), and one without an owner (guest's: public).
fn lab_db() -> TempDir {
    let dir = new_db_dir();
    scan(
        dir.path(),
        "alice_scan",
        json!({"owner": "alice", "sharing": []}),
    );
    scan(
        dir.path(),
        "lab_scan",
        json!({"owner": "admin", "sharing": ["lab"]}),
    );
    scan(dir.path(), "public_scan", json!({}));
    dir
}

/// The server and the tokens of its accounts.
struct Lab {
    app: TestApp,
    admin: String,
    /// reader, owns `alice_scan`.
    alice: String,
    /// reader, member of `lab`.
    bob: String,
    /// contributor.
    carol: String,
    _db: TempDir,
}

async fn lab_with(args: &[&str], env: &[(&str, &str)]) -> Lab {
    let db = lab_db();
    let path = db.path().to_str().unwrap().to_owned();
    let mut argv = vec!["--db", path.as_str(), "--no-rate-limits"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--argon2-memory", "256", "--argon2-iterations", "1"]);
    let mut envs = vec![("PLANTDB_ADMIN_PASSWORD", ADMIN_PW)];
    envs.extend_from_slice(env);
    let app = TestApp::spawn(&argv, &envs);
    let admin = app.admin_token().await;
    let mut tokens = Vec::new();
    for (user, role) in [
        ("alice", "reader"),
        ("bob", "reader"),
        ("carol", "contributor"),
    ] {
        let body =
            json!({"username": user, "fullname": user, "password": STRONG_PW, "roles": [role]});
        let req = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .bearer_auth(&admin)
            .json(&body);
        app.send(req).await.expect_status(201);
        tokens.push(app.login(user, STRONG_PW).await.0);
    }
    let group = json!({"name": "lab", "users": ["bob"]});
    let req = app
        .client
        .post(app.url("/api/v1/groups"))
        .bearer_auth(&admin)
        .json(&group);
    app.send(req).await.expect_status(201);
    let [alice, bob, carol] = <[String; 3]>::try_from(tokens).unwrap();
    Lab {
        app,
        admin,
        alice,
        bob,
        carol,
        _db: db,
    }
}

async fn lab() -> Lab {
    lab_with(&[], &[]).await
}

impl Lab {
    /// Asks `verify` about `method uri` (nginx's header names).
    async fn ask(&self, method: &str, uri: &str, token: Option<&str>) -> Reply {
        let headers = [("X-Original-Method", method), ("X-Original-URI", uri)];
        self.ask_with(&headers, token).await
    }

    async fn ask_with(&self, headers: &[(&str, &str)], token: Option<&str>) -> Reply {
        // nginx's and Traefik's verification requests are GET.
        let mut req = self.app.client.get(self.app.url(VERIFY));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        self.app.send(req).await
    }

    async fn status(&self, method: &str, uri: &str, token: Option<&str>) -> u16 {
        self.ask(method, uri, token).await.status.as_u16()
    }

    /// An API token of the holder of `access`, granting `datasets`.
    async fn api_token(&self, access: &str, datasets: Value) -> String {
        let body = json!({"token_exp": 600, "datasets": datasets});
        let reply = self
            .app
            .create_api_token(Gen::Current, Some(access), &body)
            .await;
        reply.expect_status(200);
        reply.str_field("api_token").to_owned()
    }
}

/// `(method, uri, token, expected status)` rows, checked in turn.
async fn check_table(lab: &Lab, rows: &[(&str, &str, Option<&str>, u16)]) {
    for (method, uri, token, want) in rows {
        let reply = lab.ask(method, uri, *token).await;
        assert_eq!(
            reply.status.as_u16(),
            *want,
            "{method} {uri} as {}: {reply:?}",
            token.map_or("nobody", |t| who(lab, t))
        );
    }
}

fn who<'a>(lab: &Lab, token: &str) -> &'a str {
    match token {
        t if t == lab.admin => "admin",
        t if t == lab.alice => "alice",
        t if t == lab.bob => "bob",
        t if t == lab.carol => "carol",
        _ => "an API token",
    }
}

#[tokio::test]
async fn owner_sharing_and_roles_decide_per_method() {
    let lab = lab().await;
    let (admin, alice, bob, carol) = (
        Some(lab.admin.as_str()),
        Some(lab.alice.as_str()),
        Some(lab.bob.as_str()),
        Some(lab.carol.as_str()),
    );
    let rows = [
        // Another user's scan: every reader reads it, nobody else writes.
        ("GET", "/api/v1/scans/alice_scan", bob, 200),
        ("HEAD", "/api/v1/files/alice_scan/images/a", bob, 200),
        ("POST", "/api/v1/scans/alice_scan/metadata", bob, 403),
        ("DELETE", "/api/v1/scans/alice_scan", bob, 403),
        // The owner writes (contributor on its scan) but does not delete.
        ("POST", "/api/v1/scans/alice_scan/metadata", alice, 200),
        ("POST", "/api/v1/files/alice_scan/images/b", alice, 200),
        ("DELETE", "/api/v1/scans/alice_scan", alice, 403),
        ("DELETE", "/api/v1/scans/alice_scan", admin, 200),
        // Shared with a group: its members write.
        ("POST", "/api/v1/filesets/lab_scan/new_fs", bob, 200),
        ("POST", "/api/v1/filesets/lab_scan/new_fs", alice, 403),
        ("DELETE", "/api/v1/filesets/lab_scan/images", bob, 403),
        // Public (guest's): read without a token, as guest; writes need one.
        ("GET", "/api/v1/scans/public_scan", None, 200),
        (
            "GET",
            "/image/public_scan/images/a.txt?size=orig",
            None,
            200,
        ),
        ("POST", "/api/v1/scans/public_scan/metadata", None, 401),
        ("POST", "/api/v1/scans/public_scan/metadata", alice, 403),
        ("POST", "/api/v1/scans/public_scan/metadata", carol, 200),
        ("DELETE", "/api/v1/scans/public_scan", carol, 403),
        // Creating a scan needs `create`, as on the data API.
        ("POST", "/api/v1/scans/brand_new", None, 401),
        ("POST", "/api/v1/scans/brand_new", alice, 403),
        ("POST", "/api/v1/scans/brand_new", carol, 200),
        ("POST", "/api/v1/assets/archive/brand_new", carol, 200),
        ("POST", "/archive/brand_new", alice, 403),
        ("POST", "/api/v1/timelapses", alice, 403),
        ("POST", "/api/v1/timelapses", carol, 200),
        ("DELETE", "/api/v1/timelapses/tl", carol, 403),
        ("DELETE", "/api/v1/timelapses/tl", admin, 200),
        // Listings and routes that need no caller.
        ("GET", "/api/v1/scans", None, 200),
        ("GET", "/scans_info", alice, 200),
        ("GET", "/api/v1/timelapses", None, 200),
        ("GET", "/api/v1/health", None, 200),
        ("POST", "/api/v1/auth/login", None, 200),
        // File paths: READ on the scan the path names.
        ("GET", "/files/alice_scan/files.json", None, 200),
        (
            "GET",
            "/api/v1/assets/files/lab_scan/metadata/metadata.json",
            bob,
            200,
        ),
        ("GET", "/files/alice_scan/missing.txt", alice, 403),
        ("GET", "/files/users.json", admin, 403),
        ("GET", "/files/.plantdb-auth/jwt.key", admin, 403),
    ];
    check_table(&lab, &rows).await;
}

#[tokio::test]
async fn answers_carry_the_identity_or_the_challenge() {
    let lab = lab().await;
    let ok = lab
        .ask(
            "POST",
            "/api/v1/scans/alice_scan/metadata",
            Some(&lab.alice),
        )
        .await;
    ok.expect_status(200);
    assert_eq!(ok.header("x-plantdb-user"), Some("alice"));
    assert_eq!(ok.header("x-plantdb-roles"), Some("reader"));
    let guest = lab.ask("GET", "/scans/public_scan", None).await;
    assert_eq!(guest.header("x-plantdb-user"), Some("guest"));
    // A route that needs no caller, no token: anonymous.
    let anonymous = lab.ask("GET", "/api/v1/health", None).await;
    anonymous.expect_status(200);
    assert_eq!(anonymous.header("x-plantdb-user"), None);
    assert_eq!(anonymous.body["username"], Value::Null);

    let no_token = lab.ask("DELETE", "/api/v1/scans/alice_scan", None).await;
    assert_error(&no_token, 401, "not_authenticated");
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));
    let bad = lab
        .ask("GET", "/api/v1/scans/alice_scan", Some("abc.def.ghi"))
        .await;
    assert_error(&bad, 401, "invalid_token");
    assert_eq!(bad.header("www-authenticate"), Some("Bearer"));
    // A refresh token is not an access token, here as on the data routes.
    let (_, refresh) = lab.app.login("alice", STRONG_PW).await;
    let reply = lab.ask("GET", "/api/v1/scans", Some(&refresh)).await;
    assert_error(&reply, 401, "invalid_token");
    // An Authorization header that is not Bearer is not "no token".
    let basic = lab
        .ask_with(
            &[
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/scans/public_scan"),
                ("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q="),
            ],
            None,
        )
        .await;
    assert_error(&basic, 401, "invalid_token");

    let denied = lab
        .ask("POST", "/api/v1/scans/alice_scan/metadata", Some(&lab.bob))
        .await;
    assert_error(&denied, 403, "forbidden");
    assert!(denied.header("www-authenticate").is_none(), "{denied:?}");
}

#[tokio::test]
async fn api_token_grants_narrow_the_decision() {
    let lab = lab().await;
    // carol (contributor) may write everywhere; this token only on public_*.
    let token = lab
        .api_token(&lab.carol, json!({"public_*": ["read", "write"]}))
        .await;
    let t = Some(token.as_str());
    let rows = [
        ("GET", "/api/v1/scans/public_scan", t, 200),
        ("POST", "/api/v1/scans/public_scan/metadata", t, 200),
        ("GET", "/api/v1/scans/alice_scan", t, 403),
        ("POST", "/api/v1/scans/alice_scan/metadata", t, 403),
        ("GET", "/files/lab_scan/files.json", t, 403),
        ("POST", "/api/v1/scans/brand_new", t, 403),
        // A listing leaves unreadable scans out: it passes.
        ("GET", "/api/v1/scans", t, 200),
    ];
    check_table(&lab, &rows).await;
    // alice's own scan, through a token that does not grant it.
    let narrow = lab
        .api_token(&lab.alice, json!({"public_*": ["read"]}))
        .await;
    let reply = lab
        .ask("GET", "/api/v1/scans/alice_scan", Some(&narrow))
        .await;
    assert_error(&reply, 403, "forbidden");
    assert!(reply.str_field("error").contains("API token"), "{reply:?}");
}

#[tokio::test]
async fn unknown_scans_are_refused_like_forbidden_ones() {
    let lab = lab().await;
    let denied = lab
        .ask("POST", "/api/v1/scans/alice_scan/metadata", Some(&lab.bob))
        .await;
    let unknown = lab
        .ask(
            "POST",
            "/api/v1/scans/no_such_scan/metadata",
            Some(&lab.bob),
        )
        .await;
    assert_error(&unknown, 403, "forbidden");
    // The same text but for the id: existence is not revealed.
    assert_eq!(
        denied.str_field("error").replace("alice_scan", "X"),
        unknown.str_field("error").replace("no_such_scan", "X")
    );
    assert_eq!(
        lab.status("GET", "/api/v1/scans/no_such_scan", Some(&lab.alice))
            .await,
        403
    );
    assert_eq!(
        lab.status("GET", "/api/v1/scans/no_such_scan", Some(&lab.admin))
            .await,
        403
    );
    assert_eq!(
        lab.status("GET", "/api/v1/scans/.hidden", Some(&lab.admin))
            .await,
        403
    );
    // Errors never carry a filesystem path.
    for reply in [denied, unknown] {
        assert!(!reply.text.contains("/tmp"), "{reply:?}");
    }
}

#[tokio::test]
async fn unmapped_requests_are_denied_by_default() {
    let lab = lab().await;
    let reply = lab.ask("GET", "/api/v1/users", Some(&lab.alice)).await;
    assert_error(&reply, 403, "forbidden");
    let reply = lab.ask("GET", "/static/scan.txt", None).await;
    assert_error(&reply, 401, "not_authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    // A URI without its method cannot tell a read from a write.
    let uri_only = [("X-Original-URI", "/api/v1/scans/public_scan")];
    assert_eq!(lab.ask_with(&uri_only, Some(&lab.alice)).await.status, 403);
    assert_eq!(
        lab.status("PROPFIND", "/api/v1/scans/public_scan", Some(&lab.admin))
            .await,
        403
    );
    assert_eq!(
        lab.status("POST", "/api/v1/scans", Some(&lab.admin)).await,
        403
    );
}

#[tokio::test]
async fn unmapped_requests_pass_a_valid_token_when_allowed() {
    for (args, env) in [
        (vec!["--authz-unmapped", "allow"], vec![]),
        (vec![], vec![("PLANTDB_AUTHZ_UNMAPPED", "allow")]),
    ] {
        let lab = lab_with(&args, &env).await;
        let reply = lab.ask("GET", "/api/v1/users", Some(&lab.alice)).await;
        reply.expect_status(200);
        assert_eq!(reply.header("x-plantdb-user"), Some("alice"));
        assert_eq!(lab.status("GET", "/api/v1/users", None).await, 401);
        assert_eq!(
            lab.status("GET", "/api/v1/users", Some("abc.def.ghi"))
                .await,
            401
        );
        // Mapped routes are still decided, and traversal is still refused.
        assert_eq!(
            lab.status("DELETE", "/api/v1/scans/alice_scan", Some(&lab.alice))
                .await,
            403
        );
        assert_eq!(
            lab.status("GET", "/files/%2e%2e/users.json", Some(&lab.admin))
                .await,
            403
        );
    }
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let lab = lab().await;
    for uri in [
        "/files/../users.json",
        "/files/%2e%2e/users.json",
        "/files/%2E%2E/groups.json",
        "/files/alice_scan/../../users.json",
        "/api/v1/assets/files/alice_scan/%2e%2e/%2e%2e/users.json",
        "/files/alice_scan%2f..%2f..%2fusers.json",
        "/files/alice_scan%5c..%5cusers.json",
        "/files//users.json",
        "/files/alice_scan/files.json%00.png",
        "/files/alice_scan/%zz",
        "/api/v1/scans/alice_scan/../../users",
    ] {
        let reply = lab.ask("GET", uri, Some(&lab.admin)).await;
        assert_error(&reply, 403, "forbidden");
        assert!(!reply.text.contains("/tmp"), "{reply:?}");
        let reply = lab.ask("GET", uri, None).await;
        assert_error(&reply, 401, "not_authenticated");
    }
}

#[tokio::test]
async fn traefik_headers_and_the_url_prefix() {
    let lab = lab_with(&["--url-prefix", "/plantdb"], &[]).await;
    let traefik = |method: &'static str, uri: &'static str| {
        [("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)]
    };
    let reply = lab
        .ask_with(
            &traefik("DELETE", "/plantdb/api/v1/scans/alice_scan"),
            Some(&lab.bob),
        )
        .await;
    assert_error(&reply, 403, "forbidden");
    let reply = lab
        .ask_with(
            &traefik("GET", "/plantdb/api/v1/scans/alice_scan"),
            Some(&lab.bob),
        )
        .await;
    reply.expect_status(200);
    // A proxy that strips the prefix before forwarding: mapped as well.
    let reply = lab
        .ask_with(
            &traefik("POST", "/api/v1/scans/alice_scan/metadata"),
            Some(&lab.bob),
        )
        .await;
    assert_error(&reply, 403, "forbidden");
    // Each proxy overwrites its own names and passes the client's other
    // headers on: both names present must agree, else the request is refused.
    let spoofed = [
        ("X-Original-Method", "GET"),
        ("X-Forwarded-Method", "DELETE"),
        ("X-Forwarded-Uri", "/plantdb/api/v1/scans/alice_scan"),
    ];
    assert_error(
        &lab.ask_with(&spoofed, Some(&lab.bob)).await,
        403,
        "forbidden",
    );
    let spoofed = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/plantdb/api/v1/scans/public_scan"),
        ("X-Forwarded-Method", "DELETE"),
        ("X-Forwarded-Uri", "/plantdb/api/v1/scans/alice_scan"),
    ];
    assert_error(
        &lab.ask_with(&spoofed, Some(&lab.bob)).await,
        403,
        "forbidden",
    );
    let agreeing = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/plantdb/api/v1/scans/alice_scan"),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/plantdb/api/v1/scans/alice_scan"),
    ];
    lab.ask_with(&agreeing, Some(&lab.bob))
        .await
        .expect_status(200);
    // A repeated header is refused, not guessed at.
    let req = lab
        .app
        .client
        .get(lab.app.url(VERIFY))
        .bearer_auth(&lab.bob)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/plantdb/api/v1/scans/alice_scan")
        .header("X-Original-URI", "/plantdb/api/v1/scans/public_scan");
    assert_error(&lab.app.send(req).await, 403, "forbidden");
}

#[tokio::test]
async fn without_original_request_headers_the_token_alone_decides() {
    let lab = lab().await;
    // As before the mapping: any live access or API token passes.
    let reply = lab.ask_with(&[], Some(&lab.bob)).await;
    reply.expect_status(200);
    assert_eq!(reply.header("x-plantdb-user"), Some("bob"));
    assert_eq!(reply.body["username"], "bob");
    let api = lab
        .api_token(&lab.alice, json!({"nothing_*": ["read"]}))
        .await;
    lab.ask_with(&[], Some(&api)).await.expect_status(200);
    let reply = lab.ask_with(&[], None).await;
    assert_error(&reply, 401, "not_authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert_eq!(lab.ask_with(&[], Some("abc.def.ghi")).await.status, 401);
    // Any method of the verification request itself.
    let req = lab
        .app
        .client
        .delete(lab.app.url(VERIFY))
        .bearer_auth(&lab.bob);
    lab.app.send(req).await.expect_status(200);
}
