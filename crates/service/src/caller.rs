//! Who is calling: a bearer token turned into a live, active user, or the
//! local operator of the admin CLI. Resolved once per request by the HTTP
//! adapter and handed to the use-cases.

use plantdb_auth_core::model::{Permission, Role, User, Username};
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_core::session::{TokenError, TokenKind, Verified};

use crate::{AuthDb, AuthError};

/// Token kinds that identify a person for account operations.
pub const ACCESS_ONLY: &[TokenKind] = &[TokenKind::Access];
/// Token kinds accepted for reading and for validation.
pub const ACCESS_OR_API: &[TokenKind] = &[TokenKind::Access, TokenKind::Api];

/// The name the local operator acts under, in audit events (`by="operator"`).
pub const OPERATOR: &str = "operator";

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The verified token; `None` for the operator.
    pub token: Option<Verified>,
}

impl Caller {
    /// The local operator of the admin CLI: whoever can open the database
    /// directory already owns every file in it, so it acts as an admin
    /// without a token. A synthetic, active admin that exists in no store;
    /// the HTTP adapter never builds one.
    pub fn operator(db: &AuthDb) -> Result<Caller, AuthError> {
        let name = Username::parse(OPERATOR).map_err(|e| AuthError::Internal(e.to_string()))?;
        let user = User::new(
            name,
            "Local operator",
            String::new(),
            [Role::Admin],
            db.clock.now(),
        );
        Ok(Caller { user, token: None })
    }

    pub fn username(&self) -> &Username {
        &self.user.username
    }

    /// The local operator rather than an account (which may share its name).
    pub fn is_operator(&self) -> bool {
        self.token.is_none()
    }

    /// The operator counts as an access token: a person at a keyboard.
    pub fn kind(&self) -> TokenKind {
        self.token
            .as_ref()
            .map_or(TokenKind::Access, |t| t.claims.kind)
    }

    /// The dataset grants of an API token (`None` for an access token),
    /// from the token's stored record: the claim in the token only repeats
    /// them, and a token is never trusted above what was recorded at minting.
    pub fn grants(&self) -> Option<DatasetGrants> {
        let token = self
            .token
            .as_ref()
            .filter(|t| t.claims.kind == TokenKind::Api)?;
        token.record.grants()
    }

    /// The permissions of `wanted` the caller does not hold, by name.
    pub fn lacking(&self, wanted: &std::collections::BTreeSet<Permission>) -> Vec<String> {
        wanted
            .difference(&self.user.permissions())
            .map(|p| p.to_string())
            .collect()
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

/// Whether a session or token that started at `started_at` (Unix seconds)
/// was issued to this very account, not to an earlier one of the same name:
/// an account deleted (by us, or by a tool editing `users.json`) and
/// created again inherits no token. A creation time in the future (a
/// clock or time-zone mistake of another tool) proves nothing and is
/// ignored rather than locking the account out of every token.
pub(crate) fn issued_to(user: &User, started_at: i64, db: &AuthDb) -> bool {
    match user.created_at {
        Some(created) if created <= db.clock.now() => created.timestamp() <= started_at,
        _ => true,
    }
}

pub(crate) fn no_auth_user() -> AuthError {
    AuthError::NoAuthUser(
        "No authenticated user: send 'Authorization: Bearer <access token>' (log in first)".into(),
    )
}

/// The one place a bearer token becomes a [`Caller`]: validates it as one
/// of `kinds` and loads its user, who must still exist and be active (a
/// deleted or deactivated account's tokens die). The HTTP adapter calls
/// it once per request, in its `Auth` extractor; use-cases take the
/// resolved caller.
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
    if !user.is_active || !issued_to(&user, verified.record.started_at, db) {
        return Err(TokenError::NotLive.into());
    }
    Ok(Caller {
        user,
        token: Some(verified),
    })
}

/// Who sent a request, as far as its credentials go: resolved once at the
/// edge, then read by the routes that serve anonymous callers too (the data
/// API's guest reads, forward authentication).
#[derive(Debug)]
pub enum Identity {
    /// No credentials were presented.
    Anonymous,
    /// Boxed: a caller is large, and most requests of some routes have none.
    Caller(Box<Caller>),
    /// Credentials were presented and refused.
    Refused(AuthError),
}

impl Identity {
    /// [`authenticate`] when a token was presented.
    pub fn resolve(db: &AuthDb, token: Option<&str>, kinds: &[TokenKind]) -> Identity {
        match token {
            None => Identity::Anonymous,
            Some(token) => match authenticate(db, Some(token), kinds) {
                Ok(caller) => Identity::Caller(Box::new(caller)),
                Err(e) => Identity::Refused(e),
            },
        }
    }

    /// The caller; an anonymous request is `NoAuthUser`.
    pub fn required(self) -> Result<Caller, AuthError> {
        match self {
            Identity::Anonymous => Err(no_auth_user()),
            Identity::Caller(caller) => Ok(*caller),
            Identity::Refused(e) => Err(e),
        }
    }

    /// The caller if any; refused credentials stay an error.
    pub fn optional(self) -> Result<Option<Caller>, AuthError> {
        match self {
            Identity::Anonymous => Ok(None),
            Identity::Caller(caller) => Ok(Some(*caller)),
            Identity::Refused(e) => Err(e),
        }
    }
}
