//! `/api/v1/auth/mfa`: the signed-in user's own TOTP enrollment (start, confirm with a code,
//! disable), and `/api/v1/settings/mfa-policy` (admin+): who must use MFA.
//!
//! Enrollment is two steps so that a secret becomes active only once the user has proven their
//! app produces its codes: `enroll` stores the secret as pending and shows it (base32, otpauth
//! URI, QR code); `confirm` with one valid code turns MFA on and returns ten recovery codes,
//! the only time they are shown. Self-service is for sessions only: an API key (automation)
//! cannot add or remove its owner's second factor.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sentari_core::auth::IdentityProvider;
use sentari_proto::auth::{
    MfaCodeRequest, MfaEnabledBody, MfaEnrollmentBody, MfaPolicyBody, MfaStatusBody,
};
use serde_json::json;

use super::{ApiFailure, JsonBody, auth as auth_rt, store};
use crate::auth::mfa::{self, MfaError, MfaPolicy};
use crate::auth::password::{self, Verified};
use crate::auth::{AuthMethod, Principal, audit, ldap};
use crate::logging::SECURITY;
use crate::state::AppState;

fn sessions_only(p: &Principal) -> Result<(), ApiFailure> {
    match p.method {
        AuthMethod::Session { .. } => Ok(()),
        AuthMethod::ApiKey { .. } => Err(ApiFailure::Forbidden(
            "MFA is managed from a signed-in session, not with an API key".into(),
        )),
    }
}

fn mfa_failure(e: MfaError) -> ApiFailure {
    match e {
        MfaError::InvalidCode => ApiFailure::InvalidTotpCode(e.to_string()),
        MfaError::NoEnrollment => ApiFailure::Conflict(e.to_string()),
        MfaError::Store(s) => s.into(),
        MfaError::Sealed(_) => ApiFailure::Conflict(e.to_string()),
        MfaError::Totp(m) => ApiFailure::Internal(m),
    }
}

fn security_event(event: &str, p: &Principal, detail: &str) {
    let ip = p.ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    tracing::warn!(target: SECURITY, event, email = %p.user.email, ip = %ip, "{detail}");
}

