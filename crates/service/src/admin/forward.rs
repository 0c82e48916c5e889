//! Forward authentication for reverse proxies (nginx `auth_request`,
//! Traefik `forwardAuth`). Without the original request, a live token
//! passes ([`verify_access`]). With it, the request is mapped onto a data
//! route ([`super::forward_map`]) and decided by the same functions the
//! data API runs: [`data_access`] for the caller (no token: `guest` on a
//! read), [`DataService::scan_for`], [`DataService::file_path`] and
//! [`DataService::check_write`] for the scan's owner, sharing and an API
//! token's grants ([`verify_request`]).

use plantdb_auth_core::model::{Permission, User};
use plantdb_data::{ids, DataError};

use super::forward_map::{map_request, Mapping, Target, UnmappedPolicy};
use crate::caller::{Caller, Identity};
use crate::data::write::WriteTarget;
use crate::data::{data_access, Access, DataService};
use crate::{AuthDb, AuthError};

/// Who a forward-auth request belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuth {
    pub username: String,
    /// Role values (`reader`, ...).
    pub roles: Vec<String>,
}

impl ForwardAuth {
    fn of(user: &User) -> ForwardAuth {
        ForwardAuth {
            username: user.username.to_string(),
            roles: user.roles.iter().map(|r| r.value().to_string()).collect(),
        }
    }
}

/// The request the proxy is asking about, from its headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalRequest {
    /// `X-Original-Method` or `X-Forwarded-Method`.
    pub method: Option<String>,
    /// `X-Original-URI` or `X-Forwarded-Uri` (path and query).
    pub uri: Option<String>,
    /// One of those headers was repeated or not readable text: refused.
    pub malformed: bool,
}

/// How requests are decided.
#[derive(Debug, Clone, Default)]
pub struct ForwardPolicy {
    /// The deployment prefix (`--url-prefix`), stripped from original URIs.
    pub url_prefix: String,
    pub unmapped: UnmappedPolicy,
}

/// Forward authentication from the token alone: a live access or API
/// token whose user still exists and is active.
pub fn verify_access(caller: &Caller) -> ForwardAuth {
    ForwardAuth::of(&caller.user)
}

/// Forward authentication of an original request: `Ok(Some(who))` passes
/// with an identity, `Ok(None)` passes anonymously (a route that needs no
/// caller, no token sent); 401 without a usable token where one is needed;
/// 403 when the caller lacks the permission, the scan does not exist (not
/// revealed), the path is refused, or the request is unmapped and
/// `policy.unmapped` denies.
pub fn verify_request(
    db: &AuthDb,
    data: Option<&DataService>,
    identity: Identity,
    original: &OriginalRequest,
    policy: &ForwardPolicy,
) -> Result<Option<ForwardAuth>, AuthError> {
    let mapping = if original.malformed {
        Mapping::Refused
    } else {
        map_request(
            original.method.as_deref(),
            original.uri.as_deref(),
            &policy.url_prefix,
        )
    };
    match mapping {
        Mapping::Mapped(target) => decide(db, data, identity, &target),
        Mapping::Unmapped => {
            let caller = identity.required()?;
            match policy.unmapped {
                UnmappedPolicy::Allow => Ok(Some(ForwardAuth::of(&caller.user))),
                UnmappedPolicy::Deny => Err(refuse(
                    &caller.user,
                    "unmapped",
                    "Permission denied: the original request matches no PlantDB route, and such requests are denied here (--authz-unmapped)".into(),
                )),
            }
        }
        Mapping::Refused => {
            let caller = identity.required()?;
            Err(refuse(
                &caller.user,
                "refused_path",
                "Permission denied: the original request's path is not acceptable ('.' or '..' segments, encoded separators, control characters or bad escapes)".into(),
            ))
        }
    }
}

fn decide(
    db: &AuthDb,
    data: Option<&DataService>,
    identity: Identity,
    target: &Target,
) -> Result<Option<ForwardAuth>, AuthError> {
    let identify = |caller: Option<Caller>| caller.map(|c| ForwardAuth::of(&c.user));
    match target {
        // The route itself ignores the token: so does the decision, but a
        // valid one still names the caller for the upstream.
        Target::Open => Ok(identify(identity.optional().ok().flatten())),
        Target::Public => Ok(identify(identity.optional()?)),
        _ => {
            let access = data_access(db, identity, needs_token(target))?;
            check(data, &access, target)?;
            Ok(Some(ForwardAuth::of(&access.user)))
        }
    }
}

