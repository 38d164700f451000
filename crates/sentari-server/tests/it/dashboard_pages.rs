//! The dashboard's handler tests, against the real server: the page × role matrix over every
//! route of `http::web::routes()`, what each page shows to each role, the forms and their
//! refusals (roles, CSRF), the login flow, Admin → Settings, Tasks and Audit log, Profile,
//! banners and static files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, eventually};
use crate::web_support::*;
use sentari_core::auth::Role;
use sentari_server::auth::Access;
use sentari_server::http::web;
use sentari_store::{NewJob, Store, StoreOptions};
use serde_json::json;

const SOME_ID: &str = "0190aaaa-0000-7000-8000-000000000000";

/// Markup the CSP would block or that bypasses it: inline script, inline style, event-handler
/// attributes, `javascript:` URLs.
fn inline_violations(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("<script") {
        let tag = rest[i..].split('>').next().unwrap_or("");
        if !tag.contains(" src=") {
            found.push(format!("inline script: {tag}"));
        }
        rest = &rest[i + 7..];
    }
    if lower.contains("<style") {
        found.push("a <style> element".into());
    }
    if lower.contains(" style=") {
        found.push("a style attribute".into());
    }
    if lower.contains("javascript:") {
        found.push("a javascript: URL".into());
    }
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        if !name.is_empty() && lower[i + 3 + name.len()..].starts_with("=\"") {
            found.push(format!("an on{name}= handler"));
        }
    }
    found
}

fn assert_security_headers(r: &sentari_client::TextAnswer, what: &str) {
    let csp = r.header("content-security-policy").unwrap_or("");
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp:?}");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{what}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{what}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
}

