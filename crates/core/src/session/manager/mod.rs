//! The session manager: issues, validates, rotates and revokes JWTs.
//!
//! Every change is written to the [`SessionStore`] first, then to an
//! in-memory index, so validation (the hot path) never touches the disk
//! and a token a client holds was durable before the client got it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::{Mutex, RwLock};

use super::claims::{Claims, TokenKind, AUDIENCE, ISSUER};
use super::error::{SessionError, TokenError};
use super::index::SessionIndex;
use super::keys::SigningKey;
use super::store::{apply_to_map, SessionChange, SessionStore, TokenRecord};
use crate::clock::Clock;
use crate::store::StoreError;

mod listing;

/// Tokens longer than this are refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Access-token lifetime in seconds (`SESSION_TIMEOUT`).
    pub access_ttl: i64,
    /// Refresh-token lifetime in seconds (`REFRESH_TIMEOUT`).
    pub refresh_ttl: i64,
    /// Live sessions per user; a login beyond it ends the oldest.
    pub max_sessions_per_user: usize,
    /// Clock skew tolerated on `exp` and `iat`, in seconds.
    pub leeway: i64,
    /// Live sessions of a shared account (`guest`) in all: its cap applies
    /// per client address ([`Cap::PerClient`]); at this bound new logins of
    /// it are refused rather than ending anyone's session.
    pub max_shared_sessions: usize,
}

/// How the per-user session cap applies to a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    /// The user's oldest session ends beyond `max_sessions_per_user`.
    PerUser,
    /// An account many people share (`guest`): only sessions started from
    /// the same client (a pseudonym of its address) count against the cap,
    /// so nobody ends other people's sessions by logging in repeatedly.
    PerClient(String),
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            access_ttl: 900,
            refresh_ttl: 86400,
            max_sessions_per_user: 10,
            leeway: 2,
            max_shared_sessions: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Claims,
    pub record: TokenRecord,
}

/// One login's session as shown to users and admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub username: String,
    pub started_at: i64,
    pub expires_at: i64,
}

/// The signing key, and the key a rotation retired with until when it
/// still verifies.
struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    retired: Option<(DecodingKey, i64)>,
}

impl Keys {
    fn new(key: &SigningKey, retired: Option<&crate::session::RetiredKey>) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            retired: retired.map(|r| (DecodingKey::from_secret(r.key.as_bytes()), r.retire_at)),
        }
    }
}

pub struct SessionManager {
    /// Replaced whole by a key rotation on a running server; readers never
    /// wait on each other.
    keys: RwLock<Keys>,
    validation: Validation,
    store: Arc<dyn SessionStore>,
    /// The tokens, and the lock serializing changes to them.
    shared: Arc<SessionIndex>,
    clock: Arc<dyn Clock>,
    config: SessionConfig,
    /// Login order of the sessions started here: `started_at` has whole
    /// seconds, and the cap must end the oldest even within one second.
    login_order: Mutex<HashMap<String, u64>>,
    logins: AtomicU64,
    /// The client of each shared-account session started here (sessions
    /// loaded from the store count as one unknown client).
    clients: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.config)
            .field("live_tokens", &self.shared.tokens.read().len())
            .finish_non_exhaustive()
    }
}

/// Rotated refresh tokens kept per session to recognise their reuse.
pub const KEPT_ROTATED: usize = 4;

