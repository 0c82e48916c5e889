//! A server with a live guest session whose token the tests copy, tamper
//! with and re-sign, and the endpoints every bad token is tried on.

use reqwest::Method;
use serde_json::{json, Value};

use crate::forge::{claims_of, forge, hs512_header};
use crate::helpers::{assert_error, Options, Reply, Server, STRONG_PW};

/// Every endpoint that takes a bearer access token, both generations.
pub fn bearer_endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    let api_token = json!({"token_exp": 3600, "datasets": {"*": ["read"]}});
    let register = json!({"username": "forged-user", "fullname": "F", "password": STRONG_PW});
    vec![
        (Method::POST, "/api/v1/auth/token/validation", None),
        (Method::POST, "/token-validation", None),
        (Method::GET, "/api/v1/auth/me", None),
        (Method::GET, "/api/v1/users", None),
        (Method::POST, "/api/v1/auth/logout", None),
        (Method::POST, "/logout", None),
        (
            Method::POST,
            "/api/v1/auth/token/create-api-token",
            Some(api_token.clone()),
        ),
        (Method::POST, "/create-api-token", Some(api_token)),
        (Method::POST, "/api/v1/auth/register", Some(register)),
    ]
}

/// The codes a refused token may get. Logout keeps the seed's error
/// (`logout_user` fails with NoAuthUser, whatever the token's fault).
pub fn codes_for(path: &str) -> &'static [&'static str] {
    if path.ends_with("/logout") {
        &["invalid_token", "not_authenticated"]
    } else {
        &["invalid_token"]
    }
}

pub struct Fixture {
    pub server: Server,
    pub access: String,
    pub refresh: String,
    /// The claims of `access`, as the server wrote them.
    pub claims: Value,
}

impl Fixture {
    /// A test-mode server and a guest session. Re-signing the session's own
    /// claims must be accepted: then a refusal below is caused by the one
    /// thing a case changes, not by a broken forging harness.
    pub async fn new(opts: Options) -> Fixture {
        let server = Server::start(opts);
        let (access, refresh) = server.login("guest", "guest").await;
        let claims = claims_of(&access);
        let fixture = Fixture {
            server,
            access,
            refresh,
            claims,
        };
        fixture.assert_baseline_accepted().await;
        fixture
    }

    pub async fn assert_baseline_accepted(&self) {
        let resigned = forge(&hs512_header(), &self.claims);
        self.server.validate(&resigned).await.expect(200);
        self.server.validate(&self.access).await.expect(200);
    }

    pub async fn call(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        token: &str,
    ) -> Reply {
        let mut req = self.server.request(method.clone(), path).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.server.send(req).await
    }

    /// `token` is refused with 401 `invalid_token` on every bearer endpoint.
    pub async fn assert_refused_everywhere(&self, token: &str, case: &str) {
        for (method, path, body) in bearer_endpoints() {
            let reply = self.call(&method, path, body.as_ref(), token).await;
            assert_error(
                &reply,
                401,
                codes_for(path),
                &format!("{case} at {method} {path}"),
            );
        }
    }

    /// `token` is refused with 401 `invalid_token` by both refresh routes.
    pub async fn assert_refresh_refused(&self, token: &str, case: &str) {
        for path in ["/api/v1/auth/token/refresh", "/token-refresh"] {
            let reply = self
                .server
                .post_json(path, None, &json!({"refresh_token": token}))
                .await;
            assert_error(
                &reply,
                401,
                &["invalid_token"],
                &format!("{case} at {path}"),
            );
        }
    }
}
