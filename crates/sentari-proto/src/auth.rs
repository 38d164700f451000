//! REST bodies of authentication, user management, API keys and the audit log (`/api/v1/auth`,
//! `/api/v1/users`, `/api/v1/audit`).

use sentari_core::auth::{IdentityProvider, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// `POST /api/v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    // The password must never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A user as the API shows it (never with a password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBody {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub identity_provider: IdentityProvider,
    pub active: bool,
    pub mfa_enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
}

/// The answer to a successful login: the session token (also set as a cookie) and the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub user: UserBody,
    /// The MFA policy requires this user to enroll before any other call is allowed.
    #[serde(default)]
    pub mfa_enrollment_required: bool,
}

/// `POST /api/v1/users`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUserRequest {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    pub role: Role,
    #[serde(default = "local")]
    pub identity_provider: IdentityProvider,
    /// Required for local users, refused for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for CreateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserRequest")
            .field("email", &self.email)
            .field("role", &self.role)
            .field("identity_provider", &self.identity_provider)
            .finish_non_exhaustive()
    }
}

fn local() -> IdentityProvider {
    IdentityProvider::Local
}

/// `PATCH /api/v1/users/{id}`: any subset of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `POST /api/v1/users/{id}/reset-password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPasswordRequest {
    pub password: String,
}

impl std::fmt::Debug for ResetPasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetPasswordRequest { .. }")
    }
}

/// `POST /api/v1/auth/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// Defaults to the creator's role; never above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key as listed (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyBody {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// The answer to creating a key: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    pub key: String,
    #[serde(flatten)]
    pub info: ApiKeyBody,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntryBody {
    pub id: Uuid,
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub hash: String,
}

/// The first broken link of the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLinkBody {
    pub seq: i64,
    pub id: Option<Uuid>,
    pub reason: String,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerifyBody {
    pub ok: bool,
    pub checked: u64,
    pub first_broken: Option<BrokenLinkBody>,
}

/// A page of a list (ARCHITECTURE.md §16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// `POST /api/v1/auth/mfa/enroll`: a new TOTP secret to add to an authenticator app; shown
/// once, and active only after `confirm`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaEnrollmentBody {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://totp/…` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
    /// The same SVG as a `data:` URI, for an `<img src>`.
    pub qr_data_uri: String,
}

impl std::fmt::Debug for MfaEnrollmentBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaEnrollmentBody { .. }")
    }
}

/// `POST /api/v1/auth/mfa/confirm` and the `code` of `disable`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaCodeRequest {
    /// A 6-digit TOTP code (or, for `disable`, a recovery code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For `disable`: the account password instead of a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for MfaCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaCodeRequest { .. }")
    }
}

/// The answer to a confirmed enrollment: the recovery codes, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaEnabledBody {
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for MfaEnabledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaEnabledBody { .. }")
    }
}

/// `GET /api/v1/auth/mfa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaStatusBody {
    pub enabled: bool,
    /// An enrollment was started and awaits its confirming code.
    pub enrollment_pending: bool,
    pub recovery_codes_left: i64,
    /// The MFA policy applies to this user.
    pub required_by_policy: bool,
}

/// `GET/PUT /api/v1/settings/mfa-policy`: users with this role or a higher one must use MFA
/// (`viewer` = everyone, `null` = nobody is forced).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicyBody {
    #[serde(default)]
    pub required_from_role: Option<Role>,
}
