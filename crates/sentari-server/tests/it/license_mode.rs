//! The license (ARCHITECTURE.md §8): keys issued and checked with `sentari license`, and a real
//! server that turns read-only under an expired or forged key: reads, sign-in, the caller's own
//! account and agent scans keep working, every management write of the API, the dashboard and
//! the agent gateway answers 402, and the banner says why. Keys are signed with the test key
//! that debug builds trust (`tests/fixtures/license/test-signing.key`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::agent_transport::{
    TOKEN, ca_dir, client, csr_of, identity, register_req, sentari_agent_like_scan, status_of,
};
use crate::auth_support::{OWNER, OWNER_PW, call, create_user, login, start};
use crate::common::{Env, log_with};
use crate::web_support::Web;

const SIGNING_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/license/test-signing.key"
);

/// Issues a key with the CLI, as the vendor would.
fn issue(env: &Env, extra: &[&str]) -> String {
    let mut args = vec!["license", "issue", "--signing-key", SIGNING_KEY];
    args.extend_from_slice(extra);
    let out = env.run(&args, &[]);
    assert!(out.status.success(), "issue {extra:?}: {}", out.stderr);
    let key = out.stdout.trim().to_owned();
    assert!(key.starts_with("sentari-license-v1."), "{key}");
    key
}

fn expired_key(env: &Env) -> String {
    issue(
        env,
        &[
            "--licensee",
            "Old Agency",
            "--id",
            "LIC-OLD",
            "--issued",
            "2020-01-01",
            "--expires",
            "2021-01-01",
        ],
    )
}

fn valid_key(env: &Env) -> String {
    issue(
        env,
        &[
            "--licensee",
            "Test Agency",
            "--id",
            "LIC-TEST-1",
            "--expires",
            "2099-01-01",
        ],
    )
}

async fn warnings(server: &crate::common::Server) -> Vec<String> {
    let h = call(server, "GET", "/api/health", None, None).await;
    // The field is left out when there is nothing to say.
    match &h.body["warnings"] {
        serde_json::Value::Null => Vec::new(),
        w => serde_json::from_value(w.clone()).unwrap(),
    }
}

