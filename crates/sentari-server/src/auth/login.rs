//! The login decision, in one function for every sign-in form: the JSON endpoint
//! (`POST /api/v1/auth/login`) calls [`login`], and so can a server-rendered login page.
//!
//! Order of checks: per-address rate limit → non-empty password → known, active user → account
//! lockout → password (Argon2id for local users, a bind for LDAP users) → second factor when MFA
//! is on → a fresh session. Unknown users and wrong passwords fail the same way and in the same
//! time. Wrong passwords and wrong second factors both count towards the lockout, so the six
//! digits of a TOTP code cannot be brute-forced. Every outcome is a `security.log` line; a
//! success is also an audit entry.

use std::net::IpAddr;
use std::time::Duration;

use sentari_core::auth::{Email, IdentityProvider};
use sentari_store::{NewSession, Store, StoreError, User};
use serde_json::json;
use time::OffsetDateTime;

use crate::auth::mfa::{self, MfaError, SecondFactor};
use crate::auth::password::{self, Verified};
use crate::auth::{AuthRuntime, audit, ldap, tokens};
use crate::logging::SECURITY;

/// The one message for every credential failure, so callers cannot probe for accounts.
pub const BAD_CREDENTIALS: &str = "invalid e-mail or password";

/// A sign-in attempt, whatever form it came from.
#[derive(Clone)]
pub struct LoginAttempt<'a> {
    /// The e-mail as typed.
    pub email: &'a str,
    /// The password as typed.
    pub password: &'a str,
    /// The TOTP code or a recovery code, when the form had one.
    pub totp_code: Option<&'a str>,
    /// The client address.
    pub ip: IpAddr,
    /// The client's `User-Agent`, stored with the session.
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for LoginAttempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("email", &self.email)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The new session token (for the cookie and the JSON answer).
    pub token: String,
    /// The user, as loaded at login.
    pub user: User,
    /// The session's absolute lifetime (the cookie's `Max-Age`).
    pub max_age: Duration,
    /// Whether the MFA policy requires this user to enroll before doing anything else.
    pub mfa_enrollment_required: bool,
}

/// Why a sign-in failed; each maps to one HTTP status in `http::api`.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many attempts from this address.
    #[error("too many login attempts from this address; try again later")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// Unknown user, inactive user, wrong password or empty password.
    #[error("invalid e-mail or password")]
    BadCredentials,
    /// The account is locked after repeated failures.
    #[error("this account is temporarily locked after repeated failed logins")]
    Locked {
        /// When the lock ends.
        retry_after: Duration,
    },
    /// Password right, MFA on, no code sent: the form must ask for the code.
    #[error(
        "this account has MFA enabled: send the 6-digit code from the authenticator app (or a recovery code) as totp_code"
    )]
    MfaRequired,
    /// The code is wrong or was already used.
    #[error("the authentication code is wrong, expired or already used")]
    InvalidTotp,
    /// The account signs in through single sign-on.
    #[error("this account signs in through single sign-on (OIDC), not with a password")]
    OidcOnly,
    /// An LDAP user, but LDAP is not configured.
    #[error("LDAP authentication is not configured on this server (SENTARI_LDAP_URL)")]
    LdapNotConfigured,
    /// The LDAP server could not be used.
    #[error("{0}")]
    LdapUnavailable(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else (hashing failed, a stored secret cannot be opened).
    #[error("{0}")]
    Internal(String),
}

fn security_event(event: &str, email: &str, ip: IpAddr, detail: &str) {
    // Debug formatting escapes control characters, so a crafted e-mail cannot forge log lines.
    tracing::warn!(target: SECURITY, event, email = ?email, ip = %ip, "{detail}");
}

