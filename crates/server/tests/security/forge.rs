//! Building tokens by hand: any header, any claims, any algorithm, signed
//! with the server's own key (known to the tests) or an attacker's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{crypto, Algorithm, EncodingKey};
use serde_json::{json, Value};

use crate::helpers::KEY_HEX;

/// A key the server has never seen.
pub const ATTACKER_KEY: &[u8] = b"attacker-controlled-key-of-sixty-four-bytes-0123456789abcdefghij";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0))
        .collect()
}

/// The server's signing key (the raw bytes of `JWT_SECRET_KEY`).
pub fn server_key() -> Vec<u8> {
    unhex(KEY_HEX)
}

/// The standard header the server writes.
pub fn hs512_header() -> Value {
    json!({"alg": "HS512", "typ": "JWT"})
}

/// The claims of a token, read without any verification.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or("");
    let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The signature segment of a token.
pub fn signature_of(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or("")
}

/// `base64(header).base64(payload)`: the JWS signing input.
pub fn signing_input(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()))
}

/// Signs raw header and payload text with an HMAC algorithm and `key`.
pub fn sign_text(header: &str, payload: &str, alg: Algorithm, key: &[u8]) -> String {
    let input = signing_input(header, payload);
    let sig = crypto::sign(input.as_bytes(), &EncodingKey::from_secret(key), alg)
        .unwrap_or_else(|e| panic!("signing failed: {e}"));
    format!("{input}.{sig}")
}

/// Signs `claims` under `header` with HS512 and the server's key: a token
/// exactly as valid as its claims.
pub fn forge(header: &Value, claims: &Value) -> String {
    sign_text(
        &header.to_string(),
        &claims.to_string(),
        Algorithm::HS512,
        &server_key(),
    )
}

/// `claims` with `key` set to `value` (or removed when `value` is null).
pub fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut out = claims.clone();
    if let Some(map) = out.as_object_mut() {
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.to_owned(), value);
        }
    }
    out
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
