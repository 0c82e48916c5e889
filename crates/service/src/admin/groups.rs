//! Groups, which scans are shared with: anyone authenticated reads them,
//! `manage_groups` creates and deletes them, and their own members (or
//! `manage_groups`) add and remove members.

use plantdb_auth_core::model::{Group, GroupName, Permission, Username};

use super::{denied, iso, require};
use crate::caller::Caller;
use crate::{AuthDb, AuthError};

/// Longest group description we store.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// A group as clients see it; `id` is the name, for uniform listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub users: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: Option<String>,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> Self {
        GroupView {
            id: g.name.to_string(),
            name: g.name.to_string(),
            description: g.description.clone(),
            users: g.users.iter().map(ToString::to_string).collect(),
            created_by: g.created_by.as_ref().map(ToString::to_string),
            created_at: iso(g.created_at),
        }
    }
}

/// `POST /groups`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct GroupPayload {
    pub name: Option<String>,
    pub description: Option<String>,
    pub users: Option<Vec<String>>,
    /// Who creates the group (and so always stays a member). Never read
    /// from a request: an account creates groups as itself; the operator,
    /// who is no account, must name one.
    #[serde(skip)]
    pub creator: Option<String>,
}

/// `POST /groups/{g}/members`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MemberPayload {
    pub username: Option<String>,
}

fn group_not_found(raw: &str) -> AuthError {
    AuthError::NotFound(format!("Group '{raw}' does not exist"))
}

/// An invalid name in a path cannot name a stored group: 404, not 400.
fn find_group(db: &AuthDb, raw: &str) -> Result<Group, AuthError> {
    let name = GroupName::parse(raw).map_err(|_| group_not_found(raw))?;
    db.groups.get(&name)?.ok_or_else(|| group_not_found(raw))
}

/// A member must be an existing account: a dangling name would silently
/// grant access to whoever registers it later.
fn existing_user(db: &AuthDb, raw: &str) -> Result<Username, AuthError> {
    let missing = || AuthError::NotFound(format!("User '{raw}' does not exist"));
    let name = Username::parse(raw).map_err(|_| missing())?;
    if db.users.exists(&name)? {
        Ok(name)
    } else {
        Err(missing())
    }
}

fn check_description(text: &str) -> Result<(), AuthError> {
    let bad_char = text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if text.chars().count() > MAX_DESCRIPTION_CHARS || bad_char {
        return Err(AuthError::InvalidInput(format!(
            "Invalid description: use at most {MAX_DESCRIPTION_CHARS} characters and no control characters"
        )));
    }
    Ok(())
}

/// The caller, or for the operator the account it names.
fn creator(db: &AuthDb, caller: &Caller, payload: &GroupPayload) -> Result<Username, AuthError> {
    match (&payload.creator, caller.is_operator()) {
        (None, false) => Ok(caller.username().clone()),
        (None, true) => Err(AuthError::MissingField(
            "Missing required field: creator (the operator is no account: name the user who creates the group)".into(),
        )),
        (Some(raw), true) => existing_user(db, raw),
        (Some(raw), false) => {
            let user = existing_user(db, raw)?;
            if &user == caller.username() {
                return Ok(user);
            }
            Err(denied(
                caller,
                "creating groups",
                "Permission denied: a group is created by the caller, not on behalf of another user".into(),
            ))
        }
    }
}

fn require_membership_rights(caller: &Caller, group: &Group) -> Result<(), AuthError> {
    if caller.user.has_permission(Permission::ManageGroups) || group.has_member(caller.username()) {
        return Ok(());
    }
    Err(denied(
        caller,
        "changing group members",
        format!(
            "Permission denied: only members of group '{}' or users with the 'manage_groups' permission may change its members",
            group.name
        ),
    ))
}

/// Every group, by name; any authenticated user (`_caller` is the proof).
pub fn list_groups(db: &AuthDb, _caller: &Caller) -> Result<Vec<GroupView>, AuthError> {
    let mut groups = db.groups.list()?;
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups.iter().map(GroupView::from).collect())
}

/// One group; any authenticated user (`_caller` is the proof).
pub fn get_group(db: &AuthDb, _caller: &Caller, name: &str) -> Result<GroupView, AuthError> {
    Ok(GroupView::from(&find_group(db, name)?))
}