async fn seeded(env: &Env) -> (crate::common::Server, Vec<(Role, String, String)>) {
    let server = start(env, &[("SENTARI_LOGIN_RATE_PER_MINUTE", "1000")]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let mut users = Vec::new();
    for role in [Role::Viewer, Role::Analyst, Role::Admin] {
        let email = format!("{role}@example.com");
        let pw = create_user(&server, &owner, &email, role.as_str()).await;
        users.push((role, email, pw));
    }
    users.push((Role::Owner, OWNER.to_owned(), OWNER_PW.to_owned()));
    (server, users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_enforces_its_declared_minimum_role_and_shows_only_what_the_role_may_open() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let mut visitors: Vec<(Option<Role>, crate::web_support::Web<'_>)> =
        vec![(None, Web::anonymous(&server))];
    for (role, email, pw) in &users {
        visitors.push((Some(*role), Web::login(&server, email, pw).await));
    }
    let table = web::route_table();
    assert!(table.len() >= 30, "the page table looks empty");
    let mut failures = Vec::new();
    let mut fail = |s: String| failures.push(s);
    for (method, path, access) in &table {
        let concrete = path
            .replace("{id}", SOME_ID)
            .replace("{advisory_id}", "NO-SUCH-ADVISORY")
            .replace("{file}", "app.css");
        for (role, visitor) in &visitors {
            let who = role.map(|r| r.as_str()).unwrap_or("anonymous");
            let r = if *method == "GET" {
                visitor.get(&concrete).await
            } else if *path == "/logout" {
                // Signing out ends the session: use a fresh one so later requests keep theirs.
                match role {
                    None => visitor.post(&concrete, &[]).await,
                    Some(r) => {
                        let (_, email, pw) = users.iter().find(|(x, _, _)| x == r).unwrap();
                        Web::login(&server, email, pw)
                            .await
                            .post(&concrete, &[])
                            .await
                    }
                }
            } else if *path == "/login" {
                let (_, email, pw) = &users[0];
                Web::anonymous(&server)
                    .post(&concrete, &[("email", email), ("password", pw)])
                    .await
            } else {
                visitor.post(&concrete, &[]).await
            };
            let to_login =
                r.status == 303 && r.header("location").unwrap_or("").starts_with("/login");
            let allowed = access.allows(*role);
            let ok = match (access, role) {
                (Access::Public, _) => r.status < 400,
                (Access::Role(_), None) => {
                    to_login
                        && (*method != "GET"
                            || r.header("location").unwrap().starts_with(&format!(
                                "/login?next={}",
                                concrete.replace('/', "%2F")
                            )))
                }
                (Access::Role(min), Some(_)) if !allowed => {
                    r.status == 403 && r.body.contains(&format!("needs the {min} role"))
                }
                // A page of one record (an advisory) answers 404 for a made-up id.
                _ if *method == "GET" && path.contains("{advisory_id}") => r.status == 404,
                // A page about one object answers 404 for an id that does not exist.
                _ if *method == "GET" && path.contains("{id}") => {
                    r.status == 200 || r.status == 404
                }
                _ if *method == "GET" => r.status == 200,
                _ if *path == "/logout" => {
                    r.status == 303 && r.header("location") == Some("/login?notice=signed_out")
                }
                _ => !to_login && r.status != 401 && r.status != 403,
            };
            if !ok {
                fail(format!(
                    "{method} {path} as {who}: got {} (location {:?})",
                    r.status,
                    r.header("location")
                ));
                continue;
            }
            let html = r
                .header("content-type")
                .unwrap_or("")
                .starts_with("text/html");
            if html {
                assert_security_headers(&r, &format!("{method} {path} as {who}"));
                assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
                let bad = inline_violations(&r.body);
                if !bad.is_empty() {
                    fail(format!("{method} {path} as {who}: {bad:?}"));
                }
            }
            // The sidebar of every page a signed-in user sees lists exactly what they may open.
            if let Some(role) = role
                && html
                && (r.status == 200 || r.status == 403)
                && r.body.contains("class=\"sidebar\"")
            {
                for entry in web::view::NAV {
                    let shown = r.body.contains(&format!("href=\"{}\"", entry.path));
                    if shown != entry.access.allows(Some(*role)) {
                        fail(format!(
                            "{method} {path} as {who}: navigation entry {} shown={shown}",
                            entry.path
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "page × role matrix failures:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_errors_lockout_redirects_and_logout() {
    let env = Env::new().await;
    let server = start(
        &env,
        &[
            ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000"),
            ("SENTARI_LOCKOUT_THRESHOLD", "3"),
        ],
    )
    .await;
    let anon = Web::anonymous(&server);

    // A page sends an anonymous visitor to the login page, which comes back to it.
    let r = anon.get("/admin/tasks?x=1").await;
    assert_redirect(&r, "/login?next=%2Fadmin%2Ftasks%3Fx%3D1");
    let page = anon.get("/login?next=%2Fadmin%2Ftasks%3Fx%3D1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<label for=\"email\">E-mail</label>"));
    assert!(
        page.body
            .contains("<label for=\"password\">Password</label>")
    );
    assert!(
        page.body
            .contains("name=\"next\" value=\"/admin/tasks?x=1\"")
    );
    assert!(
        !page.body.contains("class=\"sidebar\""),
        "no navigation before sign-in"
    );
    let r = anon
        .post(
            "/login",
            &[
                ("email", OWNER),
                ("password", OWNER_PW),
                ("next", "/admin/tasks?x=1"),
            ],
        )
        .await;
    assert_redirect(&r, "/admin/tasks?x=1");
    let cookie = session_cookie(&r).unwrap();
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    // Somewhere else than this site is never followed.
    let r = anon
        .post(
            "/login",
            &[
                ("email", OWNER),
                ("password", OWNER_PW),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_redirect(&r, "/");
    assert_eq!(r.header("location"), Some("/"));

    // Signed in, the login page steps aside.
    let me = Web {
        server: &server,
        cookie: Some(cookie.clone()),
        csrf: None,
    };
    assert_redirect(&me.get("/login").await, "/");
    // A login form left open in another tab still signs in (a new session).
    let r = me
        .post("/login", &[("email", OWNER), ("password", OWNER_PW)])
        .await;
    assert_redirect(&r, "/");
    assert_ne!(
        session_cookie(&r).unwrap(),
        cookie,
        "a new session at every sign-in"
    );

    // Wrong password: one generic message for unknown accounts and bad passwords.
    let r = anon
        .post("/login", &[("email", OWNER), ("password", "Wrong-Pass-1!")])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Invalid e-mail or password."), "{}", r.body);
    assert!(
        r.body.contains(&format!("value=\"{OWNER}\"")),
        "the e-mail stays filled in"
    );
    let r = anon
        .post(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "Wrong-Pass-1!"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Invalid e-mail or password."));

    // Lockout after the configured number of failures, with when to come back.
    let owner = login(&server, OWNER, OWNER_PW).await;
    let pw = create_user(&server, &owner, "locked@example.com", "viewer").await;
    for _ in 0..3 {
        let r = anon
            .post(
                "/login",
                &[
                    ("email", "locked@example.com"),
                    ("password", "Nope-Nope-1!"),
                ],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = anon
        .post(
            "/login",
            &[("email", "locked@example.com"), ("password", &pw)],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("temporarily locked"), "{}", r.body);
    assert!(r.body.contains("Try again in about"), "{}", r.body);
    assert!(r.body.contains("administrator can unlock"), "{}", r.body);
    assert!(r.header("retry-after").is_some());

    // LDAP accounts use the same form; without a directory configured the page says so.
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&owner),
        Some(json!({"email": "dir@example.com", "role": "viewer", "identity_provider": "ldap"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = anon
        .post(
            "/login",
            &[
                ("email", "dir@example.com"),
                ("password", "Directory-Pw-1!"),
            ],
        )
        .await;
    assert_eq!(r.status, 501);
    assert!(
        r.body.contains("LDAP authentication is not configured"),
        "{}",
        r.body
    );

    // A login form posted from another site is refused.
    let r = anon
        .post_with(
            "/login",
            &[("email", OWNER), ("password", OWNER_PW)],
            Some("cross-site"),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(session_cookie(&r).is_none());

    // Sign out: the session ends and pages ask for a sign-in again.
    let me = Web::login(&server, OWNER, OWNER_PW).await;
    let r = me.post("/logout", &[]).await;
    assert_redirect(&r, "/login?notice=signed_out");
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_redirect(&me.get("/profile").await, "/login?next=");
    let page = anon.get("/login?notice=signed_out").await;
    assert!(page.body.contains("You are signed out."));
    // The audit log recorded the sign-ins and the sign-out.
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=auth.logout",
        Some(&owner),
        None,
    )
    .await;
    assert!(audit.body["total"].as_i64().unwrap() >= 1, "{}", audit.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_session_csrf_token_and_a_same_site_origin() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let admin = Web::login(&server, &users[2].1, &users[2].2).await;
    let other = Web::login(&server, OWNER, OWNER_PW).await;
    let fields = [
        ("email", "csrf-victim@example.com"),
        ("role", "viewer"),
        ("password", "Victim-Pass-12!"),
    ];
    // No token.
    let r = admin.post_raw("/admin/settings/users", &fields, true).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("security token"), "{}", r.body);
    // Another session's token.
    let mut with_other = fields.to_vec();
    let other_token = other.csrf.clone().unwrap();
    assert_ne!(other.csrf, admin.csrf, "tokens are per session");
    with_other.push(("csrf", &other_token));
    let r = admin
        .post_raw("/admin/settings/users", &with_other, true)
        .await;
    assert_eq!(r.status, 403);
    // The right token, but sent from another site, or with neither Sec-Fetch-Site nor Origin.
    let mut with_own = fields.to_vec();
    let own = admin.csrf.clone().unwrap();
    with_own.push(("csrf", &own));
    let r = admin
        .post_with("/admin/settings/users", &with_own, Some("cross-site"))
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("sent from another site"), "{}", r.body);
    let r = admin
        .post_with("/admin/settings/users", &with_own, None)
        .await;
    assert_eq!(r.status, 403);
    // None of these created the user.
    let page = admin.get("/admin/settings").await;
    assert!(!page.body.contains("csrf-victim@example.com"));
    // The real form works.
    let r = admin.post("/admin/settings/users", &fields).await;
    assert_redirect(&r, "/admin/settings?notice=user_created");
    let page = admin.get("/admin/settings?notice=user_created").await;
    assert!(page.body.contains("csrf-victim@example.com"));
    assert!(page.body.contains("User created."));
    // Refusals are in security.log.
    crate::common::log_with(&env.data_dir(), "security", &["csrf_refused"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_manage_users_within_the_callers_role() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let (_, admin_email, admin_pw) = &users[2];
    let admin = Web::login(&server, admin_email, admin_pw).await;
    let page = admin.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    for section in ["id=\"users\"", "id=\"tokens\"", "id=\"cve-feed\""] {
        assert!(page.body.contains(section), "{section}");
    }
    // The owner's row has no controls for an admin; the admin's own row cannot deactivate.
    let row = |html: &str, email: &str| -> String {
        let start = html.find(&format!("data-user=\"{email}\"")).unwrap();
        html[start..].split("</tr>").next().unwrap().to_owned()
    };
    let owner_row = row(&page.body, OWNER);
    assert!(!owner_row.contains("<form"), "{owner_row}");
    let self_row = row(&page.body, admin_email);
    assert!(!self_row.contains("Deactivate") && !self_row.contains("name=\"role\""));
    let viewer_row = row(&page.body, "viewer@example.com");
    assert!(viewer_row.contains("Deactivate") && viewer_row.contains("Reset password"));
    assert!(
        !viewer_row.contains("Reset MFA"),
        "MFA is off: nothing to reset"
    );
    assert!(
        !viewer_row.contains("value=\"owner\""),
        "ownership is never granted from a role menu"
    );
    // The create form offers no role above the admin's own.
    assert!(!page.body.contains("<option value=\"owner\""));

    let owner_token = login(&server, OWNER, OWNER_PW).await;
    let users_api = call(&server, "GET", "/api/v1/users", Some(&owner_token), None).await;
    let id_of = |email: &str| -> String {
        users_api.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let viewer_id = id_of("viewer@example.com");
    let owner_id = id_of(OWNER);

    // Change a role.
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/role"),
            &[("role", "analyst")],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=role_changed");
    let page = admin.get("/admin/settings").await;
    assert!(row(&page.body, "viewer@example.com").contains("<option value=\"analyst\" selected>"));
    // The server refuses what the page does not offer.
    let r = admin
        .post(
            &format!("/admin/settings/users/{owner_id}/role"),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("above yours"), "{}", r.body);
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/role"),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("cannot grant the owner role"), "{}", r.body);

    // Deactivate: the user can no longer sign in; reactivate.
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/active"),
            &[("active", "false")],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=user_deactivated");
    let r = login_raw(&server, "viewer@example.com", &users[0].2).await;
    assert_eq!(r.status, 401);
    let page = admin.get("/admin/settings").await;
    assert!(row(&page.body, "viewer@example.com").contains("deactivated"));
    assert!(row(&page.body, "viewer@example.com").contains("Reactivate"));
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/active"),
            &[("active", "true")],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=user_reactivated");

    // Reset password with the policy; then the new one works.
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/password"),
            &[("password", "weak")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("does not meet the policy"), "{}", r.body);
    let r = admin
        .post(
            &format!("/admin/settings/users/{viewer_id}/password"),
            &[("password", "Brand-New-Pass-7?")],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=password_reset");
    assert_eq!(
        login_raw(&server, "viewer@example.com", "Brand-New-Pass-7?")
            .await
            .status,
        200
    );

    // Unlock and MFA reset answer with their confirmations.
    let r = admin
        .post(&format!("/admin/settings/users/{viewer_id}/unlock"), &[])
        .await;
    assert_redirect(&r, "/admin/settings?notice=user_unlocked");
    let r = admin
        .post(&format!("/admin/settings/users/{viewer_id}/mfa-reset"), &[])
        .await;
    assert_redirect(&r, "/admin/settings?notice=mfa_reset");

    // Creating a user: validation messages, LDAP users without a password.
    let r = admin
        .post(
            "/admin/settings/users",
            &[
                ("email", "not-an-email"),
                ("role", "viewer"),
                ("password", "Good-Pass-123!"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("class=\"flash flash-error\""));
    let r = admin
        .post(
            "/admin/settings/users",
            &[
                ("email", "dir@example.com"),
                ("role", "analyst"),
                ("identity_provider", "ldap"),
                ("password", ""),
            ],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=user_created");
    let page = admin.get("/admin/settings").await;
    let dir_row = row(&page.body, "dir@example.com");
    assert!(dir_row.contains("ldap") && !dir_row.contains("Reset password"));

    // Every change is in the audit log.
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?page_size=100",
        Some(&owner_token),
        None,
    )
    .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user.set_role",
        "user.deactivate",
        "user.reactivate",
        "user.reset_password",
        "user.unlock",
        "user.reset_mfa",
        "user.create",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_tokens_are_shown_once_listed_and_revoked() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let admin = Web::login(&server, OWNER, OWNER_PW).await;
    let r = admin
        .post(
            "/admin/settings/tokens",
            &[
                ("ttl", "7d"),
                ("max_uses", "5"),
                ("tags", "site:paris, env:prod"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let token = r.body[at..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with("sen_") && token.len() == 52, "{token}");
    assert!(r.body.contains("shown only this once"));
    // The install command pins the CA by its fingerprint.
    let cmd_at = r.body.find("id=\"install-command\">").unwrap();
    let cmd = &r.body[cmd_at..cmd_at + 600];
    assert!(
        cmd.contains("--enroll-token-file /root/sentari-token"),
        "{cmd}"
    );
    assert!(cmd.contains(&token));
    let fp_at = cmd.find("--ca-fingerprint ").unwrap() + "--ca-fingerprint ".len();
    let fp: String = cmd[fp_at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(fp.len(), 64, "{cmd}");
    let ca_show = env.run(&["ca", "show"], &auth_vars(&[]));
    assert!(
        ca_show.stdout.to_lowercase().replace(':', "").contains(&fp),
        "{}",
        ca_show.stdout
    );

    // Never shown again; listed with its limits and tags.
    let page = admin.get("/admin/settings").await;
    assert!(!page.body.contains(&token));
    assert!(page.body.contains("site:paris, env:prod"));
    assert!(page.body.contains("0 / 5"));
    assert!(page.body.contains(">active</span>"));
    let list = env.run(&["enroll-token", "list"], &auth_vars(&[]));
    assert!(
        list.stdout.contains("site:paris,env:prod"),
        "{}",
        list.stdout
    );
    let id_at =
        page.body.find("/admin/settings/tokens/").unwrap() + "/admin/settings/tokens/".len();
    let id: String = page.body[id_at..].chars().take(36).collect();

    // Bad input is explained.
    let r = admin
        .post(
            "/admin/settings/tokens",
            &[("ttl", "3w"), ("max_uses", ""), ("tags", "")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Invalid duration unit"), "{}", r.body);
    let r = admin
        .post(
            "/admin/settings/tokens",
            &[("ttl", ""), ("max_uses", "0"), ("tags", "")],
        )
        .await;
    assert_eq!(r.status, 400);

    // Revoke.
    let r = admin
        .post(&format!("/admin/settings/tokens/{id}/revoke"), &[])
        .await;
    assert_redirect(&r, "/admin/settings?notice=token_revoked");
    let page = admin.get("/admin/settings?notice=token_revoked").await;
    assert!(page.body.contains(">revoked</span>"));
    assert!(page.body.contains("Enrollment token revoked."));
    let r = admin
        .post(&format!("/admin/settings/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, 404);
    let owner = login(&server, OWNER, OWNER_PW).await;
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=enrollment_token.create",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(audit.body["total"], 1, "{}", audit.body);
    assert_eq!(
        audit.body["items"][0]["after"]["tags"],
        json!(["site:paris", "env:prod"])
    );
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=enrollment_token.revoke",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(audit.body["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_show_queues_failures_dead_jobs_and_processes_with_retry_and_purge() {
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_JOB_BACKOFF_S", "3600")]).await;
    let store = Store::connect(&env.database_url, &StoreOptions::default())
        .await
        .unwrap();
    store
        .enqueue(NewJob::new("diagnostic", json!({"fail": "disk on fire"})).max_attempts(1))
        .await
        .unwrap();
    store
        .enqueue(NewJob::new("diagnostic", json!({"fail": "still warming up"})).max_attempts(5))
        .await
        .unwrap();
    let admin = Web::login(&server, OWNER, OWNER_PW).await;
    let page = eventually(
        Duration::from_secs(30),
        "the failures on Admin → Tasks",
        || async {
            let p = admin.get("/admin/tasks").await;
            (p.body.contains("disk on fire") && p.body.contains("still warming up")).then_some(p)
        },
    )
    .await;
    assert_eq!(page.status, 200);
    let section = |html: &str, id: &str| -> String {
        let start = html.find(&format!("id=\"{id}\"")).unwrap();
        html[start..].split("</section>").next().unwrap().to_owned()
    };
    let dead = section(&page.body, "dead");
    assert!(
        dead.contains("disk on fire") && dead.contains("Retry"),
        "{dead}"
    );
    let failures = section(&page.body, "failures");
    assert!(
        failures.contains("still warming up") && failures.contains("1 / 5"),
        "{failures}"
    );
    let queues = section(&page.body, "queues");
    assert!(
        queues.contains("<svg class=\"chart chart-stacked\""),
        "{queues}"
    );
    assert!(queues.contains("diagnostic"));
    let processes = section(&page.body, "processes");
    assert!(
        processes.contains("<td>serve</td>") && processes.contains("alive"),
        "{processes}"
    );
    assert!(
        processes.contains("osv_sync") || processes.contains("retention"),
        "schedules are listed: {processes}"
    );
    assert!(page.body.contains("data-refresh=\"5\""));

    // Retry the dead job: it runs again (and dies again, since it fails on purpose).
    let job_at = dead.find("data-job=\"").unwrap() + "data-job=\"".len();
    let job: String = dead[job_at..].chars().take(36).collect();
    let r = admin
        .post(&format!("/admin/tasks/jobs/{job}/retry"), &[])
        .await;
    assert_redirect(&r, "/admin/tasks?notice=retried");
    let r = admin
        .post(&format!("/admin/tasks/jobs/{job}/retry"), &[])
        .await;
    assert!(
        r.status == 404 || r.status == 303,
        "a job no longer dead: {}",
        r.status
    );
    eventually(
        Duration::from_secs(30),
        "the retried job to die again",
        || async {
            let p = admin.get("/admin/tasks").await;
            section(&p.body, "dead")
                .contains("disk on fire")
                .then_some(())
        },
    )
    .await;

    // Purge dead jobs of the kind.
    let r = admin
        .post("/admin/tasks/purge", &[("kind", "diagnostic")])
        .await;
    assert_redirect(&r, "/admin/tasks?notice=purged&n=1");
    let page = admin.get("/admin/tasks?notice=purged&n=1").await;
    assert!(page.body.contains("1 dead job purged."));
    assert!(section(&page.body, "dead").contains("No dead jobs."));
    assert!(
        section(&page.body, "failures").contains("still warming up"),
        "purging dead jobs leaves the others"
    );
    let owner = login(&server, OWNER, OWNER_PW).await;
    for action in ["job.retry", "jobs.purge"] {
        let audit = call(
            &server,
            "GET",
            &format!("/api/v1/audit?action={action}"),
            Some(&owner),
            None,
        )
        .await;
        assert_eq!(audit.body["total"], 1, "{action}: {}", audit.body);
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_filters_pages_and_reports_a_broken_chain() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let (_, analyst_email, analyst_pw) = &users[1];
    let analyst = Web::login(&server, analyst_email, analyst_pw).await;
    let page = analyst.get("/admin/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"chain-status\""));
    assert!(page.body.contains(">intact</span>"), "{}", page.body);
    assert!(page.body.contains("user.create"));
    assert!(page.body.contains("Page 1 of 1"));

    // Filters: action, actor, time; the form keeps what was typed.
    let page = analyst.get("/admin/audit?action=auth.login").await;
    assert!(page.body.contains("<code>auth.login</code>"));
    assert!(!page.body.contains("<code>user.create</code>"));
    assert!(page.body.contains("value=\"auth.login\""));
    let page = analyst
        .get(&format!(
            "/admin/audit?actor={}",
            analyst_email.to_uppercase()
        ))
        .await;
    assert!(page.body.contains(&format!("<td>{analyst_email}</td>")));
    assert!(!page.body.contains(&format!("<td>{OWNER}</td>")));
    let page = analyst.get("/admin/audit?since=2999-01-01T00:00").await;
    assert!(page.body.contains("No entries match."));
    let page = analyst.get("/admin/audit?until=yesterday").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("is not a time"), "{}", page.body);

    // Pagination: 50 a page, links keep the filters.
    let owner = login(&server, OWNER, OWNER_PW).await;
    for i in 0..50 {
        let r = call(
            &server,
            "POST",
            "/api/v1/auth/api-keys",
            Some(&owner),
            Some(json!({"name": format!("k{i}")})),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let page = analyst.get("/admin/audit?action=api_key.create").await;
    assert!(page.body.contains("(50 matching)"), "{}", page.body);
    let page = analyst.get("/admin/audit").await;
    assert!(page.body.contains("Page 1 of 2"), "{}", page.body);
    assert!(page.body.contains("href=\"/admin/audit?page=2\""));
    let page2 = analyst.get("/admin/audit?page=2").await;
    assert!(page2.body.contains("Page 2 of 2") && page2.body.contains("rel=\"prev\""));

    // Tampering is found when verifying again.
    raw_sql(
        &env.database_url,
        "UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = 2",
    );
    let page = analyst.get("/admin/audit?verify=1").await;
    assert!(page.body.contains(">broken</span>"), "{}", page.body);
    assert!(page.body.contains("breaks at entry #2"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_changes_the_password_and_manages_api_keys() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let (_, viewer_email, viewer_pw) = &users[0];
    let viewer = Web::login(&server, viewer_email, viewer_pw).await;
    let page = viewer.get("/profile").await;
    assert!(page.body.contains(viewer_email.as_str()));
    for section in ["id=\"password\"", "id=\"mfa\"", "id=\"api-keys\""] {
        assert!(page.body.contains(section), "{section}");
    }
    // A viewer may only make viewer keys; the server refuses more.
    assert!(page.body.contains("<option value=\"viewer\" selected>"));
    assert!(!page.body.contains("<option value=\"analyst\""));
    let r = viewer
        .post(
            "/profile/api-keys",
            &[
                ("name", "too-strong"),
                ("role", "admin"),
                ("expires_days", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("above your own"), "{}", r.body);

    // Create a key: shown once, works as a bearer token, then revoked.
    let r = viewer
        .post(
            "/profile/api-keys",
            &[
                ("name", "ci-export"),
                ("role", "viewer"),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.body.find("id=\"new-key\">").unwrap() + "id=\"new-key\">".len();
    let key = r.body[at..].split('<').next().unwrap().to_owned();
    assert!(key.starts_with("sk_"));
    let me = call(&server, "GET", "/api/v1/auth/me", Some(&key), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["auth_method"], "api_key");
    let page = viewer.get("/profile").await;
    assert!(!page.body.contains(&key));
    assert!(page.body.contains("ci-export"));
    let id_at = page.body.find("/profile/api-keys/").unwrap() + "/profile/api-keys/".len();
    let id: String = page.body[id_at..].chars().take(36).collect();
    let r = viewer
        .post(&format!("/profile/api-keys/{id}/revoke"), &[])
        .await;
    assert_redirect(&r, "/profile?notice=key_revoked");
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&key), None)
            .await
            .status,
        401
    );
    let r = viewer
        .post(
            "/profile/api-keys",
            &[("name", ""), ("role", "viewer"), ("expires_days", "")],
        )
        .await;
    assert_eq!(r.status, 400);

    // Password: mismatch, policy, wrong current password, then success.
    let r = viewer
        .post(
            "/profile/password",
            &[
                ("current", viewer_pw),
                ("new", "Another-Pass-9!"),
                ("confirm", "Different-9!"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("confirmation differ"));
    let r = viewer
        .post(
            "/profile/password",
            &[
                ("current", viewer_pw),
                ("new", "weakweak"),
                ("confirm", "weakweak"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("does not meet the policy"));
    let r = viewer
        .post(
            "/profile/password",
            &[
                ("current", "Not-My-Pass-1!"),
                ("new", "Another-Pass-9!"),
                ("confirm", "Another-Pass-9!"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("current password is wrong"));
    let r = viewer
        .post(
            "/profile/password",
            &[
                ("current", viewer_pw),
                ("new", "Another-Pass-9!"),
                ("confirm", "Another-Pass-9!"),
            ],
        )
        .await;
    assert_redirect(&r, "/login?notice=password_changed");
    // Every session ended; the old password is gone, the new one works.
    assert_redirect(&viewer.get("/profile").await, "/login");
    assert_eq!(
        login_raw(&server, viewer_email, viewer_pw).await.status,
        401
    );
    let again = Web::login(&server, viewer_email, "Another-Pass-9!").await;
    assert_eq!(again.get("/profile").await.status, 200);
    let owner = login(&server, OWNER, OWNER_PW).await;
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=user.change_password",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(audit.body["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_ca_shows_a_banner_on_every_page() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let web = Web::login(&server, OWNER, OWNER_PW).await;
    assert!(
        !web.get("/fleet/overview")
            .await
            .body
            .contains("class=\"banner ")
    );
    drop(web);
    server.kill();
    // Another passphrase cannot decrypt the CA key: the server starts degraded.
    let server = start(
        &env,
        &[("SENTARI_CA_PASSPHRASE_KEY", "a-different-passphrase-123")],
    )
    .await;
    let web = Web::login(&server, OWNER, OWNER_PW).await;
    for path in ["/fleet/overview", "/admin/settings", "/profile"] {
        let page = web.get(path).await;
        assert!(
            page.body
                .contains("<strong>Certificate authority degraded.</strong>"),
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains("banner-danger"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_cached_by_version_and_revalidated_otherwise() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let web = Web::login(&server, OWNER, OWNER_PW).await;
    let page = web.get("/").await;
    let at = page.body.find("href=\"/static/app.css?v=").unwrap() + "href=\"".len();
    let css_url = page.body[at..].split('"').next().unwrap().to_owned();
    let anon = Web::anonymous(&server);
    let r = anon.get(&css_url).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = r.header("etag").unwrap().to_owned();
    let r = anon.get("/static/app.css").await;
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let r = server
        .client()
        .send_text("GET", "/static/app.css", &[("if-none-match", &etag)], None)
        .await
        .unwrap();
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = anon.get("/static/app.js").await;
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(r.body.contains("data-refresh"));
    assert_eq!(anon.get("/static/nope.js").await.status, 404);
    assert_eq!(anon.get("/static/favicon.svg").await.status, 200);
}

/// Asserts a page answered 200 with HTML free of inline script and style, and returns it.
async fn page_ok(web: &Web<'_>, path: &str) -> String {
    let r = web.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    let bad = inline_violations(&r.body);
    assert!(bad.is_empty(), "{path}: {bad:?}");
    r.body
}

fn before(html: &str, a: &str, b: &str) -> bool {
    match (html.find(a), html.find(b)) {
        (Some(x), Some(y)) => x < y,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_pages_show_the_inventory_to_each_role() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let web01 = crate::fleet_support::small_fleet(&env.database_url).await;
    let who = |role: Role| {
        let (_, e, p) = users.iter().find(|(r, _, _)| *r == role).unwrap();
        (e.clone(), p.clone())
    };
    let (ve, vp) = who(Role::Viewer);
    let viewer = Web::login(&server, &ve, &vp).await;

    // Overview: counters, both charts, recent scans and the device that never reported.
    let html = page_ok(&viewer, "/").await;
    assert!(html.contains("id=\"stat-devices\">3<"), "{html}");
    assert!(html.contains("id=\"stat-findings\">1<"), "{html}");
    assert!(html.contains("id=\"stat-eol\">2<"), "{html}");
    assert!(html.contains("Open findings by severity: critical 1, high 0"));
    assert!(html.contains("Devices by OS: debian 12 2"), "{html}");
    assert!(html.contains(">web-01</a>") && html.contains(">db-02</a>"));
    let overdue = &html[html.find("id=\"overdue\"").unwrap()..];
    assert!(overdue.contains(">idle-03</a>") && !overdue.contains(">web-01</a>"));
    assert!(
        page_ok(&viewer, "/fleet/overview")
            .await
            .contains("<h1>Fleet overview</h1>")
    );

    // Devices: search, filters, sorting, severity badges.
    let html = page_ok(&viewer, "/fleet/devices").await;
    for host in ["web-01", "db-02", "idle-03"] {
        assert!(html.contains(&format!(">{host}</a>")), "{host}: {html}");
    }
    assert!(html.contains("(3 matching)"));
    assert!(html.contains(
        "aria-sort=\"none\"><a class=\"sort-link\" href=\"/fleet/devices?sort=hostname\""
    ));
    assert!(before(&html, ">db-02<", ">web-01<"));
    let html = page_ok(&viewer, "/fleet/devices?sort=-hostname").await;
    assert!(before(&html, ">web-01<", ">db-02<"), "{html}");
    assert!(html.contains("aria-sort=\"descending\""));
    let html = page_ok(&viewer, "/fleet/devices?q=web").await;
    assert!(html.contains(">web-01</a>") && !html.contains(">db-02</a>"));
    let html = page_ok(&viewer, "/fleet/devices?severity=critical").await;
    assert!(html.contains(">web-01</a>") && !html.contains(">db-02</a>"));
    assert!(html.contains("class=\"sev sev-critical\""));
    let html = page_ok(&viewer, "/fleet/devices?scan_status=never").await;
    assert!(html.contains(">idle-03</a>") && !html.contains(">web-01</a>"));
    // A hand-edited sort or page does not break the list.
    page_ok(&viewer, "/fleet/devices?sort=nonsense&page=x").await;

    // Device detail: packages with the source filter, runtimes with EOL, findings, scans; a
    // viewer sees no delete button.
    let path = format!("/fleet/devices/{web01}");
    let html = page_ok(&viewer, &path).await;
    assert!(html.contains("<h1>Device web-01</h1>"));
    assert!(html.contains("requests") && html.contains("2.25.0") && html.contains("libssl3"));
    assert!(html.contains("3.8.18") && html.contains("end of life") && html.contains("2024-10-07"));
    assert!(html.contains("GHSA-TEST-1") && html.contains("CVE-GHSA-TEST-1"));
    assert!(html.contains("Permission denied") || html.contains("applied"));
    assert!(
        !html.contains("/delete"),
        "a viewer must not see the delete button"
    );
    let html = page_ok(&viewer, &format!("{path}?source=os")).await;
    let packages = &html[html.find("id=\"packages\"").unwrap()..html.find("id=\"scans\"").unwrap()];
    assert!(packages.contains("<td>libssl3</td>") && !packages.contains("<td>requests</td>"));
    let r = viewer
        .get("/fleet/devices/0190aaaa-0000-7000-8000-000000000000")
        .await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("No such device"));

    // Packages: which devices have requests, within a version range, with the drill-down.
    let html = page_ok(&viewer, "/fleet/packages?name=requests").await;
    assert!(html.contains("2.25.0") && html.contains("2.31.0"), "{html}");
    assert!(html.contains("(2 package versions)"));
    let html = page_ok(
        &viewer,
        "/fleet/packages?name=requests&range=%3E%3D2.0%2C%3C2.30&ecosystem=PyPI",
    )
    .await;
    assert!(
        html.contains("2.25.0") && !html.contains("2.31.0"),
        "{html}"
    );
    let drill = "/fleet/devices?package=requests&#38;version=2.25.0&#38;ecosystem=PyPI";
    assert!(html.contains(drill), "{html}");
    let html = page_ok(&viewer, &drill.replace("&#38;", "&")).await;
    assert!(html.contains(">web-01</a>") && !html.contains(">db-02</a>"));
    assert!(html.contains("Devices that have the package requests at version 2.25.0 (PyPI)."));
    let r = viewer
        .get("/fleet/packages?name=requests&range=%3E%3D2.0")
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("needs the ecosystem"), "{}", r.body);
    let html = page_ok(&viewer, "/fleet/packages?name=req&match=prefix").await;
    assert!(html.contains("2.25.0"));

    // Runtime: distribution and trend charts, EOL flags, export links that work with the
    // session cookie.
    let html = page_ok(&viewer, "/fleet/runtime").await;
    assert!(html.contains("Python devices per version: 3.8 2"), "{html}");
    assert!(html.contains("chart-line"), "the trend chart: {html}");
    assert!(html.contains("id=\"stat-eol-past\">2<"));
    assert!(html.contains("href=\"/api/v1/runtimes?format=csv\""));
    assert!(html.contains("href=\"/api/v1/runtimes?format=xlsx\""));
    let csv = viewer.get("/api/v1/runtimes?format=csv").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains("web-01") && csv.body.contains("3.8.18"));
    let xlsx = viewer.get("/api/v1/runtimes?format=xlsx").await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with("PK"), "an xlsx file is a zip archive");
    let html = page_ok(&viewer, "/fleet/runtime?eol_status=supported").await;
    assert!(html.contains("No installation matches."));

    // Scan history, and the device filter.
    let html = page_ok(&viewer, "/fleet/scans").await;
    assert!(html.contains(">web-01</a>") && html.contains(">db-02</a>"));
    assert!(html.contains(">idle-03</a>"), "the overdue list: {html}");
    let html = page_ok(&viewer, &format!("/fleet/scans?device_id={web01}")).await;
    assert!(html.contains("Scans of <a"), "{html}");
    assert!(!html.contains(">db-02</a>"));

    // Diagnostics: analysts and up.
    let r = viewer.get("/fleet/diagnostics").await;
    assert_eq!(r.status, 403);
    let (ae, ap) = who(Role::Analyst);
    let analyst = Web::login(&server, &ae, &ap).await;
    let html = page_ok(&analyst, "/fleet/diagnostics").await;
    assert!(html.contains(">web-01</a>") && html.contains(">db-02</a>"));
    assert!(html.contains("Scan errors by kind"));
    let html = page_ok(&analyst, &format!("/fleet/diagnostics?device_id={web01}")).await;
    assert!(html.contains("Permission denied (os error 13)"), "{html}");
    // An analyst sees no delete button either and is refused the deletion.
    assert!(!page_ok(&analyst, &path).await.contains("/delete"));
    let r = analyst
        .post(&format!("/fleet/devices/{web01}/delete"), &[])
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post(&format!("/fleet/devices/{web01}/delete"), &[])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        viewer
            .get(&format!("/fleet/devices/{web01}/delete"))
            .await
            .status,
        403
    );

    // An admin deletes web-01 after the confirmation page; its certificate is revoked with it
    // (the API's deletion), and the deletion is audited.
    let (de, dp) = who(Role::Admin);
    let admin = Web::login(&server, &de, &dp).await;
    let html = page_ok(&admin, &path).await;
    assert!(html.contains(&format!("href=\"/fleet/devices/{web01}/delete\"")));
    let html = page_ok(&admin, &format!("/fleet/devices/{web01}/delete")).await;
    assert!(html.contains("Delete the device web-01?"));
    assert!(html.contains("revokes its certificate"));
    assert!(html.contains(&format!("action=\"/fleet/devices/{web01}/delete\"")));
    let r = admin
        .post_raw(&format!("/fleet/devices/{web01}/delete"), &[], true)
        .await;
    assert_eq!(r.status, 403, "no CSRF token, no deletion");
    let r = admin
        .post(&format!("/fleet/devices/{web01}/delete"), &[])
        .await;
    assert_redirect(&r, "/fleet/devices?notice=deleted&host=web-01");
    assert_eq!(admin.get(&path).await.status, 404);
    let html = page_ok(&admin, r.header("location").unwrap()).await;
    assert!(html.contains("The device web-01 was deleted and its certificate revoked."));
    assert!(!html.contains(">web-01</a>"));
    let r = admin
        .post(&format!("/fleet/devices/{web01}/delete"), &[])
        .await;
    assert_eq!(r.status, 404);
    let (oe, op) = who(Role::Owner);
    let owner = Web::login(&server, &oe, &op).await;
    let html = page_ok(&owner, "/admin/audit?action=device.delete").await;
    assert!(html.contains(&web01.to_string()), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_pages_have_honest_empty_states() {
    let env = Env::new().await;
    let (server, users) = seeded(&env).await;
    let (_, ve, vp) = users.iter().find(|(r, _, _)| *r == Role::Viewer).unwrap();
    let viewer = Web::login(&server, ve, vp).await;
    let html = page_ok(&viewer, "/fleet/overview").await;
    assert!(html.contains("No devices yet"));
    assert!(
        !html.contains("/admin/settings#tokens"),
        "viewers cannot create tokens"
    );
    assert!(html.contains("No data"), "empty charts say so");
    assert!(
        page_ok(&viewer, "/fleet/devices")
            .await
            .contains("No device matches.")
    );
    assert!(
        page_ok(&viewer, "/fleet/packages")
            .await
            .contains("No package has been inventoried yet.")
    );
    assert!(
        page_ok(&viewer, "/fleet/runtime")
            .await
            .contains("No runtimes yet")
    );
    assert!(
        page_ok(&viewer, "/fleet/scans")
            .await
            .contains("No scan matches.")
    );
    let (_, ae, ap) = users.iter().find(|(r, _, _)| *r == Role::Admin).unwrap();
    let admin = Web::login(&server, ae, ap).await;
    assert!(
        page_ok(&admin, "/fleet/overview")
            .await
            .contains("/admin/settings#tokens")
    );
    assert!(
        page_ok(&admin, "/fleet/diagnostics")
            .await
            .contains("No device reported a scan error")
    );
}
