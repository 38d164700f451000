//! `/login` and `/logout`: the sign-in form and signing out.
//!
//! The form posts to the dashboard, which calls the JSON API's own handler
//! (`http::api::auth::login`) with the same request type, so the checks (rate limit per
//! address, lockout, constant-time password check, LDAP/OIDC refusals), the session cookie, the
//! `security.log` lines and the audit entry are exactly the API's. Its failures come back as
//! the API's error codes and are shown as sentences.
//!
//! **Second step (MFA).** When the API answers `401 mfa_required`, the page shows a code field
//! and posts the e-mail, the password and `totp_code` again, which is what
//! `POST /api/v1/auth/login` takes. The password rides in a hidden field of that one page
//! (served with `Cache-Control: no-store`); if the authentication code moves to a challenge
//! token, only [`LoginPage`] and [`submit`] change.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use sentari_proto::auth::LoginRequest;
use serde::Deserialize;

use super::session::{MaybeUser, WebUser};
use super::view::{self, BareLayout, Failure};
use crate::auth::middleware::ClientIp;
use crate::http::access::AuthenticatedUser;
use crate::http::api::{self, JsonBody};
use crate::state::AppState;

/// A "Sign in with …" button, shown when single sign-on is configured.
#[derive(Debug, Clone)]
pub struct SsoLink {
    /// Where the button goes (the OIDC start URL).
    pub href: String,
    /// The provider's name.
    pub label: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The layout.
    pub layout: BareLayout,
    /// Where to go after signing in (a local path).
    pub next: String,
    /// The e-mail typed so far.
    pub email: String,
    /// Only on the second step: the password of the first.
    pub password: String,
    /// Whether this is the authentication-code step.
    pub mfa_step: bool,
    /// A confirmation (signed out, password changed).
    pub notice: Option<String>,
    /// Why signing in failed.
    pub error: Option<String>,
    /// Single sign-on, when configured (`None` until OIDC is).
    pub sso: Option<SsoLink>,
}

impl LoginPage {
    fn new(next: String) -> LoginPage {
        LoginPage {
            layout: BareLayout::new("Sign in"),
            next,
            email: String::new(),
            password: String::new(),
            mfa_step: false,
            notice: None,
            error: None,
            sso: None,
        }
    }
}

/// Only local paths are followed after sign-in, so a link cannot send someone elsewhere
/// (`//evil.example`, `/\evil.example`, `https://…`); anything else goes to the overview.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The confirmation for a `notice` code in the URL (fixed texts, so a link cannot inject any).
fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "signed_out" => "You are signed out.",
        "session_ended" => "Your session has ended. Sign in again and repeat the last action.",
        "password_changed" => {
            "Your password was changed and every session signed out. Sign in with the new password."
        }
        _ => return None,
    };
    Some(text.to_owned())
}

/// The query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// The "Sign in with single sign-on" button, when OIDC is configured. It starts the API's
/// flow (`/api/v1/auth/oidc/login`), which comes back signed in to `/`.
fn sso_link(state: &AppState) -> Option<SsoLink> {
    state.auth()?.oidc.as_ref()?;
    Some(SsoLink {
        href: "/api/v1/auth/oidc/login".to_owned(),
        label: "single sign-on".to_owned(),
    })
}

/// `GET /login`.
pub async fn form(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let mut page = LoginPage::new(next);
    page.notice = notice_text(q.notice.as_deref());
    page.sso = sso_link(&state);
    view::render(StatusCode::OK, &page)
}

