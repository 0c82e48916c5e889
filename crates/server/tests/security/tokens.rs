//! Forged and broken JWTs: unsigned, re-signed with other algorithms,
//! tampered, mis-shaped and huge. Every one is a 401 `invalid_token`.

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::fixture::Fixture;
use crate::forge::{
    b64, forge, hs512_header, server_key, sign_text, signature_of, signing_input, with,
    ATTACKER_KEY,
};
use crate::helpers::{assert_error, Options};
use crate::wire::raw_status;

fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    let input = signing_input(&header.to_string(), &claims.to_string());
    format!("{input}.{signature}")
}

#[tokio::test]
async fn unsigned_alg_none_tokens_are_refused() {
    let fx = Fixture::new(Options::test_mode()).await;
    let real_sig = signature_of(&fx.access).to_owned();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "JWT"});
        for sig in ["", real_sig.as_str()] {
            let token = unsigned(&header, &fx.claims, sig);
            let case = format!("alg {alg:?}, signature {:?}", &sig[..sig.len().min(8)]);
            fx.assert_refused_everywhere(&token, &case).await;
        }
    }
    let no_alg = unsigned(&json!({"typ": "JWT"}), &fx.claims, "");
    fx.assert_refused_everywhere(&no_alg, "no alg at all").await;
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn empty_stripped_or_altered_signatures_are_refused() {
    let fx = Fixture::new(Options::test_mode()).await;
    let (input, sig) = fx.access.rsplit_once('.').unwrap_or_default();
    let mut flipped = sig.to_owned();
    let last = if flipped.ends_with('A') { "B" } else { "A" };
    flipped.replace_range(flipped.len() - 1.., last);
    let cases = [
        ("empty signature", format!("{input}.")),
        ("stripped signature", input.to_owned()),
        (
            "last signature character changed",
            format!("{input}.{flipped}"),
        ),
        (
            "truncated signature",
            format!("{input}.{}", &sig[..sig.len() / 2]),
        ),
        ("doubled signature", format!("{input}.{sig}{sig}")),
        ("padded signature", format!("{input}.{sig}==")),
    ];
    for (case, token) in cases {
        fx.assert_refused_everywhere(&token, case).await;
    }
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn other_algorithms_are_refused_even_with_the_server_key() {
    let fx = Fixture::new(Options::test_mode()).await;
    let payload = fx.claims.to_string();
    let key = server_key();
    for alg in [Algorithm::HS256, Algorithm::HS384] {
        let header = json!({"alg": format!("{alg:?}"), "typ": "JWT"}).to_string();
        let token = sign_text(&header, &payload, alg, &key);
        fx.assert_refused_everywhere(&token, &format!("{alg:?} with the server key"))
            .await;
    }
    // Asymmetric names over an HMAC signature (the key-confusion attack),
    // and spellings that are almost HS512.
    for alg in [
        "RS256", "RS512", "ES256", "PS256", "EdDSA", "hs512", "HS512 ", "HS5120",
    ] {
        let header = json!({"alg": alg, "typ": "JWT"}).to_string();
        let token = sign_text(&header, &payload, Algorithm::HS512, &key);
        fx.assert_refused_everywhere(&token, &format!("alg {alg:?}"))
            .await;
    }
    let attacker = sign_text(
        &hs512_header().to_string(),
        &payload,
        Algorithm::HS512,
        ATTACKER_KEY,
    );
    fx.assert_refused_everywhere(&attacker, "HS512 with another key")
        .await;
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn tampered_header_or_payload_is_refused() {
    let fx = Fixture::new(Options::test_mode()).await;
    let sig = signature_of(&fx.access).to_owned();
    let admin = with(&fx.claims, "sub", json!("admin"));
    let later = with(
        &fx.claims,
        "exp",
        json!(fx.claims["exp"].as_i64().unwrap_or(0) + 86_400),
    );
    let cases = [
        (
            "payload sub changed to admin",
            unsigned(&hs512_header(), &admin, &sig),
        ),
        (
            "payload exp extended",
            unsigned(&hs512_header(), &later, &sig),
        ),
        (
            "header with an extra field",
            unsigned(
                &json!({"alg": "HS512", "typ": "JWT", "x": 1}),
                &fx.claims,
                &sig,
            ),
        ),
        (
            "header typ changed",
            unsigned(&json!({"alg": "HS512", "typ": "at+jwt"}), &fx.claims, &sig),
        ),
    ];
    for (case, token) in cases {
        fx.assert_refused_everywhere(&token, case).await;
    }
    // Another session's signature on this session's claims.
    let (admin_access, _) = fx.server.login("admin", "admin").await;
    let spliced = format!(
        "{}.{}",
        fx.access.rsplit_once('.').unwrap_or_default().0,
        signature_of(&admin_access)
    );
    fx.assert_refused_everywhere(&spliced, "spliced signature")
        .await;
    fx.assert_baseline_accepted().await;
}

#[tokio::test]
async fn tokens_of_the_wrong_shape_are_refused() {
    let fx = Fixture::new(Options::test_mode()).await;
    let (h, rest) = fx.access.split_once('.').unwrap_or_default();
    let (p, s) = rest.split_once('.').unwrap_or_default();
    let cases: Vec<(&str, String)> = vec![
        ("1 segment", h.to_owned()),
        ("2 segments", format!("{h}.{p}")),
        ("4 segments", format!("{h}.{p}.{s}.{s}")),
        ("5 segments (JWE shape)", format!("{h}.{p}.{s}.{p}.{s}")),
        ("empty segments", "..".to_owned()),
        ("only dots", "....".to_owned()),
        ("empty header", format!(".{p}.{s}")),
        ("empty payload", format!("{h}..{s}")),
        ("not base64", "!!!.@@@.###".to_owned()),
        ("padded base64", format!("{h}==.{p}==.{s}")),
        ("standard base64 alphabet", format!("{h}+/.{p}.{s}")),
        ("header is not JSON", format!("{}.{p}.{s}", b64(b"hello"))),
        ("header is a JSON array", format!("{}.{p}.{s}", b64(b"[]"))),
        ("header is null", format!("{}.{p}.{s}", b64(b"null"))),
        (
            "alg is a number",
            format!("{}.{p}.{s}", b64(br#"{"alg":512}"#)),
        ),
        ("payload is not JSON", forge_text("hello")),
        ("payload is an array", forge_text("[]")),
        ("payload is a string", forge_text("\"guest\"")),
        ("payload is null", forge_text("null")),
        ("a random word", "guest".to_owned()),
    ];
    for (case, token) in cases {
        fx.assert_refused_everywhere(&token, case).await;
    }
    fx.assert_baseline_accepted().await;
}

/// A syntactically perfect HS512 token, signed with the server key, around
/// an arbitrary payload text.
fn forge_text(payload: &str) -> String {
    sign_text(
        &hs512_header().to_string(),
        payload,
        Algorithm::HS512,
        &server_key(),
    )
}

#[tokio::test]
async fn huge_tokens_and_headers_are_refused_in_bounded_time_and_memory() {
    // Cheap hashing: Argon2's own memory would hide what the requests cost.
    let fx = Fixture::new(Options::test_mode().cheap_hashing()).await;
    let rss_before = fx.server.rss_kib();
    // A live session's claims, correctly signed, but padded past the limit.
    let padded = forge(
        &hs512_header(),
        &with(&fx.claims, "pad", json!("x".repeat(9 * 1024))),
    );
    fx.assert_refused_everywhere(&padded, "9 KiB signed token")
        .await;
    let garbage = format!(
        "{}.{}.{}",
        "a".repeat(20_000),
        "b".repeat(20_000),
        "c".repeat(20_000)
    );
    for _ in 0..20 {
        let reply = fx.server.validate(&garbage).await;
        assert_error(&reply, 401, &["invalid_token"], "60 KiB token");
    }
    // Beyond what the HTTP layer buffers: refused there, never a 5xx.
    let port = fx.server.port;
    for (case, request) in [
        ("1 MiB Authorization header", huge_header_request(1 << 20)),
        ("4,000 headers", many_headers_request(4_000)),
    ] {
        for _ in 0..10 {
            let status = raw_status(port, &request);
            assert!(
                status.is_none_or(|s| (400..500).contains(&s)),
                "{case}: answered {status:?}"
            );
        }
    }
    fx.assert_baseline_accepted().await;
    if let (Some(before), Some(after)) = (rss_before, fx.server.rss_kib()) {
        assert!(
            after < before + 64 * 1024,
            "server memory grew from {before} KiB to {after} KiB"
        );
    }
}

fn huge_header_request(len: usize) -> Vec<u8> {
    format!(
        "POST /api/v1/auth/token/validation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(len)
    )
    .into_bytes()
}

fn many_headers_request(count: usize) -> Vec<u8> {
    let mut text = "POST /api/v1/auth/token/validation HTTP/1.1\r\nHost: x\r\n".to_owned();
    for i in 0..count {
        text.push_str(&format!("X-Filler-{i}: {}\r\n", "v".repeat(16)));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text.into_bytes()
}
