//! The one extractor that turns a request's credentials into the service's
//! [`Caller`]: each route names the token kinds it accepts, the extractor
//! authenticates once, and the handler hands the caller to the use-case.
//!
//! The extractor never rejects: it keeps the outcome ([`Identity`]) and the
//! handler asks for it where the route's order of checks puts it (a register
//! request missing a field is a 400 before its token is judged, as in
//! plantdb-server). Authentication reads the in-memory session index and
//! user store; under PostgreSQL a token minted by another instance a moment
//! ago is looked up through the store's bridge, which leaves the async
//! worker (`block_in_place`).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use plantdb_auth_core::session::TokenKind;
use plantdb_auth_service::caller::{ACCESS_ONLY, ACCESS_OR_API};
use plantdb_auth_service::{AuthError, Caller, Identity};

use crate::error::ApiError;
use crate::extract::bearer_from_parts;
use crate::routes::data::DataBearer;
use crate::state::AppState;

/// What a route accepts as credentials.
pub trait Accepts: Send + Sync + 'static {
    /// The token kinds that identify a caller here.
    const KINDS: &'static [TokenKind];
    /// An `Authorization` header that is not `Bearer <token>` is an invalid
    /// token (the data API) rather than no token (the auth API).
    const STRICT_HEADER: bool;
}

/// A person at a keyboard: account, group and session operations.
pub struct AccessToken;
impl Accepts for AccessToken {
    const KINDS: &'static [TokenKind] = ACCESS_ONLY;
    const STRICT_HEADER: bool = false;
}

/// An access token or an API token: reads and decisions.
pub struct AnyToken;
impl Accepts for AnyToken {
    const KINDS: &'static [TokenKind] = ACCESS_OR_API;
    const STRICT_HEADER: bool = false;
}

/// The data API and forward authentication of data requests (data-api.md
/// §2.2): access or API tokens; anonymous reads are the guest's.
pub struct DataToken;
impl Accepts for DataToken {
    const KINDS: &'static [TokenKind] = ACCESS_OR_API;
    const STRICT_HEADER: bool = true;
}

/// The request's caller, authenticated once as `A` accepts.
pub struct Auth<A: Accepts> {
    identity: Identity,
    accepts: PhantomData<A>,
}

impl<A: Accepts> Auth<A> {
    /// The caller; no credentials or refused ones are a 401.
    pub fn caller(self) -> Result<Caller, AuthError> {
        self.identity.required()
    }

    /// The outcome itself, for routes that serve anonymous callers too.
    pub fn identity(self) -> Identity {
        self.identity
    }

    /// Authenticates `token` (already taken from its header).
    pub fn resolve(state: &AppState, token: Option<&str>) -> Auth<A> {
        Auth {
            identity: Identity::resolve(&state.db, token, A::KINDS),
            accepts: PhantomData,
        }
    }
}

impl<A: Accepts> FromRequestParts<AppState> for Auth<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = if A::STRICT_HEADER {
            DataBearer::from_headers(&parts.headers).0
        } else {
            bearer_from_parts(parts)
        };
        Ok(Auth::resolve(state, token.as_deref()))
    }
}
