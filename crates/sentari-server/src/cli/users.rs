//! `sentari users list|create|set-role|deactivate|reactivate|reset-password|reset-mfa|unlock`.
//!
//! Passwords are read from stdin (one line) or, on a terminal, after a prompt — never from a
//! flag, where they would land in shell history and `ps`. Every change is audited with the actor
//! `cli:<login name>`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Subcommand;
use sentari_core::auth::{Email, IdentityProvider, Role, check_password_policy};
use sentari_store::{NewUser, Store, User};
use serde_json::json;

use crate::auth::{audit, password};
use crate::config::Config;

/// The `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List every user.
    List,
    /// Create a user; a local user's password is read from stdin.
    Create {
        /// The e-mail address (case-insensitive).
        email: String,
        /// viewer, analyst or admin (ownership is transferred, never created here).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// local, ldap or oidc.
        #[arg(long, default_value = "local")]
        provider: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Change a user's role (the owner cannot be demoted).
    SetRole {
        /// The e-mail address.
        email: String,
        /// viewer, analyst or admin.
        role: String,
    },
    /// Deactivate a user and end their sessions.
    Deactivate {
        /// The e-mail address.
        email: String,
    },
    /// Reactivate a user.
    Reactivate {
        /// The e-mail address.
        email: String,
    },
    /// Set a local user's password (read from stdin) and end their sessions.
    ResetPassword {
        /// The e-mail address.
        email: String,
    },
    /// Turn off a user's MFA so they can enroll again.
    ResetMfa {
        /// The e-mail address.
        email: String,
    },
    /// Forget a user's failed logins (ends a lockout).
    Unlock {
        /// The e-mail address.
        email: String,
    },
}

fn actor() -> String {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

/// Reads one line from stdin, prompting on a terminal.
fn read_password() -> Option<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is visible; pipe it on stdin to avoid that): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).ok()?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    (!pw.is_empty()).then_some(pw)
}

async fn find(store: &Store, email: &str) -> Result<User, String> {
    let e = Email::parse(email).map_err(|e| e.to_string())?;
    store
        .get_user_by_email(&e)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user with e-mail {e}"))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(1)
}

/// Runs one `users` subcommand.
pub async fn run(config: &Config, cmd: UsersCommand) -> ExitCode {
    let Some(store) = super::connect(config).await else {
        return ExitCode::from(1);
    };
    if let Err(e) = store.migrate().await {
        return fail(e);
    }
    let params = password::HashParams::new(config.auth.argon2_memory_kib);
    let code = match exec(&store, cmd, params).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    };
    store.close().await;
    code
}

