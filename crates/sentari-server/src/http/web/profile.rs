//! Profile (`/profile`, every signed-in user): the account, changing one's own password, and
//! API keys.
//!
//! API keys are listed, created and revoked through the JSON API's handlers
//! (`http::api::auth`), so the rules (a key never above its creator's role, an expiry in the
//! future) and the audit entries are the API's; a new key is shown once, in the answer to the
//! form. Changing the password checks the current one with the same lockout bookkeeping as a
//! sign-in (a wrong current password counts as a failed sign-in), applies the password policy,
//! and signs the account out everywhere, this browser included.
//!
//! Two-factor authentication goes through the JSON API's handlers too (`http::api::mfa`):
//! enrolling shows the QR code (inline SVG: the page's Content-Security-Policy allows no `data:`
//! images) and the secret, one valid code confirms it and the ten recovery codes are shown once,
//! in the answer to that form. When a code is wrong the QR code is drawn again from the
//! `otpauth://` URI the form carries, so the user keeps the secret already scanned; what turns
//! MFA on is only ever the pending secret stored by the enrollment. A user whom the MFA policy
//! requires to enroll is sent here from every other page (`guard`), as the API refuses them
//! everything but enrollment.

use std::net::IpAddr;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sentari_core::auth::{IdentityProvider, Role, check_password_policy};
use sentari_proto::auth::{CreateApiKeyRequest, MfaCodeRequest};
use serde::Deserialize;
use time::OffsetDateTime;

use super::session::WebUser;
use super::view::{self, Failure, Layout, Stamp};
use crate::auth::audit;
use crate::auth::password::{self, Verified};
use crate::http::api::{self, JsonBody};
use crate::logging::SECURITY;
use crate::state::AppState;

/// The most API keys the page lists.
pub const MAX_KEY_ROWS: usize = 200;

/// One API key as listed.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// The id, for revoking.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// The first characters, to recognise it.
    pub prefix: String,
    /// Its role.
    pub role: &'static str,
    /// Created.
    pub created: Stamp,
    /// Expiry, or `never`.
    pub expires: String,
    /// Last use.
    pub last_used: Option<Stamp>,
    /// `active`, `revoked`, `expired`.
    pub state: &'static str,
}

/// A key just created: shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The secret.
    pub key: String,
    /// Its name.
    pub name: String,
}

/// An MFA enrollment waiting for its first code.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The QR code, an SVG document made by the server.
    pub qr_svg: String,
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
}

/// What a form answer shows once: a new API key, an enrollment, recovery codes.
#[derive(Debug, Clone, Default)]
pub struct Once {
    /// The API key just created.
    pub created_key: Option<CreatedKey>,
    /// The enrollment just started.
    pub enrollment: Option<Enrollment>,
    /// The recovery codes of the MFA just enabled.
    pub recovery_codes: Option<Vec<String>>,
}

/// The page.
#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    /// The layout.
    pub layout: Layout,
    /// The e-mail.
    pub email: String,
    /// The display name.
    pub name: String,
    /// The role.
    pub role: &'static str,
    /// `local`, `ldap`, `oidc`.
    pub provider: &'static str,
    /// Whether the password is Sentari's to change.
    pub local: bool,
    /// Whether MFA is on.
    pub mfa: bool,
    /// Whether the MFA policy requires it of this user.
    pub mfa_required: bool,
    /// Whether the user can enroll here (single sign-on accounts use their provider's).
    pub mfa_possible: bool,
    /// Recovery codes left.
    pub recovery_codes_left: i64,
    /// The enrollment in progress, shown after "Enable".
    pub enrollment: Option<Enrollment>,
    /// The recovery codes, once.
    pub recovery_codes: Option<Vec<String>>,
    /// The last sign-in.
    pub last_login: Option<Stamp>,
    /// The user's API keys, newest first, at most [`MAX_KEY_ROWS`].
    pub keys: Vec<KeyRow>,
    /// How many older keys are not listed.
    pub keys_hidden: usize,
    /// Roles a new key may have.
    pub key_roles: Vec<&'static str>,
    /// The key just created, once.
    pub created_key: Option<CreatedKey>,
}

