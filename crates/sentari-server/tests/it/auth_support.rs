//! Helpers shared by the authentication tests: a server with a bootstrap owner, logins, and
//! JSON requests through the typed client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Env, Server};

pub const OWNER: &str = "owner@example.com";
pub const OWNER_PW: &str = "Owner-Pass-123!";
pub const SECRET_A: &str = "a3f1c9e2b7d84f60a1e5c3b9d7f2e4a6c8b0d1f3";
pub const SECRET_B: &str = "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c";

/// Variables every auth test server uses: the bootstrap owner, a fixed secret, cheap hashes.
pub fn auth_vars<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("SENTARI_BOOTSTRAP_ADMIN_EMAIL", OWNER),
        ("SENTARI_BOOTSTRAP_ADMIN_PASSWORD", OWNER_PW),
        ("SENTARI_SECRET_KEY", SECRET_A),
        // Argon2 at 1 MiB keeps the tests fast on a shared machine; production uses 19 MiB.
        ("SENTARI_ARGON2_MEMORY_KIB", "1024"),
    ];
    for (k, val) in extra {
        v.retain(|(n, _)| n != k);
        v.push((k, val));
    }
    v
}

/// Starts `serve` and waits until it is ready (database migrated, owner created).
pub async fn start(env: &Env, extra: &[(&str, &str)]) -> Server {
    let server = env.start("serve", &auth_vars(extra));
    let client = server.client();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = client.get_json("/api/ready", &[]).await;
        if matches!(r, Ok(ref a) if a.status == 200) {
            return server;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request with a bearer token (or none).
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> sentari_client::RawAnswer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    server
        .client()
        .send(method, path, &headers, body.as_ref())
        .await
        .unwrap()
}

/// Logs in and returns the whole answer.
pub async fn login_raw(server: &Server, email: &str, password: &str) -> sentari_client::RawAnswer {
    call(
        server,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

/// Logs in and returns the session token.
pub async fn login(server: &Server, email: &str, password: &str) -> String {
    let r = login_raw(server, email, password).await;
    assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
    r.body["token"].as_str().unwrap().to_owned()
}

/// Creates a local user as `admin_token` and returns their password.
pub async fn create_user(server: &Server, admin_token: &str, email: &str, role: &str) -> String {
    let pw = "User-Pass-456?".to_owned();
    let r = call(
        server,
        "POST",
        "/api/v1/users",
        Some(admin_token),
        Some(json!({"email": email, "role": role, "password": pw})),
    )
    .await;
    assert_eq!(r.status, 201, "create {email}: {:?}", r.body);
    pw
}
