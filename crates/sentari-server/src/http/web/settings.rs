//! Admin → Settings (`/admin/settings`, admin and up): users, enrollment tokens, and the CVE
//! feed section.
//!
//! User actions call the JSON API's handlers (`http::api::users`) with the API's request types,
//! so the rules (nobody grants above their own role, the owner is never demoted or deactivated,
//! nobody deactivates themselves, the password policy) and the audit entries are the API's. The
//! page hides every control the signed-in admin cannot use on a row; the handlers refuse anyway.
//!
//! Enrollment tokens are made like `sentari enroll-token create` makes them; the token and the
//! agent install command are shown once, in the answer to the form, and never again (only a
//! hash is stored). Creating and revoking a token is audited.
//!
//! Every action answers with a redirect back to the page and a fixed confirmation (`?notice=`),
//! or with the page and the reason it failed.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sentari_core::auth::{IdentityProvider, Role};
use sentari_proto::auth::{CreateUserRequest, ResetPasswordRequest, UpdateUserRequest};
use sentari_proto::fleet::FeedSettings as FeedPaths;
use sentari_store::{JobState, NewEnrollmentToken, TokenState};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::session::WebUser;
use super::view::{self, Failure, Layout, Stamp};
use crate::auth::audit;
use crate::cli::enroll_token;
use crate::feeds::sync::{EOL_BUNDLE_SETTING, EOL_SYNC, OSV_BUNDLE_SETTING, OSV_SYNC};
use crate::http::api::{self, JsonBody};
use crate::state::AppState;

/// One user row and what the signed-in admin may do to it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The id, for form actions.
    pub id: Uuid,
    /// The e-mail.
    pub email: String,
    /// The display name.
    pub name: String,
    /// The role.
    pub role: &'static str,
    /// `local`, `ldap` or `oidc`.
    pub provider: &'static str,
    /// Whether the account may sign in.
    pub active: bool,
    /// Whether MFA is on.
    pub mfa: bool,
    /// The last sign-in.
    pub last_login: Option<Stamp>,
    /// Whether this row is the signed-in user.
    pub is_self: bool,
    /// Roles the admin may give this user (empty: no role control).
    pub role_options: Vec<RoleOption>,
    /// Show "Deactivate".
    pub can_deactivate: bool,
    /// Show "Reactivate".
    pub can_reactivate: bool,
    /// Show "Reset password".
    pub can_reset_password: bool,
    /// Show "Reset MFA".
    pub can_reset_mfa: bool,
    /// Show "Unlock".
    pub can_unlock: bool,
}

/// An option of a role `<select>`.
#[derive(Debug, Clone)]
pub struct RoleOption {
    /// The role's name.
    pub value: &'static str,
    /// Whether it is the current one.
    pub selected: bool,
}

/// One enrollment token row.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// The id, for revoking.
    pub id: Uuid,
    /// When it was made.
    pub created: Stamp,
    /// `3` or `3 / 50`.
    pub uses: String,
    /// The expiry, or `never`.
    pub expires: String,
    /// `active`, `revoked`, `expired`, `used up`.
    pub state: &'static str,
    /// Tags every enrolled device gets.
    pub tags: String,
    /// Show "Revoke".
    pub can_revoke: bool,
}

/// A token just created: shown once.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// The token itself.
    pub token: String,
    /// The commands that enroll an agent with it.
    pub command: String,
}

/// The CVE feed section of the page: the status of every source as `GET /api/v1/feeds`
/// reports it, the sync jobs queued or running, and the settings (seed `000_…` §9).
#[derive(Debug, Clone, Default)]
pub struct FeedSettings {
    /// Per feed source: name, last success, last error, records.
    pub sources: Vec<FeedSource>,
    /// Advisories stored, and how many of them are withdrawn.
    pub advisories: i64,
    /// See [`FeedSettings::advisories`].
    pub withdrawn: i64,
    /// The offline OSV bundle the next sync reads (the setting, else `SENTARI_OSV_BUNDLE_PATH`).
    pub osv_bundle_path: Option<String>,
    /// The offline EOL bundle the next sync reads.
    pub eol_bundle_path: Option<String>,
    /// `cve.osv_bundle_path` as stored, for the form.
    pub osv_setting: String,
    /// `runtime_eol.bundle_path` as stored, for the form.
    pub eol_setting: String,
    /// Whether an NVD API key is stored (never the key itself).
    pub nvd_api_key_set: bool,
    /// Feed sync jobs queued, running, or just finished, newest first.
    pub jobs: Vec<FeedJob>,
    /// Whether a sync is queued or running (the section then refreshes itself).
    pub busy: bool,
}

