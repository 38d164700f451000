//! Authentication settings, flattened into the server configuration so that each has its own
//! `SENTARI_*` variable (ARCHITECTURE.md §13).

use serde::Deserialize;

use sentari_core::auth::Role;

use crate::config::{ConfigError, lenient, lenient_opt};

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
    /// `SENTARI_LDAP_URL`: enables LDAP / Active Directory logins when set
    /// (`ldap://host:389` or `ldaps://host:636`).
    pub ldap_url: Option<String>,
    /// `SENTARI_LDAP_BASE_DN`: where user entries are searched (subtree).
    pub ldap_base_dn: Option<String>,
    /// `SENTARI_LDAP_BIND_DN`: the service account that searches for users.
    pub ldap_bind_dn: Option<String>,
    /// `SENTARI_LDAP_BIND_PASSWORD`: its password.
    pub ldap_bind_password: Option<String>,
    /// `SENTARI_LDAP_USER_FILTER`: the search filter, with `{login}` (the e-mail as typed) and
    /// `{local}` (the part before `@`) replaced by RFC 4515-escaped values.
    pub ldap_user_filter: Option<String>,
    /// `SENTARI_LDAP_CA_FILE`: PEM CA certificates trusted for LDAPS / StartTLS (instead of the
    /// system's roots).
    pub ldap_ca_file: Option<String>,
    /// `SENTARI_LDAP_STARTTLS`: upgrade an `ldap://` connection with StartTLS (default false).
    #[serde(deserialize_with = "lenient")]
    pub ldap_starttls: bool,
    /// `SENTARI_LDAP_TIMEOUT_SECONDS`: connect and operation timeout (default 5).
    #[serde(deserialize_with = "lenient")]
    pub ldap_timeout_seconds: u64,
    /// `SENTARI_OIDC_ISSUER_URL`: enables OpenID Connect single sign-on when set.
    pub oidc_issuer_url: Option<String>,
    /// `SENTARI_OIDC_CLIENT_ID`: this server's client id at the provider.
    pub oidc_client_id: Option<String>,
    /// `SENTARI_OIDC_CLIENT_SECRET`: its secret (confidential client).
    pub oidc_client_secret: Option<String>,
    /// `SENTARI_OIDC_SCOPES`: requested scopes (default `openid email profile`).
    pub oidc_scopes: String,
    /// `SENTARI_OIDC_AUTO_CREATE_USERS`: create unknown users at their first sign-in.
    #[serde(deserialize_with = "lenient")]
    pub oidc_auto_create_users: bool,
    /// `SENTARI_OIDC_DEFAULT_ROLE`: the role of auto-created users (default `viewer`).
    pub oidc_default_role: String,
    /// `SENTARI_OIDC_ROLE_CLAIM`: an ID-token claim holding a Sentari role (string or list).
    pub oidc_role_claim: Option<String>,
    /// `SENTARI_OIDC_REDIRECT_URL`: the callback URL registered at the provider
    /// (`https://sentari.example.com/api/v1/auth/oidc/callback`); without it the URL is built
    /// from the request's `Host`.
    pub oidc_redirect_url: Option<String>,
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
            .field("ldap_base_dn", &self.ldap_base_dn)
            .field("ldap_bind_dn", &self.ldap_bind_dn)
            .field(
                "ldap_bind_password",
                &self.ldap_bind_password.as_ref().map(|_| "…"),
            )
            .field("ldap_user_filter", &self.ldap_user_filter)
            .field("ldap_ca_file", &self.ldap_ca_file)
            .field("ldap_starttls", &self.ldap_starttls)
            .field("oidc_issuer_url", &self.oidc_issuer_url)
            .field("oidc_client_id", &self.oidc_client_id)
            .field(
                "oidc_client_secret",
                &self.oidc_client_secret.as_ref().map(|_| "…"),
            )
            .field("oidc_scopes", &self.oidc_scopes)
            .field("oidc_auto_create_users", &self.oidc_auto_create_users)
            .field("oidc_default_role", &self.oidc_default_role)
            .field("oidc_role_claim", &self.oidc_role_claim)
            .field("oidc_redirect_url", &self.oidc_redirect_url)
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
            ldap_base_dn: None,
            ldap_bind_dn: None,
            ldap_bind_password: None,
            ldap_user_filter: None,
            ldap_ca_file: None,
            ldap_starttls: false,
            ldap_timeout_seconds: 5,
            oidc_issuer_url: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid email profile".into(),
            oidc_auto_create_users: false,
            oidc_default_role: "viewer".into(),
            oidc_role_claim: None,
            oidc_redirect_url: None,
            argon2_memory_kib: None,
        }
    }
}

