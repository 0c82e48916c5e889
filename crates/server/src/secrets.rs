//! Secrets from the environment: `NAME`, or the contents of the file that
//! `NAME_FILE` names (Docker and systemd credentials), never printed.

use anyhow::Context;

/// `JWT_SECRET_KEY`: the token signing secret.
pub const JWT_SECRET_KEY: &str = "JWT_SECRET_KEY";
/// `PLANTDB_ADMIN_PASSWORD`: the first admin's password.
pub const ADMIN_PASSWORD: &str = "PLANTDB_ADMIN_PASSWORD";
/// `PLANTDB_STORE`: the PostgreSQL URL, which holds a password.
pub const STORE: &str = "PLANTDB_STORE";

/// The secret `name`: its variable if set and not empty, else the file
/// named by `<name>_FILE` (one trailing newline removed). A `_FILE` that
/// cannot be read is an error naming the setting.
pub fn from_env(name: &str) -> anyhow::Result<Option<String>> {
    if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(value));
    }
    let file_var = format!("{name}_FILE");
    let Some(path) = std::env::var_os(&file_var).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{file_var} names {}, which cannot be read: fix the path or its permissions, or set {name} instead",
            std::path::Path::new(&path).display()
        )
    })?;
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_string();
    anyhow::ensure!(!value.is_empty(), "{file_var}: the file is empty");
    Ok(Some(value))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_comes_from_its_file_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        // A name no other test uses: the environment is shared.
        std::env::set_var("PLANTDB_TEST_SECRET_A_FILE", &path);
        assert_eq!(
            from_env("PLANTDB_TEST_SECRET_A").unwrap().as_deref(),
            Some("s3cret")
        );
        std::env::set_var("PLANTDB_TEST_SECRET_B_FILE", dir.path().join("missing"));
        let err = from_env("PLANTDB_TEST_SECRET_B").unwrap_err().to_string();
        assert!(err.contains("PLANTDB_TEST_SECRET_B_FILE"), "{err}");
        assert_eq!(from_env("PLANTDB_TEST_SECRET_C").unwrap(), None);
    }
}