/// The status of one feed source.
#[derive(Debug, Clone)]
pub struct FeedSource {
    /// `osv:PyPI`, `osv:bundle`, `eol`, ….
    pub name: String,
    /// Last attempt.
    pub last_attempt: Option<Stamp>,
    /// Last successful sync.
    pub last_success: Option<Stamp>,
    /// Last error, if the last sync failed, cut to a readable length.
    pub last_error: Option<String>,
    /// The whole error when it was cut.
    pub last_error_full: Option<String>,
    /// How many records it holds.
    pub records: i64,
    /// Older than three days, or never synced (the rule of `/api/health`).
    pub stale: bool,
    /// What the last run did (`added`, `updated`, … as the job recorded it).
    pub detail: String,
}

/// A feed sync job.
#[derive(Debug, Clone)]
pub struct FeedJob {
    /// `osv_sync` or `eol_sync`.
    pub kind: String,
    /// `queued`, `running`, `retrying`, `done`, `failed`.
    pub state: &'static str,
    /// When it was queued.
    pub created: Stamp,
    /// When it finished.
    pub finished: Option<Stamp>,
    /// Its error, when it failed, cut to a readable length.
    pub error: Option<String>,
    /// The whole error when it was cut.
    pub error_full: Option<String>,
}

/// The most characters of an error shown at first; a feed error lists every URL that failed,
/// which can run to pages, so the rest sits behind a disclosure.
pub const ERROR_PREVIEW: usize = 240;

/// An error cut to [`ERROR_PREVIEW`] characters, and the whole text when it was cut.
pub fn preview(e: Option<String>) -> (Option<String>, Option<String>) {
    match e {
        Some(e) if e.chars().count() > ERROR_PREVIEW => {
            let short: String = e.chars().take(ERROR_PREVIEW).collect();
            (Some(format!("{short}…")), Some(e))
        }
        e => (e, None),
    }
}

/// `system_config` key of the NVD API key (seed `000_…` §9). Only stored for now: no feed job
/// queries the NVD yet, and the settings section says so.
pub const NVD_API_KEY: &str = "cve.nvd_api_key";

