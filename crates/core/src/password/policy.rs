//! The password policy for new passwords (NIST SP 800-63B, OWASP ASVS 6.2):
//! a minimum length, a generous maximum, no composition rules, and no
//! passwords that are common, built on the username or on the service's name.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::MAX_PASSWORD_BYTES;

/// Words a guesser tries first against this service.
pub const CONTEXT_WORDS: [&str; 2] = ["plantdb", "romi"];

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("password is too short: use at least {min} characters (a passphrase of several words is easiest)")]
    TooShort { min: usize },
    #[error("password is too long: use at most {max} bytes")]
    TooLong { max: usize },
    #[error("password must not contain NUL characters")]
    ContainsNul,
    #[error("password must not contain or equal the username")]
    ContainsUsername,
    #[error("password is in the list of the most common passwords: choose a less predictable one")]
    Common,
    #[error("password must not contain the word '{0}'")]
    ContextWord(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Unicode scalar values).
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_length: 8 }
    }
}

impl PasswordPolicy {
    /// Checks a new password for `username`; the first violation found wins.
    pub fn check(&self, password: &str, username: &str) -> Result<(), PolicyViolation> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PolicyViolation::TooLong {
                max: MAX_PASSWORD_BYTES,
            });
        }
        if password.contains('\0') {
            return Err(PolicyViolation::ContainsNul);
        }
        if password.chars().count() < self.min_length {
            return Err(PolicyViolation::TooShort {
                min: self.min_length,
            });
        }
        let lower = password.to_lowercase();
        let user = username.to_lowercase();
        // Containment only for names long enough to matter: a one-letter
        // username would otherwise forbid most passwords.
        if !user.is_empty()
            && (lower == user || (user.chars().count() >= 3 && lower.contains(&user)))
        {
            return Err(PolicyViolation::ContainsUsername);
        }
        if let Some(word) = CONTEXT_WORDS.into_iter().find(|w| lower.contains(w)) {
            return Err(PolicyViolation::ContextWord(word));
        }
        if COMMON.contains(lower.as_str()) {
            return Err(PolicyViolation::Common);
        }
        Ok(())
    }

    /// Number of entries in the bundled common-password list.
    pub fn common_list_len() -> usize {
        COMMON.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str) -> Result<(), PolicyViolation> {
        PasswordPolicy::default().check(pw, "alice")
    }

    #[test]
    fn accepts_long_passphrases_without_composition_rules() {
        assert_eq!(check("correct horse battery staple"), Ok(()));
        assert_eq!(check(&"x7".repeat(32)), Ok(()));
        assert_eq!(check("ééééééééé"), Ok(()));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(check("short"), Err(PolicyViolation::TooShort { min: 8 }));
        assert_eq!(check("password"), Err(PolicyViolation::Common));
        assert_eq!(check("12345678"), Err(PolicyViolation::Common));
        assert_eq!(
            check("alice-in-wonderland"),
            Err(PolicyViolation::ContainsUsername)
        );
        assert_eq!(
            check("my-PlantDB-secret"),
            Err(PolicyViolation::ContextWord("plantdb"))
        );
        assert_eq!(
            check("romi-romi-romi"),
            Err(PolicyViolation::ContextWord("romi"))
        );
        assert_eq!(check("abc\0defghij"), Err(PolicyViolation::ContainsNul));
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(check(&long), Err(PolicyViolation::TooLong { .. })));
    }

    #[test]
    fn the_common_list_is_large() {
        assert!(PasswordPolicy::common_list_len() >= 10_000);
    }

    #[test]
    fn minimum_is_configurable() {
        let strict = PasswordPolicy { min_length: 15 };
        assert!(strict.check("nine-char", "bob").is_err());
        assert!(strict.check("fifteen-chars-ok", "bob").is_ok());
    }
}
