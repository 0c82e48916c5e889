#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `create_api_token` as the HTTP adapter drives it (the JSON body read at
//! the edge by `ApiTokenBody`, then the caller, then the use-case): what a
//! minted token carries, and every refusal.

#[path = "../../service/tests/support/mod.rs"]
mod support;

use chrono::Duration;
use plantdb_auth_core::model::Role;
use plantdb_auth_core::session::{TokenError, TokenKind};
use plantdb_auth_http::payload::ApiTokenBody;
use plantdb_auth_service::caller::ACCESS_ONLY;
use plantdb_auth_service::{
    authenticate, create_api_token, validate_token, ApiTokenCreated, AuthError,
};
use serde_json::{json, Value};
use support::{TestDb, GUEST_PASSWORD};

fn request(token_exp: Value, datasets: Value) -> ApiTokenBody {
    ApiTokenBody {
        token_exp: Some(token_exp),
        datasets: Some(datasets),
    }
}

fn read_all(token_exp: Value) -> ApiTokenBody {
    request(token_exp, json!({"*": ["read"]}))
}

/// The adapter's order: the body, then the caller, then the use-case.
fn mint(t: &TestDb, token: &str, req: &ApiTokenBody) -> Result<ApiTokenCreated, AuthError> {
    mint_as(t, Some(token), req)
}

fn mint_as(
    t: &TestDb,
    token: Option<&str>,
    req: &ApiTokenBody,
) -> Result<ApiTokenCreated, AuthError> {
    let request = req.command()?;
    let caller = authenticate(&t.db, token, ACCESS_ONLY)?;
    create_api_token(&t.db, &caller, &request)
}

