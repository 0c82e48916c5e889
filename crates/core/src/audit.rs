//! Every event of the audit trail, as one enum, written by one function.
//!
//! The events go to `tracing` with the audit target (the server sends that
//! target to `<state-dir>/audit.log` or the `auth_audit` table, and counts
//! logins and lockouts from it); the refresh-token reuse alarm goes to the
//! security target. The field names are the audit log's format, which
//! operators' scripts read: keep them.
//!
//! A reader finds here what is audited; a writer adds a variant and its
//! line in [`AuditEvent::emit`].

use std::fmt::{Debug, Display};

/// The audit log's `tracing` target.
pub const AUDIT: &str = "plantdb_auth::audit";
/// The target of security alarms (kept with the audit trail).
pub const SECURITY: &str = "plantdb_auth::security";

/// Who acted: an account, or the local operator (the CLI).
pub type By<'a> = &'a dyn Display;

pub enum AuditEvent<'a> {
    LoginOk {
        user: &'a dyn Display,
        rehashed: bool,
    },
    LoginFailed {
        user: &'a dyn Display,
        client: &'a str,
        reason: &'a str,
    },
    Lockout {
        user: &'a dyn Display,
        client: &'a str,
        until: &'a dyn Debug,
    },
    Register {
        user: &'a dyn Display,
        by: By<'a>,
    },
    RoleChange {
        user: &'a dyn Display,
        by: By<'a>,
        from: &'a dyn Debug,
        to: &'a dyn Debug,
    },
    PermissionsChange {
        user: &'a dyn Display,
        by: By<'a>,
        from: &'a dyn Debug,
        to: &'a dyn Debug,
    },
    /// `activation` or `deactivation`.
    AccountStatus {
        active: bool,
        user: &'a dyn Display,
        by: By<'a>,
    },
    Unlock {
        user: &'a dyn Display,
        by: By<'a>,
    },
    UserDeleted {
        user: &'a dyn Display,
        by: By<'a>,
        sessions_ended: usize,
    },
    /// `password_change` (one's own) or `password_reset` (an admin's).
    PasswordChanged {
        own: bool,
        user: &'a dyn Display,
        by: By<'a>,
        sessions_ended: usize,
    },
    PasswordChangeFailed {
        user: &'a dyn Display,
    },
    PermissionDenied {
        user: &'a dyn Display,
        action: &'a str,
    },
    ScanAccessDenied {
        user: &'a dyn Display,
        scan: &'a dyn Display,
        permission: &'a dyn Display,
    },
    ScanChangeDenied {
        user: &'a dyn Display,
        scan: &'a dyn Display,
        reason: &'a dyn Display,
    },
    GroupCreated {
        group: &'a dyn Display,
        by: By<'a>,
        members: &'a dyn Debug,
    },
    GroupDeleted {
        group: &'a dyn Display,
        by: By<'a>,
    },
    GroupMemberAdded {
        group: &'a dyn Display,
        user: &'a dyn Display,
        by: By<'a>,
    },
    GroupMemberRemoved {
        group: &'a dyn Display,
        user: &'a dyn Display,
        by: By<'a>,
    },
    ApiTokenCreated {
        user: &'a dyn Display,
        id: &'a str,
    },
    ApiTokenRevoked {
        user: &'a dyn Display,
        by: By<'a>,
        id: &'a str,
    },
    SessionRevoked {
        user: &'a dyn Display,
        by: By<'a>,
        session: &'a str,
    },
    /// Every session of one user (`user`), or of everyone (`*`).
    SessionsRevoked {
        user: &'a dyn Display,
        by: By<'a>,
        sessions: usize,
    },
    LogoutAll {
        user: &'a dyn Display,
        sessions: usize,
    },
    StorageFailed {
        error: &'a dyn Display,
    },
    StorageRecovered,
    KeyRotated {
        old_key_valid_until: &'a dyn Display,
    },
    AdminCommand {
        uid: u32,
        pid: i32,
        command: &'a str,
    },
    AdminSocketRefused {
        uid: u32,
    },
    /// A rotated refresh token was presented again: the session ends.
    RefreshTokenReuse {
        user: &'a dyn Display,
        session: &'a str,
        /// Detected by the shared store rather than this instance.
        by_store: bool,
    },
}