/// `GET /api/v1/auth/mfa`.
pub async fn status(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<MfaStatusBody>, ApiFailure> {
    let store = store(&state)?;
    let s = store.mfa_state(p.user.id).await?;
    let policy = auth_rt(&state)?.mfa_policy.get(store).await?;
    Ok(Json(MfaStatusBody {
        enabled: s.enabled,
        enrollment_pending: s.pending_secret.is_some() && !s.enabled,
        recovery_codes_left: if s.enabled { s.recovery_codes_left } else { 0 },
        required_by_policy: policy.requires(&p.user),
    }))
}

/// `POST /api/v1/auth/mfa/enroll`: a new secret, pending until confirmed.
pub async fn enroll(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<MfaEnrollmentBody>, ApiFailure> {
    sessions_only(&p)?;
    let store = store(&state)?;
    let rt = auth_rt(&state)?;
    if p.user.provider == IdentityProvider::Oidc {
        return Err(ApiFailure::Conflict(
            "single sign-on accounts use their identity provider's second factor".into(),
        ));
    }
    if store.mfa_state(p.user.id).await?.enabled {
        return Err(ApiFailure::Conflict(
            "MFA is already enabled; disable it first to enroll a new authenticator".into(),
        ));
    }
    let e = mfa::new_enrollment(&p.user.email).map_err(mfa_failure)?;
    let sealed = mfa::seal_secret(&rt.totp_box, p.user.id, &e.secret).map_err(mfa_failure)?;
    store.set_mfa_pending(p.user.id, &sealed).await?;
    tracing::info!(target: SECURITY, event = "mfa_enrollment_started", email = %p.user.email, "MFA enrollment started");
    Ok(Json(MfaEnrollmentBody {
        qr_data_uri: format!("data:image/svg+xml;base64,{}", STANDARD.encode(&e.qr_svg)),
        secret: e.secret_base32,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

/// `POST /api/v1/auth/mfa/confirm` `{code}`: turns MFA on and returns the recovery codes.
pub async fn confirm(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<MfaCodeRequest>,
) -> Result<Json<MfaEnabledBody>, ApiFailure> {
    sessions_only(&p)?;
    let store = store(&state)?;
    let rt = auth_rt(&state)?;
    let code = req
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiFailure::field("code", "the 6-digit code from the app is required"))?;
    let st = store.mfa_state(p.user.id).await?;
    if st.enabled {
        return Err(ApiFailure::Conflict("MFA is already enabled".into()));
    }
    let sealed = st
        .pending_secret
        .ok_or_else(|| mfa_failure(MfaError::NoEnrollment))?;
    let secret = mfa::open_secret(&rt.totp_box, p.user.id, &sealed).map_err(mfa_failure)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    let Some(step) = mfa::code_step(&secret, code, now).map_err(mfa_failure)? else {
        security_event("mfa_failed", &p, "MFA enrollment: wrong code");
        return Err(mfa_failure(MfaError::InvalidCode));
    };
    let codes = mfa::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| mfa::recovery_hash(p.user.id, c))
        .collect();
    store
        .enable_mfa(p.user.id, &sealed, step as i64, &hashes)
        .await?;
    tracing::info!(target: SECURITY, event = "mfa_enabled", email = %p.user.email, "MFA enabled");
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "mfa.enable",
        Some(p.user.email.clone()),
        Some(json!({"mfa_enabled": false})),
        Some(json!({"mfa_enabled": true, "recovery_codes": codes.len()})),
    )
    .await?;
    Ok(Json(MfaEnabledBody {
        recovery_codes: codes,
    }))
}

/// `POST /api/v1/auth/mfa/disable` `{code}` or `{password}`.
pub async fn disable(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<MfaCodeRequest>,
) -> Result<Json<serde_json::Value>, ApiFailure> {
    sessions_only(&p)?;
    let store = store(&state)?;
    let rt = auth_rt(&state)?;
    if !store.mfa_state(p.user.id).await?.enabled {
        return Err(ApiFailure::Conflict("MFA is not enabled".into()));
    }
    if rt.mfa_policy.get(store).await?.requires(&p.user) {
        return Err(ApiFailure::Conflict(format!(
            "the MFA policy requires MFA for the {} role; an administrator can reset it instead",
            p.user.role
        )));
    }
    let code = req.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let pw = req.password.as_deref().filter(|c| !c.is_empty());
    match (code, pw) {
        (Some(code), _) => {
            if let Err(e) = mfa::verify_second_factor(store, &rt.totp_box, &p.user, code).await {
                security_event("mfa_failed", &p, "MFA disable: wrong or reused code");
                return Err(mfa_failure(e));
            }
        }
        (None, Some(pw)) => {
            let ok = match p.user.provider {
                IdentityProvider::Local => {
                    password::verify(rt.hash_params, p.user.password_hash.clone(), pw.to_owned())
                        .await
                        != Verified::No
                }
                IdentityProvider::Ldap => match &rt.ldap {
                    Some(s) => matches!(
                        ldap::authenticate(s, &p.user.email, pw).await,
                        Ok(ldap::Outcome::Authenticated { .. })
                    ),
                    None => false,
                },
                IdentityProvider::Oidc => false,
            };
            if !ok {
                security_event("mfa_failed", &p, "MFA disable: wrong password");
                return Err(ApiFailure::Unauthorized("the password is wrong".into()));
            }
        }
        (None, None) => {
            return Err(ApiFailure::field(
                "code",
                "send a current code (or a recovery code) or your password",
            ));
        }
    }
    store.clear_mfa(p.user.id).await?;
    tracing::warn!(target: SECURITY, event = "mfa_disabled", email = %p.user.email, "MFA disabled by the user");
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "mfa.disable",
        Some(p.user.email.clone()),
        Some(json!({"mfa_enabled": true})),
        Some(json!({"mfa_enabled": false})),
    )
    .await?;
    Ok(Json(json!({"enabled": false})))
}

/// `GET /api/v1/settings/mfa-policy`.
pub async fn get_policy(State(state): State<AppState>) -> Result<Json<MfaPolicyBody>, ApiFailure> {
    let store = store(&state)?;
    let p = auth_rt(&state)?.mfa_policy.get(store).await?;
    Ok(Json(MfaPolicyBody {
        required_from_role: p.required_from_role,
    }))
}

/// `PUT /api/v1/settings/mfa-policy` `{required_from_role}`.
pub async fn put_policy(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<MfaPolicyBody>,
) -> Result<Json<MfaPolicyBody>, ApiFailure> {
    let store = store(&state)?;
    let cache = &auth_rt(&state)?.mfa_policy;
    let before = cache.get(store).await?;
    let after = MfaPolicy {
        required_from_role: req.required_from_role,
    };
    cache.put(store, after).await?;
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "settings.mfa_policy",
        Some("mfa_policy".into()),
        Some(json!(before)),
        Some(json!(after)),
    )
    .await?;
    Ok(Json(MfaPolicyBody {
        required_from_role: after.required_from_role,
    }))
}
