//! Identity rules that every part of Sentari must agree on: roles and their order, identity
//! providers, the e-mail newtype, and the password policy of the admin guide (seed `000_…` §6).
//!
//! These are pure functions so that the server, the CLI and the store apply the same rules, and
//! so that a rule change is a change in one place with its own unit tests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An operator's role; the derived order is the privilege order (`viewer` < `analyst` <
/// `admin` < `owner`), so `role >= Role::Admin` reads as "admin or more".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only access to inventory, CVE and compliance data.
    Viewer,
    /// Viewer plus audit log, compliance reports, alert acknowledgement, suppressions.
    Analyst,
    /// Full access including policy and user management.
    Admin,
    /// Full access including ownership operations; exactly one per deployment.
    Owner,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Admin, Role::Owner];

    /// The lowercase name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Whether an actor holding `self` may give `target` to someone (a user or an API key).
    ///
    /// Nobody grants above their own role, and ownership is never granted this way: it moves
    /// only through an explicit transfer, so that there is always exactly one owner.
    pub fn can_grant(self, target: Role) -> bool {
        target <= self && target != Role::Owner
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected viewer, analyst, admin or owner")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

/// Where a user's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityProvider {
    /// An Argon2id hash stored by Sentari.
    Local,
    /// A bind against the configured LDAP / Active Directory server.
    Ldap,
    /// Single sign-on through the configured OpenID Connect provider.
    Oidc,
}

impl IdentityProvider {
    /// The lowercase name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::Local => "local",
            IdentityProvider::Ldap => "ldap",
            IdentityProvider::Oidc => "oidc",
        }
    }
}

impl fmt::Display for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identity provider name that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity provider {0:?}; expected local, ldap or oidc")]
pub struct UnknownProvider(pub String);

impl FromStr for IdentityProvider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(IdentityProvider::Local),
            "ldap" => Ok(IdentityProvider::Ldap),
            "oidc" => Ok(IdentityProvider::Oidc),
            _ => Err(UnknownProvider(s.to_owned())),
        }
    }
}

/// An e-mail address, trimmed and lowercased, so that equality is the case-insensitive
/// comparison the product promises. It can only be built through [`Email::parse`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

/// Why a string is not accepted as an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid e-mail address: {0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    /// The longest address accepted (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates and normalises an address.
    ///
    /// The check is deliberately structural (one `@`, non-empty local part and domain, no
    /// whitespace or control characters) rather than a full RFC 5322 parser: `admin@localhost`
    /// must be valid, and deliverability is the identity provider's concern.
    pub fn parse(s: &str) -> Result<Email, InvalidEmail> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidEmail("it is empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(InvalidEmail("it is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail("it contains whitespace or control characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(InvalidEmail("it has no `@`"));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(InvalidEmail("the part before or after `@` is empty"));
        }
        if domain.contains('@') {
            return Err(InvalidEmail("it has more than one `@`"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(InvalidEmail("the domain is malformed"));
        }
        Ok(Email(s.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = InvalidEmail;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The minimum password length of the policy.
pub const MIN_PASSWORD_LEN: usize = 10;

/// The longest password accepted; bounds the cost of hashing attacker-supplied input.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A password that does not meet the policy, listing everything that is missing so the user
/// can fix it in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the password does not meet the policy: it needs {}", .missing.join(", "))]
pub struct WeakPassword {
    /// The unmet requirements, in the policy's order.
    pub missing: Vec<&'static str>,
}

/// Checks the policy: at least 10 characters with an uppercase letter, a lowercase letter, a
/// digit and a special character (anything that is not a letter or a digit).
pub fn check_password_policy(password: &str) -> Result<(), WeakPassword> {
    let mut missing = Vec::new();
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        missing.push("at least 10 characters");
    }
    if len > MAX_PASSWORD_LEN {
        missing.push("at most 1024 characters");
    }
    if !password.chars().any(char::is_uppercase) {
        missing.push("an uppercase letter");
    }
    if !password.chars().any(char::is_lowercase) {
        missing.push("a lowercase letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if !password
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        missing.push("a special character");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(WeakPassword { missing })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::Viewer < Role::Analyst);
        assert!(Role::Analyst < Role::Admin);
        assert!(Role::Admin < Role::Owner);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        assert_eq!(
            serde_json::to_string(&Role::Analyst).unwrap(),
            "\"analyst\""
        );
    }

    #[test]
    fn nobody_grants_above_themselves_or_ownership() {
        assert!(Role::Admin.can_grant(Role::Admin));
        assert!(Role::Admin.can_grant(Role::Viewer));
        assert!(!Role::Admin.can_grant(Role::Owner));
        assert!(!Role::Analyst.can_grant(Role::Admin));
        assert!(!Role::Owner.can_grant(Role::Owner));
        assert!(Role::Owner.can_grant(Role::Admin));
    }

    #[test]
    fn emails_are_case_insensitive_and_validated() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        assert!(Email::parse("admin@localhost").is_ok());
        for bad in ["", "alice", "@x", "a@", "a b@x", "a@b@c", "a@.x", "a@x..y"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy_follows_the_seed() {
        assert!(check_password_policy("Correct-Horse-9").is_ok());
        let e = check_password_policy("short").unwrap_err();
        assert!(e.missing.contains(&"at least 10 characters"));
        assert!(e.missing.contains(&"an uppercase letter"));
        assert!(e.missing.contains(&"a digit"));
        assert!(e.missing.contains(&"a special character"));
        assert!(check_password_policy("alllowercase1!").is_err());
        assert!(check_password_policy("NoDigitsHere!!").is_err());
        assert!(check_password_policy("NoSpecial123abc").is_err());
        assert!(e.to_string().contains("needs"));
    }
}
