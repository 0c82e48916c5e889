use super::claims::TokenKind;
use crate::store::StoreError;

/// Why a token was refused. The text follows "Token validation failed: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed ({0})")]
    Malformed(String),
    #[error("signature verification failed")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("invalid issuer or audience")]
    WrongIssuerOrAudience,
    #[error("missing required claim '{0}'")]
    MissingClaim(String),
    #[error("a {got} token cannot be used here (expected {expected})")]
    WrongKind { expected: String, got: TokenKind },
    #[error("session is no longer valid (logged out, revoked, expired or replaced)")]
    NotLive,
    #[error("refresh token was already used: every token of this session has been revoked, log in again")]
    Reused,
    #[error("session state is being resynchronised with the database: try again in a moment")]
    StateUnavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("token signing failed: {0}")]
    Signing(String),
    /// A bound on sessions was reached; nothing was changed.
    #[error("{0}")]
    Full(String),
}