async fn exec(
    store: &Store,
    cmd: UsersCommand,
    params: password::HashParams,
) -> Result<(), String> {
    let a = actor();
    let rec = |action: &'static str,
               target: String,
               before: Option<serde_json::Value>,
               after: Option<serde_json::Value>| {
        let a = a.clone();
        async move {
            audit::record(store, &a, None, action, Some(target), before, after)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    match cmd {
        UsersCommand::List => {
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            println!(
                "{:<36} {:<8} {:<6} {:<6} {:<4} LAST LOGIN",
                "EMAIL", "ROLE", "IDP", "ACTIVE", "MFA"
            );
            for u in users {
                let last = u
                    .last_login_at
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<36} {:<8} {:<6} {:<6} {:<4} {last}",
                    u.email,
                    u.role.as_str(),
                    u.provider.as_str(),
                    if u.active { "yes" } else { "no" },
                    if u.mfa_enabled { "on" } else { "off" },
                );
            }
            Ok(())
        }
        UsersCommand::Create {
            email,
            role,
            provider,
            name,
        } => {
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let role: Role = role
                .parse()
                .map_err(|e: sentari_core::auth::UnknownRole| e.to_string())?;
            if role == Role::Owner {
                return Err(
                    "there is exactly one owner; ownership is transferred, not created".into(),
                );
            }
            let provider: IdentityProvider = provider
                .parse()
                .map_err(|e: sentari_core::auth::UnknownProvider| e.to_string())?;
            let password_hash = if provider == IdentityProvider::Local {
                let pw = read_password().ok_or("a local user needs a password on stdin")?;
                check_password_policy(&pw).map_err(|e| e.to_string())?;
                Some(
                    password::hash(params, pw)
                        .await
                        .map_err(|e| e.to_string())?,
                )
            } else {
                None
            };
            let u = store
                .create_user(&NewUser {
                    email,
                    display_name: name,
                    role,
                    provider,
                    password_hash,
                    external_id: None,
                })
                .await
                .map_err(|e| e.to_string())?;
            rec(
                "user.create",
                u.email.clone(),
                None,
                Some(json!({"role": u.role, "identity_provider": u.provider})),
            )
            .await?;
            println!("created {} ({}, {})", u.email, u.role, u.provider);
            Ok(())
        }
        UsersCommand::SetRole { email, role } => {
            let u = find(store, &email).await?;
            let role: Role = role
                .parse()
                .map_err(|e: sentari_core::auth::UnknownRole| e.to_string())?;
            let after = store
                .set_user_role(u.id, role)
                .await
                .map_err(|e| e.to_string())?;
            let _ = store.delete_user_sessions(u.id).await;
            rec(
                "user.set_role",
                u.email.clone(),
                Some(json!({"role": u.role})),
                Some(json!({"role": after.role})),
            )
            .await?;
            println!("{}: {} -> {}", u.email, u.role, after.role);
            Ok(())
        }
        UsersCommand::Deactivate { email } => {
            let u = find(store, &email).await?;
            store
                .set_user_active(u.id, false)
                .await
                .map_err(|e| e.to_string())?;
            let _ = store.delete_user_sessions(u.id).await;
            rec(
                "user.deactivate",
                u.email.clone(),
                Some(json!({"active": u.active})),
                Some(json!({"active": false})),
            )
            .await?;
            println!("deactivated {}", u.email);
            Ok(())
        }
        UsersCommand::Reactivate { email } => {
            let u = find(store, &email).await?;
            store
                .set_user_active(u.id, true)
                .await
                .map_err(|e| e.to_string())?;
            rec(
                "user.reactivate",
                u.email.clone(),
                Some(json!({"active": u.active})),
                Some(json!({"active": true})),
            )
            .await?;
            println!("reactivated {}", u.email);
            Ok(())
        }
        UsersCommand::ResetPassword { email } => {
            let u = find(store, &email).await?;
            if u.provider != IdentityProvider::Local {
                return Err(format!(
                    "{} signs in through {}; only local users have a password here",
                    u.email, u.provider
                ));
            }
            let pw = read_password().ok_or("the new password is read from stdin")?;
            check_password_policy(&pw).map_err(|e| e.to_string())?;
            let h = password::hash(params, pw)
                .await
                .map_err(|e| e.to_string())?;
            store
                .set_password_hash(u.id, &h)
                .await
                .map_err(|e| e.to_string())?;
            let _ = store.delete_user_sessions(u.id).await;
            let _ = store.clear_login_failures(u.id).await;
            rec("user.reset_password", u.email.clone(), None, None).await?;
            println!("password reset for {}; their sessions were ended", u.email);
            Ok(())
        }
        UsersCommand::ResetMfa { email } => {
            let u = find(store, &email).await?;
            store.clear_mfa(u.id).await.map_err(|e| e.to_string())?;
            rec(
                "user.reset_mfa",
                u.email.clone(),
                Some(json!({"mfa_enabled": u.mfa_enabled})),
                Some(json!({"mfa_enabled": false})),
            )
            .await?;
            println!("MFA reset for {}", u.email);
            Ok(())
        }
        UsersCommand::Unlock { email } => {
            let u = find(store, &email).await?;
            let n = store
                .clear_login_failures(u.id)
                .await
                .map_err(|e| e.to_string())?;
            rec(
                "user.unlock",
                u.email.clone(),
                None,
                Some(json!({"failures_cleared": n})),
            )
            .await?;
            println!("unlocked {} ({n} failed logins forgotten)", u.email);
            Ok(())
        }
    }
}