async fn render_page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    once: Once,
) -> Response {
    let p = &user.principal;
    let layout = Layout::new(Some(state), p, &user.csrf, "/profile", "Profile")
        .notice(notice)
        .error(error);
    let keys = match api::auth::list_keys(State(state.clone()), p.clone()).await {
        Ok(axum::Json(k)) => k,
        Err(e) => {
            let f = view::explain(e).await;
            return view::error_page(
                Some(state),
                p,
                &user.csrf,
                f.status,
                "Profile unavailable",
                &f.message,
            );
        }
    };
    // Read fresh rather than from the session's user: the form just answered may have turned
    // MFA on or off.
    let mfa = match api::mfa::status(State(state.clone()), p.clone()).await {
        Ok(axum::Json(m)) => m,
        Err(e) => {
            let f = view::explain(e).await;
            return view::error_page(
                Some(state),
                p,
                &user.csrf,
                f.status,
                "Profile unavailable",
                &f.message,
            );
        }
    };
    let layout = if mfa.required_by_policy && !mfa.enabled && layout.error.is_none() {
        layout.error(Some(format!(
            "Two-factor authentication is required for the {} role. Enable it below before using the rest of Sentari.",
            p.role
        )))
    } else {
        layout
    };
    let now = OffsetDateTime::now_utc();
    // Newest first; a user who made thousands of keys still gets a page that renders fast.
    let keys_hidden = keys.len().saturating_sub(MAX_KEY_ROWS);
    let keys = keys
        .into_iter()
        .take(MAX_KEY_ROWS)
        .map(|k| KeyRow {
            state: if k.revoked_at.is_some() {
                "revoked"
            } else if k.expires_at.is_some_and(|e| e <= now) {
                "expired"
            } else {
                "active"
            },
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role.as_str(),
            created: view::stamp(k.created_at, now),
            expires: k
                .expires_at
                .map(|e| view::stamp(e, now).text)
                .unwrap_or_else(|| "never".into()),
            last_used: k.last_used_at.map(|t| view::stamp(t, now)),
        })
        .collect();
    let page = ProfilePage {
        layout,
        email: p.user.email.clone(),
        name: p.user.display_name.clone(),
        role: p.role.as_str(),
        provider: p.user.provider.as_str(),
        local: p.user.provider == IdentityProvider::Local,
        mfa: mfa.enabled,
        mfa_required: mfa.required_by_policy,
        mfa_possible: p.user.provider != IdentityProvider::Oidc,
        recovery_codes_left: mfa.recovery_codes_left,
        enrollment: once.enrollment,
        recovery_codes: once.recovery_codes,
        last_login: p.user.last_login_at.map(|t| view::stamp(t, now)),
        keys,
        keys_hidden,
        key_roles: Role::ALL
            .iter()
            .filter(|r| **r <= p.role)
            .map(|r| r.as_str())
            .collect(),
        created_key: once.created_key,
    };
    view::render(status, &page)
}

/// The query of the page.
#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<String> {
    match code? {
        "key_revoked" => Some("API key revoked.".into()),
        "mfa_disabled" => Some("Two-factor authentication disabled.".into()),
        _ => None,
    }
}

/// `GET /profile`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ProfileQuery>,
) -> Response {
    render_page(
        &state,
        &user,
        StatusCode::OK,
        notice_text(q.notice.as_deref()),
        None,
        Once::default(),
    )
    .await
}

