//! `/api/v1/users` (admin and up): list, create, change role, (de)activate, reset password,
//! reset MFA, unlock, and the owner's transfer of ownership. Every change is audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sentari_core::auth::{Email, IdentityProvider, Role, check_password_policy};
use sentari_proto::auth::{CreateUserRequest, ResetPasswordRequest, UpdateUserRequest, UserBody};
use sentari_store::{NewUser, User};
use serde_json::json;
use uuid::Uuid;

use super::auth::user_body;
use super::{ApiFailure, JsonBody, auth as auth_rt, store};
use crate::auth::{Principal, audit, password};
use crate::state::AppState;

fn parse_id(id: &str) -> Result<Uuid, ApiFailure> {
    Uuid::parse_str(id).map_err(|_| ApiFailure::NotFound("no such user".into()))
}

async fn load(state: &AppState, id: &str) -> Result<User, ApiFailure> {
    store(state)?
        .get_user(parse_id(id)?)
        .await?
        .ok_or_else(|| ApiFailure::NotFound("no such user".into()))
}

/// Admins manage users below or at their level; only the owner touches the owner.
fn check_manage(p: &Principal, target: &User) -> Result<(), ApiFailure> {
    if target.role > p.role {
        return Err(ApiFailure::Forbidden(
            "you cannot change a user whose role is above yours".into(),
        ));
    }
    Ok(())
}

fn ip(p: &Principal) -> Option<String> {
    p.ip.map(|i| i.to_string())
}

fn snapshot(u: &User) -> serde_json::Value {
    json!({"role": u.role, "active": u.active, "display_name": u.display_name, "mfa_enabled": u.mfa_enabled})
}

/// `GET /api/v1/users`.
pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiFailure> {
    let users = store(&state)?.list_users().await?;
    let items: Vec<UserBody> = users.iter().map(user_body).collect();
    let total = items.len() as i64;
    Ok(Json(
        json!({"items": items, "total": total, "page": 1, "page_size": total}),
    ))
}

/// `GET /api/v1/users/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserBody>, ApiFailure> {
    Ok(Json(user_body(&load(&state, &id).await?)))
}

/// `POST /api/v1/users`.
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiFailure> {
    let store = store(&state)?;
    let email = Email::parse(&req.email).map_err(|e| ApiFailure::field("email", e.to_string()))?;
    if !p.role.can_grant(req.role) {
        return Err(ApiFailure::Forbidden(format!(
            "you cannot create a user with the {} role",
            req.role
        )));
    }
    let password_hash = match (req.identity_provider, req.password) {
        (IdentityProvider::Local, Some(pw)) => {
            check_password_policy(&pw).map_err(|e| ApiFailure::field("password", e.to_string()))?;
            Some(
                password::hash(auth_rt(&state)?.hash_params, pw)
                    .await
                    .map_err(|e| ApiFailure::Internal(e.to_string()))?,
            )
        }
        (IdentityProvider::Local, None) => {
            return Err(ApiFailure::field(
                "password",
                "a local user needs a password",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiFailure::field(
                "password",
                "LDAP and OIDC users authenticate with their identity provider; do not send a password",
            ));
        }
        (_, None) => None,
    };
    let user = store
        .create_user(&NewUser {
            email,
            display_name: req.display_name.trim().chars().take(200).collect(),
            role: req.role,
            provider: req.identity_provider,
            password_hash,
            external_id: None,
        })
        .await?;
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        "user.create",
        Some(user.email.clone()),
        None,
        Some(json!({"role": user.role, "identity_provider": user.provider})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user_body(&user))))
}

/// `PATCH /api/v1/users/{id}`: role, active flag, display name.
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateUserRequest>,
) -> Result<Json<UserBody>, ApiFailure> {
    let store = store(&state)?;
    let before = load(&state, &id).await?;
    check_manage(&p, &before)?;
    let mut user = before.clone();
    if let Some(role) = req.role
        && role != user.role
    {
        if user.role == Role::Owner {
            return Err(ApiFailure::Conflict(
                "the owner cannot be demoted; transfer ownership first".into(),
            ));
        }
        if !p.role.can_grant(role) {
            return Err(ApiFailure::Forbidden(format!(
                "you cannot grant the {role} role"
            )));
        }
        user = store.set_user_role(user.id, role).await?;
        // Sessions carry no role (it is read per request), but dropping them makes a demotion
        // take effect in browsers that cached pages too.
        store.delete_user_sessions(user.id).await?;
    }
    if let Some(active) = req.active
        && active != user.active
    {
        if user.id == p.user.id && !active {
            return Err(ApiFailure::Conflict(
                "you cannot deactivate yourself".into(),
            ));
        }
        user = store.set_user_active(user.id, active).await?;
        if !active {
            store.delete_user_sessions(user.id).await?;
        }
    }
    if let Some(name) = req.display_name {
        let name: String = name.trim().chars().take(200).collect();
        store.set_display_name(user.id, &name).await?;
        user.display_name = name;
    }
    let action = match (req.role.is_some(), req.active) {
        (_, Some(false)) => "user.deactivate",
        (_, Some(true)) if !before.active => "user.reactivate",
        (true, _) => "user.set_role",
        _ => "user.update",
    };
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        action,
        Some(user.email.clone()),
        Some(snapshot(&before)),
        Some(snapshot(&user)),
    )
    .await?;
    Ok(Json(user_body(&user)))
}

/// `POST /api/v1/users/{id}/reset-password` (local users).
pub async fn reset_password(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ResetPasswordRequest>,
) -> Result<StatusCode, ApiFailure> {
    let store = store(&state)?;
    let user = load(&state, &id).await?;
    check_manage(&p, &user)?;
    if user.provider != IdentityProvider::Local {
        return Err(ApiFailure::Conflict(
            "only local users have a password in Sentari".into(),
        ));
    }
    check_password_policy(&req.password)
        .map_err(|e| ApiFailure::field("password", e.to_string()))?;
    let h = password::hash(auth_rt(&state)?.hash_params, req.password)
        .await
        .map_err(|e| ApiFailure::Internal(e.to_string()))?;
    store.set_password_hash(user.id, &h).await?;
    store.delete_user_sessions(user.id).await?;
    store.clear_login_failures(user.id).await?;
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        "user.reset_password",
        Some(user.email),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/reset-mfa`.
pub async fn reset_mfa(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let store = store(&state)?;
    let user = load(&state, &id).await?;
    check_manage(&p, &user)?;
    // Clears the secret, any pending enrollment and the recovery codes, not only the flag, so
    // the user enrolls a new authenticator from scratch.
    store.clear_mfa(user.id).await?;
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        "user.reset_mfa",
        Some(user.email.clone()),
        Some(json!({"mfa_enabled": user.mfa_enabled})),
        Some(json!({"mfa_enabled": false})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/unlock`: forgets failed logins.
pub async fn unlock(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let store = store(&state)?;
    let user = load(&state, &id).await?;
    check_manage(&p, &user)?;
    let n = store.clear_login_failures(user.id).await?;
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        "user.unlock",
        Some(user.email),
        None,
        Some(json!({"failures_cleared": n})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/transfer-ownership` (owner only): the target becomes owner and
/// the caller becomes admin.
pub async fn transfer_ownership(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let store = store(&state)?;
    let user = load(&state, &id).await?;
    store.transfer_ownership(p.user.id, user.id).await?;
    audit::record(
        store,
        &p.actor(),
        ip(&p),
        "user.transfer_ownership",
        Some(user.email.clone()),
        Some(json!({"owner": p.user.email})),
        Some(json!({"owner": user.email.clone()})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