impl FeedSettings {
    /// Reads the feed section: the API's feed status (which resolves the bundle paths the jobs
    /// will use), the stored settings, and the last few sync jobs of each kind.
    pub async fn load(state: &AppState) -> Result<FeedSettings, api::ApiFailure> {
        let store = api::store(state)?;
        let body = api::fleet::feed_statuses(state).await?;
        let text = |v: Option<serde_json::Value>| {
            v.and_then(|v| v.as_str().map(str::to_owned))
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_default()
        };
        let (osv, eol, nvd, osv_jobs, eol_jobs) = tokio::try_join!(
            store.get_setting(OSV_BUNDLE_SETTING),
            store.get_setting(EOL_BUNDLE_SETTING),
            store.get_setting(NVD_API_KEY),
            store.list_jobs(None, Some(OSV_SYNC), 3),
            store.list_jobs(None, Some(EOL_SYNC), 3),
        )?;
        let now = OffsetDateTime::now_utc();
        let mut jobs: Vec<FeedJob> = osv_jobs
            .into_iter()
            .chain(eol_jobs)
            .map(|j| {
                let (error, error_full) =
                    preview(j.last_error.filter(|_| j.state != JobState::Done));
                FeedJob {
                    error,
                    error_full,
                    state: match j.state {
                        JobState::Pending if j.attempts > 0 => "retrying",
                        JobState::Pending => "queued",
                        JobState::Running => "running",
                        JobState::Done => "done",
                        JobState::Dead => "failed",
                    },
                    created: view::stamp(j.created_at, now),
                    finished: j.finished_at.map(|t| view::stamp(t, now)),
                    kind: j.kind,
                }
            })
            .collect();
        jobs.sort_by(|a, b| b.created.iso.cmp(&a.created.iso));
        let busy = jobs
            .iter()
            .any(|j| matches!(j.state, "queued" | "running" | "retrying"));
        Ok(FeedSettings {
            sources: body
                .sources
                .into_iter()
                .map(|f| {
                    let (last_error, last_error_full) = preview(f.last_error);
                    FeedSource {
                        last_attempt: f.last_attempt.map(|t| view::stamp(t, now)),
                        last_success: f.last_success.map(|t| view::stamp(t, now)),
                        last_error,
                        last_error_full,
                        records: f.record_count,
                        stale: f.stale,
                        detail: match &f.detail {
                            serde_json::Value::Null => String::new(),
                            d => d.to_string(),
                        },
                        name: f.source,
                    }
                })
                .collect(),
            advisories: body.advisories,
            withdrawn: body.withdrawn,
            osv_bundle_path: body.osv_bundle_path,
            eol_bundle_path: body.eol_bundle_path,
            osv_setting: text(osv),
            eol_setting: text(eol),
            nvd_api_key_set: nvd.is_some_and(|v| v.as_str().is_some_and(|k| !k.is_empty())),
            jobs,
            busy,
        })
    }
}

/// The page.
#[derive(Template)]
#[template(path = "admin_settings.html")]
pub struct SettingsPage {
    /// The layout.
    pub layout: Layout,
    /// Every user.
    pub users: Vec<UserRow>,
    /// Roles the admin may give a new user.
    pub create_roles: Vec<&'static str>,
    /// Every enrollment token.
    pub tokens: Vec<TokenRow>,
    /// The token just created, once.
    pub created_token: Option<CreatedToken>,
    /// The CVE feed section.
    pub feed: FeedSettings,
}

