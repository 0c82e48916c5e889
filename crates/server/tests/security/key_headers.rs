//! `kid`, `jku`, `jwk`, `x5u`, `x5c`: headers that tell a naive verifier
//! where to find the key. The server must ignore them: no file read, no
//! outbound request, only its own key.

use std::net::TcpListener;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::fixture::Fixture;
use crate::forge::{b64, forge, sign_text, ATTACKER_KEY};
use crate::helpers::Options;

fn header_with(extra: &[(&str, Value)]) -> Value {
    let mut header = json!({"alg": "HS512", "typ": "JWT"});
    if let Some(map) = header.as_object_mut() {
        for (k, v) in extra {
            map.insert((*k).to_owned(), v.clone());
        }
    }
    header
}

/// Headers pointing at the attacker's key in every way a verifier might follow.
fn key_pointers(url: &str, key_file: &str) -> Vec<(&'static str, Value)> {
    let jwk = json!({"kty": "oct", "k": b64(ATTACKER_KEY), "alg": "HS512"});
    vec![
        ("kid", json!(key_file)),
        ("kid", json!("../../../../../../etc/passwd")),
        ("kid", json!("/dev/zero")),
        ("kid", json!("/dev/stdin")),
        ("kid", json!("x' UNION SELECT 'attacker-key' --")),
        ("jku", json!(format!("{url}/jwks.json"))),
        ("x5u", json!(format!("{url}/cert.pem"))),
        ("jwk", jwk),
        ("x5c", json!([b64(ATTACKER_KEY)])),
    ]
}

#[tokio::test]
async fn key_location_headers_are_ignored() {
    let fx = Fixture::new(Options::test_mode()).await;
    let trap = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    trap.set_nonblocking(true)
        .unwrap_or_else(|e| panic!("nonblocking: {e}"));
    let url = format!(
        "http://{}",
        trap.local_addr().unwrap_or_else(|e| panic!("addr: {e}"))
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let key_file = dir.path().join("attacker.key");
    std::fs::write(&key_file, ATTACKER_KEY).unwrap_or_else(|e| panic!("write: {e}"));
    let key_file = key_file.to_string_lossy().into_owned();
    let payload = fx.claims.to_string();
    for (name, value) in key_pointers(&url, &key_file) {
        let header = header_with(&[(name, value.clone())]).to_string();
        // Signed by the attacker, pointing at the attacker's key: refused.
        let token = sign_text(&header, &payload, Algorithm::HS512, ATTACKER_KEY);
        fx.assert_refused_everywhere(&token, &format!("{name}={value} with the attacker's key"))
            .await;
    }
    // Signed with the server's key, the same headers change nothing.
    for name in ["kid", "jku", "x5u"] {
        let pointer = key_pointers(&url, &key_file)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or_default();
        let token = forge(&header_with(&[(name, pointer)]), &fx.claims);
        fx.server.validate(&token).await.expect(200);
    }
    // No outbound request ever reached the URLs given in jku/x5u.
    tokio::time::sleep(Duration::from_millis(500)).await;
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the server connected to the jku/x5u URL from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
    fx.assert_baseline_accepted().await;
}
