//! Argon2id password hashing, compatible both ways with Python's argon2-cffi.
//!
//! Parameters travel inside the PHC string, so hashes written by the Python
//! server (m=65536, t=3, p=4) verify here and ours verify there. New hashes
//! use [`HashParams::default`] (the OWASP setting); a hash at other
//! parameters is reported as needing a rehash after a successful check.

mod memory;
mod pacing;
mod policy;

use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use self::memory::BlockPool;

pub use pacing::LoginPacer;
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
    /// Working memory, reused across hashes (see `memory`).
    pool: Arc<BlockPool>,
    /// How long failed logins are held (see `pacing`), shared by clones.
    pacer: Arc<LoginPacer>,
    /// A hash of a random password, verified when the user is unknown so
    /// that such logins cost the same as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(params: HashParams) -> Result<Self, PasswordError> {
        let argon2_params = params.to_argon2()?;
        let pool = BlockPool::new(argon2_params.block_count());
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        // A random output under a random salt: no password gives it, and
        // checking against it costs a full Argon2 run, yet making it costs
        // none (it used to be a real hash: one Argon2 run at every start).
        let random_output: [u8; 32] = rand::random();
        let dummy_hash = phc_string(&argon2, &rand::random::<[u8; 16]>(), &random_output)?;
        Ok(PasswordHasher {
            params,
            argon2,
            pool,
            pacer: Arc::new(LoginPacer::default()),
            dummy_hash,
        })
    }

    pub fn pacer(&self) -> &LoginPacer {
        &self.pacer
    }

    /// Times one verification at each of `params` (those of the stored
    /// hashes) and raises the pacer's floor to the slowest.
    pub fn calibrate_pacer(&self, params: &[HashParams]) -> Result<(), PasswordError> {
        for p in params {
            let probe = PasswordHasher::new(*p)?;
            let started = std::time::Instant::now();
            probe.verify_dummy("calibration");
            self.pacer.calibrate(started.elapsed());
        }
        Ok(())
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// A new PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.hash_bytes(password.as_bytes())
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<String, PasswordError> {
        let salt: [u8; 16] = rand::random();
        let mut out = [0u8; 32];
        self.compute(&self.argon2, password, &salt, &mut out)
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        phc_string(&self.argon2, &salt, &out)
    }

    /// Argon2 into `out`, in pooled working memory.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let blocks = argon2.params().block_count();
        self.pool.with_blocks(blocks, |memory| {
            argon2.hash_password_into_with_memory(password, salt, out, memory)
        })
    }

    /// Checks `password` exactly as given (never trimmed). A stored hash that
    /// cannot be parsed is a mismatch: the account cannot log in until an
    /// admin resets its password, and the caller logs why. Parameters,
    /// algorithm and version are the stored hash's own.
    pub fn verify(&self, password: &str, phc: &str) -> Verification {
        let checked = PasswordHash::new(phc)
            .ok()
            .and_then(|parsed| Some((self.matches(password.as_bytes(), &parsed)?, parsed)));
        let Some((matched, parsed)) = checked else {
            // Same cost as a real check, so a broken hash is not observable.
            self.verify_dummy(password);
            return Verification::Mismatch;
        };
        if !matched {
            return Verification::Mismatch;
        }
        if self.needs_rehash(&parsed) {
            Verification::MatchNeedsRehash
        } else {
            Verification::Match
        }
    }

    /// Whether `password` gives the stored output; `None` (no work done)
    /// if the hash is not one we can compute.
    fn matches(&self, password: &[u8], parsed: &PasswordHash) -> Option<bool> {
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return None;
        };
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let argon2 = Argon2::new(algorithm, version, Params::try_from(parsed).ok()?);
        let mut out = vec![0u8; expected.len()];
        self.compute(&argon2, password, salt, &mut out).ok()?;
        // `Output`'s equality is constant-time.
        Some(Output::new(&out).is_ok_and(|computed| &computed == expected))
    }

    /// Spends the same work as a real verification, for unknown users.
    pub fn verify_dummy(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy_hash) {
            let _ = self.matches(password.as_bytes(), &parsed);
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

/// The Argon2 cost parameters of a stored PHC string, if it is one.
pub fn hash_params_of(phc: &str) -> Option<HashParams> {
    let parsed = PasswordHash::new(phc).ok()?;
    let p = Params::try_from(&parsed).ok()?;
    Some(HashParams {
        m_cost: p.m_cost(),
        t_cost: p.t_cost(),
        p_cost: p.p_cost(),
    })
}

/// The PHC string of an Argon2id output at `argon2`'s parameters.
fn phc_string(argon2: &Argon2<'_>, salt: &[u8], output: &[u8]) -> Result<String, PasswordError> {
    fn hash_error(e: impl std::fmt::Display) -> PasswordError {
        PasswordError::Hash(e.to_string())
    }
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hash_error)?,
        salt: Some(Salt::new(salt).map_err(hash_error)?),
        hash: Some(Output::new(output).map_err(hash_error)?),
    };
    Ok(phc.to_string())
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
