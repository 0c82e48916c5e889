//! The 64-byte HS512 signing key.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};

use crate::store::StoreError;

pub const KEY_LEN: usize = 64;

/// Fixed salt: the derivation must give the same key on every start and in
/// every instance sharing `JWT_SECRET_KEY`.
const DERIVATION_SALT: &[u8] = b"plantdb-auth/jwt-signing-key/v1";

#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; KEY_LEN]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot derive the signing key from JWT_SECRET_KEY: {0}")]
    Derive(String),
    #[error("JWT_SECRET_KEY must not be empty: unset it to let the server keep its own key")]
    Empty,
    #[error("the key file {path} is invalid ({reason}); delete it to generate a new key (all sessions end)")]
    BadFile { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SigningKey {
    pub fn random() -> Self {
        SigningKey(rand::random())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From `JWT_SECRET_KEY`: exactly 128 hex digits are the raw key (so
    /// another service can share it); any other string is stretched with
    /// Argon2id and a fixed salt, deterministically.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some(raw) = parse_hex_key(secret) {
            return Ok(SigningKey(raw));
        }
        let params =
            Params::new(19456, 2, 1, Some(KEY_LEN)).map_err(|e| KeyError::Derive(e.to_string()))?;
        let mut out = [0u8; KEY_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret.as_bytes(), DERIVATION_SALT, &mut out)
            .map_err(|e| KeyError::Derive(e.to_string()))?;
        Ok(SigningKey(out))
    }

    /// Reads the key kept at `path`, or generates one and stores it there
    /// readable by the owner only.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => parse_hex_key(text.trim())
                .map(SigningKey)
                .ok_or(KeyError::BadFile {
                    path: shown,
                    reason: "expected 128 hexadecimal digits".into(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::random();
                write_private(path, hex::encode(key.0).as_bytes()).map_err(|source| {
                    StoreError::Io {
                        path: shown,
                        source,
                    }
                })?;
                Ok(key)
            }
            Err(source) => Err(StoreError::Io {
                path: shown,
                source,
            }
            .into()),
        }
    }
}

/// A key retired by a rotation: it still verifies (never signs) tokens
/// until `retire_at` (Unix seconds), so that tokens issued before the
/// rotation live out their lifetime.
#[derive(Clone)]
pub struct RetiredKey {
    pub key: SigningKey,
    pub retire_at: i64,
}

impl std::fmt::Debug for RetiredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetiredKey")
            .field("retire_at", &self.retire_at)
            .finish_non_exhaustive()
    }
}

/// The retired key kept at `path` (`<128 hex digits> <retire_at>`), if any.
pub fn load_retired(path: &Path) -> Result<Option<RetiredKey>, KeyError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: shown,
                source,
            }
            .into())
        }
    };
    let mut parts = text.split_whitespace();
    let key = parts.next().and_then(parse_hex_key);
    let retire_at = parts.next().and_then(|t| t.parse::<i64>().ok());
    match (key, retire_at) {
        (Some(key), Some(retire_at)) => Ok(Some(RetiredKey {
            key: SigningKey(key),
            retire_at,
        })),
        _ => Err(KeyError::BadFile {
            path: shown,
            reason: "expected 128 hexadecimal digits and a Unix time".into(),
        }),
    }
}

/// Rotates the key file `key_path`: the current key is kept at
/// `retired_path` until `retire_at`, a new random key replaces it. Both
/// files are replaced atomically (a crash leaves the old or the new one)
/// and readable by the owner only. Returns the new key.
pub fn rotate_key_file(
    key_path: &Path,
    retired_path: &Path,
    retire_at: i64,
) -> Result<SigningKey, KeyError> {
    let current = SigningKey::load_or_create(key_path)?;
    let retired = format!("{} {retire_at}\n", hex::encode(current.0));
    replace_private(retired_path, retired.as_bytes())?;
    let next = SigningKey::random();
    replace_private(key_path, hex::encode(next.0).as_bytes())?;
    Ok(next)
}

/// Writes a temporary file (mode 0600) beside `path`, syncs it, renames it
/// over `path` and syncs the directory.
fn replace_private(path: &Path, content: &[u8]) -> Result<(), KeyError> {
    let io = |source: std::io::Error| -> KeyError {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
        .into()
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut file, content).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn parse_hex_key(text: &str) -> Option<[u8; KEY_LEN]> {
    if text.len() != KEY_LEN * 2 {
        return None;
    }
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_secret_is_the_raw_key() {
        let hex_key = "ab".repeat(64);
        assert_eq!(
            SigningKey::from_secret(&hex_key).unwrap().as_bytes(),
            &[0xab; 64]
        );
    }

    #[test]
    fn other_secrets_are_stretched_deterministically() {
        let a = SigningKey::from_secret("my secret").unwrap();
        assert_eq!(a, SigningKey::from_secret("my secret").unwrap());
        assert_ne!(a, SigningKey::from_secret("my secret!").unwrap());
        assert!(SigningKey::from_secret("").is_err());
    }

    #[test]
    fn key_file_is_created_once_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        let first = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first, SigningKey::load_or_create(&path).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(KeyError::BadFile { .. })
        ));
    }
}
