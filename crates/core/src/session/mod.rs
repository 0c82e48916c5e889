//! JWT sessions: issue, validate, rotate, revoke; durable session state.

mod claims;
mod error;
mod index;
mod keys;
mod manager;
mod sqlite;
mod store;
mod token_map;

pub use claims::{Claims, TokenKind, AUDIENCE, ISSUER};
pub use error::{SessionError, TokenError};
pub use keys::{load_retired, rotate_key_file, KeyError, RetiredKey, SigningKey, KEY_LEN};
pub use manager::{
    new_token_id, Cap, SessionConfig, SessionInfo, SessionManager, TokenPair, Verified,
    KEPT_ROTATED, MAX_TOKEN_LEN,
};
pub use sqlite::SqliteSessionStore;
pub use store::{
    claim_lost, MemorySessionStore, SessionChange, SessionSink, SessionStore, TokenRecord,
};
pub use token_map::TokenMap;
