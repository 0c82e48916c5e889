//! A user's sessions and API tokens: list them, end them.
//!
//! Ids are the session (family) ids of the session store. Someone else's id
//! answers exactly like an unknown one (`NotFound`), so ids reveal nothing
//! to a caller who may not act on them.

use chrono::{DateTime, Utc};
use plantdb_auth_core::model::{Permission, Username};
use plantdb_auth_core::rbac::DatasetGrants;
use plantdb_auth_core::session::{TokenKind, TokenRecord};
use serde_json::Value;

use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// One login session, as its owner or a user manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub id: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One API token, described without the token itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTokenEntry {
    pub id: String,
    pub username: String,
    /// The grant as the minting request wrote it: `{"pattern": ["read", ...]}`.
    pub datasets: Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn time(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Which of two family sorts an id must name: a session id is no API-token
/// id and vice versa, so one endpoint cannot end the other's things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Session,
    ApiToken,
}

impl Family {
    fn of(kind: TokenKind) -> Family {
        match kind {
            TokenKind::Api => Family::ApiToken,
            TokenKind::Access | TokenKind::Refresh => Family::Session,
        }
    }

    fn not_found(self, id: &str) -> AuthError {
        let what = match self {
            Family::Session => "Session",
            Family::ApiToken => "API token",
        };
        AuthError::NotFound(format!("{what} '{id}' not found"))
    }
}

/// Ends family `id` if it is of sort `family` and the caller owns it or
/// may manage users (`admin_override`); returns its owner.
fn revoke(
    db: &AuthDb,
    caller: &Caller,
    id: &str,
    family: Family,
    admin_override: bool,
) -> Result<String, AuthError> {
    let (owner, kind) = db
        .sessions
        .family_owner(id)
        .ok_or_else(|| family.not_found(id))?;
    let own = match guest_session(caller) {
        Some(current) => current == Some(id),
        None => owner == caller.username().as_str(),
    };
    let allowed = own || (admin_override && may_act_on_owner(db, caller, &owner));
    if Family::of(kind) != family || !allowed {
        return Err(family.not_found(id));
    }
    // A concurrent revocation may have won since the look-up.
    if !db.sessions.revoke_family(id)? {
        return Err(family.not_found(id));
    }
    Ok(owner)
}

/// `guest` is shared by every anonymous reader: a guest caller sees and
/// ends only the session of the token it holds, never those of the other
/// people using the account. `None` for any other caller.
fn guest_session(caller: &Caller) -> Option<Option<&str>> {
    (caller.username().as_str() == plantdb_auth_core::rbac::GUEST_USERNAME)
        .then(|| caller.token.as_ref().map(|t| t.record.family.as_str()))
}

fn may_manage_users(caller: &Caller) -> bool {
    caller.user.has_permission(Permission::ManageUsers)
}

/// The rank rule (`admin::may_act_on`) for another user's sessions; an
/// owner whose account is gone (or unreadable) is left to admins.
fn may_act_on_owner(db: &AuthDb, caller: &Caller, owner: &str) -> bool {
    if caller.is_operator() {
        return true;
    }
    match Username::parse(owner).ok().map(|name| db.users.get(&name)) {
        Some(Ok(Some(target))) => crate::admin::may_act_on(&caller.user, &target),
        _ => caller.user.is_admin(),
    }
}

/// The caller's live sessions, or everyone's for a caller with
/// `manage_users`; oldest first.
pub fn list_sessions(db: &AuthDb, caller: &Caller) -> Result<Vec<SessionEntry>, AuthError> {
    let scope = (!may_manage_users(caller)).then(|| caller.username().as_str());
    let now = db.clock.now().timestamp();
    let mut sessions = db.sessions.sessions(scope);
    // Expired sessions linger until the next purge; they are gone for users.
    sessions.retain(|s| s.expires_at >= now);
    if let Some(current) = guest_session(caller) {
        sessions.retain(|s| Some(s.id.as_str()) == current);
    }
    if scope.is_none() {
        // Other users' sessions only where the rank rule lets the caller
        // act on them (one look-up per owner, not per session).
        let mut verdicts: std::collections::HashMap<String, bool> = Default::default();
        sessions.retain(|s| {
            s.username == caller.username().as_str()
                || *verdicts
                    .entry(s.username.clone())
                    .or_insert_with(|| may_act_on_owner(db, caller, &s.username))
        });
    }
    sessions.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    Ok(sessions
        .into_iter()
        .map(|s| SessionEntry {
            id: s.id,
            username: s.username,
            created_at: time(s.started_at),
            expires_at: time(s.expires_at),
        })
        .collect())
}

