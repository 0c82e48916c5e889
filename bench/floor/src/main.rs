//! The floor of token validation on this stack: axum on tokio, one route
//! that verifies an HS512 JWT exactly as plantdb-auth does (issuer,
//! audience, required claims) and looks its subject up in a map, with the
//! same answer body. No middleware, no session index, no rate limits, no
//! metrics. `bench/floor.sh` measures plantdb-auth's
//! `POST /api/v1/auth/token/validation` against it in one run.
//!
//! Usage: validation-floor --key-file <db>/.plantdb-auth/jwt.key
//!                         --users <db>/users.json [--port 0]
//! Prints `listening on http://127.0.0.1:PORT` once ready.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use plantdb_auth_core::session::{Claims, SigningKey, AUDIENCE, ISSUER};
use serde_json::{json, Value};

struct Floor {
    key: DecodingKey,
    validation: Validation,
    /// username -> the `user` object of the answer, serialized once.
    users: HashMap<String, Value>,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The answer's `user` object per account, as plantdb-auth gives it, from
/// `users.json` (a list of records, or an object keyed by username).
fn load_users(path: &str) -> anyhow::Result<HashMap<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
    let records: Vec<(String, &Value)> = match &doc {
        Value::Array(list) => list
            .iter()
            .filter_map(|r| Some((r.get("username")?.as_str()?.to_string(), r)))
            .collect(),
        Value::Object(map) => map.iter().map(|(k, r)| (k.clone(), r)).collect(),
        _ => return Err(anyhow!("{path}: not a list of accounts")),
    };
    Ok(records
        .into_iter()
        .map(|(name, record)| {
            let fullname = record.get("fullname").cloned().unwrap_or(Value::Null);
            let user = json!({"username": name, "fullname": fullname});
            (name, user)
        })
        .collect())
}

async fn validate(State(floor): State<Arc<Floor>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user = token
        .and_then(|t| jsonwebtoken::decode::<Claims>(t, &floor.key, &floor.validation).ok())
        .and_then(|data| floor.users.get(&data.claims.sub));
    match user {
        Some(user) => {
            Json(json!({"message": "Token validation successful", "user": user})).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Token validation failed: invalid token"})),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let key_file = arg(&args, "--key-file").ok_or_else(|| anyhow!("--key-file is required"))?;
    let users = arg(&args, "--users").ok_or_else(|| anyhow!("--users is required"))?;
    let port = arg(&args, "--port").unwrap_or_else(|| "0".into());
    let hex_key =
        std::fs::read_to_string(&key_file).with_context(|| format!("cannot read {key_file}"))?;
    let key = SigningKey::from_secret(hex_key.trim())?;
    let mut validation = Validation::new(Algorithm::HS512);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let floor = Arc::new(Floor {
        key: DecodingKey::from_secret(key.as_bytes()),
        validation,
        users: load_users(&users)?,
    });
    let app = Router::new()
        .route("/api/v1/auth/token/validation", post(validate))
        .route("/health", get(|| async { "ok" }))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