/// Reads fall back to `guest` without a token; writes do not (data-api.md §2.2).
fn needs_token(target: &Target) -> bool {
    match target {
        Target::Open | Target::Public | Target::Listing => false,
        Target::Scan { permission, .. } | Target::File { permission, .. } => {
            *permission != Permission::Read
        }
        Target::NewScan(_) | Target::NewTimelapse | Target::DeleteTimelapse(_) => true,
    }
}

/// The data API's own checks for `target`, refusals made uniform.
fn check(data: Option<&DataService>, access: &Access, target: &Target) -> Result<(), AuthError> {
    let Some(data) = data else {
        return Err(refuse(
            &access.user,
            "no_database",
            "Permission denied: this server has no database directory, so it authorizes no data request".into(),
        ));
    };
    let outcome = match target {
        Target::Open | Target::Public | Target::Listing => Ok(()),
        Target::Scan { id, permission } => data.scan_for(access, id, *permission).map(drop),
        Target::File {
            path,
            permission: Permission::Read,
        } => data.file_path(access, &path.join("/")).map(drop),
        Target::File { path, permission } => scan_named(data, path)
            .and_then(|id| data.scan_for(access, &id, *permission))
            .map(drop),
        Target::NewScan(id) => data.check_write(access, &WriteTarget::NewScan(id.clone())),
        Target::NewTimelapse => data.check_write(access, &WriteTarget::NewTimelapse),
        Target::DeleteTimelapse(id) => ids::lookup("timelapse", id)
            .map_err(AuthError::from)
            .and_then(|()| access.require_global(Permission::Delete, id)),
    };
    outcome.map_err(|e| conceal(access, target, e))
}

/// The scan a path inside the database belongs to, for a write or a
/// delete (the file need not exist yet): `<scan>/...` or
/// `<timelapse>/<scan>/...`; hidden components never name anything.
fn scan_named(data: &DataService, path: &[String]) -> Result<String, AuthError> {
    let missing = || AuthError::NotFound("No scan at this path".into());
    if path.len() < 2 || path.iter().any(|p| p.starts_with('.')) {
        return Err(missing());
    }
    let first = path.first().ok_or_else(missing)?;
    match data.index().scan(first) {
        Ok(scan) => Ok(scan.data.id().to_string()),
        Err(DataError::NotFound(_)) if path.len() >= 3 => {
            let second = path.get(1).ok_or_else(missing)?;
            let scan = data.index().scan(second).map_err(|_| missing())?;
            match scan.data.location.timelapse.as_deref() == Some(first.as_str()) {
                true => Ok(scan.data.id().to_string()),
                false => Err(missing()),
            }
        }
        Err(_) => Err(missing()),
    }
}

/// On a scan or a file, "no such scan" (or a malformed id) answers like a
/// refusal, with the same text, so the answer does not tell which scans
/// exist. Other errors (a bad new id, 5xx) keep their meaning.
fn conceal(access: &Access, target: &Target, error: AuthError) -> AuthError {
    let concealable = matches!(
        error,
        AuthError::NotFound(_) | AuthError::InvalidInput(_) | AuthError::PermissionDenied(_)
    );
    let (what, permission) = match target {
        Target::Scan { id, permission } => (id.as_str(), *permission),
        Target::File { path, permission } => (path.first().map_or("", String::as_str), *permission),
        Target::NewScan(id) | Target::DeleteTimelapse(id) if concealable => {
            let message = match error {
                AuthError::PermissionDenied(m) => m,
                _ => format!(
                    "Permission denied: '{}' is not a usable id",
                    ids::printable(id)
                ),
            };
            return refuse(&access.user, "forward_auth", message);
        }
        _ => return error,
    };
    if !concealable {
        return error;
    }
    let token = if access.grants.is_some() {
        " with this API token"
    } else {
        ""
    };
    let message = format!(
        "Permission denied: user '{}' may not {} '{}'{token} (it does not exist, or the '{permission}' permission is lacking on it)",
        access.user.username,
        match permission {
            Permission::Read => "read",
            Permission::Write => "write to",
            _ => "delete from",
        },
        ids::printable(what),
    );
    refuse(&access.user, "forward_auth", message)
}

/// A refusal, recorded in the audit log.
fn refuse(user: &User, action: &str, message: String) -> AuthError {
    plantdb_auth_core::audit::AuditEvent::PermissionDenied {
        user: &user.username,
        action,
    }
    .emit();
    AuthError::PermissionDenied(message)
}
