//! Who is calling: a bearer token turned into a live, active user, or the
//! local operator of the admin CLI.

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

/// What a caller presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// The `Authorization: Bearer` token of a request, if any.
    Bearer(Option<&'a str>),
    /// Whoever can open the database directory (the admin CLI) already owns
    /// every file in it, so it acts as an admin without a token. The HTTP
    /// adapter never builds this: only `From<Option<&str>>` reaches it there.
    Operator,
}

impl<'a> From<Option<&'a str>> for Credentials<'a> {
    fn from(token: Option<&'a str>) -> Self {
        Credentials::Bearer(token)
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The verified token; `None` for the operator.
    pub token: Option<Verified>,
}

impl Caller {
    /// A synthetic, active admin that exists in no store.
    fn operator(db: &AuthDb) -> Result<Caller, AuthError> {
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

/// Validates a bearer token as one of `kinds` and loads its user, who must
/// still exist and be active (a deleted or deactivated account's tokens
/// die); the operator passes wherever an access token would.
pub fn authenticate<'a>(
    db: &AuthDb,
    credentials: impl Into<Credentials<'a>>,
    kinds: &[TokenKind],
) -> Result<Caller, AuthError> {
    let token = match credentials.into() {
        Credentials::Operator if kinds.contains(&TokenKind::Access) => return Caller::operator(db),
        Credentials::Operator => return Err(no_auth_user()),
        Credentials::Bearer(token) => token,
    };
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
