//! The master secret (`SENTARI_SECRET_KEY`): checked in production, generated elsewhere.
//!
//! In development the server creates a random key once and keeps it in `<data>/secret_key`
//! (mode 0600), so a newcomer needs no configuration and restarts keep sessions and encrypted
//! settings valid. In production a generated key would silently differ between replicas, so the
//! server refuses to start unless the operator sets a strong one.

use std::io::Write;
use std::path::Path;

use rand::RngExt;

use crate::config::{Config, RunEnv};

/// Minimum length of an operator-supplied key.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the secret key is not acceptable or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Production without a key.
    #[error("FATAL: SENTARI_SECRET_KEY is not set")]
    NotSet,
    /// Production with a short, placeholder or low-entropy key.
    #[error("FATAL: SENTARI_SECRET_KEY is set to an insecure value ({0})")]
    Insecure(&'static str),
    /// The generated key file could not be read or written.
    #[error("secret key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The resolved master secret.
#[derive(Clone)]
pub struct SecretKey(String);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// The key material.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Rejects keys an attacker could guess: short ones, documentation placeholders, and strings
/// with almost no distinct characters.
pub fn check_strength(key: &str) -> Result<(), SecretError> {
    if key.len() < MIN_SECRET_BYTES {
        return Err(SecretError::Insecure("shorter than 32 bytes"));
    }
    let lower = key.to_ascii_lowercase();
    for placeholder in [
        "changeme",
        "change-me",
        "change_me",
        "example",
        "insecure",
        "placeholder",
        "your-secret",
        "secretkey",
    ] {
        if lower.contains(placeholder) {
            return Err(SecretError::Insecure("contains a placeholder word"));
        }
    }
    let mut distinct: Vec<char> = key.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Err(SecretError::Insecure("too few distinct characters"));
    }
    Ok(())
}

/// The production gate: runs before anything is created on disk.
pub fn check_production(config: &Config) -> Result<(), SecretError> {
    if config.env != RunEnv::Production {
        return Ok(());
    }
    match config.secret_key.as_deref() {
        None => Err(SecretError::NotSet),
        Some(k) => check_strength(k),
    }
}

/// Returns the configured key, or the one stored in `<data>/secret_key`, creating it if needed.
pub fn resolve(config: &Config, data_dir: &Path) -> Result<SecretKey, SecretError> {
    if let Some(k) = &config.secret_key {
        return Ok(SecretKey(k.clone()));
    }
    let path = data_dir.join("secret_key");
    let err = |source| SecretError::File {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(SecretKey(s.trim().to_owned())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let bytes: [u8; 32] = rand::rng().random();
    let key = hex::encode(bytes);
    write_private(&path, key.as_bytes()).map_err(err)?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(SecretKey(key))
}

/// Writes a file readable only by its owner, atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_rules() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"a".repeat(64)).is_err());
        assert!(check_strength("changeme-changeme-changeme-changeme-1234").is_err());
        assert!(check_strength("3f9c1e7a0b5d4c2e8f6a9b1c3d5e7f90a2b4c6d8").is_ok());
    }

    #[test]
    fn generated_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default();
        let a = resolve(&cfg, dir.path()).unwrap();
        let b = resolve(&cfg, dir.path()).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret_key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
