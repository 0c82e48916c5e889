//! Variants of the `Authorization` header around a valid access token.
//! The scheme is case-insensitive and may be followed by several spaces
//! (RFC 7235: `1*SP`); anything else is refused, and an ambiguous header
//! (two of them, a token followed by more text) is never half-accepted.

use reqwest::header::HeaderValue;
use reqwest::Method;

use crate::helpers::{assert_error, assert_safe, Options, Server};

const ROUTES: [(&str, &str); 3] = [
    ("POST", "/api/v1/auth/token/validation"),
    ("POST", "/token-validation"),
    ("GET", "/api/v1/auth/me"),
];

fn value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).unwrap_or_else(|e| panic!("header value {bytes:?}: {e}"))
}

/// Sends `headers` as the request's Authorization headers on every route.
async fn statuses(server: &Server, headers: &[HeaderValue], case: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST);
        let mut req = server.request(method, path);
        for h in headers {
            req = req.header("authorization", h.clone());
        }
        let reply = server.send(req).await;
        assert_safe(&reply, &format!("{case} at {path}"));
        if reply.status != 200 {
            assert_error(&reply, 401, &["invalid_token", "not_authenticated"], case);
        }
        out.push((reply.status.as_u16(), reply.code().to_owned()));
    }
    out
}

async fn expect(server: &Server, headers: &[HeaderValue], status: u16, code: &str, case: &str) {
    for (got, got_code) in statuses(server, headers, case).await {
        assert_eq!(
            (got, got_code.as_str()),
            (status, code),
            "{case}: expected {status} {code:?}"
        );
    }
}

#[tokio::test]
async fn authorization_header_variants() {
    let server = Server::start(Options::test_mode());
    let (t, _) = server.login("guest", "guest").await;
    let accepted = [
        format!("Bearer {t}"),
        format!("bearer {t}"),
        format!("BEARER {t}"),
        format!("bEaReR {t}"),
        format!("Bearer  {t}"),
        format!("Bearer {t} "),
    ];
    for header in accepted {
        expect(&server, &[value(header.as_bytes())], 200, "", &header[..8]).await;
    }
    let no_credentials: Vec<(&str, Vec<u8>)> = vec![
        ("token without a scheme", t.clone().into_bytes()),
        (
            "Basic with guest's real credentials",
            b"Basic Z3Vlc3Q6Z3Vlc3Q=".to_vec(),
        ),
        ("Basic with the token", format!("Basic {t}").into_bytes()),
        ("Token scheme", format!("Token {t}").into_bytes()),
        ("JWT scheme", format!("JWT {t}").into_bytes()),
        ("Bearer alone", b"Bearer".to_vec()),
        ("Bearer and spaces", b"Bearer    ".to_vec()),
        ("empty", Vec::new()),
        ("tab after the scheme", format!("Bearer\t{t}").into_bytes()),
        (
            "scheme glued to the token",
            format!("Bearer{t}").into_bytes(),
        ),
        ("not UTF-8", b"Bearer \xff\xfe\xfd".to_vec()),
        ("non-ASCII token", "Bearer é.ü.ß".as_bytes().to_vec()),
    ];
    for (case, header) in no_credentials {
        expect(&server, &[value(&header)], 401, "not_authenticated", case).await;
    }
    let bad_credentials: Vec<(&str, String)> = vec![
        ("Bearer Bearer x", "Bearer Bearer x".to_owned()),
        ("Bearer Bearer token", format!("Bearer Bearer {t}")),
        ("token then more text", format!("Bearer {t} extra")),
        (
            "two tokens in one header",
            format!("Bearer {t}, Bearer {t}"),
        ),
        ("quoted token", format!("Bearer \"{t}\"")),
        ("token with a semicolon", format!("Bearer {t};")),
    ];
    for (case, header) in bad_credentials {
        expect(
            &server,
            &[value(header.as_bytes())],
            401,
            "invalid_token",
            case,
        )
        .await;
    }
    let bearer = value(format!("Bearer {t}").as_bytes());
    expect(
        &server,
        &[bearer.clone(), bearer.clone()],
        401,
        "invalid_token",
        "two identical Authorization headers",
    )
    .await;
    expect(
        &server,
        &[value(b"Basic Z3Vlc3Q6Z3Vlc3Q="), bearer],
        401,
        "invalid_token",
        "Basic then Bearer headers",
    )
    .await;
}

#[tokio::test]
async fn tokens_are_only_read_from_the_authorization_header() {
    let server = Server::start(Options::test_mode());
    let (t, _) = server.login("guest", "guest").await;
    for path in [
        format!("/api/v1/auth/token/validation?token={t}"),
        format!("/api/v1/auth/token/validation?access_token={t}"),
        format!("/api/v1/auth/token/validation?jwt={t}"),
    ] {
        let reply = server.send(server.request(Method::POST, &path)).await;
        assert_error(&reply, 401, &["not_authenticated"], "token in the query");
    }
    for cookie in [format!("access_token={t}"), format!("token={t}")] {
        let req = server
            .request(Method::POST, "/api/v1/auth/token/validation")
            .header("cookie", cookie);
        let reply = server.send(req).await;
        assert_error(&reply, 401, &["not_authenticated"], "token in a cookie");
    }
}
