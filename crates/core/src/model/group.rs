//! Groups of users, used to share scans.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Username;

pub const MAX_GROUP_NAME_LEN: usize = 64;

/// A group name: 1-64 characters of letters, digits, `.`, `_`, `-`
/// (case kept: the Python server keys `groups.json` by the name as given).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    #[error("group name must not be empty")]
    Empty,
    #[error("group name is too long ({0} characters): use at most 64")]
    TooLong(usize),
    #[error("group name may only contain letters, digits, '.', '_' and '-' (found {0:?})")]
    BadCharacter(char),
}

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, GroupNameError> {
        let len = raw.chars().count();
        if len == 0 {
            return Err(GroupNameError::Empty);
        }
        if len > MAX_GROUP_NAME_LEN {
            return Err(GroupNameError::TooLong(len));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(GroupNameError::BadCharacter(bad));
        }
        Ok(GroupName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: GroupName,
    /// Members in insertion order, without duplicates.
    pub users: Vec<Username>,
    pub description: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<Username>,
    /// Keys of the stored record we do not know; written back unchanged.
    pub extra: Map<String, Value>,
}

impl Group {
    /// A new group; the creator is always a member.
    pub fn new(
        name: GroupName,
        creator: Username,
        description: Option<String>,
        members: impl IntoIterator<Item = Username>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut group = Group {
            name,
            users: Vec::new(),
            description,
            created_at: Some(now),
            created_by: Some(creator.clone()),
            extra: Map::new(),
        };
        group.add_member(creator);
        for m in members {
            group.add_member(m);
        }
        group
    }

    pub fn has_member(&self, username: &Username) -> bool {
        self.users.contains(username)
    }

    /// Adds a member; returns false if already present.
    pub fn add_member(&mut self, username: Username) -> bool {
        if self.has_member(&username) {
            return false;
        }
        self.users.push(username);
        true
    }

    /// Removes a member; returns false if absent.
    pub fn remove_member(&mut self, username: &Username) -> bool {
        let before = self.users.len();
        self.users.retain(|u| u != username);
        before != self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    #[test]
    fn creator_is_a_member_and_members_are_unique() {
        let g = Group::new(
            GroupName::parse("lab").unwrap(),
            name("alice"),
            None,
            [name("bob"), name("alice")],
            Utc::now(),
        );
        assert_eq!(g.users, vec![name("alice"), name("bob")]);
    }

    #[test]
    fn group_names_are_checked() {
        assert!(GroupName::parse("Lab-2.a_b").is_ok());
        assert_eq!(GroupName::parse(""), Err(GroupNameError::Empty));
        assert!(GroupName::parse("a/b").is_err());
    }
}
