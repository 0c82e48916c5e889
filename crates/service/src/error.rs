//! The one error type of the service layer. Adapters (HTTP, CLI) map each
//! variant to their own vocabulary in exactly one place.

use plantdb_auth_core::session::{SessionError, TokenError};
use plantdb_auth_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A required field is absent (400).
    #[error("{0}")]
    MissingField(String),
    /// A field is present but unusable (400).
    #[error("{0}")]
    InvalidInput(String),
    /// Login refused; deliberately says nothing more (401).
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// A token was presented and refused (401).
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The operation needs a logged-in caller and there is none (401).
    #[error("{0}")]
    NoAuthUser(String),
    /// The caller is known but not allowed (403).
    #[error("{0}")]
    PermissionDenied(String),
    /// Registration of a name that is taken (409).
    #[error("{0}")]
    UserExists(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The thing named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A request body or archive over a configured limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// Over a per-account or per-address budget (429, `Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// A lock of the Python lock protocol could not be taken in time (503).
    #[error("{0}")]
    Busy(String),
    /// Our fault; details are logged, never sent (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<plantdb_data::DataError> for AuthError {
    fn from(e: plantdb_data::DataError) -> Self {
        use plantdb_data::DataError as D;
        match e {
            D::InvalidInput(m) => AuthError::InvalidInput(m),
            D::NotFound(m) => AuthError::NotFound(m),
            D::Conflict(m) => AuthError::Conflict(m),
            D::TooLarge(m) => AuthError::TooLarge(m),
            D::Busy(m) => AuthError::Busy(m),
            other => AuthError::Internal(error_chain(&other)),
        }
    }
}

/// An error and its sources on one line, for the logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UserExists(u) => {
                AuthError::UserExists(format!("User '{u}' already exists"))
            }
            StoreError::UserNotFound(u) => {
                AuthError::NotFound(format!("User '{u}' does not exist"))
            }
            StoreError::GroupExists(g) => {
                AuthError::Conflict(format!("Group '{g}' already exists"))
            }
            StoreError::GroupNotFound(g) => {
                AuthError::NotFound(format!("Group '{g}' does not exist"))
            }
            StoreError::Refused(reason) => AuthError::Conflict(format!(
                "The change was refused: {reason}. Reload and try again"
            )),
            other => AuthError::Internal(error_chain(&other)),
        }
    }
}

impl From<SessionError> for AuthError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Token(t) => AuthError::Token(t),
            SessionError::Store(s) => s.into(),
            SessionError::Signing(msg) => AuthError::Internal(msg),
            SessionError::Full(msg) => AuthError::TooManyRequests {
                message: format!("Cannot start a session: {msg} (or log in with your own account)"),
                retry_after: 60,
            },
        }
    }
}