/// The fields of the sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// What the page says for a failed sign-in.
fn login_message(f: &Failure) -> String {
    let wait = f
        .retry_after
        .map(|s| format!(" Try again in about {}.", view::span(s.max(1))))
        .unwrap_or_default();
    match f.code.as_str() {
        "rate_limited" if f.message.contains("locked") => format!(
            "{}{wait} An administrator can unlock the account sooner.",
            f.message
        ),
        "rate_limited" => format!("{}{wait}", f.message),
        "unavailable" => format!("{} Sign-in is not possible until it is back.", f.message),
        _ => f.message.clone(),
    }
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let totp_code = f
        .totp_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let mfa_attempt = totp_code.is_some();
    let req = LoginRequest {
        email: f.email.trim().to_owned(),
        password: f.password.clone(),
        totp_code,
    };
    let result = api::auth::login(
        State(state.clone()),
        Extension(ClientIp(ip)),
        headers,
        JsonBody(req),
    )
    .await;
    match result {
        Ok(resp) => {
            let email = resp.extensions().get::<AuthenticatedUser>().cloned();
            let mut out = Redirect::to(&next).into_response();
            for cookie in resp.headers().get_all(header::SET_COOKIE) {
                out.headers_mut().append(header::SET_COOKIE, cookie.clone());
            }
            if let Some(e) = email {
                out.extensions_mut().insert(e);
            }
            out
        }
        Err(e) => {
            let failure = view::explain(e).await;
            let mut page = LoginPage::new(next);
            page.email = f.email.trim().chars().take(320).collect();
            if failure.code == "mfa_required" {
                page.mfa_step = true;
                page.password = f.password;
                page.error = mfa_attempt.then(|| failure.message.clone());
                // The first answer is a question, not a failure: show the step with 200.
                let status = if mfa_attempt {
                    failure.status
                } else {
                    StatusCode::OK
                };
                return view::render(status, &page);
            }
            page.error = Some(login_message(&failure));
            page.sso = sso_link(&state);
            let mut resp = view::render(failure.status, &page);
            if let Some(s) = failure.retry_after
                && let Ok(v) = header::HeaderValue::from_str(&s.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// `POST /logout`: ends the session through the API's handler, then shows the login page.
pub async fn logout(State(state): State<AppState>, user: WebUser, headers: HeaderMap) -> Response {
    match api::auth::logout(State(state.clone()), headers, user.principal.clone()).await {
        Ok(resp) => {
            let mut out = Redirect::to("/login?notice=signed_out").into_response();
            for cookie in resp.headers().get_all(header::SET_COOKIE) {
                out.headers_mut().append(header::SET_COOKIE, cookie.clone());
            }
            out
        }
        Err(e) => {
            let f = view::explain(e).await;
            view::error_page(
                Some(&state),
                &user.principal,
                &user.csrf,
                f.status,
                "Sign-out failed",
                &f.message,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/admin/tasks?x=1")), "/admin/tasks?x=1");
        assert_eq!(safe_next(Some("/")), "/");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
            "/login?next=/login",
            "/a\r\nSet-Cookie: x=y",
            "/a\\b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }

    #[test]
    fn the_second_step_asks_for_a_code_and_keeps_the_first() {
        let mut page = LoginPage::new("/admin/tasks".into());
        page.email = "a@example.com".into();
        page.password = "Pass\"word<1>".into();
        page.mfa_step = true;
        let html = askama::Template::render(&page).unwrap_or_default();
        assert!(html.contains("<label for=\"totp_code\">Authentication code</label>"));
        assert!(html.contains("name=\"totp_code\""));
        assert!(html.contains("autocomplete=\"one-time-code\""));
        assert!(html.contains("type=\"hidden\" name=\"email\" value=\"a@example.com\""));
        // The password is carried escaped, never as markup.
        assert!(
            html.contains("name=\"password\" value=\"Pass&#34;word&#60;1&#62;\"")
                || html.contains("name=\"password\" value=\"Pass&quot;word&lt;1&gt;\""),
            "{html}"
        );
        assert!(
            !html.contains("id=\"password\""),
            "no password box on the second step"
        );
        page.mfa_step = false;
        let html = askama::Template::render(&page).unwrap_or_default();
        assert!(!html.contains("totp_code") && html.contains("id=\"password\""));
        assert!(
            !html.contains("Pass&"),
            "the first step never echoes a password"
        );
    }

    #[test]
    fn lockout_and_rate_limit_messages_say_when_to_retry() {
        let f = Failure {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited".into(),
            message: "This account is temporarily locked after repeated failed logins.".into(),
            retry_after: Some(600),
        };
        let m = login_message(&f);
        assert!(m.contains("locked") && m.contains("10 min") && m.contains("administrator"));
        let f = Failure {
            message: "Too many login attempts from this address; try again later.".into(),
            retry_after: Some(30),
            ..f
        };
        let m = login_message(&f);
        assert!(m.contains("30 s") && !m.contains("administrator"));
        assert_eq!(notice_text(Some("nonsense")), None);
        assert!(notice_text(Some("signed_out")).is_some());
    }
}
