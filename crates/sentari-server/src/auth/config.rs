//! Authentication settings, flattened into the server configuration so that each has its own
//! `SENTARI_*` variable (ARCHITECTURE.md §13).

use serde::Deserialize;

use crate::config::{lenient, lenient_opt};

/// Everything about logins, sessions and the bootstrap owner.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// `SENTARI_BOOTSTRAP_ADMIN_EMAIL`: the owner created when no user exists.
    pub bootstrap_admin_email: Option<String>,
    /// `SENTARI_BOOTSTRAP_ADMIN_PASSWORD`: must meet the password policy.
    pub bootstrap_admin_password: Option<String>,
    /// `SENTARI_SESSION_IDLE_MINUTES`: a session unused this long expires (default 30).
    #[serde(deserialize_with = "lenient")]
    pub session_idle_minutes: u64,
    /// `SENTARI_SESSION_IDLE_SECONDS`: overrides the idle timeout in seconds (for tests and
    /// kiosks that need a shorter one than a minute).
    #[serde(deserialize_with = "lenient_opt")]
    pub session_idle_seconds: Option<u64>,
    /// `SENTARI_SESSION_ABSOLUTE_HOURS`: a session expires this long after login (default 12).
    #[serde(deserialize_with = "lenient")]
    pub session_absolute_hours: u64,
    /// `SENTARI_LOCKOUT_THRESHOLD`: failed logins that lock an account (default 5).
    #[serde(deserialize_with = "lenient")]
    pub lockout_threshold: u32,
    /// `SENTARI_LOCKOUT_WINDOW_MINUTES`: the window failures are counted in and the lockout
    /// lasts (default 15).
    #[serde(deserialize_with = "lenient")]
    pub lockout_window_minutes: u64,
    /// `SENTARI_LOGIN_RATE_PER_MINUTE`: login attempts one client address may make per minute
    /// (default 20).
    #[serde(deserialize_with = "lenient")]
    pub login_rate_per_minute: u32,
    /// `SENTARI_LDAP_URL`: enables LDAP / Active Directory logins when set.
    pub ldap_url: Option<String>,
    /// `SENTARI_OIDC_ISSUER_URL`: enables OpenID Connect single sign-on when set.
    pub oidc_issuer_url: Option<String>,
    /// `SENTARI_ARGON2_MEMORY_KIB`: Argon2id memory cost (default 19456, OWASP's minimum).
    #[serde(deserialize_with = "lenient_opt")]
    pub argon2_memory_kib: Option<u32>,
}

impl std::fmt::Debug for AuthConfig {
    // The bootstrap password must never appear in a debug dump of the configuration.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("bootstrap_admin_email", &self.bootstrap_admin_email)
            .field(
                "bootstrap_admin_password",
                &self.bootstrap_admin_password.as_ref().map(|_| "…"),
            )
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_absolute_hours", &self.session_absolute_hours)
            .field("lockout_threshold", &self.lockout_threshold)
            .field("lockout_window_minutes", &self.lockout_window_minutes)
            .field("login_rate_per_minute", &self.login_rate_per_minute)
            .field("ldap_url", &self.ldap_url)
            .field("oidc_issuer_url", &self.oidc_issuer_url)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            session_idle_minutes: 30,
            session_idle_seconds: None,
            session_absolute_hours: 12,
            lockout_threshold: 5,
            lockout_window_minutes: 15,
            login_rate_per_minute: 20,
            ldap_url: None,
            oidc_issuer_url: None,
            argon2_memory_kib: None,
        }
    }
}
