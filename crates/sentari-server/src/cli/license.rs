//! `sentari license`: check a license key the way the server will, and the vendor's tools to
//! make a signing key and issue license keys with it (`crate::license`).
//!
//! `verify` is for operators: it reads `SENTARI_LICENSE_KEY` from the usual configuration (or
//! `--key`) and says whether the server would run licensed, warn, or turn read-only, exiting
//! non-zero in the last case so deployment checks can use it. `keygen` and `issue` are for
//! whoever sells licenses; they need no configuration or database.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::license::{self, License, LicenseClaims, TrustedKeys};

/// `sentari license …`.
#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Check a license key against this build's trusted vendor keys and the clock.
    Verify(VerifyArgs),
    /// Create a vendor signing key (Ed25519, PKCS#8 PEM) and print its public key.
    Keygen(KeygenArgs),
    /// Sign a license key with a vendor signing key and print it.
    Issue(IssueArgs),
}

/// Arguments of `sentari license verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The key to check; default: the configured `SENTARI_LICENSE_KEY`.
    #[arg(long)]
    pub key: Option<String>,
    /// Trust this public key (base64) instead of the build's, to check a key before a release
    /// that embeds it.
    #[arg(long)]
    pub public_key: Option<String>,
}

/// Arguments of `sentari license keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created with mode 0600; never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `sentari license issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The vendor signing key (PKCS#8 PEM, from `keygen` or `openssl genpkey -algorithm ED25519`).
    #[arg(long)]
    pub signing_key: PathBuf,
    /// Who the license is for.
    #[arg(long)]
    pub licensee: String,
    /// When it stops being valid: `YYYY-MM-DD` (00:00 UTC that day) or an RFC 3339 time.
    #[arg(long)]
    pub expires: String,
    /// When it was issued (same forms); default: now.
    #[arg(long)]
    pub issued: Option<String>,
    /// The license's identifier; default: `LIC-` and eight random hex digits.
    #[arg(long)]
    pub id: Option<String>,
}

/// Runs a `license` subcommand.
pub fn run(command: LicenseCommand) -> ExitCode {
    let result = match command {
        LicenseCommand::Verify(a) => return verify(a),
        LicenseCommand::Keygen(a) => keygen(a),
        LicenseCommand::Issue(a) => issue(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn verify(a: VerifyArgs) -> ExitCode {
    let key = match a.key {
        Some(k) => Some(k),
        None => match super::load_config() {
            Some(c) => c.license_key,
            None => return ExitCode::from(2),
        },
    };
    let trusted = match &a.public_key {
        Some(pk) => match TrustedKeys::parse(pk) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            if let Err(e) = TrustedKeys::check_built_in() {
                eprintln!(
                    "warning: this build's SENTARI_LICENSE_VENDOR_PUBLIC_KEY is malformed: {e}"
                );
            }
            TrustedKeys::built_in()
        }
    };
    let l = License::from_key(key.as_deref(), &trusted);
    let now = OffsetDateTime::now_utc();
    println!("{}", l.describe(now));
    if let Some(w) = l.warning(now) {
        println!("{w}");
    }
    if l.read_only(now).is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn keygen(a: KeygenArgs) -> Result<(), String> {
    let (pem, public) = license::generate_signing_key().map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "signing key written to {} (keep it secret and offline)",
        a.out.display()
    );
    println!("public key (build releases with SENTARI_LICENSE_VENDOR_PUBLIC_KEY set to it):");
    println!("{public}");
    Ok(())
}

fn issue(a: IssueArgs) -> Result<(), String> {
    let pem = std::fs::read_to_string(&a.signing_key)
        .map_err(|e| format!("cannot read {}: {e}", a.signing_key.display()))?;
    let issued_at = match &a.issued {
        Some(t) => instant("--issued", t)?,
        None => OffsetDateTime::now_utc(),
    };
    let id = a.id.unwrap_or_else(|| {
        let u = uuid::Uuid::new_v4().simple().to_string();
        format!("LIC-{}", u[..8].to_ascii_uppercase())
    });
    let claims = LicenseClaims {
        id,
        licensee: a.licensee,
        issued_at,
        expires_at: instant("--expires", &a.expires)?,
    };
    let key = license::issue(&claims, &pem).map_err(|e| e.to_string())?;
    println!("{key}");
    Ok(())
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn instant(flag: &str, text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("{flag}: expected YYYY-MM-DD or an RFC 3339 time, got {text:?}"))
}
