//! Who is calling: a bearer token turned into a live, active user.

use plantdb_auth_core::model::{Permission, User, Username};
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_core::session::{TokenError, TokenKind, Verified};

use crate::{AuthDb, AuthError};

/// Token kinds that identify a person for account operations.
pub const ACCESS_ONLY: &[TokenKind] = &[TokenKind::Access];
/// Token kinds accepted for reading and for validation.
pub const ACCESS_OR_API: &[TokenKind] = &[TokenKind::Access, TokenKind::Api];

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token: Verified,
}

impl Caller {
    pub fn username(&self) -> &Username {
        &self.user.username
    }

    pub fn kind(&self) -> TokenKind {
        self.token.claims.kind
    }

    /// The dataset grants of an API token (`None` for an access token).
    pub fn grants(&self) -> Option<DatasetGrants> {
        if self.kind() != TokenKind::Api {
            return None;
        }
        let claim = self.token.claims.datasets.as_deref().unwrap_or("");
        Some(DatasetGrants::parse_claim(claim).unwrap_or_default())
    }

    /// Fails with `PermissionDenied` unless the user holds `permission`.
    pub fn require(&self, permission: Permission, action: &str) -> Result<(), AuthError> {
        if self.user.has_permission(permission) {
            return Ok(());
        }
        Err(AuthError::PermissionDenied(format!(
            "Permission denied: {action} requires the '{permission}' permission, which user '{}' does not have",
            self.user.username
        )))
    }
}

pub(crate) fn no_auth_user() -> AuthError {
    AuthError::NoAuthUser(
        "No authenticated user: send 'Authorization: Bearer <access token>' (log in first)".into(),
    )
}

/// Validates `token` as one of `kinds` and loads its user, who must still
/// exist and be active (a deleted or deactivated account's tokens die).
pub fn authenticate(
    db: &AuthDb,
    token: Option<&str>,
    kinds: &[TokenKind],
) -> Result<Caller, AuthError> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(no_auth_user)?;
    let verified = db.sessions.validate(token, kinds)?;
    let username = Username::parse(&verified.claims.sub).map_err(|_| TokenError::NotLive)?;
    let user = db.users.get(&username)?.ok_or(TokenError::NotLive)?;
    if !user.is_active {
        return Err(TokenError::NotLive.into());
    }
    Ok(Caller {
        user,
        token: verified,
    })
}