/// Creates a group with its creator (the caller, or the account the
/// operator names) as its first member; needs `manage_groups`.
pub fn create_group(
    db: &AuthDb,
    caller: &Caller,
    payload: &GroupPayload,
) -> Result<GroupView, AuthError> {
    require(caller, Permission::ManageGroups, "creating groups")?;
    let raw = payload
        .name
        .as_deref()
        .ok_or_else(|| AuthError::MissingField("Missing required field: name".into()))?;
    let name = GroupName::parse(raw)
        .map_err(|e| AuthError::InvalidInput(format!("Invalid group name: {e}")))?;
    if let Some(text) = &payload.description {
        check_description(text)?;
    }
    let members = payload
        .users
        .iter()
        .flatten()
        .map(|u| existing_user(db, u))
        .collect::<Result<Vec<Username>, AuthError>>()?;
    let group = Group::new(
        name,
        creator(db, caller, payload)?,
        payload.description.clone(),
        members.clone(),
        db.clock.now(),
    );
    db.groups.create(group.clone())?;
    let group = drop_vanished_members(db, group, &members)?;
    plantdb_auth_core::audit::AuditEvent::GroupCreated {
        group: &group.name,
        by: &caller.username(),
        members: &group.users,
    }
    .emit();
    Ok(GroupView::from(&group))
}

/// Deletes a group; needs `manage_groups`. Scans still naming it in their
/// `sharing` simply stop matching anyone.
pub fn delete_group(db: &AuthDb, caller: &Caller, name: &str) -> Result<GroupName, AuthError> {
    require(caller, Permission::ManageGroups, "deleting groups")?;
    let group = find_group(db, name)?;
    db.groups.delete(&group.name)?;
    plantdb_auth_core::audit::AuditEvent::GroupDeleted {
        group: &group.name,
        by: &caller.username(),
    }
    .emit();
    Ok(group.name)
}

/// Adds an existing user to a group (no change if already a member).
pub fn add_group_member(
    db: &AuthDb,
    caller: &Caller,
    name: &str,
    payload: &MemberPayload,
) -> Result<GroupView, AuthError> {
    let group = find_group(db, name)?;
    require_membership_rights(caller, &group)?;
    let raw = payload
        .username
        .as_deref()
        .ok_or_else(|| AuthError::MissingField("Missing required field: username".into()))?;
    let user = existing_user(db, raw)?;
    if db.groups.add_member(&group.name, &user)? {
        let group = drop_vanished_members(db, find_group(db, name)?, std::slice::from_ref(&user))?;
        if !group.has_member(&user) {
            return Err(AuthError::NotFound(format!("User '{user}' does not exist")));
        }
        plantdb_auth_core::audit::AuditEvent::GroupMemberAdded {
            group: &group.name,
            user: &user,
            by: &caller.username(),
        }
        .emit();
    }
    Ok(GroupView::from(&find_group(db, name)?))
}

/// A membership never outlives its account: an account deleted while it
/// was being added (after our existence check) is taken out again here.
/// Deletion removes the account first and its memberships second, so
/// either that sweep or this check sees the new membership.
fn drop_vanished_members(
    db: &AuthDb,
    group: Group,
    added: &[Username],
) -> Result<Group, AuthError> {
    let mut group = group;
    for member in added {
        if db.users.get(member)?.is_none() {
            db.groups.remove_member(&group.name, member)?;
            group.remove_member(member);
        }
    }
    Ok(group)
}

/// Removes a member; the creator stays (contract: always a member).
pub fn remove_group_member(
    db: &AuthDb,
    caller: &Caller,
    name: &str,
    username: &str,
) -> Result<GroupView, AuthError> {
    let group = find_group(db, name)?;
    require_membership_rights(caller, &group)?;
    let not_member = || {
        AuthError::NotFound(format!(
            "User '{username}' is not a member of group '{}'",
            group.name
        ))
    };
    let user = Username::parse(username).map_err(|_| not_member())?;
    if group.created_by.as_ref() == Some(&user) {
        return Err(AuthError::Conflict(format!(
            "User '{user}' created group '{}' and always stays a member",
            group.name
        )));
    }
    if !db.groups.remove_member(&group.name, &user)? {
        return Err(not_member());
    }
    plantdb_auth_core::audit::AuditEvent::GroupMemberRemoved {
        group: &group.name,
        user: &user,
        by: &caller.username(),
    }
    .emit();
    Ok(GroupView::from(&find_group(db, name)?))
}
