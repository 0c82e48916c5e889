//! Correctly signed tokens whose claims are wrong: issuer, audience,
//! expiry, issue time, session id, type, subject. And real tokens used
//! where another type is expected, or after they expired.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::fixture::{codes_for, Fixture};
use crate::forge::{claims_of, forge, hs512_header, now, server_key, sign_text, with};
use crate::helpers::{assert_error, Options};

fn missing() -> Value {
    Value::Null
}

#[tokio::test]
async fn tokens_with_wrong_or_missing_claims_are_refused() {
    let fx = Fixture::new(Options::test_mode()).await;
    let (admin_access, _) = fx.server.login("admin", "admin").await;
    let admin_jti = claims_of(&admin_access)["jti"].clone();
    let c = &fx.claims;
    let exp = c["exp"].as_i64().unwrap_or(0);
    let cases: Vec<(&str, Value)> = vec![
        ("iss wrong", with(c, "iss", json!("plantdb-evil"))),
        ("iss missing", with(c, "iss", missing())),
        ("iss a list", with(c, "iss", json!(["plantdb-api"]))),
        ("aud wrong", with(c, "aud", json!("another-client"))),
        ("aud missing", with(c, "aud", missing())),
        ("exp missing", with(c, "exp", missing())),
        ("exp in the past", with(c, "exp", json!(now() - 3600))),
        ("exp a string", with(c, "exp", json!(exp.to_string()))),
        ("exp a float", with(c, "exp", json!(1e300))),
        ("iat missing", with(c, "iat", missing())),
        ("iat in the future", with(c, "iat", json!(now() + 3600))),
        ("iat a string", with(c, "iat", json!("yesterday"))),
        ("jti missing", with(c, "jti", missing())),
        ("jti empty", with(c, "jti", json!(""))),
        (
            "jti unknown",
            with(c, "jti", json!("AAAAAAAAAAAAAAAAAAAAAA")),
        ),
        ("jti SQL", with(c, "jti", json!("' OR '1'='1"))),
        ("jti of another user's session", with(c, "jti", admin_jti)),
        ("type missing", with(c, "type", missing())),
        ("type refresh", with(c, "type", json!("refresh"))),
        ("type api", with(c, "type", json!("api"))),
        ("type Access", with(c, "type", json!("Access"))),
        ("type admin", with(c, "type", json!("admin"))),
        ("sub changed to admin", with(c, "sub", json!("admin"))),
        ("sub upper-case", with(c, "sub", json!("GUEST"))),
        ("sub missing", with(c, "sub", missing())),
        ("sub a path", with(c, "sub", json!("../guest"))),
    ];
    for (case, claims) in cases {
        fx.assert_refused_everywhere(&forge(&hs512_header(), &claims), case)
            .await;
    }
    // Duplicate claims: which one counts must not be the attacker's choice.
    let text = c.to_string();
    let duplicated = format!("{},\"sub\":\"admin\"}}", &text[..text.len() - 1]);
    let token = sign_text(
        &hs512_header().to_string(),
        &duplicated,
        Algorithm::HS512,
        &server_key(),
    );
    fx.assert_refused_everywhere(&token, "duplicate sub").await;
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn refresh_route_refuses_forged_refresh_tokens() {
    let fx = Fixture::new(Options::test_mode()).await;
    let r = claims_of(&fx.refresh);
    let cases: Vec<(&str, String)> = vec![
        ("alg none", {
            let input =
                crate::forge::signing_input(&json!({"alg": "none"}).to_string(), &r.to_string());
            format!("{input}.")
        }),
        (
            "HS256 with the server key",
            sign_text(
                &json!({"alg": "HS256", "typ": "JWT"}).to_string(),
                &r.to_string(),
                Algorithm::HS256,
                &server_key(),
            ),
        ),
        (
            "expired",
            forge(&hs512_header(), &with(&r, "exp", json!(now() - 3600))),
        ),
        (
            "sub changed",
            forge(&hs512_header(), &with(&r, "sub", json!("admin"))),
        ),
        (
            "type access",
            forge(&hs512_header(), &with(&r, "type", json!("access"))),
        ),
        ("the access token", fx.access.clone()),
        ("garbage", "x.y.z".to_owned()),
    ];
    for (case, token) in cases {
        fx.assert_refresh_refused(&token, case).await;
    }
    // The real refresh token was never consumed by any of the above.
    let reply = fx
        .server
        .post_json(
            "/api/v1/auth/token/refresh",
            None,
            &json!({"refresh_token": fx.refresh}),
        )
        .await;
    reply.expect(200);
}

#[tokio::test]
async fn a_token_of_the_wrong_type_is_refused_by_the_endpoint() {
    let fx = Fixture::new(Options::test_mode()).await;
    fx.assert_refused_everywhere(&fx.refresh, "refresh token as bearer")
        .await;
    let reply = fx
        .server
        .post_json(
            "/api/v1/auth/token/create-api-token",
            Some(&fx.access),
            &json!({"token_exp": 3600, "datasets": {"*": ["read"]}}),
        )
        .await;
    reply.expect(200);
    let api = reply.str_field("api_token").to_owned();
    fx.server.validate(&api).await.expect(200);
    for (path, body) in [
        (
            "/api/v1/auth/token/create-api-token",
            Some(json!({"token_exp": 60, "datasets": {"*": ["read"]}})),
        ),
        ("/api/v1/auth/logout", None),
        ("/logout", None),
        (
            "/api/v1/auth/register",
            Some(json!({"username": "x1", "fullname": "X", "password": "Correct-Horse-7-battery"})),
        ),
    ] {
        let reply = fx
            .call(&reqwest::Method::POST, path, body.as_ref(), &api)
            .await;
        assert_error(
            &reply,
            401,
            codes_for(path),
            &format!("API token at {path}"),
        );
    }
    fx.assert_refresh_refused(&api, "API token as refresh token")
        .await;
    fx.assert_refresh_refused(&fx.access, "access token as refresh token")
        .await;
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let opts = Options::test_mode().args(&["--session-timeout", "1", "--refresh-timeout", "1"]);
    let fx = Fixture::new(opts).await;
    // Lifetime 1 s plus the 2 s leeway, with a margin.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    fx.assert_refused_everywhere(&fx.access, "expired access token")
        .await;
    fx.assert_refresh_refused(&fx.refresh, "expired refresh token")
        .await;
}