async fn fail(state: &AppState, user: &WebUser, f: Failure) -> Response {
    render_page(
        state,
        user,
        f.status,
        None,
        Some(f.message),
        Once::default(),
    )
    .await
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordChangeForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

fn security_event(event: &str, email: &str, ip: Option<IpAddr>, detail: &str) {
    let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    tracing::warn!(target: SECURITY, event, email = ?email, ip = %ip, "{detail}");
}

/// `POST /profile/password`: changes the signed-in user's own password.
pub async fn change_password(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<PasswordChangeForm>,
) -> Response {
    let p = &user.principal;
    let bad = |m: &str| Failure::new(StatusCode::BAD_REQUEST, "invalid_request", m);
    if p.user.provider != IdentityProvider::Local {
        return fail(
            &state,
            &user,
            Failure::new(
                StatusCode::CONFLICT,
                "conflict",
                "your password is managed by your identity provider, not by Sentari",
            ),
        )
        .await;
    }
    if f.new != f.confirm {
        return fail(
            &state,
            &user,
            bad("the new password and its confirmation differ"),
        )
        .await;
    }
    if let Err(e) = check_password_policy(&f.new) {
        return fail(&state, &user, bad(&e.to_string())).await;
    }
    let (store, rt) = match (api::store(&state), api::auth(&state)) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) | (_, Err(e)) => return fail(&state, &user, view::explain(e).await).await,
    };
    // The current password is guessed like a sign-in password, so it is limited like one.
    let ip = p.ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if let Err(retry) = rt.login_limiter.check(ip) {
        security_event(
            "password_change_rate_limited",
            &p.user.email,
            Some(ip),
            "too many password attempts from this address",
        );
        let mut f = Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many attempts from this address; try again in about {}",
                view::span(retry.as_secs().max(1))
            ),
        );
        f.retry_after = Some(retry.as_secs());
        return fail(&state, &user, f).await;
    }
    let since = OffsetDateTime::now_utc() - rt.lockout_window();
    match store.login_failures_since(p.user.id, since).await {
        Ok((n, _)) if n >= i64::from(rt.config.lockout_threshold) => {
            return fail(
                &state,
                &user,
                Failure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "this account is temporarily locked after repeated failed password checks; try again later or ask an administrator to unlock it",
                ),
            )
            .await;
        }
        Ok(_) => {}
        Err(e) => return fail(&state, &user, view::explain(e.into()).await).await,
    }
    // The stored hash is read fresh: the one loaded with the session may be stale.
    let hash = match store.get_user(p.user.id).await {
        Ok(Some(u)) => u.password_hash,
        Ok(None) => None,
        Err(e) => return fail(&state, &user, view::explain(e.into()).await).await,
    };
    if password::verify(rt.hash_params, hash, f.current.clone()).await == Verified::No {
        let _ = store
            .record_login_failure(p.user.id, Some(&ip.to_string()), since)
            .await;
        security_event(
            "password_change_failed",
            &p.user.email,
            Some(ip),
            "password change refused: wrong current password",
        );
        return fail(&state, &user, bad("the current password is wrong")).await;
    }
    let new_hash = match password::hash(rt.hash_params, f.new).await {
        Ok(h) => h,
        Err(e) => {
            return fail(
                &state,
                &user,
                view::explain(api::ApiFailure::Internal(e.to_string())).await,
            )
            .await;
        }
    };
    let result = async {
        store.set_password_hash(p.user.id, &new_hash).await?;
        store.delete_user_sessions(p.user.id).await?;
        store.clear_login_failures(p.user.id).await?;
        audit::record(
            store,
            &p.actor(),
            Some(ip.to_string()),
            "user.change_password",
            Some(p.user.email.clone()),
            None,
            None,
        )
        .await
    }
    .await;
    if let Err(e) = result {
        return fail(&state, &user, view::explain(e.into()).await).await;
    }
    tracing::info!(target: SECURITY, event = "password_changed", email = %p.user.email, ip = %ip, "password changed; sessions signed out");
    // Every session ended, this one too (the stale cookie matches nothing any more): ask for
    // the new password.
    Redirect::to("/login?notice=password_changed").into_response()
}

/// The new-key form.
#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// Days until it expires; empty for never.
    #[serde(default)]
    expires_days: String,
}

/// `POST /profile/api-keys`.
pub async fn create_key(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<KeyForm>,
) -> Response {
    let bad = |m: String| Failure::new(StatusCode::BAD_REQUEST, "invalid_request", m);
    let role = if f.role.trim().is_empty() {
        None
    } else {
        match f.role.parse::<Role>() {
            Ok(r) => Some(r),
            Err(e) => return fail(&state, &user, bad(e.to_string())).await,
        }
    };
    let days = f.expires_days.trim();
    let expires_at = if days.is_empty() {
        None
    } else {
        match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => {
                Some(OffsetDateTime::now_utc() + time::Duration::days(d))
            }
            _ => {
                return fail(
                    &state,
                    &user,
                    bad("the expiry is a number of days from 1 to 3650, or empty for none".into()),
                )
                .await;
            }
        }
    };
    let req = CreateApiKeyRequest {
        name: f.name.clone(),
        role,
        expires_at,
    };
    match api::auth::create_key(State(state.clone()), user.principal.clone(), JsonBody(req)).await {
        Ok((_, axum::Json(created))) => {
            render_page(
                &state,
                &user,
                StatusCode::OK,
                Some("API key created. Copy it now: it is shown only this once.".into()),
                None,
                Once {
                    created_key: Some(CreatedKey {
                        key: created.key,
                        name: created.info.name,
                    }),
                    ..Once::default()
                },
            )
            .await
        }
        Err(e) => fail(&state, &user, view::explain(e).await).await,
    }
}

