//! LDAP / Active Directory password checks (seed `000_…` §6): bind with the service account,
//! search the user's entry, bind again as that entry with the user's password.
//!
//! The search filter gets the login through RFC 4515 escaping, so a login such as `*)(uid=*`
//! cannot widen the search. Exactly one entry must match; when the entry has a `mail`
//! attribute, one of its values must be the login, so a directory entry of another person whose
//! `uid` happens to equal the login's local part is never accepted. Every operation is a line in
//! `ldap.log` (tracing target [`LDAP`]); passwords never are. TLS (LDAPS or StartTLS) uses
//! rustls with the CA file, or the system roots without one.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, ldap_escape};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::auth::AuthConfig;
use crate::logging::LDAP;

/// The default filter: mail or userPrincipalName equal to the login, or uid /
/// sAMAccountName equal to its local part.
pub const DEFAULT_FILTER: &str =
    "(|(mail={login})(userPrincipalName={login})(uid={local})(sAMAccountName={local}))";

/// LDAP result code 49: invalid credentials.
const INVALID_CREDENTIALS: u32 = 49;

/// The LDAP settings, checked at start (`AuthConfig::validate`).
#[derive(Clone)]
pub struct LdapSettings {
    /// `ldap://` or `ldaps://` URL.
    pub url: String,
    /// Search base.
    pub base_dn: String,
    /// Service account and its password; `None` searches anonymously.
    pub bind: Option<(String, String)>,
    /// Filter template with `{login}` / `{local}`.
    pub filter: String,
    /// The TLS configuration when a CA file is given.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Upgrade with StartTLS.
    pub starttls: bool,
    /// Connect and per-operation timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("base_dn", &self.base_dn)
            .field("bind_dn", &self.bind.as_ref().map(|b| &b.0))
            .field("filter", &self.filter)
            .field("starttls", &self.starttls)
            .finish_non_exhaustive()
    }
}

/// Why the settings could not be turned into a client.
#[derive(Debug, thiserror::Error)]
pub enum LdapSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("SENTARI_LDAP_CA_FILE {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl LdapSettings {
    /// The settings from the configuration; `None` when `SENTARI_LDAP_URL` is not set.
    pub fn from_config(c: &AuthConfig) -> Result<Option<Self>, LdapSetupError> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let Some(url) = nonempty(&c.ldap_url) else {
            return Ok(None);
        };
        let tls = match nonempty(&c.ldap_ca_file) {
            Some(path) => Some(Arc::new(tls_config(&path)?)),
            None => None,
        };
        let bind = match (nonempty(&c.ldap_bind_dn), c.ldap_bind_password.clone()) {
            (Some(dn), Some(pw)) if !pw.is_empty() => Some((dn, pw)),
            _ => None,
        };
        Ok(Some(LdapSettings {
            url,
            base_dn: nonempty(&c.ldap_base_dn).unwrap_or_default(),
            bind,
            filter: nonempty(&c.ldap_user_filter).unwrap_or_else(|| DEFAULT_FILTER.to_owned()),
            tls,
            starttls: c.ldap_starttls,
            timeout: Duration::from_secs(c.ldap_timeout_seconds.max(1)),
        }))
    }
}

fn tls_config(path: &str) -> Result<rustls::ClientConfig, LdapSetupError> {
    let err = |reason: String| LdapSetupError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no PEM certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

/// The result of a password check against the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The user's bind succeeded.
    Authenticated {
        /// The entry's DN.
        dn: String,
    },
    /// No entry matches the login.
    NotFound,
    /// More than one entry matches.
    Ambiguous,
    /// The entry's `mail` does not name the login.
    MailMismatch,
    /// The directory refused the user's password.
    BadPassword,
}

/// Why the directory could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum LdapAuthError {
    /// Connecting (TCP, TLS, StartTLS) failed or timed out.
    #[error("the LDAP server {url} is unreachable: {reason}")]
    Unreachable {
        /// The server.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The service account's bind was refused.
    #[error(
        "the LDAP service account bind failed ({reason}); check SENTARI_LDAP_BIND_DN and SENTARI_LDAP_BIND_PASSWORD"
    )]
    ServiceBind {
        /// What the server said.
        reason: String,
    },
    /// The search failed.
    #[error("the LDAP search failed: {reason}")]
    Search {
        /// What the server said.
        reason: String,
    },
}

/// Builds the search filter for a login, escaping it per RFC 4515.
pub fn user_filter(template: &str, login: &str) -> String {
    let local = login.split_once('@').map(|(l, _)| l).unwrap_or(login);
    template
        .replace("{login}", &ldap_escape(login))
        .replace("{local}", &ldap_escape(local))
}

fn is_connect_error(e: &LdapError) -> bool {
    matches!(
        e,
        LdapError::Io { .. }
            | LdapError::Timeout { .. }
            | LdapError::Rustls { .. }
            | LdapError::DNSName { .. }
            | LdapError::EndOfStream
            | LdapError::ResultRecv { .. }
            | LdapError::OpSend { .. }
    )
}