pub fn new_token_id() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SessionManager {
    /// Loads the store's state into the in-memory index, and subscribes the
    /// index to changes other instances make to a shared store.
    pub fn new(
        key: &SigningKey,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        config: SessionConfig,
    ) -> Result<Self, SessionError> {
        let mut validation = Validation::new(Algorithm::HS512);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let now = clock.now().timestamp();
        store.apply(&[SessionChange::PurgeExpired(now - config.leeway)])?;
        let shared = Arc::new(SessionIndex::default());
        // Subscribe first: a change committed elsewhere during the load is
        // then delivered after it (changes are idempotent).
        store.subscribe(shared.sink())?;
        {
            let _guard = shared.write.lock();
            shared.replace(store.load_all()?);
        }
        Ok(SessionManager {
            keys: RwLock::new(Keys::new(key, None)),
            validation,
            store,
            shared,
            clock,
            config,
            login_order: Mutex::new(HashMap::new()),
            logins: AtomicU64::new(1),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// Also verifies (never signs) tokens of the key a rotation retired,
    /// until its time is up.
    pub fn with_retired_key(self, retired: &crate::session::RetiredKey) -> Self {
        self.keys.write().retired = Some((
            DecodingKey::from_secret(retired.key.as_bytes()),
            retired.retire_at,
        ));
        self
    }

    /// A key rotation on the running server: `key` signs from now on, and
    /// `retired` (the previous key) still verifies until its time is up.
    pub fn replace_keys(&self, key: &SigningKey, retired: Option<&crate::session::RetiredKey>) {
        *self.keys.write() = Keys::new(key, retired);
    }

    pub fn config(&self) -> SessionConfig {
        self.config
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn commit(&self, changes: &[SessionChange]) -> Result<(), SessionError> {
        self.store.apply(changes)?;
        apply_to_map(&mut self.shared.tokens.write(), changes);
        Ok(())
    }

    fn sign(&self, record: &TokenRecord) -> Result<String, SessionError> {
        let claims = Claims {
            iss: ISSUER.into(),
            sub: record.username.clone(),
            aud: AUDIENCE.into(),
            exp: record.expires_at,
            iat: record.issued_at,
            jti: record.jti.clone(),
            kind: record.kind,
            datasets: record.datasets.clone(),
            nbf: None,
        };
        let mut header = Header::new(Algorithm::HS512);
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &claims, &self.keys.read().encoding)
            .map_err(|e| SessionError::Signing(e.to_string()))
    }

    fn record(
        &self,
        kind: TokenKind,
        username: &str,
        family: &str,
        started_at: i64,
        ttl: i64,
    ) -> TokenRecord {
        let now = self.now();
        TokenRecord {
            jti: new_token_id(),
            kind,
            username: username.to_string(),
            family: family.to_string(),
            started_at,
            issued_at: now,
            expires_at: now.saturating_add(ttl),
            used: false,
            datasets: None,
            compiled: Default::default(),
        }
    }

    fn new_pair(
        &self,
        username: &str,
        family: &str,
        started_at: i64,
    ) -> (TokenRecord, TokenRecord) {
        let access = self.record(
            TokenKind::Access,
            username,
            family,
            started_at,
            self.config.access_ttl,
        );
        let refresh = self.record(
            TokenKind::Refresh,
            username,
            family,
            started_at,
            self.config.refresh_ttl,
        );
        (access, refresh)
    }

    /// Starts a session for `username`, evicting its oldest sessions beyond
    /// the per-user cap.
    pub fn login(&self, username: &str) -> Result<TokenPair, SessionError> {
        self.login_with(username, &Cap::PerUser)
    }

    /// Starts a session, applying the session cap as `cap` says.
    pub fn login_with(&self, username: &str, cap: &Cap) -> Result<TokenPair, SessionError> {
        let family = new_token_id();
        let (access, refresh) = self.new_pair(username, &family, self.now());
        let pair = TokenPair {
            access_token: self.sign(&access)?,
            refresh_token: self.sign(&refresh)?,
            session_id: family,
        };
        let _guard = self.shared.write.lock();
        let mut changes = self.evictions_for(username, cap)?;
        changes.push(SessionChange::Insert(access));
        changes.push(SessionChange::Insert(refresh));
        self.commit(&changes)?;
        let seq = self.logins.fetch_add(1, Ordering::Relaxed);
        self.login_order.lock().insert(pair.session_id.clone(), seq);
        if let Cap::PerClient(client) = cap {
            self.clients
                .lock()
                .insert(pair.session_id.clone(), client.clone());
        }
        Ok(pair)
    }

    fn evictions_for(&self, username: &str, cap: &Cap) -> Result<Vec<SessionChange>, SessionError> {
        let mut sessions = self.sessions(Some(username));
        if let Cap::PerClient(client) = cap {
            if sessions.len() >= self.config.max_shared_sessions {
                return Err(SessionError::Full(format!(
                    "the shared account '{username}' has {} sessions, its limit: try again later",
                    sessions.len()
                )));
            }
            let clients = self.clients.lock();
            sessions.retain(|s| clients.get(&s.id).map(String::as_str).unwrap_or("") == client);
        }
        let keep = self.config.max_sessions_per_user.saturating_sub(1);
        if sessions.len() <= keep {
            return Ok(Vec::new());
        }
        let order = self.login_order.lock();
        // Sessions loaded from the store (seq 0) predate those started here.
        sessions.sort_by_key(|s| {
            (
                s.started_at,
                order.get(&s.id).copied().unwrap_or(0),
                s.id.clone(),
            )
        });
        drop(order);
        let excess = sessions.len() - keep;
        Ok(sessions
            .into_iter()
            .take(excess)
            .map(|s| {
                tracing::info!(user = username, session = %s.id, "session cap reached: ending the oldest session");
                SessionChange::RemoveFamily(s.id)
            })
            .collect())
    }

    /// Signature, issuer, audience, required claims, expiry and `iat`;
    /// no session look-up.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("token too long".into()));
        }
        refuse_critical_extensions(token)?;
        let keys = self.keys.read();
        let data = match jsonwebtoken::decode::<Claims>(token, &keys.decoding, &self.validation) {
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => match &keys.retired {
                Some((key, until)) if self.now() < *until => {
                    jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                }
                _ => Err(e),
            },
            other => other,
        }
        .map_err(map_jwt_error)?;
        drop(keys);
        let claims = data.claims;
        let now = self.now();
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.config.leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp.saturating_add(self.config.leeway) < now {
            return Err(TokenError::Expired);
        }
        if claims.iat > now.saturating_add(self.config.leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        if claims.jti.is_empty() {
            return Err(TokenError::MissingClaim("jti".into()));
        }
        Ok(claims)
    }

    /// The token `jti` from the index, else from a shared store (issued by
    /// another instance a moment ago). Not added to the index: the store's
    /// feed brings it, ordered with any later revocation.
    fn find(&self, jti: &str) -> Option<TokenRecord> {
        if let Some(record) = self.shared.tokens.read().get(jti) {
            return Some(record.clone());
        }
        match self.store.lookup(jti) {
            Ok(found) => {
                found.filter(|r| r.expires_at.saturating_add(self.config.leeway) >= self.now())
            }
            Err(e) => {
                tracing::error!(error = %e, "looking a token up in the session store failed");
                None
            }
        }
    }

    /// Full validation: the token must be of one of the `expected` kinds and
    /// its `jti` a live token of that kind for that user.
    pub fn validate(&self, token: &str, expected: &[TokenKind]) -> Result<Verified, TokenError> {
        let claims = self.decode(token)?;
        let record = self.live_record(&claims, expected, |record| record.clone())?;
        Ok(Verified { claims, record })
    }

    /// [`SessionManager::validate`] without copying the token's record:
    /// the claims, and when its login session started (the hot path of
    /// token validation needs no more).
    pub fn validate_claims(
        &self,
        token: &str,
        expected: &[TokenKind],
    ) -> Result<(Claims, i64), TokenError> {
        let claims = self.decode(token)?;
        let started_at = self.live_record(&claims, expected, |record| record.started_at)?;
        Ok((claims, started_at))
    }

    /// Checks that `claims` name a live token of an `expected` kind, and
    /// reads what `read` wants of its record (in place when it is in the
    /// index).
    fn live_record<R>(
        &self,
        claims: &Claims,
        expected: &[TokenKind],
        read: impl FnOnce(&TokenRecord) -> R,
    ) -> Result<R, TokenError> {
        if !expected.contains(&claims.kind) {
            return Err(wrong_kind(expected, claims.kind));
        }
        if self.shared.is_stale() {
            return Err(TokenError::StateUnavailable);
        }
        let now = self.now();
        let check = |record: &TokenRecord| {
            if record.used || record.kind != claims.kind || record.username != claims.sub {
                return Err(TokenError::NotLive);
            }
            // The record bounds the token: a token claiming a later expiry
            // than the one recorded at minting ends at the recorded one.
            if record.expires_at.saturating_add(self.config.leeway) < now {
                return Err(TokenError::Expired);
            }
            Ok(())
        };
        if let Some(record) = self.shared.tokens.read().get(&claims.jti) {
            check(record)?;
            return Ok(read(record));
        }
        let record = self.find(&claims.jti).ok_or(TokenError::NotLive)?;
        check(&record)?;
        Ok(read(&record))
    }

    /// Rotates a refresh token. Presenting an already-rotated one is taken
    /// as theft: the whole session (family) is revoked.
    pub fn refresh(&self, refresh_token: &str) -> Result<(TokenPair, String), SessionError> {
        let claims = self.decode(refresh_token)?;
        if claims.kind != TokenKind::Refresh {
            return Err(wrong_kind(&[TokenKind::Refresh], claims.kind).into());
        }
        let _guard = self.shared.write.lock();
        let current = self.find(&claims.jti);
        let Some(old) =
            current.filter(|r| r.kind == TokenKind::Refresh && r.username == claims.sub)
        else {
            return Err(TokenError::NotLive.into());
        };
        if old.used {
            crate::audit::AuditEvent::RefreshTokenReuse {
                user: &old.username,
                session: &old.family,
                by_store: false,
            }
            .emit();
            self.commit(&[SessionChange::RemoveFamily(old.family.clone())])?;
            return Err(TokenError::Reused.into());
        }
        let (access, refresh) = self.new_pair(&old.username, &old.family, old.started_at);
        let pair = TokenPair {
            access_token: self.sign(&access)?,
            refresh_token: self.sign(&refresh)?,
            session_id: old.family.clone(),
        };
        // Rotated tokens are kept to detect their reuse, but only the
        // newest few: a session refreshed all day does not pile them up.
        let mut rotated: Vec<(i64, String)> = self
            .shared
            .tokens
            .read()
            .family(&old.family)
            .filter(|r| r.used && r.kind == TokenKind::Refresh)
            .map(|r| (r.issued_at, r.jti.clone()))
            .collect();
        rotated.sort();
        let excess = rotated.len().saturating_sub(KEPT_ROTATED.saturating_sub(1));
        let mut changes: Vec<SessionChange> = rotated
            .into_iter()
            .take(excess)
            .map(|(_, jti)| SessionChange::Remove(jti))
            .collect();
        changes.extend([
            SessionChange::ClaimRefresh(old.jti.clone()),
            SessionChange::RemoveFamilyAccess(old.family.clone()),
            SessionChange::Insert(access),
            SessionChange::Insert(refresh),
        ]);
        match self.commit(&changes) {
            // Another instance rotated or revoked it first: as above.
            Err(SessionError::Store(StoreError::ClaimLost { reused, .. })) => {
                if reused {
                    crate::audit::AuditEvent::RefreshTokenReuse {
                        user: &old.username,
                        session: &old.family,
                        by_store: true,
                    }
                    .emit();
                }
                self.commit(&[SessionChange::RemoveFamily(old.family.clone())])?;
                Err(if reused {
                    TokenError::Reused
                } else {
                    TokenError::NotLive
                }
                .into())
            }
            Err(e) => Err(e),
            Ok(()) => Ok((pair, old.username)),
        }
    }

    /// Ends the session of an access token (its refresh token too).
    pub fn logout(&self, access_token: &str) -> Result<String, SessionError> {
        let verified = self.validate(access_token, &[TokenKind::Access])?;
        let _guard = self.shared.write.lock();
        self.commit(&[SessionChange::RemoveFamily(verified.record.family)])?;
        Ok(verified.record.username)
    }

    /// Mints an API token carrying `datasets` (the grant string).
    pub fn create_api_token(
        &self,
        username: &str,
        datasets: &str,
        ttl: i64,
    ) -> Result<(String, TokenRecord), SessionError> {
        let jti = new_token_id();
        let mut record = self.record(TokenKind::Api, username, &jti, self.now(), ttl);
        record.jti = jti;
        record.datasets = (!datasets.is_empty()).then(|| datasets.to_string());
        let token = self.sign(&record)?;
        let _guard = self.shared.write.lock();
        self.commit(&[SessionChange::Insert(record.clone())])?;
        Ok((token, record))
    }
}

fn wrong_kind(expected: &[TokenKind], got: TokenKind) -> TokenError {
    let names: Vec<&str> = expected.iter().map(|k| k.as_str()).collect();
    TokenError::WrongKind {
        expected: names.join(" or "),
        got,
    }
}

/// RFC 7515 §4.1.11: a `crit` header names extensions the recipient must
/// understand or refuse; we understand none. jsonwebtoken ignores unknown
/// header fields, so the header is looked at here first (a short segment:
/// the cost is one small base64 and JSON decode).
/// The header segment of the tokens we sign (`{"typ":"JWT","alg":"HS512"}`
/// as jsonwebtoken encodes it): it has no `crit`, so the probe below can
/// skip it. Computed once.
fn own_header() -> &'static str {
    static OWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        let mut header = Header::new(Algorithm::HS512);
        header.typ = Some("JWT".into());
        serde_json::to_vec(&header)
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .unwrap_or_default()
    })
}