fn user_rows(
    users: Vec<sentari_store::User>,
    p: &crate::auth::Principal,
    now: OffsetDateTime,
) -> Vec<UserRow> {
    users
        .into_iter()
        .map(|u| {
            // The API's rule: admins manage users at or below their own role.
            let manage = u.role <= p.role;
            let is_self = u.id == p.user.id;
            let role_options = if manage && u.role != Role::Owner && !is_self {
                Role::ALL
                    .iter()
                    .filter(|r| p.role.can_grant(**r))
                    .map(|r| RoleOption {
                        value: r.as_str(),
                        selected: *r == u.role,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            UserRow {
                id: u.id,
                name: u.display_name.clone(),
                role: u.role.as_str(),
                provider: u.provider.as_str(),
                mfa: u.mfa_enabled,
                last_login: u.last_login_at.map(|t| view::stamp(t, now)),
                is_self,
                role_options,
                can_deactivate: manage && u.active && !is_self && u.role != Role::Owner,
                can_reactivate: manage && !u.active,
                can_reset_password: manage && u.provider == IdentityProvider::Local && !is_self,
                can_reset_mfa: manage && u.mfa_enabled,
                can_unlock: manage && !is_self,
                active: u.active,
                email: u.email,
            }
        })
        .collect()
}

fn token_rows(tokens: Vec<sentari_store::EnrollmentToken>, now: OffsetDateTime) -> Vec<TokenRow> {
    // The store lists them newest first, so the token just made is at the top.
    tokens
        .into_iter()
        .map(|t| {
            let state = t.state(now);
            TokenRow {
                id: t.id,
                created: view::stamp(t.created_at, now),
                uses: match t.max_uses {
                    Some(m) => format!("{} / {m}", t.uses),
                    None => t.uses.to_string(),
                },
                expires: t
                    .expires_at
                    .map(|e| view::stamp(e, now).text)
                    .unwrap_or_else(|| "never".into()),
                state: match state {
                    TokenState::Usable => "active",
                    TokenState::Revoked => "revoked",
                    TokenState::Expired => "expired",
                    TokenState::UsedUp => "used up",
                },
                tags: t.tags.join(", "),
                can_revoke: t.revoked_at.is_none(),
            }
        })
        .collect()
}

/// Renders the page with an optional confirmation, error and newly created token.
async fn render_page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    created_token: Option<CreatedToken>,
) -> Response {
    let layout = Layout::new(
        Some(state),
        &user.principal,
        &user.csrf,
        "/admin/settings",
        "Settings",
    )
    .notice(notice)
    .error(error);
    let store = match api::store(state) {
        Ok(s) => s,
        Err(e) => return unavailable(state, user, e).await,
    };
    let loaded = tokio::try_join!(store.list_users(), store.list_enrollment_tokens());
    let (users, tokens) = match loaded {
        Ok(v) => v,
        Err(e) => return unavailable(state, user, e.into()).await,
    };
    let feed = match FeedSettings::load(state).await {
        Ok(f) => f,
        Err(e) => return unavailable(state, user, e).await,
    };
    let now = OffsetDateTime::now_utc();
    let p = &user.principal;
    let page = SettingsPage {
        layout,
        users: user_rows(users, p, now),
        create_roles: Role::ALL
            .iter()
            .filter(|r| p.role.can_grant(**r))
            .map(|r| r.as_str())
            .collect(),
        tokens: token_rows(tokens, now),
        created_token,
        feed,
    };
    view::render(status, &page)
}

async fn unavailable(state: &AppState, user: &WebUser, e: api::ApiFailure) -> Response {
    let f = view::explain(e).await;
    view::error_page(
        Some(state),
        &user.principal,
        &user.csrf,
        f.status,
        "Settings unavailable",
        &f.message,
    )
}

/// The confirmation for a `notice` code (fixed texts only).
fn notice_text(code: Option<&str>) -> Option<String> {
    let t = match code? {
        "user_created" => "User created.",
        "role_changed" => "Role changed. The user's sessions were signed out.",
        "user_deactivated" => "User deactivated and signed out everywhere.",
        "user_reactivated" => "User reactivated.",
        "password_reset" => "Password reset. The user's sessions were signed out.",
        "mfa_reset" => {
            "Two-factor authentication reset; the user enrolls again at their next sign-in if it is required."
        }
        "user_unlocked" => "Failed sign-ins forgotten: the account is unlocked.",
        "feed_saved" => "CVE feed settings saved; the next sync uses them.",
        "sync_queued" => {
            "Feed sync queued. It runs in the background; this section shows its progress."
        }
        "sync_already" => "A feed sync is already queued or running; its progress is shown below.",
        "token_revoked" => {
            "Enrollment token revoked. Agents already enrolled with it keep working."
        }
        _ => return None,
    };
    Some(t.to_owned())
}

fn done(code: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/admin/settings?notice={code}#{anchor}")).into_response()
}

async fn fail(state: &AppState, user: &WebUser, f: Failure) -> Response {
    render_page(state, user, f.status, None, Some(f.message), None).await
}

async fn api_fail(state: &AppState, user: &WebUser, e: api::ApiFailure) -> Response {
    fail(state, user, view::explain(e).await).await
}

/// The query of the page.
#[derive(Debug, Deserialize)]
pub struct SettingsQuery {
    notice: Option<String>,
}

/// `GET /admin/settings`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<SettingsQuery>,
) -> Response {
    render_page(
        &state,
        &user,
        StatusCode::OK,
        notice_text(q.notice.as_deref()),
        None,
        None,
    )
    .await
}

/// The new-user form.
#[derive(Deserialize)]
pub struct CreateUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    identity_provider: String,
    #[serde(default)]
    password: String,
}

fn bad(detail: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
}