/// `POST /profile/api-keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    match api::auth::revoke_key(State(state.clone()), user.principal.clone(), Path(id)).await {
        Ok(_) => Redirect::to("/profile?notice=key_revoked#api-keys").into_response(),
        Err(e) => fail(&state, &user, view::explain(e).await).await,
    }
}

/// An SVG document as markup inside HTML: from its `<svg` on, without the XML declaration.
fn inline_svg(doc: &str) -> String {
    doc.find("<svg")
        .map(|i| doc[i..].to_owned())
        .unwrap_or_default()
}

/// `POST /profile/mfa/enroll`: a new secret, pending until a code confirms it.
pub async fn mfa_enroll(State(state): State<AppState>, user: WebUser) -> Response {
    match api::mfa::enroll(State(state.clone()), user.principal.clone()).await {
        Ok(axum::Json(e)) => {
            render_page(
                &state,
                &user,
                StatusCode::OK,
                Some(
                    "Scan the QR code with your authenticator app, then enter the code it shows."
                        .into(),
                ),
                None,
                Once {
                    enrollment: Some(Enrollment {
                        qr_svg: inline_svg(&e.qr_svg),
                        secret: e.secret,
                        otpauth_uri: e.otpauth_uri,
                    }),
                    ..Once::default()
                },
            )
            .await
        }
        Err(e) => fail(&state, &user, view::explain(e).await).await,
    }
}

/// The confirmation form: the code, and the enrollment shown, to show it again on a typo.
#[derive(Deserialize)]
pub struct MfaConfirmForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    otpauth_uri: String,
}

/// `POST /profile/mfa/confirm`: turns MFA on and shows the recovery codes, once.
pub async fn mfa_confirm(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<MfaConfirmForm>,
) -> Response {
    let req = MfaCodeRequest {
        code: Some(f.code.trim().to_owned()),
        password: None,
    };
    match api::mfa::confirm(State(state.clone()), user.principal.clone(), JsonBody(req)).await {
        Ok(axum::Json(enabled)) => {
            render_page(
                &state,
                &user,
                StatusCode::OK,
                Some("Two-factor authentication is on. Store the recovery codes now: they are shown only this once.".into()),
                None,
                Once {
                    recovery_codes: Some(enabled.recovery_codes),
                    ..Once::default()
                },
            )
            .await
        }
        Err(e) => {
            let failure = view::explain(e).await;
            // The same enrollment again, drawn from the URI the form carried; only an
            // `otpauth://` URI is drawn, and confirming uses the stored secret whatever it says.
            let enrollment = (failure.code == "invalid_totp_code"
                || failure.code == "invalid_request")
                .then(|| f.otpauth_uri.trim())
                .filter(|u| u.starts_with("otpauth://totp/") && u.len() <= 1024)
                .and_then(|u| crate::auth::mfa::qr_svg(u).ok().map(|svg| (u, svg)))
                .map(|(u, svg)| Enrollment {
                    qr_svg: inline_svg(&svg),
                    secret: f.secret.trim().chars().take(64).collect(),
                    otpauth_uri: u.to_owned(),
                });
            render_page(
                &state,
                &user,
                failure.status,
                None,
                Some(failure.message),
                Once {
                    enrollment,
                    ..Once::default()
                },
            )
            .await
        }
    }
}

/// The form that turns MFA off: a current code (or a recovery code) or the password.
#[derive(Deserialize)]
pub struct MfaDisableForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// `POST /profile/mfa/disable`.
pub async fn mfa_disable(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<MfaDisableForm>,
) -> Response {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let req = MfaCodeRequest {
        code: some(&f.code),
        password: Some(f.password).filter(|p| !p.is_empty()),
    };
    match api::mfa::disable(State(state.clone()), user.principal.clone(), JsonBody(req)).await {
        Ok(_) => Redirect::to("/profile?notice=mfa_disabled#mfa").into_response(),
        Err(e) => fail(&state, &user, view::explain(e).await).await,
    }
}
