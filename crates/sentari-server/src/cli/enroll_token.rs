//! `sentari enroll-token create|list|revoke`: enrollment tokens for agents.
//!
//! A token is shown once, when it is created; only its SHA-256 hash is stored, so neither the
//! database nor `list` can reveal it again.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use rand::RngExt;
use sentari_store::NewEnrollmentToken;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::Config;

/// `sentari enroll-token …`.
#[derive(Debug, Subcommand)]
pub enum EnrollTokenCommand {
    /// Create a token and print it once.
    Create(CreateArgs),
    /// List tokens (without the tokens themselves).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token's id, from `list`.
        id: uuid::Uuid,
    },
}

/// Options of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Lifetime: a number with `s`, `m`, `h` or `d` (`7d`); default: no expiry.
    #[arg(long, value_parser = parse_ttl)]
    pub ttl: Option<time::Duration>,
    /// How many enrollments the token allows; default: unlimited.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub max_uses: Option<i32>,
    /// A `key:value` tag every device enrolled with the token receives (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<String>,
}

/// Parses `30s`, `15m`, `12h`, `7d`.
pub fn parse_ttl(s: &str) -> Result<time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}; use e.g. 7d, 12h, 30m"))?;
    if n <= 0 || n > 3650 * 86400 {
        return Err("the duration must be positive and at most ten years".into());
    }
    match unit {
        "s" => Ok(time::Duration::seconds(n)),
        "m" => Ok(time::Duration::minutes(n)),
        "h" | "" => Ok(time::Duration::hours(n)),
        "d" => Ok(time::Duration::days(n)),
        _ => Err(format!("invalid duration unit in {s:?}; use s, m, h or d")),
    }
}

/// Parses a `key:value` tag (also used by the dashboard's token form).
pub fn parse_tag(s: &str) -> Result<String, String> {
    let (k, v) = s.split_once(':').ok_or("a tag is key:value")?;
    let ok = |x: &str| {
        !x.is_empty()
            && x.len() <= 64
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if ok(k) && ok(v) {
        Ok(s.to_owned())
    } else {
        Err("tag keys and values are 1-64 characters of letters, digits, '-', '_' or '.'".into())
    }
}

/// A new enrollment token: `sen_` and 48 hex digits (192 random bits). The CLI and the
/// dashboard both make tokens with it.
pub fn new_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("sen_{}", hex::encode(bytes))
}

/// Hex SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Runs an `enroll-token` subcommand.
pub async fn run(config: &Config, cmd: EnrollTokenCommand) -> ExitCode {
    let Some(store) = super::connect(config).await else {
        return ExitCode::from(1);
    };
    if let Err(e) = store.migrate().await {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let code = match cmd {
        EnrollTokenCommand::Create(a) => {
            let token = new_token();
            let new = NewEnrollmentToken {
                token_hash: hash_token(&token),
                tags: a.tags,
                max_uses: a.max_uses,
                expires_at: a.ttl.map(|t| OffsetDateTime::now_utc() + t),
            };
            match store.create_enrollment_token(&new).await {
                Ok(id) => {
                    println!("{token}");
                    eprintln!("token id {id}; it is shown only once — store it now");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        EnrollTokenCommand::List => match store.list_enrollment_tokens().await {
            Ok(list) => {
                println!(
                    "{:<36}  {:>9}  {:<25}  {:<8}  TAGS",
                    "ID", "USES", "EXPIRES", "STATE"
                );
                let now = OffsetDateTime::now_utc();
                for t in list {
                    let uses = match t.max_uses {
                        Some(m) => format!("{}/{m}", t.uses),
                        None => t.uses.to_string(),
                    };
                    let expires = t
                        .expires_at
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "never".into());
                    let state = match t.state(now) {
                        sentari_store::TokenState::Usable => "active",
                        sentari_store::TokenState::Revoked => "revoked",
                        sentari_store::TokenState::Expired => "expired",
                        sentari_store::TokenState::UsedUp => "used-up",
                    };
                    println!(
                        "{:<36}  {:>9}  {:<25}  {:<8}  {}",
                        t.id,
                        uses,
                        expires,
                        state,
                        t.tags.join(",")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
        EnrollTokenCommand::Revoke { id } => match store.revoke_enrollment_token(id).await {
            Ok(true) => {
                tracing::info!(target: crate::logging::AUDIT, action = "enroll_token_revoke", token_id = %id, "enrollment token revoked");
                println!("revoked {id}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: no active token with id {id}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    };
    store.close().await;
    code
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ttl_and_tags_parse() {
        assert_eq!(parse_ttl("7d").unwrap(), time::Duration::days(7));
        assert_eq!(parse_ttl("30m").unwrap(), time::Duration::minutes(30));
        assert!(parse_ttl("-1d").is_err());
        assert!(parse_ttl("3w").is_err());
        assert!(parse_tag("site:paris").is_ok());
        assert!(parse_tag("nocolon").is_err());
    }
}