/// Ends one session: the caller's own, or anyone's with `manage_users`.
/// Returns the session's owner.
pub fn revoke_session(db: &AuthDb, caller: &Caller, id: &str) -> Result<String, AuthError> {
    let owner = revoke(db, caller, id, Family::Session, may_manage_users(caller))?;
    plantdb_auth_core::audit::AuditEvent::SessionRevoked {
        user: &owner,
        by: &caller.username(),
        session: id,
    }
    .emit();
    Ok(owner)
}

/// Ends every login session of the caller, the current one included. API
/// tokens stay: they are minted for scripts, which a "log out everywhere"
/// from a browser should not break. Returns the caller's name and how many
/// sessions ended.
pub fn logout_all(db: &AuthDb, caller: &Caller) -> Result<(String, usize), AuthError> {
    let username = caller.username().to_string();
    let current = guest_session(caller);
    let mut ended = 0;
    for session in db.sessions.sessions(Some(&username)) {
        if current.is_some_and(|c| c != Some(session.id.as_str())) {
            continue;
        }
        if db.sessions.revoke_family(&session.id)? {
            ended += 1;
        }
    }
    plantdb_auth_core::audit::AuditEvent::LogoutAll {
        user: &username,
        sessions: ended,
    }
    .emit();
    Ok((username, ended))
}

/// Ends every login session of `username`, or of everyone (`None`); API
/// tokens stay (they have their own revocation). Needs `manage_users` and,
/// for each owner, the rank rule; sessions of owners the caller may not act
/// on are left alone. Returns how many sessions ended.
pub fn revoke_sessions_of(
    db: &AuthDb,
    caller: &Caller,
    username: Option<&str>,
) -> Result<usize, AuthError> {
    caller.require(Permission::ManageUsers, "ending other users' sessions")?;
    let owner = match username {
        Some(raw) => {
            let name = Username::parse(raw)
                .map_err(|_| AuthError::NotFound(format!("User '{raw}' does not exist")))?;
            db.users
                .get(&name)?
                .ok_or_else(|| AuthError::NotFound(format!("User '{raw}' does not exist")))?;
            Some(name.to_string())
        }
        None => None,
    };
    let mut ended = 0;
    for session in db.sessions.sessions(owner.as_deref()) {
        if !may_act_on_owner(db, caller, &session.username) {
            continue;
        }
        if db.sessions.revoke_family(&session.id)? {
            ended += 1;
        }
    }
    let scope = owner.as_deref().unwrap_or("*");
    plantdb_auth_core::audit::AuditEvent::SessionsRevoked {
        user: &scope,
        by: &caller.username(),
        sessions: ended,
    }
    .emit();
    Ok(ended)
}

fn api_token_entry(record: TokenRecord) -> ApiTokenEntry {
    let claim = record.datasets.unwrap_or_default();
    let datasets = match DatasetGrants::parse_claim(&claim) {
        Ok(grants) => grants.to_json(),
        // Written by this server, so unreadable only if edited by hand:
        // show it as stored rather than hide the token.
        Err(_) => Value::String(claim),
    };
    ApiTokenEntry {
        id: record.jti,
        username: record.username,
        datasets,
        created_at: time(record.issued_at),
        expires_at: time(record.expires_at),
    }
}

/// The caller's live API tokens, oldest first; every user's for the
/// operator (the CLI's `token list`).
pub fn list_api_tokens(db: &AuthDb, caller: &Caller) -> Result<Vec<ApiTokenEntry>, AuthError> {
    let now = db.clock.now().timestamp();
    let scope = (!caller.is_operator()).then(|| caller.username().as_str());
    Ok(db
        .sessions
        .api_tokens(scope)
        .into_iter()
        .filter(|r| r.expires_at >= now)
        .map(api_token_entry)
        .collect())
}

