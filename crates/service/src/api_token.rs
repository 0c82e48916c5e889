//! API tokens: long-lived, scoped to datasets by glob patterns.

use chrono::{DateTime, Duration, Utc};
use plantdb_auth_core::rbac::DatasetGrants;

use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// What a caller asks to mint, parsed at the edge.
#[derive(Debug, Clone)]
pub struct ApiTokenRequest {
    /// Seconds, positive; at most the policy's maximum.
    pub lifetime: i64,
    /// The datasets and permissions the token carries; each permission
    /// must be held by the caller.
    pub grants: DatasetGrants,
}

#[derive(Debug, Clone)]
pub struct ApiTokenCreated {
    pub token: String,
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// Mints an API token for the caller (by access token). Every requested
/// permission must be held by the caller: a request is refused whole,
/// never silently narrowed.
pub fn create_api_token(
    db: &AuthDb,
    caller: &Caller,
    request: &ApiTokenRequest,
) -> Result<ApiTokenCreated, AuthError> {
    let (grants, lifetime) = (&request.grants, request.lifetime);
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
