//! Every endpoint against every kind of caller: no token, reader,
//! contributor, admin (issue point 8).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, STRONG_PW};

/// The callers, in the order of each row's expected statuses.
const WHO: [&str; 4] = ["anon", "reader", "contrib", "admin"];

struct Row {
    method: Method,
    /// `{who}` becomes the caller's label, so that state-changing rows
    /// give each caller its own target.
    path: &'static str,
    body: Option<Value>,
    expect: [u16; 4],
}

fn row(method: Method, path: &'static str, body: Option<Value>, expect: [u16; 4]) -> Row {
    Row {
        method,
        path,
        body,
        expect,
    }
}

fn rows() -> Vec<Row> {
    use Method as M;
    let scan = json!({"scan": {"id": "s1", "owner": "admin"}, "permission": "read"});
    let change =
        json!({"old": {"id": "s1", "owner": "admin"}, "new": {"id": "s1", "owner": "rita"}});
    vec![
        row(M::GET, "/api/v1/auth/me", None, [401, 200, 200, 200]),
        row(M::GET, "/api/v1/users", None, [401, 403, 403, 200]),
        row(M::GET, "/api/v1/users/v-{who}", None, [401, 403, 403, 200]),
        row(M::GET, "/api/v1/users/rita", None, [401, 200, 403, 200]),
        row(
            M::PATCH,
            "/api/v1/users/v-{who}",
            Some(json!({"fullname": "V"})),
            [401, 403, 403, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/users/v-{who}",
            Some(json!({"unlock": true})),
            [401, 403, 403, 200],
        ),
        row(
            M::POST,
            "/api/v1/users/v-{who}/password",
            Some(json!({"new_password": "Lilac-Tractor-Harbour-91"})),
            [401, 403, 403, 200],
        ),
        row(M::GET, "/api/v1/groups", None, [401, 200, 200, 200]),
        row(M::GET, "/api/v1/groups/lab", None, [401, 200, 200, 200]),
        row(
            M::POST,
            "/api/v1/groups",
            Some(json!({"name": "g-{who}"})),
            [401, 403, 403, 201],
        ),
        row(
            M::POST,
            "/api/v1/groups/lab/members",
            Some(json!({"username": "v-{who}"})),
            [401, 200, 403, 200],
        ),
        row(
            M::DELETE,
            "/api/v1/groups/lab/members/v-{who}",
            None,
            [401, 200, 403, 200],
        ),
        row(
            M::DELETE,
            "/api/v1/groups/g-{who}",
            None,
            [401, 403, 403, 200],
        ),
        row(
            M::POST,
            "/api/v1/authz/scan",
            Some(scan),
            [401, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/authz/scan-metadata",
            Some(change),
            [401, 200, 200, 200],
        ),
        row(M::GET, "/api/v1/authz/verify", None, [401, 200, 200, 200]),
        row(
            M::DELETE,
            "/api/v1/users/v-{who}",
            None,
            [401, 403, 403, 200],
        ),
    ]
}

fn fill(template: &str, who: &str) -> String {
    template.replace("{who}", who)
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let reader = app.user(&admin, "rita", &["reader"]).await;
    let contrib = app.user(&admin, "carl", &["contributor"]).await;
    for who in WHO {
        app.register(&admin, &format!("v-{who}"), &["reader"]).await;
    }
    let members = ["rita", "v-anon", "v-reader", "v-contrib", "v-admin"];
    app.group(&admin, "lab", &members).await;
    let tokens = [
        None,
        Some(reader.as_str()),
        Some(contrib.as_str()),
        Some(admin.as_str()),
    ];
    for row in rows() {
        for ((who, token), expected) in WHO.iter().zip(tokens).zip(row.expect) {
            let path = fill(row.path, who);
            let body = row
                .body
                .as_ref()
                .map(|b| serde_json::from_str::<Value>(&fill(&b.to_string(), who)).unwrap());
            let reply = app
                .call(row.method.clone(), &path, token, body.as_ref())
                .await;
            assert_eq!(
                reply.status.as_u16(),
                expected,
                "{} {path} as {who}: {reply:?}",
                row.method
            );
            if expected >= 400 {
                let code = reply.body["code"].as_str().unwrap_or_default();
                let wanted = if expected == 401 {
                    "not_authenticated"
                } else {
                    "forbidden"
                };
                assert_eq!(code, wanted, "{} {path} as {who}: {reply:?}", row.method);
            }
        }
    }
    // The reset password works; the deleted accounts are gone.
    assert_eq!(app.try_login("v-anon", STRONG_PW).await.status, 200);
    assert_eq!(app.try_login("v-admin", STRONG_PW).await.status, 401);
}

#[tokio::test]
async fn refresh_tokens_are_not_accepted_and_garbage_is_401() {
    let app = TestApp::spawn();
    let (_, refresh) = app.login_pair("admin", "admin").await;
    for (method, path) in [
        (Method::GET, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/groups"),
        (Method::GET, "/api/v1/authz/verify"),
        (Method::DELETE, "/api/v1/users/guest"),
    ] {
        for token in [refresh.as_str(), "not-a-jwt"] {
            let reply = app.call(method.clone(), path, Some(token), None).await;
            assert_eq!(reply.status, 401, "{method} {path}: {reply:?}");
            assert_eq!(reply.body["code"], "invalid_token", "{reply:?}");
        }
    }
}

#[tokio::test]
async fn api_tokens_cannot_administer_accounts_or_groups() {
    let app = TestApp::spawn();
    let admin = app.admin().await;
    let api = app
        .api_token(
            &admin,
            json!({"*": ["read", "manage_users", "manage_groups"]}),
        )
        .await;
    assert_eq!(app.me_status(&api).await, 200, "me accepts API tokens");
    app.get("/api/v1/groups", Some(&api)).await.expect(200);
    for (method, path, body) in [
        (Method::GET, "/api/v1/users", None),
        (Method::GET, "/api/v1/users/guest", None),
        (
            Method::PATCH,
            "/api/v1/users/guest",
            Some(json!({"fullname": "G"})),
        ),
        (Method::DELETE, "/api/v1/users/guest", None),
        (Method::POST, "/api/v1/groups", Some(json!({"name": "x"}))),
    ] {
        let reply = app
            .call(method.clone(), path, Some(&api), body.as_ref())
            .await;
        assert_eq!(reply.status, 401, "{method} {path}: {reply:?}");
    }
}