/// `POST /admin/settings/users`.
pub async fn create_user(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<CreateUserForm>,
) -> Response {
    let role = match f.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return fail(&state, &user, bad(e.to_string())).await,
    };
    let provider = if f.identity_provider.is_empty() {
        IdentityProvider::Local
    } else {
        match f.identity_provider.parse::<IdentityProvider>() {
            Ok(p) => p,
            Err(e) => return fail(&state, &user, bad(e.to_string())).await,
        }
    };
    // The form always has a password box; it only counts for local users.
    let password = (provider == IdentityProvider::Local).then_some(f.password);
    let req = CreateUserRequest {
        email: f.email.trim().to_owned(),
        display_name: f.display_name,
        role,
        identity_provider: provider,
        password,
    };
    match api::users::create(State(state.clone()), user.principal.clone(), JsonBody(req)).await {
        Ok(_) => done("user_created", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// The role form.
#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /admin/settings/users/{id}/role`.
pub async fn set_role(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    let role = match f.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return fail(&state, &user, bad(e.to_string())).await,
    };
    let req = UpdateUserRequest {
        role: Some(role),
        ..UpdateUserRequest::default()
    };
    match api::users::update(
        State(state.clone()),
        user.principal.clone(),
        Path(id),
        JsonBody(req),
    )
    .await
    {
        Ok(_) => done("role_changed", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// The (de)activation form.
#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// `POST /admin/settings/users/{id}/active`.
pub async fn set_active(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> Response {
    let active = match f.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return fail(&state, &user, bad("active must be true or false")).await,
    };
    let req = UpdateUserRequest {
        active: Some(active),
        ..UpdateUserRequest::default()
    };
    match api::users::update(
        State(state.clone()),
        user.principal.clone(),
        Path(id),
        JsonBody(req),
    )
    .await
    {
        Ok(_) if active => done("user_reactivated", "users"),
        Ok(_) => done("user_deactivated", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// The password-reset form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// `POST /admin/settings/users/{id}/password`.
pub async fn reset_password(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let req = ResetPasswordRequest {
        password: f.password,
    };
    match api::users::reset_password(
        State(state.clone()),
        user.principal.clone(),
        Path(id),
        JsonBody(req),
    )
    .await
    {
        Ok(_) => done("password_reset", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// `POST /admin/settings/users/{id}/mfa-reset`.
pub async fn reset_mfa(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    match api::users::reset_mfa(State(state.clone()), user.principal.clone(), Path(id)).await {
        Ok(_) => done("mfa_reset", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// `POST /admin/settings/users/{id}/unlock`.
pub async fn unlock(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    match api::users::unlock(State(state.clone()), user.principal.clone(), Path(id)).await {
        Ok(_) => done("user_unlocked", "users"),
        Err(e) => api_fail(&state, &user, e).await,
    }
}

/// The new-token form.
#[derive(Deserialize)]
pub struct TokenForm {
    /// `1h`, `24h`, `7d`, `30d`, … or empty for no expiry.
    #[serde(default)]
    ttl: String,
    /// Empty for unlimited.
    #[serde(default)]
    max_uses: String,
    /// `key:value` tags separated by commas or spaces.
    #[serde(default)]
    tags: String,
}

/// The most tags one token may give.
const MAX_TAGS: usize = 20;

/// A validated token form: what the store takes, without the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// When it stops working.
    pub expires_at: Option<OffsetDateTime>,
    /// How many enrollments it allows.
    pub max_uses: Option<i32>,
    /// Tags enrolled devices get.
    pub tags: Vec<String>,
}

/// Validates the token form.
pub fn parse_token_form(
    ttl: &str,
    max_uses: &str,
    tags: &str,
    now: OffsetDateTime,
) -> Result<TokenSpec, String> {
    let ttl = ttl.trim();
    let expires_at = if ttl.is_empty() || ttl == "never" {
        None
    } else {
        Some(now + enroll_token::parse_ttl(ttl)?)
    };
    let max_uses = max_uses.trim();
    let max_uses =
        if max_uses.is_empty() {
            None
        } else {
            match max_uses.parse::<i32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => return Err(
                    "maximum uses must be a whole number from 1 to 1000000, or empty for unlimited"
                        .into(),
                ),
            }
        };
    let tags = tags
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(enroll_token::parse_tag)
        .collect::<Result<Vec<_>, _>>()?;
    if tags.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags per token"));
    }
    Ok(TokenSpec {
        expires_at,
        max_uses,
        tags,
    })
}

/// The host name the browser used, when it is a plain name or address (it goes into a shell
/// command the admin copies, so anything unusual is replaced by the configured server name).
fn agent_host(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or("").to_owned()
    };
    let plain = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if plain {
        name
    } else {
        state
            .config()
            .server_names()
            .into_iter()
            .next()
            .unwrap_or_else(|| "SERVER".into())
    }
}

/// The commands that enroll an agent with `token`: write the token to a file only root reads,
/// then enroll with the server's agent address and the CA fingerprint to pin.
pub async fn install_command(state: &AppState, headers: &HeaderMap, token: &str) -> String {
    let host = agent_host(state, headers);
    let port = state.config().agent_bind.port();
    let port = if port == 0 {
        "AGENT_PORT".to_owned()
    } else {
        port.to_string()
    };
    let ca_path = state
        .config()
        .ca_dir(&state.config().paths())
        .join("ca.pem");
    let fingerprint = match tokio::fs::read_to_string(&ca_path).await {
        Ok(pem) => crate::pki::CaCert::from_pem(&pem)
            .map(|c| c.fingerprint)
            .unwrap_or_else(|_| "CA_FINGERPRINT".into()),
        Err(_) => "CA_FINGERPRINT".into(),
    };
    format!(
        "install -m 600 /dev/null /root/sentari-token && printf '%s' '{token}' > /root/sentari-token\n\
         sentari-agent --server-url https://{host}:{port} --enroll-token-file /root/sentari-token --ca-fingerprint {fingerprint}\n\
         systemctl enable --now sentari-agent"
    )
}

/// `POST /admin/settings/tokens`.
pub async fn create_token(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let TokenSpec {
        expires_at,
        max_uses,
        tags,
    } = match parse_token_form(&f.ttl, &f.max_uses, &f.tags, now) {
        Ok(v) => v,
        Err(e) => return fail(&state, &user, bad(e)).await,
    };
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return api_fail(&state, &user, e).await,
    };
    let token = enroll_token::new_token();
    let new = NewEnrollmentToken {
        token_hash: enroll_token::hash_token(&token),
        tags: tags.clone(),
        max_uses,
        expires_at,
    };
    let id = match store.create_enrollment_token(&new).await {
        Ok(id) => id,
        Err(e) => return api_fail(&state, &user, e.into()).await,
    };
    let p = &user.principal;
    let expires = expires_at.and_then(|e| {
        e.format(&time::format_description::well_known::Rfc3339)
            .ok()
    });
    if let Err(e) = audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "enrollment_token.create",
        Some(id.to_string()),
        None,
        Some(json!({"tags": tags, "max_uses": max_uses, "expires_at": expires})),
    )
    .await
    {
        return api_fail(&state, &user, e.into()).await;
    }
    let command = install_command(&state, &headers, &token).await;
    render_page(
        &state,
        &user,
        StatusCode::OK,
        Some("Enrollment token created. Copy it now: it is shown only this once.".into()),
        None,
        Some(CreatedToken { token, command }),
    )
    .await
}

/// `POST /admin/settings/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no active enrollment token has this id",
        )
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return fail(&state, &user, not_found()).await;
    };
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return api_fail(&state, &user, e).await,
    };
    match store.revoke_enrollment_token(id).await {
        Ok(true) => {}
        Ok(false) => return fail(&state, &user, not_found()).await,
        Err(e) => return api_fail(&state, &user, e.into()).await,
    }
    let p = &user.principal;
    if let Err(e) = audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "enrollment_token.revoke",
        Some(id.to_string()),
        None,
        None,
    )
    .await
    {
        return api_fail(&state, &user, e.into()).await;
    }
    done("token_revoked", "tokens")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn token_form_validation() {
        let now = datetime!(2026-01-31 12:00:00 UTC);
        let spec = parse_token_form("7d", "50", "site:paris, env:prod", now).unwrap();
        assert_eq!(spec.expires_at, Some(datetime!(2026-02-07 12:00:00 UTC)));
        assert_eq!(spec.max_uses, Some(50));
        assert_eq!(spec.tags, ["site:paris", "env:prod"]);
        assert_eq!(
            parse_token_form("", "", "", now).unwrap(),
            TokenSpec {
                expires_at: None,
                max_uses: None,
                tags: vec![]
            }
        );
        assert!(parse_token_form("3w", "", "", now).is_err());
        assert!(parse_token_form("", "0", "", now).is_err());
        assert!(parse_token_form("", "x", "", now).is_err());
        assert!(parse_token_form("", "", "nocolon", now).is_err());
        let many = (0..21)
            .map(|i| format!("k{i}:v"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_token_form("", "", &many, now).is_err());
    }

    #[test]
    fn unknown_notice_codes_show_nothing() {
        assert_eq!(notice_text(Some("<script>")), None);
        assert!(notice_text(Some("user_created")).is_some());
    }
}

/// The feed settings form.
#[derive(Deserialize)]
pub struct FeedForm {
    #[serde(default)]
    osv_bundle_path: String,
    #[serde(default)]
    eol_bundle_path: String,
    /// A new NVD API key; empty keeps the stored one.
    #[serde(default)]
    nvd_api_key: String,
    /// `on` removes the stored NVD API key.
    #[serde(default)]
    nvd_api_key_clear: String,
}

/// `POST /admin/settings/feed`: the bundle paths through `PUT /api/v1/feeds/settings` (which
/// checks they exist and audits the change), and the NVD API key, audited without its value.
pub async fn save_feed(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<FeedForm>,
) -> Response {
    let paths = FeedPaths {
        osv_bundle_path: Some(f.osv_bundle_path.trim().to_owned()),
        eol_bundle_path: Some(f.eol_bundle_path.trim().to_owned()),
    };
    if let Err(e) = api::fleet::put_settings(
        State(state.clone()),
        user.principal.clone(),
        JsonBody(paths),
    )
    .await
    {
        return fail(&state, &user, view::explain(e).await).await;
    }
    let key = f.nvd_api_key.trim();
    let clear = f.nvd_api_key_clear == "on";
    if !key.is_empty() || clear {
        if key.len() > 200 || key.chars().any(char::is_control) {
            return fail(
                &state,
                &user,
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the NVD API key is at most 200 printable characters",
                ),
            )
            .await;
        }
        let p = &user.principal;
        let result = async {
            let store = api::store(&state)?;
            if clear {
                store.delete_setting(NVD_API_KEY).await?;
            } else {
                store.put_setting(NVD_API_KEY, &json!(key)).await?;
            }
            audit::record(
                store,
                &p.actor(),
                p.ip.map(|i| i.to_string()),
                "feeds.nvd_api_key",
                Some(NVD_API_KEY.to_owned()),
                None,
                Some(json!({"set": !clear})),
            )
            .await?;
            Ok::<(), api::ApiFailure>(())
        }
        .await;
        if let Err(e) = result {
            return fail(&state, &user, view::explain(e).await).await;
        }
    }
    Redirect::to("/admin/settings?notice=feed_saved#cve-feed").into_response()
}

/// `POST /admin/settings/feed/sync`: enqueues the same jobs as `POST /api/v1/feeds/sync` and
/// returns at once; the section shows the jobs' progress and refreshes itself while they run.
pub async fn sync_feed(State(state): State<AppState>, user: WebUser) -> Response {
    match api::fleet::sync(State(state.clone()), user.principal.clone(), None).await {
        Ok((_, axum::Json(queued))) => {
            let notice = if queued.jobs.is_empty() {
                "sync_already"
            } else {
                "sync_queued"
            };
            Redirect::to(&format!("/admin/settings?notice={notice}#cve-feed")).into_response()
        }
        Err(e) => fail(&state, &user, view::explain(e).await).await,
    }
}
