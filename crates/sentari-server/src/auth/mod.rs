//! Authentication and authorization of operators (ARCHITECTURE.md §8).
//!
//! `password` hashes with Argon2id, `tokens` makes and hashes session tokens and API keys,
//! `middleware` resolves the caller of every `/api/v1` request (bearer token, API key or session
//! cookie, with the CSRF check for cookie writes), `rbac` holds the per-route minimum roles,
//! `ratelimit` the per-address login limiter, `audit` the one way to write an audit entry, and
//! `bootstrap` the creation of the first owner. `login` is the sign-in decision shared by every
//! login form; `mfa` holds TOTP, recovery codes and the MFA policy, sealed at rest by
//! `secretbox`; `ldap` checks passwords against a directory and `oidc` runs single sign-on.

pub mod audit;
pub mod bootstrap;
pub mod config;
pub mod ldap;
pub mod login;
pub mod mfa;
pub mod middleware;
pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod rbac;
pub mod secretbox;
pub mod tokens;

use std::net::IpAddr;
use std::time::Duration;

use sentari_core::auth::Role;
use sentari_store::User;
use uuid::Uuid;

pub use config::AuthConfig;
pub use rbac::Access;

use crate::config::ConfigError;
use crate::secrets::SecretKey;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A session token, from the cookie or an `Authorization: Bearer` header.
    Session {
        /// The session's id.
        id: Uuid,
        /// Whether it came from the cookie (and so needs the CSRF check on writes).
        cookie: bool,
    },
    /// An API key (`Authorization: Bearer sk_…`).
    ApiKey {
        /// The key's id.
        id: Uuid,
    },
}

/// The authenticated caller of a request; handlers take it with the [`Principal`] extractor.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user, as loaded for this request.
    pub user: User,
    /// The role this request acts with: the user's role, capped by the API key's role.
    pub role: Role,
    /// How the caller authenticated.
    pub method: AuthMethod,
    /// The client address.
    pub ip: Option<IpAddr>,
}

impl Principal {
    /// The actor name written to the audit log.
    pub fn actor(&self) -> String {
        self.user.email.clone()
    }
}

/// Everything the authentication code needs at run time, built once at start.
pub struct AuthRuntime {
    /// The settings.
    pub config: AuthConfig,
    /// The key session-token hashes are computed with; derived from `SENTARI_SECRET_KEY`.
    pub session_key: [u8; 32],
    /// Argon2id parameters for new hashes.
    pub hash_params: password::HashParams,
    /// Login attempts per client address.
    pub login_limiter: ratelimit::RateLimiter,
    /// Whether the web listener serves plain HTTP (then `Secure` is dropped for loopback hosts).
    pub plain_http: bool,
    /// Seals TOTP secrets at rest.
    pub totp_box: secretbox::SecretBox,
    /// The MFA policy, cached.
    pub mfa_policy: mfa::PolicyCache,
    /// LDAP settings, when `SENTARI_LDAP_URL` is set.
    pub ldap: Option<ldap::LdapSettings>,
    /// Single sign-on, when `SENTARI_OIDC_ISSUER_URL` is set.
    pub oidc: Option<oidc::Oidc>,
}

impl std::fmt::Debug for AuthRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRuntime")
            .field("config", &self.config)
            .field("plain_http", &self.plain_http)
            .field("ldap", &self.ldap)
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

impl AuthRuntime {
    /// Builds the runtime from the configuration and the master secret. Fails (and so stops
    /// the start) when the LDAP CA file is unusable or the OIDC client cannot be built.
    pub fn new(
        config: &AuthConfig,
        secret: &SecretKey,
        plain_http: bool,
    ) -> Result<Self, ConfigError> {
        let problem = |key: &str, e: &dyn std::fmt::Display| ConfigError {
            key: key.to_owned(),
            problem: e.to_string(),
        };
        let totp_box = secretbox::SecretBox::new(secret.expose(), mfa::SEAL_PURPOSE)
            .map_err(|e| problem("SENTARI_SECRET_KEY", &e))?;
        let ldap = ldap::LdapSettings::from_config(config)
            .map_err(|e| problem("SENTARI_LDAP_CA_FILE", &e))?;
        let oidc = match oidc::OidcSettings::from_config(config) {
            Some(s) => Some(
                oidc::Oidc::new(s, secret.expose())
                    .map_err(|e| problem("SENTARI_OIDC_ISSUER_URL", &e))?,
            ),
            None => None,
        };
        Ok(AuthRuntime {
            totp_box,
            mfa_policy: mfa::PolicyCache::default(),
            ldap,
            oidc,
            session_key: tokens::derive_session_key(secret.expose()),
            hash_params: password::HashParams::new(config.argon2_memory_kib),
            login_limiter: ratelimit::RateLimiter::new(
                config.login_rate_per_minute.max(1),
                Duration::from_secs(60),
            ),
            plain_http,
            config: config.clone(),
        })
    }

    /// The idle timeout of sessions.
    pub fn session_idle(&self) -> Duration {
        if let Some(s) = self.config.session_idle_seconds {
            return Duration::from_secs(s.max(1));
        }
        Duration::from_secs(self.config.session_idle_minutes.max(1) * 60)
    }

    /// The absolute lifetime of sessions.
    pub fn session_absolute(&self) -> Duration {
        Duration::from_secs(self.config.session_absolute_hours.max(1) * 3600)
    }

    /// The lockout window.
    pub fn lockout_window(&self) -> Duration {
        Duration::from_secs(self.config.lockout_window_minutes.max(1) * 60)
    }
}