fn problem(key: &str, text: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        problem: text.into(),
    }
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuthConfig {
    /// Checks the LDAP and OIDC settings at start, so a typo stops the server with a message
    /// naming the variable instead of failing at the first login.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = set(&self.ldap_url) {
            if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
                return Err(problem(
                    "SENTARI_LDAP_URL",
                    format!(
                        "invalid value {url:?}: expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]"
                    ),
                ));
            }
            if set(&self.ldap_base_dn).is_none() {
                return Err(problem(
                    "SENTARI_LDAP_BASE_DN",
                    "must be set when SENTARI_LDAP_URL is (where user entries are searched)",
                ));
            }
            if set(&self.ldap_bind_dn).is_some() != set(&self.ldap_bind_password).is_some() {
                return Err(problem(
                    "SENTARI_LDAP_BIND_DN",
                    "SENTARI_LDAP_BIND_DN and SENTARI_LDAP_BIND_PASSWORD must be set together",
                ));
            }
            if let Some(f) = set(&self.ldap_user_filter)
                && !(f.starts_with('(')
                    && f.ends_with(')')
                    && (f.contains("{login}") || f.contains("{local}")))
            {
                return Err(problem(
                    "SENTARI_LDAP_USER_FILTER",
                    "must be a parenthesised LDAP filter using {login} or {local}",
                ));
            }
            if let Some(ca) = set(&self.ldap_ca_file)
                && let Err(e) = std::fs::metadata(ca)
            {
                return Err(problem("SENTARI_LDAP_CA_FILE", format!("{ca}: {e}")));
            }
            if self.ldap_starttls && url.starts_with("ldaps://") {
                return Err(problem(
                    "SENTARI_LDAP_STARTTLS",
                    "StartTLS upgrades an ldap:// connection; ldaps:// is already TLS",
                ));
            }
            if self.ldap_timeout_seconds == 0 {
                return Err(problem(
                    "SENTARI_LDAP_TIMEOUT_SECONDS",
                    "must be at least 1",
                ));
            }
        }
        if let Some(issuer) = set(&self.oidc_issuer_url) {
            if url::Url::parse(issuer).is_err()
                || !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            {
                return Err(problem(
                    "SENTARI_OIDC_ISSUER_URL",
                    format!("invalid value {issuer:?}: expected an https:// URL"),
                ));
            }
            if set(&self.oidc_client_id).is_none() {
                return Err(problem(
                    "SENTARI_OIDC_CLIENT_ID",
                    "must be set when SENTARI_OIDC_ISSUER_URL is",
                ));
            }
            let role: Role = self
                .oidc_default_role
                .parse()
                .map_err(|e| problem("SENTARI_OIDC_DEFAULT_ROLE", format!("{e}")))?;
            if role == Role::Owner {
                return Err(problem(
                    "SENTARI_OIDC_DEFAULT_ROLE",
                    "the owner role is never granted automatically",
                ));
            }
            if !self.oidc_scopes.split_whitespace().any(|s| s == "openid") {
                return Err(problem("SENTARI_OIDC_SCOPES", "must include `openid`"));
            }
            if let Some(r) = set(&self.oidc_redirect_url)
                && url::Url::parse(r).is_err()
            {
                return Err(problem(
                    "SENTARI_OIDC_REDIRECT_URL",
                    format!("invalid URL {r:?}"),
                ));
            }
        }
        Ok(())
    }
}