/// Records a failed credential check and locks the account when the threshold is reached.
async fn count_failure(
    store: &Store,
    rt: &AuthRuntime,
    user: &User,
    ip: IpAddr,
    since: OffsetDateTime,
) -> Result<(), LoginError> {
    let n = store
        .record_login_failure(user.id, Some(&ip.to_string()), since)
        .await?;
    if n >= i64::from(rt.config.lockout_threshold) {
        security_event(
            "account_locked",
            &user.email,
            ip,
            "account locked after repeated failed logins",
        );
        let _ = audit::record(
            store,
            "system",
            Some(ip.to_string()),
            "user.locked",
            Some(user.email.clone()),
            None,
            Some(json!({"failures": n})),
        )
        .await;
    }
    Ok(())
}

/// Decides a sign-in with e-mail, password and optional second factor, and on success
/// creates the session.
pub async fn login(
    store: &Store,
    rt: &AuthRuntime,
    a: &LoginAttempt<'_>,
) -> Result<LoginSuccess, LoginError> {
    let ip = a.ip;
    if let Err(retry_after) = rt.login_limiter.check(ip) {
        security_event(
            "login_rate_limited",
            a.email,
            ip,
            "too many login attempts from this address",
        );
        return Err(LoginError::RateLimited { retry_after });
    }
    // An empty password is refused before anything else: an LDAP server would treat a bind
    // with an empty password as an anonymous bind and report success.
    if a.password.is_empty() {
        security_event("login_failed", a.email, ip, "login failed: empty password");
        return Err(LoginError::BadCredentials);
    }
    let user = match Email::parse(a.email) {
        Ok(e) => store.get_user_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(user) = user.filter(|u| u.active) else {
        // Same work as a real check, so timing does not reveal whether the account exists.
        let _ = password::verify(rt.hash_params, None, a.password.to_owned()).await;
        security_event(
            "login_failed",
            a.email,
            ip,
            "login failed: unknown or inactive user",
        );
        return Err(LoginError::BadCredentials);
    };
    if user.provider == IdentityProvider::Oidc {
        security_event(
            "login_failed",
            &user.email,
            ip,
            "login failed: password login for an OIDC account",
        );
        return Err(LoginError::OidcOnly);
    }
    let ldap_settings = match user.provider {
        IdentityProvider::Ldap => match &rt.ldap {
            Some(l) => Some(l),
            None => {
                security_event(
                    "login_failed",
                    &user.email,
                    ip,
                    "login failed: LDAP user but LDAP is not configured",
                );
                return Err(LoginError::LdapNotConfigured);
            }
        },
        _ => None,
    };
    let window = rt.lockout_window();
    let since = OffsetDateTime::now_utc() - window;
    let (failures, last) = store.login_failures_since(user.id, since).await?;
    if failures >= i64::from(rt.config.lockout_threshold) {
        let unlock_at = last.unwrap_or_else(OffsetDateTime::now_utc) + window;
        let retry = (unlock_at - OffsetDateTime::now_utc())
            .try_into()
            .unwrap_or(window);
        security_event(
            "login_locked",
            &user.email,
            ip,
            "login refused: account locked",
        );
        return Err(LoginError::Locked { retry_after: retry });
    }

    // First factor.
    if let Some(settings) = ldap_settings {
        match ldap::authenticate(settings, &user.email, a.password).await {
            Ok(ldap::Outcome::Authenticated { dn }) => {
                if user.external_id.as_deref() != Some(dn.as_str()) {
                    let _ = store.set_external_id(user.id, &dn).await;
                }
            }
            Ok(outcome) => {
                count_failure(store, rt, &user, ip, since).await?;
                security_event(
                    "login_failed",
                    &user.email,
                    ip,
                    match outcome {
                        ldap::Outcome::NotFound => "login failed: no matching LDAP entry",
                        ldap::Outcome::Ambiguous => {
                            "login failed: several LDAP entries match; refine SENTARI_LDAP_USER_FILTER"
                        }
                        ldap::Outcome::MailMismatch => {
                            "login failed: the LDAP entry's mail differs from the login"
                        }
                        _ => "login failed: LDAP bind refused (wrong password)",
                    },
                );
                return Err(LoginError::BadCredentials);
            }
            Err(e) => {
                security_event(
                    "ldap_unavailable",
                    &user.email,
                    ip,
                    &format!("login failed: {e}"),
                );
                return Err(LoginError::LdapUnavailable(e.to_string()));
            }
        }
    } else {
        let verified = password::verify(
            rt.hash_params,
            user.password_hash.clone(),
            a.password.to_owned(),
        )
        .await;
        if verified == Verified::No {
            count_failure(store, rt, &user, ip, since).await?;
            security_event(
                "login_failed",
                &user.email,
                ip,
                "login failed: wrong password",
            );
            return Err(LoginError::BadCredentials);
        }
        if verified == Verified::YesRehash
            && let Ok(h) = password::hash(rt.hash_params, a.password.to_owned()).await
        {
            let _ = store.set_password_hash(user.id, &h).await;
        }
    }

    // Second factor.
    if user.mfa_enabled {
        let Some(code) = a.totp_code.map(str::trim).filter(|c| !c.is_empty()) else {
            tracing::info!(target: SECURITY, event = "mfa_required", email = %user.email, ip = %ip, "password accepted; waiting for the MFA code");
            return Err(LoginError::MfaRequired);
        };
        match mfa::verify_second_factor(store, &rt.totp_box, &user, code).await {
            Ok(SecondFactor::Totp) => {}
            Ok(SecondFactor::RecoveryCode) => {
                security_event(
                    "mfa_recovery_code_used",
                    &user.email,
                    ip,
                    "a recovery code was used to sign in",
                );
                audit::record(
                    store,
                    &user.email,
                    Some(ip.to_string()),
                    "mfa.recovery_code_used",
                    Some(user.email.clone()),
                    None,
                    None,
                )
                .await?;
            }
            Err(MfaError::InvalidCode) => {
                count_failure(store, rt, &user, ip, since).await?;
                security_event(
                    "mfa_failed",
                    &user.email,
                    ip,
                    "login failed: wrong, expired or reused MFA code",
                );
                return Err(LoginError::InvalidTotp);
            }
            Err(MfaError::Store(e)) => return Err(LoginError::Store(e)),
            Err(e) => {
                security_event("mfa_failed", &user.email, ip, &format!("login failed: {e}"));
                return Err(LoginError::InvalidTotp);
            }
        }
    }

    let (token, max_age) = start_session(store, rt, &user, ip, a.user_agent.clone()).await?;
    tracing::info!(target: SECURITY, event = "login", email = %user.email, ip = %ip, provider = %user.provider, "login succeeded");
    audit::record(
        store,
        &user.email,
        Some(ip.to_string()),
        "auth.login",
        Some(user.email.clone()),
        None,
        Some(json!({"provider": user.provider})),
    )
    .await?;
    let policy = rt.mfa_policy.get(store).await?;
    Ok(LoginSuccess {
        token,
        mfa_enrollment_required: policy.must_enroll(&user),
        user,
        max_age,
    })
}

/// Creates a session for a user who has just proven who they are (any method) and stamps the
/// login. A fresh token every time: a session id planted before login is never promoted.
pub async fn start_session(
    store: &Store,
    rt: &AuthRuntime,
    user: &User,
    ip: IpAddr,
    user_agent: Option<String>,
) -> Result<(String, Duration), StoreError> {
    let token = tokens::new_session_token();
    let absolute = rt.session_absolute();
    store
        .create_session(&NewSession {
            token_hash: tokens::session_hash(&rt.session_key, &token),
            user_id: user.id,
            expires_at: OffsetDateTime::now_utc() + absolute,
            ip: Some(ip.to_string()),
            user_agent: user_agent.map(|s| s.chars().take(256).collect()),
        })
        .await?;
    store.record_login(user.id).await?;
    Ok((token, absolute))
}
