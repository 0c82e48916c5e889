//! `POST create-api-token`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_error_one_of, assert_jwt, Gen, TestApp};

/// Default maximum lifetime: 30 days.
const MAX_LIFETIME: i64 = 30 * 24 * 3600;

both_generations!(
    create_api_token_returns_a_token_and_its_expiration_date,
    create_api_token_accepts_every_permission_spelling,
    create_api_token_for_a_permission_held_by_a_reader,
    create_api_token_missing_field_is_400,
    create_api_token_invalid_token_exp_is_400,
    create_api_token_lifetime_above_the_default_maximum_is_400,
    create_api_token_datasets_not_an_object_is_400,
    create_api_token_unknown_permission_is_400,
    create_api_token_permission_not_held_is_400,
    create_api_token_needs_an_access_token,
);

fn request(token_exp: Value, datasets: Value) -> Value {
    json!({"token_exp": token_exp, "datasets": datasets})
}

/// Parses an ISO 8601 date-time (with an offset, or naive read as UTC).
fn parse_iso8601(text: &str) -> DateTime<Utc> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return dt.with_timezone(&Utc);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("\"expiration date\" {text:?} is not ISO 8601: {e}"))
        .and_utc()
}

async fn create_api_token_returns_a_token_and_its_expiration_date(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    let before = Utc::now();
    let reply = app
        .create_api_token(
            gen,
            Some(&access),
            &request(json!(3600), json!({"*": ["READ"]})),
        )
        .await;
    reply.expect_status(200);
    assert_eq!(
        reply.body["message"], "API Token generated successfully",
        "{reply:?}"
    );
    let api_token = reply.str_field("api_token").to_owned();
    assert_jwt(&api_token);
    assert_ne!(api_token, access);
    let expiry = parse_iso8601(reply.str_field("expiration date"));
    let offset = (expiry - before).num_seconds();
    // Naive timestamps may be local time: only offset forms are held to the minute.
    if DateTime::parse_from_rfc3339(reply.str_field("expiration date")).is_ok() {
        assert!(
            (3540..=3660).contains(&offset),
            "expiration date should be about now + 3600 s, is now + {offset} s: {reply:?}"
        );
    }
    let validated = app.validate(gen, &api_token).await;
    validated.expect_status(200);
    assert_eq!(validated.body["user"]["username"], "admin", "{validated:?}");
}

async fn create_api_token_accepts_every_permission_spelling(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    let datasets = json!({
        "scan_*": ["read", "WRITE", "Permission.CREATE"],
        "real_plant[0-9]": ["permission.delete"],
    });
    let reply = app
        .create_api_token(gen, Some(&access), &request(json!(60), datasets))
        .await;
    reply.expect_status(200);
    assert_eq!(
        app.validation_status(reply.str_field("api_token")).await,
        200
    );
}

async fn create_api_token_for_a_permission_held_by_a_reader(gen: Gen) {
    let app = TestApp::test_mode();
    let guest = app.guest_token().await;
    let reply = app
        .create_api_token(
            gen,
            Some(&guest),
            &request(json!(60), json!({"*": ["read"]})),
        )
        .await;
    reply.expect_status(200);
}

async fn create_api_token_missing_field_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    for body in [
        json!({"datasets": {"*": ["read"]}}),
        json!({"token_exp": 60}),
        json!({}),
    ] {
        let reply = app.create_api_token(gen, Some(&access), &body).await;
        assert_error(&reply, 400, "missing_field");
    }
}

async fn create_api_token_invalid_token_exp_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    for token_exp in [
        json!(0),
        json!(-5),
        json!("abc"),
        json!(1.5),
        json!([60]),
        json!(true),
    ] {
        let reply = app
            .create_api_token(
                gen,
                Some(&access),
                &request(token_exp.clone(), json!({"*": ["read"]})),
            )
            .await;
        assert_error(&reply, 400, "invalid_input");
    }
}

