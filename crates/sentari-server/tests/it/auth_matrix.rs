//! The route × role matrix: every route registered in `http::api::routes()` is called by an
//! anonymous caller, a viewer, an analyst, an admin and the owner, and the answer must match the
//! route's declared minimum role (401 anonymous, 403 below, anything else at or above).
//!
//! Routes can only be registered through that table with an access level, so a new route is
//! covered here automatically; a route that forgets its guard would answer something other
//! than 401/403 and fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::auth_support::*;
use crate::common::Env;
use sentari_core::auth::Role;
use sentari_server::auth::Access;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_its_declared_minimum_role() {
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_LOGIN_RATE_PER_MINUTE", "1000")]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let mut tokens: Vec<(Option<Role>, Option<String>)> = vec![(None, None)];
    let mut passwords = Vec::new();
    for role in [Role::Viewer, Role::Analyst, Role::Admin] {
        let email = format!("{role}@example.com");
        let pw = create_user(&server, &owner, &email, role.as_str()).await;
        tokens.push((Some(role), Some(login(&server, &email, &pw).await)));
        passwords.push((role, email, pw));
    }
    tokens.push((Some(Role::Owner), Some(owner.clone())));

    let table = sentari_server::http::api::route_table();
    assert!(table.len() >= 10, "the route table looks empty");
    let mut failures = Vec::new();
    for (method, path, access) in &table {
        assert!(path.starts_with("/api/v1/"), "{path} is outside /api/v1");
        let concrete = path.replace("{id}", "0190aaaa-0000-7000-8000-000000000000");
        for (role, token) in &tokens {
            // Logging out ends the session; use a fresh one so later calls keep theirs.
            let token = if *path == "/api/v1/auth/logout" {
                match role {
                    None => None,
                    Some(Role::Owner) => Some(login(&server, OWNER, OWNER_PW).await),
                    Some(r) => {
                        let (_, email, pw) = passwords.iter().find(|(x, _, _)| x == r).unwrap();
                        Some(login(&server, email, pw).await)
                    }
                }
            } else {
                token.clone()
            };
            let body = (*method != "GET").then(|| json!({}));
            let r = call(&server, method.as_str(), &concrete, token.as_deref(), body).await;
            let expected_ok = access.allows(*role);
            let ok = match (access, role) {
                (Access::Public, _) => r.status != 401 && r.status != 403,
                (_, None) => r.status == 401,
                _ if expected_ok => r.status != 401 && r.status != 403,
                _ => r.status == 403,
            };
            if !ok {
                failures.push(format!(
                    "{method} {path} as {}: got {} ({})",
                    role.map(|r| r.as_str()).unwrap_or("anonymous"),
                    r.status,
                    r.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "route × role matrix failures:\n{}",
        failures.join("\n")
    );
}