/// A route template with every `{param}` filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000-0000-0000-0000-000000000001"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn license_cli_issues_verifies_and_makes_signing_keys() {
    let env = Env::new().await;
    let verify = |key: Option<&str>, extra: &[&str]| {
        let mut args = vec!["license", "verify"];
        if let Some(k) = key {
            args.extend(["--key", k]);
        }
        args.extend_from_slice(extra);
        env.run(&args, &[])
    };
    let valid = valid_key(&env);
    let out = verify(Some(&valid), &[]);
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("license LIC-TEST-1 for Test Agency valid until 2099-01-01"),
        "{}",
        out.stdout
    );

    let expired = expired_key(&env);
    let out = verify(Some(&expired), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("license LIC-OLD for Old Agency expired on 2021-01-01"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("license_read_only:"), "{}", out.stdout);
    // The configured key is read from the environment like the server reads it.
    let out = env.run(
        &["license", "verify"],
        &[("SENTARI_LICENSE_KEY", expired.as_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    let out = verify(None, &[]);
    assert!(out.status.success());
    assert!(out.stdout.contains("community mode"), "{}", out.stdout);

    // The valid key's signature over the expired key's claims: refused, with the reason.
    let (_, sig) = valid.rsplit_once('.').unwrap();
    let (claims, _) = expired.rsplit_once('.').unwrap();
    let forged = format!("{claims}.{sig}");
    let out = verify(Some(&forged), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.contains("signature does not verify"),
        "{}",
        out.stdout
    );
    let out = verify(Some("not-a-key"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.contains("not a Sentari license key"),
        "{}",
        out.stdout
    );

    // Claims that break the rules are not signed.
    let out = env.run(
        &[
            "license",
            "issue",
            "--signing-key",
            SIGNING_KEY,
            "--licensee",
            "X",
            "--issued",
            "2030-01-01",
            "--expires",
            "2029-01-01",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("expires_at"), "{}", out.stderr);

    // A new vendor key: private and never overwritten; keys it signs verify only against it.
    let path = env.dir.path().join("vendor.key");
    let path_s = path.display().to_string();
    let out = env.run(&["license", "keygen", "--out", &path_s], &[]);
    assert!(out.status.success(), "{}", out.stderr);
    let public = out.stdout.lines().last().unwrap().trim().to_owned();
    let before = std::fs::read(&path).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = env.run(&["license", "keygen", "--out", &path_s], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let out = env.run(
        &[
            "license",
            "issue",
            "--signing-key",
            &path_s,
            "--licensee",
            "New Vendor Customer",
            "--expires",
            "2099-01-01",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let theirs = out.stdout.trim().to_owned();
    assert!(
        verify(Some(&theirs), &["--public-key", &public])
            .status
            .success()
    );
    assert_eq!(verify(Some(&theirs), &[]).status.code(), Some(1));
    assert_eq!(
        verify(Some(&valid), &["--public-key", &public])
            .status
            .code(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_license_makes_the_server_read_only_but_reads_and_scans_go_on() {
    let env = Env::new().await;
    let valid = valid_key(&env);
    let expired = expired_key(&env);

    // Licensed: writes work, no warning, and an agent enrolls.
    let server = start(
        &env,
        &[
            ("SENTARI_LICENSE_KEY", valid.as_str()),
            ("SENTARI_ENROLLMENT_TOKEN", TOKEN),
        ],
    )
    .await;
    assert!(
        warnings(&server)
            .await
            .iter()
            .all(|w| !w.starts_with("license")),
        "{:?}",
        warnings(&server).await
    );
    let owner = login(&server, OWNER, OWNER_PW).await;
    let analyst_pw = create_user(&server, &owner, "analyst@example.com", "analyst").await;
    let agent_url = server.agent.clone().unwrap();
    let ca_pem = ca_dir(&env).join("ca.pem");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let reg = client(&agent_url, &ca_pem, None)
        .register(&register_req(TOKEN, "m-licensed", csr_of(&key)))
        .await
        .unwrap();
    log_with(
        &env.data_dir(),
        "application",
        &["Startup license validation completed: license LIC-TEST-1 for Test Agency"],
    )
    .await;
    server.terminate(std::time::Duration::from_secs(20));

    // The same installation with an expired key.
    let server = start(
        &env,
        &[
            ("SENTARI_LICENSE_KEY", expired.as_str()),
            ("SENTARI_ENROLLMENT_TOKEN", TOKEN),
        ],
    )
    .await;
    let w = warnings(&server).await;
    assert!(
        w.iter().any(|w| w.starts_with("license_read_only:")
            && w.contains("license LIC-OLD for Old Agency expired on 2021-01-01")),
        "{w:?}"
    );
    // Signing in, reading and the caller's own API keys work.
    let owner = login(&server, OWNER, OWNER_PW).await;
    let users = call(&server, "GET", "/api/v1/users", Some(&owner), None).await;
    assert_eq!(users.status, 200);
    let count = users.body["items"].as_array().map(Vec::len);
    let key_r = call(
        &server,
        "POST",
        "/api/v1/auth/api-keys",
        Some(&owner),
        Some(json!({"name": "reporting"})),
    )
    .await;
    assert_eq!(key_r.status, 201, "{:?}", key_r.body);
    // A management write: 402 with the JSON error body, and nothing changed.
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&owner),
        Some(json!({"email": "late@example.com", "role": "viewer", "password": "User-Pass-456?"})),
    )
    .await;
    assert_eq!(r.status, 402, "{:?}", r.body);
    assert_eq!(r.body["error"], "license_read_only");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("read-only") && detail.contains("expired on 2021-01-01"),
        "{detail}"
    );
    let users = call(&server, "GET", "/api/v1/users", Some(&owner), None).await;
    assert_eq!(users.body["items"].as_array().map(Vec::len), count);
    // Every declared management write of the API is refused the same way, before its handler.
    for (method, path, _) in sentari_server::http::api::route_table() {
        if !sentari_server::license::management_write(&method, path) {
            continue;
        }
        let r = call(
            &server,
            method.as_str(),
            &concrete(path),
            Some(&owner),
            Some(json!({})),
        )
        .await;
        assert_eq!(r.status, 402, "{method} {path}: {:?}", r.body);
        assert_eq!(r.body["error"], "license_read_only", "{method} {path}");
    }
    // Sign-in and role still come first: 401 anonymous, 403 below the route's role.
    let r = call(&server, "POST", "/api/v1/users", None, Some(json!({}))).await;
    assert_eq!(r.status, 401);
    let analyst = login(&server, "analyst@example.com", &analyst_pw).await;
    let r = call(
        &server,
        "POST",
        "/api/v1/users",
        Some(&analyst),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // The enrolled agent keeps scanning; a new one cannot enroll.
    let agent_url = server.agent.clone().unwrap();
    let device = client(&agent_url, &ca_pem, Some(&identity(&key, &reg.device_cert)));
    let scan = serde_json::to_vec(&sentari_agent_like_scan()).unwrap();
    device.upload_scan(scan, "identity").await.unwrap();
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let e = client(&agent_url, &ca_pem, None)
        .register(&register_req(TOKEN, "m-new", csr_of(&other)))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (402, "license_read_only".into()));
    log_with(
        &env.data_dir(),
        "security",
        &[
            "license_read_only",
            "agent at 127.0.0.1",
            "license_rejected",
        ],
    )
    .await;

    // The dashboard: every page shows the banner, no management button is offered, and a
    // management form gets a 402 page.
    let web = Web::login(&server, OWNER, OWNER_PW).await;
    for page in ["/", "/fleet/devices", "/security/cve", "/admin/settings"] {
        let p = web.get(page).await;
        assert_eq!(p.status, 200, "{page}");
        assert!(
            p.body
                .contains("License invalid or expired: read-only mode")
                && p.body.contains("expired on 2021-01-01"),
            "{page}: {}",
            p.body
        );
    }
    let cve = web.get("/security/cve").await;
    assert!(!cve.body.contains("action=\"/security/cve/suppressions\""));
    let settings = web.get("/admin/settings").await.body;
    for form in [
        "action=\"/admin/settings/users\"",
        "action=\"/admin/settings/tokens\"",
        "action=\"/admin/settings/feed/sync\"",
        "action=\"/admin/settings/feed\"",
        "/role\"",
        "/active\"",
    ] {
        assert!(!settings.contains(form), "{form} offered in read-only mode");
    }
    for (method, path, _) in sentari_server::http::web::route_table() {
        if method != axum::http::Method::POST
            || !sentari_server::license::management_write(&method, path)
        {
            continue;
        }
        let r = web.post(&concrete(path), &[]).await;
        assert_eq!(r.status, 402, "{path}: {}", r.body);
        assert!(r.body.contains("Read-only mode"), "{path}");
    }
    // Signing out is the user's own business and still works.
    let out = web.post("/logout", &[]).await;
    assert_eq!(out.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_key_is_read_only_and_a_key_near_expiry_only_warns() {
    let env = Env::new().await;
    let valid = valid_key(&env);
    let expired = expired_key(&env);
    let (_, sig) = valid.rsplit_once('.').unwrap();
    let (claims, _) = expired.rsplit_once('.').unwrap();
    let forged = format!("{claims}.{sig}");
    let server = start(&env, &[("SENTARI_LICENSE_KEY", forged.as_str())]).await;
    let w = warnings(&server).await;
    assert!(
        w.iter()
            .any(|w| w.starts_with("license_read_only:") && w.contains("signature")),
        "{w:?}"
    );
    let owner = login(&server, OWNER, OWNER_PW).await;
    let r = call(
        &server,
        "PUT",
        "/api/v1/settings/mfa-policy",
        Some(&owner),
        Some(json!({"required_roles": []})),
    )
    .await;
    assert_eq!(r.status, 402, "{:?}", r.body);
    server.terminate(std::time::Duration::from_secs(20));

    // Ten days left: a warning, and writes still work.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let near = issue(
        &env,
        &[
            "--licensee",
            "Test Agency",
            "--id",
            "LIC-NEAR",
            "--expires",
            &soon,
        ],
    );
    let server = start(&env, &[("SENTARI_LICENSE_KEY", near.as_str())]).await;
    let w = warnings(&server).await;
    assert!(
        w.iter().any(|w| w.starts_with("license_expiring:")
            && w.contains("LIC-NEAR")
            && (w.contains("9 days") || w.contains("10 days"))),
        "{w:?}"
    );
    let owner = login(&server, OWNER, OWNER_PW).await;
    create_user(&server, &owner, "v@example.com", "viewer").await;
    let web = Web::login(&server, OWNER, OWNER_PW).await;
    let page = web.get("/security/cve").await;
    assert!(page.body.contains("License expires soon"), "{}", page.body);
    assert!(page.body.contains("action=\"/security/cve/suppressions\""));
    let settings = web.get("/admin/settings").await.body;
    assert!(settings.contains("License expires soon"));
    assert!(settings.contains("action=\"/admin/settings/users\""));
    assert!(settings.contains("action=\"/admin/settings/feed/sync\""));
}