async fn create_api_token_lifetime_above_the_default_maximum_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    let datasets = json!({"*": ["read"]});
    let too_long = app
        .create_api_token(
            gen,
            Some(&access),
            &request(json!(MAX_LIFETIME + 1), datasets.clone()),
        )
        .await;
    assert_error(&too_long, 400, "invalid_input");
    let longest = app
        .create_api_token(gen, Some(&access), &request(json!(MAX_LIFETIME), datasets))
        .await;
    longest.expect_status(200);
}

#[tokio::test]
async fn create_api_token_maximum_lifetime_is_configurable() {
    let app = TestApp::test_mode_with(&["--api-token-max-lifetime", "120"]);
    let access = app.admin_token().await;
    for gen in crate::helpers::GENS {
        let over = app
            .create_api_token(
                gen,
                Some(&access),
                &request(json!(121), json!({"*": ["read"]})),
            )
            .await;
        assert_error(&over, 400, "invalid_input");
        let at = app
            .create_api_token(
                gen,
                Some(&access),
                &request(json!(120), json!({"*": ["read"]})),
            )
            .await;
        at.expect_status(200);
    }
}

async fn create_api_token_datasets_not_an_object_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    for datasets in [
        json!([]),
        json!(["*"]),
        json!("scan"),
        json!(5),
        json!(null),
    ] {
        let reply = app
            .create_api_token(gen, Some(&access), &request(json!(60), datasets))
            .await;
        assert_error_one_of(&reply, 400, &["invalid_input", "missing_field"]);
    }
    // A value that is not a list of permissions is invalid too.
    let reply = app
        .create_api_token(
            gen,
            Some(&access),
            &request(json!(60), json!({"*": "read"})),
        )
        .await;
    assert_error(&reply, 400, "invalid_input");
}

async fn create_api_token_unknown_permission_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let access = app.admin_token().await;
    for perms in [json!(["fly"]), json!(["read", "teleport"]), json!([42])] {
        let reply = app
            .create_api_token(gen, Some(&access), &request(json!(60), json!({"*": perms})))
            .await;
        assert_error(&reply, 400, "invalid_input");
    }
}

/// We differ: a permission the caller does not hold refuses the whole request.
async fn create_api_token_permission_not_held_is_400(gen: Gen) {
    let app = TestApp::test_mode();
    let guest = app.guest_token().await;
    for perms in [
        json!(["WRITE"]),
        json!(["read", "write"]),
        json!(["manage_users"]),
    ] {
        let reply = app
            .create_api_token(gen, Some(&guest), &request(json!(60), json!({"*": perms})))
            .await;
        assert_error_one_of(&reply, 400, &["invalid_input", "forbidden"]);
    }
    let mixed = json!({"public_*": ["read"], "private_*": ["delete"]});
    let reply = app
        .create_api_token(gen, Some(&guest), &request(json!(60), mixed))
        .await;
    assert_error_one_of(&reply, 400, &["invalid_input", "forbidden"]);
}

/// Only an access token can mint: none, a bad one, a refresh or an API token is 401.
async fn create_api_token_needs_an_access_token(gen: Gen) {
    let app = TestApp::test_mode();
    let body = request(json!(60), json!({"*": ["read"]}));
    let none = app.create_api_token(gen, None, &body).await;
    assert_error(&none, 401, "not_authenticated");
    let bad = app
        .create_api_token(gen, Some("aaaa.bbbb.cccc"), &body)
        .await;
    assert_error(&bad, 401, "invalid_token");

    let (access, refresh) = app.login("admin", "admin").await;
    let with_refresh = app.create_api_token(gen, Some(&refresh), &body).await;
    assert_error(&with_refresh, 401, "invalid_token");

    let minted = app.create_api_token(gen, Some(&access), &body).await;
    minted.expect_status(200);
    let api_token = minted.str_field("api_token").to_owned();
    let with_api = app.create_api_token(gen, Some(&api_token), &body).await;
    assert_error(&with_api, 401, "invalid_token");
}