impl AuditEvent<'_> {
    /// The `event` field of the line.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::LoginOk { .. } => "login_ok",
            AuditEvent::LoginFailed { .. } => "login_failed",
            AuditEvent::Lockout { .. } => "lockout",
            AuditEvent::Register { .. } => "register",
            AuditEvent::RoleChange { .. } => "role_change",
            AuditEvent::PermissionsChange { .. } => "permissions_change",
            AuditEvent::AccountStatus { active: true, .. } => "activation",
            AuditEvent::AccountStatus { active: false, .. } => "deactivation",
            AuditEvent::Unlock { .. } => "unlock",
            AuditEvent::UserDeleted { .. } => "user_deleted",
            AuditEvent::PasswordChanged { own: true, .. } => "password_change",
            AuditEvent::PasswordChanged { own: false, .. } => "password_reset",
            AuditEvent::PasswordChangeFailed { .. } => "password_change_failed",
            AuditEvent::PermissionDenied { .. }
            | AuditEvent::ScanAccessDenied { .. }
            | AuditEvent::ScanChangeDenied { .. } => "permission_denied",
            AuditEvent::GroupCreated { .. } => "group_created",
            AuditEvent::GroupDeleted { .. } => "group_deleted",
            AuditEvent::GroupMemberAdded { .. } => "group_member_added",
            AuditEvent::GroupMemberRemoved { .. } => "group_member_removed",
            AuditEvent::ApiTokenCreated { .. } => "api_token_created",
            AuditEvent::ApiTokenRevoked { .. } => "api_token_revoked",
            AuditEvent::SessionRevoked { .. } => "session_revoked",
            AuditEvent::SessionsRevoked { .. } => "sessions_revoked",
            AuditEvent::LogoutAll { .. } => "logout_all",
            AuditEvent::StorageFailed { .. } => "storage_failed",
            AuditEvent::StorageRecovered => "storage_recovered",
            AuditEvent::KeyRotated { .. } => "key_rotated",
            AuditEvent::AdminCommand { .. } => "admin_command",
            AuditEvent::AdminSocketRefused { .. } => "admin_socket_refused",
            AuditEvent::RefreshTokenReuse { .. } => "refresh_token_reuse",
        }
    }

    /// Writes the event: the one place audit lines are made.
    pub fn emit(&self) {
        let event = self.name();
        match *self {
            AuditEvent::LoginOk { user, rehashed } => {
                tracing::info!(target: AUDIT, event, user = %user, rehashed, "login")
            }
            AuditEvent::LoginFailed {
                user,
                client,
                reason,
            } => {
                tracing::info!(target: AUDIT, event, user = %user, client, reason, "login refused")
            }
            AuditEvent::Lockout {
                user,
                client,
                until,
            } => tracing::warn!(target: AUDIT, event, user = %user, client, until = ?until,
                "account locked for one client after repeated failures"),
            AuditEvent::Register { user, by } => {
                tracing::info!(target: AUDIT, event, user = %user, by = %by, "user created")
            }
            AuditEvent::RoleChange { user, by, from, to } => tracing::info!(target: AUDIT,
                event, user = %user, by = %by, from = ?from, to = ?to, "roles changed"),
            AuditEvent::PermissionsChange { user, by, from, to } => tracing::info!(target: AUDIT,
                event, user = %user, by = %by, from = ?from, to = ?to, "extra permissions changed"),
            AuditEvent::AccountStatus { user, by, .. } => tracing::info!(target: AUDIT, event,
                user = %user, by = %by, "account status changed"),
            AuditEvent::Unlock { user, by } => {
                tracing::info!(target: AUDIT, event, user = %user, by = %by, "account unlocked")
            }
            AuditEvent::UserDeleted {
                user,
                by,
                sessions_ended,
            } => tracing::info!(target: AUDIT, event, user = %user, by = %by, sessions_ended,
                "user deleted"),
            AuditEvent::PasswordChanged {
                user,
                by,
                sessions_ended,
                ..
            } => tracing::info!(target: AUDIT, event, user = %user, by = %by, sessions_ended,
                "password changed"),
            AuditEvent::PasswordChangeFailed { user } => tracing::info!(target: AUDIT, event,
                user = %user, "wrong current password or locked account"),
            AuditEvent::PermissionDenied { user, action } => {
                tracing::info!(target: AUDIT, event, user = %user, action, "refused")
            }
            AuditEvent::ScanAccessDenied {
                user,
                scan,
                permission,
            } => tracing::info!(target: AUDIT, event, user = %user, action = "scan_access",
                scan = %scan, permission = %permission, "refused"),
            AuditEvent::ScanChangeDenied { user, scan, reason } => tracing::info!(target: AUDIT,
                event, user = %user, action = "scan_metadata_change", scan = %scan,
                reason = %reason, "refused"),
            AuditEvent::GroupCreated { group, by, members } => tracing::info!(target: AUDIT,
                event, group = %group, by = %by, members = ?members, "group created"),
            AuditEvent::GroupDeleted { group, by } => {
                tracing::info!(target: AUDIT, event, group = %group, by = %by, "group deleted")
            }
            AuditEvent::GroupMemberAdded { group, user, by } => tracing::info!(target: AUDIT,
                event, group = %group, user = %user, by = %by, "member added"),
            AuditEvent::GroupMemberRemoved { group, user, by } => tracing::info!(target: AUDIT,
                event, group = %group, user = %user, by = %by, "member removed"),
            AuditEvent::ApiTokenCreated { user, id } => {
                tracing::info!(target: AUDIT, event, user = %user, id, "API token created")
            }
            AuditEvent::ApiTokenRevoked { user, by, id } => tracing::info!(target: AUDIT, event,
                user = %user, by = %by, id, "API token revoked"),
            AuditEvent::SessionRevoked { user, by, session } => tracing::info!(target: AUDIT,
                event, user = %user, by = %by, session, "session revoked"),
            AuditEvent::SessionsRevoked { user, by, sessions } => tracing::info!(target: AUDIT,
                event, user = %user, by = %by, sessions, "sessions ended"),
            AuditEvent::LogoutAll { user, sessions } => tracing::info!(target: AUDIT, event,
                user = %user, sessions, "all sessions ended"),
            AuditEvent::StorageFailed { error } => tracing::error!(target: AUDIT, event,
                error = %error,
                "writing the user store failed: logins answer 503 until a write succeeds"),
            AuditEvent::StorageRecovered => {
                tracing::warn!(target: AUDIT, event, "the database accepts writes again")
            }
            AuditEvent::KeyRotated {
                old_key_valid_until,
            } => tracing::info!(target: AUDIT, event, by = "operator",
                old_key_valid_until = %old_key_valid_until, "signing key rotated"),
            AuditEvent::AdminCommand { uid, pid, command } => tracing::info!(target: AUDIT,
                event, by = "operator", via = "admin_socket", uid, pid, command,
                "admin command through the admin socket"),
            AuditEvent::AdminSocketRefused { uid } => tracing::warn!(target: AUDIT, event, uid,
                "admin socket: a client of another user was refused"),
            AuditEvent::RefreshTokenReuse {
                user,
                session,
                by_store: false,
            } => tracing::warn!(target: SECURITY, event, user = %user, session,
                "refresh token reuse detected: revoking the whole session"),
            AuditEvent::RefreshTokenReuse {
                user,
                session,
                by_store: true,
            } => tracing::warn!(target: SECURITY, event, user = %user, session,
                "refresh token reuse detected by the store: revoking the whole session"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_the_audit_logs() {
        let user = "alice";
        // The login metrics count these three names.
        assert_eq!(
            AuditEvent::LoginOk {
                user: &user,
                rehashed: false
            }
            .name(),
            "login_ok"
        );
        assert_eq!(
            AuditEvent::LoginFailed {
                user: &user,
                client: "c",
                reason: "r"
            }
            .name(),
            "login_failed"
        );
        assert_eq!(
            AuditEvent::Lockout {
                user: &user,
                client: "c",
                until: &None::<i64>
            }
            .name(),
            "lockout"
        );
        for (own, name) in [(true, "password_change"), (false, "password_reset")] {
            let event = AuditEvent::PasswordChanged {
                own,
                user: &user,
                by: &user,
                sessions_ended: 0,
            };
            assert_eq!(event.name(), name);
        }
    }
}
