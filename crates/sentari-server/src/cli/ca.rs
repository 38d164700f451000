//! `sentari ca show` and `sentari ca reencrypt` (ARCHITECTURE.md §8, seed section 5).
//!
//! `reencrypt` is how an operator rotates the passphrase of the CA key — and therefore how
//! `SENTARI_SECRET_KEY` is rotated when it doubles as that passphrase — without touching the CA
//! itself: the key is decrypted with the old passphrase, encrypted under the new one, written
//! beside the old file and renamed over it, after a backup copy has been kept.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::pki::{self, CaCert, CaPaths, keyfile};

/// `sentari ca …`.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Subject, validity and SHA-256 fingerprint of the internal CA.
    Show,
    /// Re-encrypt the CA key under a new passphrase (keeps a backup of the old file).
    Reencrypt(ReencryptArgs),
}

/// Where the old and new passphrases come from: names of environment variables, so neither
/// appears in the process list or the shell history.
#[derive(Debug, Args)]
pub struct ReencryptArgs {
    /// Variable holding the current passphrase (e.g. SENTARI_SECRET_KEY).
    #[arg(long, value_name = "VAR")]
    pub from_env: String,
    /// Variable holding the new passphrase (e.g. SENTARI_CA_PASSPHRASE_KEY).
    #[arg(long, value_name = "VAR")]
    pub to_env: String,
}

fn ca_paths(config: &Config) -> CaPaths {
    CaPaths {
        dir: config.ca_dir(&config.paths()),
    }
}

/// Runs a `ca` subcommand.
pub fn run(config: &Config, cmd: CaCommand) -> ExitCode {
    match cmd {
        CaCommand::Show => show(config),
        CaCommand::Reencrypt(a) => reencrypt(config, &a),
    }
}

fn show(config: &Config) -> ExitCode {
    let paths = ca_paths(config);
    let pem = match std::fs::read_to_string(paths.cert()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", paths.cert().display());
            return ExitCode::from(1);
        }
    };
    let summary = match CaCert::from_pem(&pem).and_then(|c| c.describe()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", paths.cert().display());
            return ExitCode::from(1);
        }
    };
    println!("certificate: {}", paths.cert().display());
    println!("subject:     {}", summary.subject);
    println!("not before:  {}", summary.not_before);
    println!("not after:   {}", summary.not_after);
    println!("serial:      {}", summary.serial);
    println!("sha256:      {}", pki::colon_hex(&summary.fingerprint));
    println!("fingerprint: {}", summary.fingerprint);
    ExitCode::SUCCESS
}

fn env_value(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("environment variable {name} is not set or empty")),
    }
}

fn reencrypt(config: &Config, args: &ReencryptArgs) -> ExitCode {
    let paths = ca_paths(config);
    let result = (|| -> Result<String, String> {
        let old = env_value(&args.from_env)?;
        let new = env_value(&args.to_env)?;
        let key_path = paths.key();
        let pem = std::fs::read_to_string(&key_path)
            .map_err(|e| format!("cannot read {}: {e}", key_path.display()))?;
        let der = keyfile::decrypt_der(&pem, &old).map_err(|e| {
            format!(
                "cannot decrypt {} with ${}: {e}",
                key_path.display(),
                args.from_env
            )
        })?;
        let new_pem = keyfile::encrypt_der(&der, &new)?;
        // Prove the new file decrypts before anything on disk changes.
        keyfile::decrypt(&new_pem, &new)?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let backup = paths.dir.join(format!("ca.key.bak-{stamp}"));
        crate::secrets::write_private(&backup, pem.as_bytes())
            .map_err(|e| format!("cannot write the backup {}: {e}", backup.display()))?;
        crate::secrets::write_private(&key_path, new_pem.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
        Ok(backup.display().to_string())
    })();
    match result {
        Ok(backup) => {
            println!(
                "CA key re-encrypted under ${}; the previous file is kept as {backup}",
                args.to_env
            );
            println!(
                "Restart the server with the new passphrase (SENTARI_CA_PASSPHRASE_KEY, or SENTARI_SECRET_KEY when no dedicated passphrase is set)."
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
