//! JWT sessions: issue, validate, rotate, revoke; durable session state.

mod claims;
mod error;
mod index;
mod keys;
mod manager;
mod sqlite;
mod store;

pub use claims::{Claims, TokenKind, AUDIENCE, ISSUER};
pub use error::{SessionError, TokenError};
pub use keys::{KeyError, SigningKey, KEY_LEN};
pub use manager::{
    new_token_id, SessionConfig, SessionInfo, SessionManager, TokenPair, Verified, MAX_TOKEN_LEN,
};
pub use sqlite::SqliteSessionStore;
pub use store::{
    claim_lost, MemorySessionStore, SessionChange, SessionSink, SessionStore, TokenRecord,
};
