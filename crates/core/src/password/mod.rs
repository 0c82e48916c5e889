//! Argon2id password hashing, compatible both ways with Python's argon2-cffi.
//!
//! Parameters travel inside the PHC string, so hashes written by the Python
//! server (m=65536, t=3, p=4) verify here and ours verify there. New hashes
//! use [`HashParams::default`] (the OWASP setting); a hash at other
//! parameters is reported as needing a rehash after a successful check.

mod policy;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};

pub use policy::{PasswordPolicy, PolicyViolation, CONTEXT_WORDS};

/// Longest password we hash: longer ones are refused before any work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl HashParams {
    /// argon2-cffi's defaults, used by the Python server.
    pub const LEGACY: HashParams = HashParams {
        m_cost: 65536,
        t_cost: 3,
        p_cost: 4,
    };

    fn to_argon2(self) -> Result<Params, PasswordError> {
        Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| PasswordError::Params(e.to_string()))
    }
}

impl Default for HashParams {
    /// OWASP's recommended Argon2id setting.
    fn default() -> Self {
        HashParams {
            m_cost: 19456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// Correct password, but the hash uses other parameters than ours.
    MatchNeedsRehash,
}

impl Verification {
    pub fn is_match(self) -> bool {
        !matches!(self, Verification::Mismatch)
    }
}

/// Hashes and verifies passwords with one set of parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
    /// A hash of a random password, verified when the user is unknown so
    /// that such logins cost the same as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(params: HashParams) -> Result<Self, PasswordError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let mut hasher = PasswordHasher {
            params,
            argon2,
            dummy_hash: String::new(),
        };
        let random: [u8; 16] = rand::random();
        hasher.dummy_hash = hasher.hash_bytes(&random)?;
        Ok(hasher)
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// A new PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.hash_bytes(password.as_bytes())
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<String, PasswordError> {
        self.argon2
            .hash_password(password)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Checks `password` exactly as given (never trimmed). A stored hash that
    /// cannot be parsed is a mismatch: the account cannot log in until an
    /// admin resets its password, and the caller logs why.
    pub fn verify(&self, password: &str, phc: &str) -> Verification {
        let Ok(parsed) = PasswordHash::new(phc) else {
            // Same cost as a real check, so a broken hash is not observable.
            self.verify_dummy(password);
            return Verification::Mismatch;
        };
        if self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Verification::Mismatch;
        }
        if self.needs_rehash(&parsed) {
            Verification::MatchNeedsRehash
        } else {
            Verification::Match
        }
    }

    /// Spends the same work as a real verification, for unknown users.
    pub fn verify_dummy(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy_hash) {
            let _ = self.argon2.verify_password(password.as_bytes(), &parsed);
        }
    }

    fn needs_rehash(&self, parsed: &PasswordHash) -> bool {
        let current = argon2::Algorithm::Argon2id.ident();
        if parsed.algorithm != current {
            return true;
        }
        match Params::try_from(parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost
                    || p.t_cost() != self.params.t_cost
                    || p.p_cost() != self.params.p_cost
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        })
        .unwrap()
    }

    #[test]
    fn hashes_verify_and_are_salted() {
        let h = cheap();
        let a = h.hash("s3cret-pass").unwrap();
        let b = h.hash("s3cret-pass").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(h.verify("s3cret-pass", &a), Verification::Match);
        assert_eq!(h.verify("s3cret-pass ", &a), Verification::Mismatch);
        assert_eq!(h.verify("wrong", &a), Verification::Mismatch);
    }

    #[test]
    fn default_params_are_owasp() {
        let h = PasswordHasher::new(HashParams::default()).unwrap();
        let phc = h.hash("x").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn other_params_ask_for_rehash() {
        let old = cheap().hash("pw").unwrap();
        let newer = PasswordHasher::new(HashParams {
            m_cost: 128,
            t_cost: 1,
            p_cost: 1,
        })
        .unwrap();
        assert_eq!(newer.verify("pw", &old), Verification::MatchNeedsRehash);
        assert_eq!(newer.verify("nope", &old), Verification::Mismatch);
    }

    #[test]
    fn argon2_cffi_hash_verifies_and_asks_for_rehash() {
        // Written by argon2-cffi 25.1: `PasswordHasher().hash("admin")`.
        let phc = "$argon2id$v=19$m=65536,t=3,p=4$Kv1Ml81SyU1JhO8Dv9gfsA$WEBFa5js2vcCgsgKt9AeIc44DxT750lKtu5N3dmTGqA";
        let h = cheap();
        assert_eq!(h.verify("admin", phc), Verification::MatchNeedsRehash);
        assert_eq!(h.verify("Admin", phc), Verification::Mismatch);
    }

    #[test]
    fn garbage_hash_is_a_mismatch_not_an_error() {
        assert_eq!(cheap().verify("pw", "not-a-hash"), Verification::Mismatch);
        assert_eq!(cheap().verify("pw", ""), Verification::Mismatch);
    }
}