fn rc(e: &LdapError) -> Option<u32> {
    match e {
        LdapError::LdapResult { result } => Some(result.rc),
        _ => None,
    }
}

/// Checks `password` for `login` (the user's e-mail). The caller refuses empty passwords
/// before calling: a bind with an empty password is an anonymous bind that servers accept.
pub async fn authenticate(
    s: &LdapSettings,
    login: &str,
    password: &str,
) -> Result<Outcome, LdapAuthError> {
    if password.is_empty() {
        return Ok(Outcome::BadPassword);
    }
    let unreachable = |e: &dyn std::fmt::Display| LdapAuthError::Unreachable {
        url: s.url.clone(),
        reason: e.to_string(),
    };
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(s.timeout)
        .set_starttls(s.starttls);
    if let Some(tls) = &s.tls {
        settings = settings.set_config(tls.clone());
    }
    tracing::debug!(target: LDAP, url = %s.url, starttls = s.starttls, "connecting");
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &s.url)
        .await
        .map_err(|e| {
            tracing::warn!(target: LDAP, url = %s.url, error = %e, "connection failed");
            unreachable(&e)
        })?;
    let url = s.url.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(target: LDAP, url = %url, error = %e, "connection closed with an error");
        }
    });

    // Service bind (or anonymous search when no account is configured).
    if let Some((dn, pw)) = &s.bind {
        let r = ldap.with_timeout(s.timeout).simple_bind(dn, pw).await;
        match r.and_then(|r| r.success()) {
            Ok(_) => tracing::info!(target: LDAP, bind_dn = %dn, "service bind succeeded"),
            Err(e) if is_connect_error(&e) => {
                tracing::warn!(target: LDAP, url = %s.url, error = %e, "service bind: server unreachable");
                return Err(unreachable(&e));
            }
            Err(e) => {
                tracing::error!(target: LDAP, bind_dn = %dn, error = %e, "service bind refused");
                return Err(LdapAuthError::ServiceBind {
                    reason: e.to_string(),
                });
            }
        }
    }

    let filter = user_filter(&s.filter, login);
    let search = ldap
        .with_timeout(s.timeout)
        .search(&s.base_dn, Scope::Subtree, &filter, vec!["mail"])
        .await
        .and_then(|r| r.success());
    let entries = match search {
        Ok((entries, _)) => entries,
        Err(e) if is_connect_error(&e) => return Err(unreachable(&e)),
        Err(e) => {
            tracing::error!(target: LDAP, base = %s.base_dn, filter = %filter, error = %e, "search failed");
            return Err(LdapAuthError::Search {
                reason: e.to_string(),
            });
        }
    };
    tracing::info!(target: LDAP, base = %s.base_dn, filter = %filter, matches = entries.len(), "user search");
    let mut entries: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
    let entry = match entries.len() {
        0 => {
            let _ = ldap.unbind().await;
            return Ok(Outcome::NotFound);
        }
        1 => entries.remove(0),
        _ => {
            let _ = ldap.unbind().await;
            tracing::warn!(target: LDAP, filter = %filter, matches = entries.len(), "several entries match; refusing");
            return Ok(Outcome::Ambiguous);
        }
    };
    if let Some(mails) = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("mail"))
        .map(|(_, v)| v)
        && !mails.is_empty()
        && !mails.iter().any(|m| m.trim().eq_ignore_ascii_case(login))
    {
        let _ = ldap.unbind().await;
        tracing::warn!(target: LDAP, dn = %entry.dn, "the entry's mail does not name the login; refusing");
        return Ok(Outcome::MailMismatch);
    }

    // Bind as the user on the same connection.
    let r = ldap
        .with_timeout(s.timeout)
        .simple_bind(&entry.dn, password)
        .await
        .and_then(|r| r.success());
    let outcome = match r {
        Ok(_) => {
            tracing::info!(target: LDAP, dn = %entry.dn, "user bind succeeded");
            Outcome::Authenticated {
                dn: entry.dn.clone(),
            }
        }
        Err(e) if is_connect_error(&e) => return Err(unreachable(&e)),
        Err(e) if rc(&e) == Some(INVALID_CREDENTIALS) => {
            tracing::info!(target: LDAP, dn = %entry.dn, "user bind refused: invalid credentials");
            Outcome::BadPassword
        }
        Err(e) => {
            tracing::warn!(target: LDAP, dn = %entry.dn, error = %e, "user bind refused");
            Outcome::BadPassword
        }
    };
    let _ = ldap.unbind().await;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc4515() {
        assert_eq!(
            user_filter(DEFAULT_FILTER, "alice@example.com"),
            "(|(mail=alice@example.com)(userPrincipalName=alice@example.com)(uid=alice)(sAMAccountName=alice))"
        );
        let f = user_filter("(mail={login})", "*)(uid=*\\@x");
        assert_eq!(f, "(mail=\\2a\\29\\28uid=\\2a\\5c@x)");
    }
}
