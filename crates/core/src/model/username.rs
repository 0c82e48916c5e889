//! Usernames: parsed once at the edge, then trusted.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const MAX_USERNAME_LEN: usize = 64;

/// A valid PlantDB username: 1-64 characters of `a-z 0-9 . _ -` after
/// lower-casing. Look-ups are case-insensitive because the value is lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("username must not be empty")]
    Empty,
    #[error("username is too long ({0} characters): use at most 64")]
    TooLong(usize),
    #[error("username may only contain a-z, 0-9, '.', '_' and '-' (found {0:?})")]
    BadCharacter(char),
    #[error("username must not be '.' or '..'")]
    DotName,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        // Only ASCII is lower-cased: Unicode case mapping would turn the
        // Kelvin sign (U+212A) into `k`, or fold other look-alikes onto an
        // existing ASCII name, so a non-ASCII character is refused as such.
        if let Some(bad) = raw.chars().find(|c| !c.is_ascii()) {
            return Err(UsernameError::BadCharacter(bad));
        }
        let lower = raw.to_ascii_lowercase();
        let len = lower.chars().count();
        if len == 0 {
            return Err(UsernameError::Empty);
        }
        if len > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(len));
        }
        if let Some(bad) = lower.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(UsernameError::BadCharacter(bad));
        }
        if lower == "." || lower == ".." {
            return Err(UsernameError::DotName);
        }
        Ok(Username(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_valid_names() {
        assert_eq!(
            Username::parse("Alice.B_2-x").unwrap().as_str(),
            "alice.b_2-x"
        );
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_what_could_hurt() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameError::TooLong(65))
        );
        assert_eq!(
            Username::parse("../../etc"),
            Err(UsernameError::BadCharacter('/'))
        );
        assert_eq!(Username::parse(".."), Err(UsernameError::DotName));
        assert_eq!(
            Username::parse("josé"),
            Err(UsernameError::BadCharacter('é'))
        );
        assert_eq!(
            Username::parse("a b"),
            Err(UsernameError::BadCharacter(' '))
        );
        assert!(Username::parse("a\0").is_err());
    }

    #[test]
    fn unicode_case_mapping_cannot_reach_an_ascii_name() {
        // The Kelvin sign lower-cases to an ASCII `k`; the dotted capital I
        // to `i` plus a combining dot; the long s upper-cases to `S`.
        for raw in [
            "\u{212A}elvin",
            "adm\u{0130}n",
            "admin\u{017F}",
            "\u{FF41}dmin",
        ] {
            assert!(
                matches!(Username::parse(raw), Err(UsernameError::BadCharacter(_))),
                "{raw:?} was accepted"
            );
        }
        assert_eq!(Username::parse("KELVIN").unwrap().as_str(), "kelvin");
    }
}
