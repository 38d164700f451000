//! Local login, lockout, rate limit, sessions (cookie, bearer, expiry, secret rotation), API key
//! scope, CSRF, user management, the bootstrap owner, and the audit chain with tamper detection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, log_with, read_log};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_me_and_generic_failures() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let r = login_raw(&server, "Owner@Example.com", OWNER_PW).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["role"], "owner");
    let cookie = r.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = r.body["token"].as_str().unwrap().to_owned();

    let me = call(&server, "GET", "/api/v1/auth/me", Some(&token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["email"], OWNER);

    // Unknown user and wrong password answer the same.
    let a = login_raw(&server, "nobody@example.com", "Whatever-123!").await;
    let b = login_raw(&server, OWNER, "Wrong-Pass-123!").await;
    assert_eq!((a.status, b.status), (401, 401));
    assert_eq!(a.body, b.body);

    let out = call(&server, "POST", "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(out.status, 200);
    let me = call(&server, "GET", "/api/v1/auth/me", Some(&token), None).await;
    assert_eq!(me.status, 401);
    let sec = log_with(&env.data_dir(), "security", &["login failed"]).await;
    assert!(!sec.contains(OWNER_PW), "a password reached security.log");
    assert!(
        read_log(&env.data_dir(), "application")
            .contains("Bootstrap owner created: owner@example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_after_five_failures_and_rate_limit_per_address() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    for _ in 0..5 {
        assert_eq!(
            login_raw(&server, OWNER, "Wrong-Pass-123!").await.status,
            401
        );
    }
    let r = login_raw(&server, OWNER, OWNER_PW).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.header("retry-after").is_some());
    log_with(&env.data_dir(), "security", &["account locked"]).await;
    // `sentari users unlock` ends the lockout.
    let out = env.run(&["users", "unlock", OWNER], &[]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(login_raw(&server, OWNER, OWNER_PW).await.status, 200);
    drop(server);

    let server = start(&env, &[("SENTARI_LOGIN_RATE_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        login_raw(&server, "x@example.com", "Whatever-123!").await;
    }
    let r = login_raw(&server, OWNER, OWNER_PW).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    log_with(&env.data_dir(), "security", &["too many login attempts"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_when_the_secret_key_rotates() {
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_SESSION_IDLE_SECONDS", "2")]).await;
    let token = login(&server, OWNER, OWNER_PW).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&token), None)
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&token), None)
            .await
            .status,
        401
    );
    let token = login(&server, OWNER, OWNER_PW).await;
    drop(server);

    let server = start(&env, &[]).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&token), None)
            .await
            .status,
        200
    );
    drop(server);
    let server = start(&env, &[("SENTARI_SECRET_KEY", SECRET_B)]).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&token), None)
            .await
            .status,
        401,
        "rotating SENTARI_SECRET_KEY must sign everyone out"
    );
    login(&server, OWNER, OWNER_PW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_capped_by_role_shown_once_and_revocable() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let pw = create_user(&server, &owner, "ana@example.com", "analyst").await;
    let ana = login(&server, "ana@example.com", &pw).await;
    let r = call(
        &server,
        "POST",
        "/api/v1/auth/api-keys",
        Some(&ana),
        Some(json!({"name": "too high", "role": "admin"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &server,
        "POST",
        "/api/v1/auth/api-keys",
        Some(&ana),
        Some(json!({"name": "ci", "role": "viewer"})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_"));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let me = call(&server, "GET", "/api/v1/auth/me", Some(&key), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["effective_role"], "viewer");
    // The viewer key cannot read the audit log although its owner (an analyst) can.
    assert_eq!(
        call(&server, "GET", "/api/v1/audit", Some(&key), None)
            .await
            .status,
        403
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/audit", Some(&ana), None)
            .await
            .status,
        200
    );
    let list = call(&server, "GET", "/api/v1/auth/api-keys", Some(&ana), None).await;
    assert!(
        !list.body.to_string().contains(&key),
        "a listing showed the secret"
    );
    let del = call(
        &server,
        "DELETE",
        &format!("/api/v1/auth/api-keys/{id}"),
        Some(&ana),
        None,
    )
    .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&key), None)
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_cookie_posts_are_refused() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let token = login(&server, OWNER, OWNER_PW).await;
    let cookie = format!("sentari_session={token}");
    let host = server.url().split("://").nth(1).unwrap().to_owned();
    let body = json!({"name": "k"});
    let c = server.client();
    let cross = c
        .send(
            "POST",
            "/api/v1/auth/api-keys",
            &[("cookie", &cookie), ("origin", "https://evil.example")],
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(cross.status, 403);
    assert_eq!(cross.body["error"], "csrf");
    let fetch_meta = c
        .send(
            "POST",
            "/api/v1/auth/api-keys",
            &[("cookie", &cookie), ("sec-fetch-site", "cross-site")],
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(fetch_meta.status, 403);
    let origin = format!("http://{host}");
    let same = c
        .send(
            "POST",
            "/api/v1/auth/api-keys",
            &[("cookie", &cookie), ("origin", &origin)],
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(same.status, 201, "{:?}", same.body);
    // Reads with the cookie need no check.
    let me = c
        .send("GET", "/api/v1/auth/me", &[("cookie", &cookie)], None)
        .await
        .unwrap();
    assert_eq!(me.status, 200);
    log_with(
        &env.data_dir(),
        "security",
        &["cross-site cookie write refused"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_management_rules_and_audit_chain_tamper_detection() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_user(&server, &owner, "adm@example.com", "admin").await;
    let adm = login(&server, "adm@example.com", "User-Pass-456?").await;
    // No one grants above their own role or demotes the owner.
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&adm),
        Some(json!({"email": "o2@example.com", "role": "owner", "password": "User-Pass-456?"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let users = call(&server, "GET", "/api/v1/users", Some(&adm), None).await;
    let owner_id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == OWNER)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &server,
        "PATCH",
        &format!("/api/v1/users/{owner_id}"),
        Some(&adm),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&adm),
        Some(json!({"email": "weak@example.com", "role": "viewer", "password": "weak"})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "password");
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&adm),
        Some(json!({"email": "ADM@example.com", "role": "viewer", "password": "User-Pass-456?"})),
    )
    .await;
    assert_eq!(r.status, 409);
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&adm),
        Some(json!({"email": "v@example.com", "role": "viewer", "password": "User-Pass-456?"})),
    )
    .await;
    let vid = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &server,
        "PATCH",
        &format!("/api/v1/users/{vid}"),
        Some(&adm),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        login_raw(&server, "v@example.com", "User-Pass-456?")
            .await
            .status,
        401
    );

    // The audit log records it all, filters by actor, and verifies.
    let log = call(
        &server,
        "GET",
        "/api/v1/audit?actor=adm@example.com",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(log.status, 200);
    let actions: Vec<_> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"user.deactivate".to_owned()),
        "{actions:?}"
    );
    assert!(actions.contains(&"auth.login".to_owned()), "{actions:?}");
    let v = call(&server, "GET", "/api/v1/audit/verify", Some(&owner), None).await;
    assert_eq!(v.body["ok"], true, "{:?}", v.body);
    let audit_log = read_log(&env.data_dir(), "audit");
    let line = audit_log
        .lines()
        .find(|l| l.contains("user.deactivate"))
        .expect("audit.log line");
    let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(parsed["actor"], "adm@example.com");
    let out = env.run(&["audit", "verify"], &[]);
    assert!(out.status.success(), "{} {}", out.stdout, out.stderr);

    // Tamper with one row directly in the database.
    tamper(
        &env,
        "UPDATE audit_log SET actor = 'someone-else@example.com' WHERE seq = 3",
    );
    let v = call(&server, "GET", "/api/v1/audit/verify", Some(&owner), None).await;
    assert_eq!(v.body["ok"], false);
    assert_eq!(v.body["first_broken"]["seq"], 3, "{:?}", v.body);
    let out = env.run(&["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.contains("BROKEN at entry 3"), "{}", out.stdout);
}

/// Runs SQL behind the server's back with the database's own client tool.
fn tamper(env: &Env, sql: &str) {
    let status = if let Some(path) = env.database_url.strip_prefix("sqlite://") {
        std::process::Command::new("sqlite3")
            .arg(path)
            .arg(sql)
            .status()
    } else {
        std::process::Command::new("psql")
            .arg(&env.database_url)
            .arg("-c")
            .arg(sql)
            .status()
    };
    match status {
        Ok(s) => assert!(s.success(), "tampering failed"),
        Err(e) => panic!("sqlite3/psql is needed to tamper with the database: {e}"),
    }
}

#[test]
fn a_weak_bootstrap_password_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::sentari()
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SENTARI_DATA_DIR", dir.path().join("data"))
        .env("SENTARI_HTTP_BIND", "127.0.0.1:0")
        .env("SENTARI_AGENT_BIND", "127.0.0.1:0")
        .env("SENTARI_METRICS_BIND", "127.0.0.1:0")
        .env("SENTARI_BOOTSTRAP_ADMIN_EMAIL", "a@example.com")
        .env("SENTARI_BOOTSTRAP_ADMIN_PASSWORD", "password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SENTARI_BOOTSTRAP_ADMIN_PASSWORD is too weak"),
        "{err}"
    );
    assert!(!err.contains("password\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_bootstrap_variables_prints_a_generated_owner_once() {
    let env = Env::new().await;
    let server = env.start("serve", &[("SENTARI_ARGON2_MEMORY_KIB", "1024")]);
    let mut password = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while password.is_none() && std::time::Instant::now() < deadline {
        if let Ok(line) = server.lines.recv_timeout(Duration::from_millis(200))
            && let Some(p) = line.trim().strip_prefix("password:")
        {
            password = Some(p.trim().to_owned());
        }
    }
    let password = password.expect("a generated password on stdout");
    // The password is printed before the process reports ready; wait for the first success.
    let mut status = 0;
    for _ in 0..100 {
        status = login_raw(&server, "admin@localhost", &password)
            .await
            .status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    for f in ["application", "security", "audit", "error"] {
        assert!(
            !read_log(&env.data_dir(), f).contains(&password),
            "password in {f}.log"
        );
    }
}