fn refuse_critical_extensions(token: &str) -> Result<(), TokenError> {
    #[derive(serde::Deserialize)]
    struct HeaderProbe {
        crit: Option<serde::de::IgnoredAny>,
    }
    let Some((header, _)) = token.split_once('.') else {
        return Err(TokenError::Malformed("not a valid JWT".into()));
    };
    if header == own_header() {
        return Ok(());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("not a valid JWT".into()))?;
    match serde_json::from_slice::<HeaderProbe>(&bytes) {
        Ok(HeaderProbe { crit: Some(_) }) => Err(TokenError::Malformed(
            "critical header extensions ('crit') are not supported".into(),
        )),
        // Other header problems are jsonwebtoken's to report.
        _ => Ok(()),
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongIssuerOrAudience,
        ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::Malformed("algorithm not allowed, only HS512 is accepted".into())
        }
        ErrorKind::Json(_) => {
            TokenError::Malformed("claims are missing or of the wrong type".into())
        }
        _ => TokenError::Malformed("not a valid JWT".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_header_we_sign_is_the_one_the_probe_skips() {
        let header = {
            let mut h = Header::new(Algorithm::HS512);
            h.typ = Some("JWT".into());
            h
        };
        let claims = serde_json::json!({"sub": "x"});
        let key = EncodingKey::from_secret(b"k");
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        assert_eq!(token.split('.').next().unwrap(), own_header());
        assert!(refuse_critical_extensions(&token).is_ok());
    }
}
