//! API tokens: long-lived, scoped to datasets by glob patterns.

use chrono::{DateTime, Duration, Utc};
use plantdb_auth_core::rbac::DatasetGrants;
use serde_json::Value;

use crate::auth::MINTING_KINDS;
use crate::caller::authenticate;
use crate::{AuthDb, AuthError};

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ApiTokenRequest {
    pub token_exp: Option<Value>,
    pub datasets: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct ApiTokenCreated {
    pub token: String,
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// `token_exp`: a positive JSON integer of seconds. Python reads it with
/// `int(...)`, which also takes `"60"`, `60.9` and `true`; a lifetime is a
/// security setting, so anything but an integer is refused rather than
/// guessed at.
fn parse_lifetime(value: &Value) -> Result<i64, AuthError> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(s) if s > 0 => Ok(s),
            Some(_) => Err(AuthError::InvalidInput(
                "Field 'token_exp' must be a positive number of seconds".into(),
            )),
            // Above i64: refused by the maximum-lifetime check's wording.
            None => Ok(i64::MAX),
        },
        _ => Err(AuthError::InvalidInput(
            "Field 'token_exp' must be a JSON integer number of seconds (e.g. 3600)".into(),
        )),
    }
}

/// Mints an API token for the caller (by access token). Every requested
/// permission must be held by the caller: a request is refused whole,
/// never silently narrowed.
pub fn create_api_token(
    db: &AuthDb,
    token: Option<&str>,
    request: &ApiTokenRequest,
) -> Result<ApiTokenCreated, AuthError> {
    let datasets = request
        .datasets
        .as_ref()
        .ok_or_else(|| AuthError::MissingField("Missing \"datasets\" field".into()))?;
    let lifetime = request
        .token_exp
        .as_ref()
        .ok_or_else(|| AuthError::MissingField("Missing \"token_exp\" field".into()))?;
    let lifetime = parse_lifetime(lifetime)?;
    let grants = DatasetGrants::from_json(datasets)
        .map_err(|e| AuthError::InvalidInput(format!("Invalid 'datasets': {e}")))?;
    let caller = authenticate(db, token, MINTING_KINDS)?;
    let missing = caller.lacking(&grants.requested_permissions());
    if !missing.is_empty() {
        return Err(AuthError::InvalidInput(format!(
            "Cannot grant permissions you do not hold: {}",
            missing.join(", ")
        )));
    }
    if lifetime > db.api_tokens.max_lifetime {
        return Err(AuthError::InvalidInput(format!(
            "Field 'token_exp' is above the maximum API-token lifetime of {} seconds",
            db.api_tokens.max_lifetime
        )));
    }
    let held = db.sessions.api_token_count(caller.username().as_str());
    if held >= db.api_tokens.max_per_user {
        return Err(AuthError::Conflict(format!(
            "You already hold {held} API tokens, the most one user may have: revoke some (DELETE /api/v1/auth/api-tokens/{{id}}) before minting another"
        )));
    }
    db.throttle.mint(caller.username())?;
    let (token, record) =
        db.sessions
            .create_api_token(caller.username().as_str(), &grants.to_claim(), lifetime)?;
    plantdb_auth_core::audit::AuditEvent::ApiTokenCreated {
        user: &caller.username(),
        id: &record.jti,
    }
    .emit();
    let expires_at = DateTime::from_timestamp(record.expires_at, 0)
        .unwrap_or_else(|| db.clock.now() + Duration::seconds(lifetime));
    Ok(ApiTokenCreated {
        token,
        id: record.jti,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_must_be_positive_whole_seconds() {
        assert_eq!(parse_lifetime(&json!(3600)).unwrap(), 3600);
        assert_eq!(parse_lifetime(&json!(u64::MAX)).unwrap(), i64::MAX);
        for bad in [
            json!("60"),
            json!(60.0),
            json!(0),
            json!(-5),
            json!("abc"),
            json!(1.5),
            json!(null),
            json!([1]),
            json!(true),
        ] {
            assert!(parse_lifetime(&bad).is_err(), "{bad}");
        }
    }
}