fn invalid_input(result: Result<ApiTokenCreated, AuthError>) -> String {
    match result {
        Err(AuthError::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn api_token_count(t: &TestDb, user: &str) -> usize {
    t.db.sessions().api_tokens(Some(user)).len()
}

#[test]
fn a_minted_token_carries_the_grant_and_validates() {
    let t = TestDb::new();
    let access = t
        .user_session("carl", &[Role::Contributor])
        .tokens
        .access_token;
    let datasets = json!({"scan_*": ["read", "WRITE"], "other": ["Permission.READ"]});
    let created = mint(&t, &access, &request(json!(3600), datasets)).unwrap();

    let claims = t.db.sessions().decode(&created.token).unwrap();
    assert_eq!(claims.kind, TokenKind::Api);
    assert_eq!(claims.sub, "carl");
    assert_eq!(claims.jti, created.id);
    assert_eq!(
        claims.datasets.as_deref(),
        Some("scan_*/Permission.READ,Permission.WRITE;other/Permission.READ")
    );
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(created.expires_at, t.now() + Duration::seconds(3600));

    let who = validate_token(&t.db, Some(&created.token)).unwrap();
    assert_eq!(who.username, "carl");
    let listed = t.db.sessions().api_tokens(Some("carl"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].jti, created.id);
}

#[test]
fn token_exp_must_be_a_json_integer() {
    let t = TestDb::new();
    let access = t.admin_token();
    for exp in [
        json!("60"),
        json!(120.0),
        json!(60.5),
        json!(true),
        json!(null),
    ] {
        let result = mint(&t, &access, &read_all(exp.clone()));
        assert!(
            matches!(result, Err(AuthError::InvalidInput(_))),
            "{exp}: {result:?}"
        );
    }
    let created = mint(&t, &access, &read_all(json!(60))).unwrap();
    let claims = t.db.sessions().decode(&created.token).unwrap();
    assert_eq!(claims.exp - claims.iat, 60);
}

#[test]
fn an_api_token_expires() {
    let t = TestDb::new();
    let access = t.admin_token();
    let created = mint(&t, &access, &read_all(json!(60))).unwrap();
    t.advance(60 + 3);
    let result = validate_token(&t.db, Some(&created.token));
    assert!(
        matches!(result, Err(AuthError::Token(TokenError::Expired))),
        "{result:?}"
    );
}

#[test]
fn missing_fields_are_named() {
    let t = TestDb::new();
    let access = t.admin_token();
    let cases = [
        (ApiTokenBody::default(), "datasets"),
        (
            ApiTokenBody {
                token_exp: Some(json!(60)),
                datasets: None,
            },
            "datasets",
        ),
        (
            ApiTokenBody {
                token_exp: None,
                datasets: Some(json!({"*": ["read"]})),
            },
            "token_exp",
        ),
    ];
    for (req, field) in cases {
        match mint(&t, &access, &req) {
            Err(AuthError::MissingField(msg)) => assert!(msg.contains(field), "{msg}"),
            other => panic!("{req:?}: expected MissingField, got {other:?}"),
        }
    }
    // A JSON null is an absent field.
    let from_json: ApiTokenBody =
        serde_json::from_value(json!({"token_exp": null, "datasets": {}})).unwrap();
    let result = mint(&t, &access, &from_json);
    assert!(
        matches!(result, Err(AuthError::MissingField(_))),
        "{result:?}"
    );
}

#[test]
fn token_exp_must_be_a_positive_whole_number() {
    let t = TestDb::new();
    let access = t.admin_token();
    for exp in [
        json!(0),
        json!(-5),
        json!("abc"),
        json!(1.5),
        json!("-1"),
        json!(true),
        json!([60]),
    ] {
        let msg = invalid_input(mint(&t, &access, &read_all(exp.clone())));
        assert!(msg.contains("token_exp"), "{exp}: {msg}");
    }
    assert_eq!(api_token_count(&t, "admin"), 0);
}

#[test]
fn datasets_must_map_patterns_to_known_permissions() {
    let t = TestDb::new();
    let access = t.admin_token();
    for datasets in [
        json!([]),
        json!("scan_*"),
        json!(5),
        json!({"scan_*": "read"}),
        json!({"scan_*": [1]}),
    ] {
        let msg = invalid_input(mint(&t, &access, &request(json!(60), datasets.clone())));
        assert!(msg.contains("datasets"), "{datasets}: {msg}");
    }
    let msg = invalid_input(mint(
        &t,
        &access,
        &request(json!(60), json!({"a*": ["fly"]})),
    ));
    assert!(msg.contains("fly"), "{msg}");
    assert_eq!(api_token_count(&t, "admin"), 0);
}

#[test]
fn a_permission_the_caller_lacks_refuses_the_whole_request() {
    let t = TestDb::new();
    let guest = t.login("guest", GUEST_PASSWORD).tokens.access_token;
    let asks_write = request(json!(60), json!({"*": ["read", "write"]}));
    let msg = invalid_input(mint(&t, &guest, &asks_write));
    assert!(msg.contains("write") && !msg.contains("read"), "{msg}");
    assert_eq!(api_token_count(&t, "guest"), 0, "nothing minted");

    let carl = t
        .user_session("carl", &[Role::Contributor])
        .tokens
        .access_token;
    let asks_delete = request(
        json!(60),
        json!({"a": ["read"], "b": ["Permission.DELETE"]}),
    );
    let msg = invalid_input(mint(&t, &carl, &asks_delete));
    assert!(msg.contains("delete"), "{msg}");
    assert_eq!(api_token_count(&t, "carl"), 0, "nothing minted");
}

#[test]
fn the_lifetime_is_capped() {
    let t = TestDb::builder().max_api_token_lifetime(3600).build();
    let access = t.admin_token();
    let msg = invalid_input(mint(&t, &access, &read_all(json!(3601))));
    assert!(msg.contains("3600"), "{msg}");
    assert_eq!(api_token_count(&t, "admin"), 0);
    mint(&t, &access, &read_all(json!(3600))).unwrap();

    let default = TestDb::new();
    let access = default.admin_token();
    let thirty_days = 30 * 86400;
    invalid_input(mint(&default, &access, &read_all(json!(thirty_days + 1))));
    mint(&default, &access, &read_all(json!(thirty_days))).unwrap();
}

#[test]
fn only_an_access_token_can_mint() {
    let t = TestDb::new();
    let login = t.admin_login().tokens;
    let api = mint(&t, &login.access_token, &read_all(json!(60)))
        .unwrap()
        .token;
    for other in [&login.refresh_token, &api] {
        let result = mint(&t, other, &read_all(json!(60)));
        let refused = matches!(result, Err(AuthError::Token(TokenError::WrongKind { .. })));
        assert!(refused, "{result:?}");
    }
    assert_eq!(api_token_count(&t, "admin"), 1);
}

#[test]
fn minting_needs_a_live_caller() {
    let t = TestDb::new();
    for token in [None, Some(""), Some(" ")] {
        let result = mint_as(&t, token, &read_all(json!(60)));
        assert!(
            matches!(result, Err(AuthError::NoAuthUser(_))),
            "{token:?}: {result:?}"
        );
    }
    let result = mint(&t, "not-a-jwt", &read_all(json!(60)));
    assert!(
        matches!(result, Err(AuthError::Token(TokenError::Malformed(_)))),
        "{result:?}"
    );

    let dana = t.user_session("dana", &[Role::Reader]).tokens.access_token;
    t.set_active("dana", false);
    let result = mint(&t, &dana, &read_all(json!(60)));
    assert!(
        matches!(result, Err(AuthError::Token(TokenError::NotLive))),
        "{result:?}"
    );
    assert_eq!(api_token_count(&t, "dana"), 0);
}