/// Revokes one API token: the caller's own, or anyone's for an admin.
/// Returns the token's owner.
pub fn revoke_api_token(db: &AuthDb, caller: &Caller, id: &str) -> Result<String, AuthError> {
    let owner = revoke(db, caller, id, Family::ApiToken, caller.user.is_admin())?;
    plantdb_auth_core::audit::AuditEvent::ApiTokenRevoked {
        user: &owner,
        by: &caller.username(),
        id,
    }
    .emit();
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;
    use plantdb_auth_core::clock::{Clock, FixedClock};
    use plantdb_auth_core::model::{Role, User, Username};
    use plantdb_auth_core::session::{SigningKey, TokenError};
    use plantdb_auth_core::store::memory::MemoryUserStore;
    use plantdb_auth_core::store::UserStore;

    use super::*;
    use crate::caller::{authenticate, ACCESS_ONLY};
    use crate::{Backend, Settings};

    fn db_with(users: &[(&str, Role)]) -> (AuthDb, Arc<FixedClock>) {
        let clock = Arc::new(FixedClock::new(Utc::now()));
        let store = Arc::new(MemoryUserStore::default());
        for (name, role) in users {
            let name = Username::parse(name).unwrap();
            // Sessions are started directly: the hash is never checked.
            let user = User::new(name, "Test", "unused".into(), [*role], clock.now());
            store.create(user).unwrap();
        }
        let backend = Backend {
            users: store,
            key: SigningKey::from_secret("a test secret").unwrap(),
            ..Backend::memory()
        };
        let db = AuthDb::open(backend, Settings::default(), clock.clone()).unwrap();
        (db, clock)
    }

    fn login(db: &AuthDb, user: &str) -> String {
        db.sessions.login(user).unwrap().access_token
    }

    fn owners(entries: &[SessionEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.username.as_str()).collect()
    }

    #[test]
    fn a_role_change_takes_effect_at_the_next_request() {
        let (db, _) = db_with(&[("alice", Role::Reader), ("bob", Role::Reader)]);
        let alice = login(&db, "alice");
        login(&db, "bob");
        assert_eq!(
            owners(
                &authenticate(&db, Some(alice.as_str()), ACCESS_ONLY)
                    .and_then(|c| list_sessions(&db, &c))
                    .unwrap()
            ),
            ["alice"]
        );
        let name = Username::parse("alice").unwrap();
        let promote = |role: Role| {
            db.users
                .update(&name, &mut |u| {
                    u.roles = [role].into();
                    Ok(())
                })
                .unwrap();
        };
        promote(Role::Admin);
        assert_eq!(
            authenticate(&db, Some(alice.as_str()), ACCESS_ONLY)
                .and_then(|c| list_sessions(&db, &c))
                .unwrap()
                .len(),
            2
        );
        promote(Role::Reader);
        assert_eq!(
            owners(
                &authenticate(&db, Some(alice.as_str()), ACCESS_ONLY)
                    .and_then(|c| list_sessions(&db, &c))
                    .unwrap()
            ),
            ["alice"]
        );
    }

    #[test]
    fn expired_sessions_and_api_tokens_are_not_listed() {
        let (db, clock) = db_with(&[("alice", Role::Reader)]);
        db.sessions.login("alice").unwrap();
        db.sessions
            .create_api_token("alice", "*/Permission.READ", 60)
            .unwrap();
        clock.advance(Duration::seconds(120));
        let fresh = login(&db, "alice");
        assert_eq!(
            authenticate(&db, Some(fresh.as_str()), ACCESS_ONLY)
                .and_then(|c| list_sessions(&db, &c))
                .unwrap()
                .len(),
            2
        );
        assert!(authenticate(&db, Some(fresh.as_str()), ACCESS_ONLY)
            .and_then(|c| list_api_tokens(&db, &c))
            .unwrap()
            .is_empty());
        clock.advance(Duration::seconds(86400 - 100));
        let fresh = login(&db, "alice");
        assert_eq!(
            authenticate(&db, Some(fresh.as_str()), ACCESS_ONLY)
                .and_then(|c| list_sessions(&db, &c))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn ids_of_one_sort_do_not_reach_the_other() {
        let (db, _) = db_with(&[("alice", Role::Admin)]);
        let pair = db.sessions.login("alice").unwrap();
        let (_, api) = db.sessions.create_api_token("alice", "", 60).unwrap();
        let token = Some(pair.access_token.as_str());
        let err = authenticate(&db, token, ACCESS_ONLY)
            .and_then(|c| revoke_api_token(&db, &c, &pair.session_id))
            .unwrap_err();
        assert!(matches!(err, AuthError::NotFound(_)), "{err:?}");
        let err = authenticate(&db, token, ACCESS_ONLY)
            .and_then(|c| revoke_session(&db, &c, &api.family))
            .unwrap_err();
        assert!(matches!(err, AuthError::NotFound(_)), "{err:?}");
        assert_eq!(
            authenticate(&db, token, ACCESS_ONLY)
                .and_then(|c| revoke_api_token(&db, &c, &api.family))
                .unwrap(),
            "alice"
        );
    }

    #[test]
    fn only_access_tokens_manage_sessions() {
        let (db, _) = db_with(&[("alice", Role::Admin)]);
        let pair = db.sessions.login("alice").unwrap();
        let (api, _) = db.sessions.create_api_token("alice", "", 60).unwrap();
        for token in [pair.refresh_token.as_str(), api.as_str()] {
            let err = authenticate(&db, Some(token), ACCESS_ONLY)
                .and_then(|c| list_sessions(&db, &c))
                .unwrap_err();
            assert!(
                matches!(err, AuthError::Token(TokenError::WrongKind { .. })),
                "{err:?}"
            );
        }
        let err = authenticate(&db, None, ACCESS_ONLY)
            .and_then(|c| logout_all(&db, &c))
            .unwrap_err();
        assert!(matches!(err, AuthError::NoAuthUser(_)), "{err:?}");
    }
}
