//! Two server processes on one PostgreSQL schema, as behind a load
//! balancer: what one does, the other enforces within the bound.

use reqwest::Method;
use serde_json::json;

use plantdb_auth_postgres::testing::{test_url, TestSchema};

use crate::helpers::{until_validation, Server, ADMIN_PW};

const STRONG_PW: &str = "Correct-Horse-7-battery";

fn two_servers(test: &str) -> Option<(TestSchema, tempfile::TempDir, Server, Server)> {
    let base = test_url(test)?;
    let schema = TestSchema::create(&base).unwrap();
    // One scans directory for both, as on a shared volume.
    let scans = tempfile::tempdir().unwrap();
    // The first start creates admin; start the second once it exists.
    let a = Server::start(&schema.url, scans.path());
    let b = Server::start(&schema.url, scans.path());
    Some((schema, scans, a, b))
}

async fn register(server: &Server, admin: &str, user: &str) {
    let body = json!({"username": user, "fullname": user, "password": STRONG_PW});
    let (status, reply) = server
        .post("/api/v1/auth/register", Some(admin), body)
        .await;
    assert_eq!(status, 201, "{reply}");
}

#[tokio::test]
async fn sessions_and_accounts_are_consistent_across_instances() {
    let Some((_schema, _scans, a, b)) =
        two_servers("sessions_and_accounts_are_consistent_across_instances")
    else {
        return;
    };
    // A login on A validates on B; a logout on B is refused on A.
    let (access, _) = a.login("admin", ADMIN_PW).await;
    let took = until_validation(&b, &access, true, "login on A, validation on B").await;
    eprintln!("login visible on the other instance after {took:?}");
    let (status, _) = b
        .post("/api/v1/auth/logout", Some(&access), json!({}))
        .await;
    assert_eq!(status, 200);
    let took = until_validation(&a, &access, false, "logout on B, refusal on A").await;
    eprintln!("logout enforced on the other instance after {took:?}");

    // Deactivation and password change on B end sessions on A.
    let (admin, _) = b.login("admin", ADMIN_PW).await;
    register(&a, &admin, "carol").await;
    register(&a, &admin, "dave").await;
    let (carol, _) = a.login("carol", STRONG_PW).await;
    let (dave, _) = a.login("dave", STRONG_PW).await;
    let (status, reply) = b
        .send(
            Method::PATCH,
            "/api/v1/users/carol",
            Some(&admin),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    until_validation(&a, &carol, false, "deactivation on B, refusal on A").await;
    let new_pw = json!({"new_password": "Another-Horse-8-battery"});
    let (status, reply) = b
        .post("/api/v1/users/dave/password", Some(&admin), new_pw)
        .await;
    assert_eq!(status, 200, "{reply}");
    until_validation(&a, &dave, false, "password change on B, refusal on A").await;

    // Two instances refreshing one token at once: never two winners.
    for _ in 0..5 {
        let (access, refresh) = a.login("admin", ADMIN_PW).await;
        until_validation(&b, &access, true, "login seen on B").await;
        let body = json!({"refresh_token": refresh});
        let (ra, rb) = tokio::join!(
            a.post("/api/v1/auth/token/refresh", None, body.clone()),
            b.post("/api/v1/auth/token/refresh", None, body.clone())
        );
        let winners = [ra.0, rb.0].iter().filter(|s| **s == 200).count();
        assert!(
            winners <= 1,
            "both instances rotated one refresh token: {ra:?} {rb:?}"
        );
        assert!([ra.0, rb.0].iter().all(|s| *s == 200 || *s == 401));
    }

    // Lockout counts are shared: 3 failures spread over both instances
    // lock dave everywhere (once the lock has propagated: within the bound).
    // (Not guest: the public account never locks.)
    for server in [&a, &b, &a] {
        let body = json!({"username": "dave", "password": "wrong"});
        let (status, _) = server.post("/api/v1/auth/login", None, body).await;
        assert_eq!(status, 401);
    }
    tokio::time::sleep(crate::helpers::BOUND).await;
    for server in [&b, &a] {
        let body = json!({"username": "dave", "password": "Another-Horse-8-battery"});
        let (status, _) = server.post("/api/v1/auth/login", None, body).await;
        assert_eq!(
            status, 401,
            "dave is locked after 3 failures over two instances"
        );
    }
}

#[tokio::test]
async fn an_instance_killed_with_sigkill_leaves_the_other_serving() {
    let Some((_schema, _scans, a, b)) =
        two_servers("an_instance_killed_with_sigkill_leaves_the_other_serving")
    else {
        return;
    };
    let (from_a, refresh_from_a) = a.login("admin", ADMIN_PW).await;
    until_validation(&b, &from_a, true, "login on A seen on B").await;
    a.kill9();
    assert!(b.validates(&from_a).await, "A's sessions outlive A");
    let (status, _) = b
        .post(
            "/api/v1/auth/token/refresh",
            None,
            json!({"refresh_token": refresh_from_a}),
        )
        .await;
    assert_eq!(status, 200, "B rotates a token A issued");
    let (access, _) = b.login("guest", "guest").await;
    assert!(b.validates(&access).await);
    let (status, _) = b
        .post("/api/v1/auth/logout", Some(&access), json!({}))
        .await;
    assert_eq!(status, 200);
}

/// Audit events of every instance land in the one `auth_audit` table.
#[tokio::test]
async fn audit_events_of_both_instances_are_in_the_database() {
    let Some((schema, _scans, a, b)) =
        two_servers("audit_events_of_both_instances_are_in_the_database")
    else {
        return;
    };
    for server in [&a, &b] {
        let body = json!({"username": "admin", "password": "not-the-password"});
        let (status, _) = server.post("/api/v1/auth/login", None, body).await;
        assert_eq!(status, 401);
    }
    let base = test_url("audit").unwrap();
    let query = format!(
        "SELECT 1 FROM {}.auth_audit WHERE event->>'event' = 'login_failed' AND event->>'user' = 'admin'",
        schema.name
    );
    let mut rows = 0;
    for _ in 0..50 {
        rows = plantdb_auth_postgres::testing::execute_sql(&base, &query).unwrap();
        if rows >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 2, "one failed login per instance in auth_audit");
    let secrets = format!(
        "SELECT 1 FROM {}.auth_audit WHERE event::text LIKE '%not-the-password%'",
        schema.name
    );
    assert_eq!(
        plantdb_auth_postgres::testing::execute_sql(&base, &secrets).unwrap(),
        0
    );
}

/// `plantdb-auth key rotate` on the shared store, run like an operator.
fn rotate(store: &str, db: &std::path::Path, grace: &str) -> String {
    let mut cmd = std::process::Command::new(crate::helpers::bin());
    for key in crate::support::server::SERVER_ENV {
        cmd.env_remove(key);
    }
    let out = cmd
        .args(["key", "rotate", "--grace", grace, "--store", store, "--db"])
        .arg(db)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "key rotate: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_key_rotation_reaches_every_instance() {
    let Some((schema, scans, a, b)) = two_servers("a_key_rotation_reaches_every_instance") else {
        return;
    };
    let (before, _) = a.login("admin", ADMIN_PW).await;
    until_validation(&b, &before, true, "login on A, validation on B").await;

    // With a grace period the old key still verifies everywhere, and a
    // token signed with the new key verifies on the other instance.
    let out = rotate(&schema.url, scans.path(), "3600");
    assert!(
        out.contains("Every running instance signs with the new key now"),
        "{out}"
    );
    assert!(a.validates(&before).await && b.validates(&before).await);
    let (after, _) = a.login("admin", ADMIN_PW).await;
    assert_ne!(before.rsplit('.').next(), after.rsplit('.').next());
    until_validation(&b, &after, true, "new key on A, validation on B").await;

    // Without one, every token signed before ends on every instance.
    rotate(&schema.url, scans.path(), "0");
    for server in [&a, &b] {
        until_validation(server, &before, false, "old key refused").await;
        until_validation(server, &after, false, "second-to-last key refused").await;
    }
    let (fresh, _) = b.login("admin", ADMIN_PW).await;
    until_validation(&a, &fresh, true, "newest key on B, validation on A").await;
    // A new instance reads the stored key.
    let c = Server::start(&schema.url, scans.path());
    assert!(c.validates(&fresh).await);
}
