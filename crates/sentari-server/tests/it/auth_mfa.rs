//! TOTP MFA end to end against the real server: enrollment (QR code, otpauth URI, secret),
//! confirmation with a code, login with a code, a code never accepted twice, recovery codes
//! accepted once, disabling, the admin reset, and the policy that forces enrollment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, eventually, read_log};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, Totp};

const FAST: &[(&str, &str)] = &[
    ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000"),
    ("SENTARI_LOCKOUT_THRESHOLD", "50"),
];

fn generator(secret_b32: &str) -> Totp {
    let secret = Secret::try_from_base32(secret_b32).unwrap();
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build_noncompliant()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code of the step `offset` steps from now.
fn code(t: &Totp, offset: i64) -> String {
    t.generate((now() as i64 + offset * 30) as u64).to_string()
}

async fn login_with(
    server: &crate::common::Server,
    email: &str,
    pw: &str,
    code: Option<&str>,
) -> sentari_client::RawAnswer {
    let mut body = json!({"email": email, "password": pw});
    if let Some(c) = code {
        body["totp_code"] = json!(c);
    }
    call(server, "POST", "/api/v1/auth/login", None, Some(body)).await
}

/// Enrolls the user behind `token` and returns the generator and the recovery codes.
async fn enroll(server: &crate::common::Server, token: &str) -> (Totp, Vec<String>) {
    let e = call(server, "POST", "/api/v1/auth/mfa/enroll", Some(token), None).await;
    assert_eq!(e.status, 200, "{:?}", e.body);
    let t = generator(e.body["secret"].as_str().unwrap());
    let c = call(
        server,
        "POST",
        "/api/v1/auth/mfa/confirm",
        Some(token),
        Some(json!({"code": code(&t, 0)})),
    )
    .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    let codes = c.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (t, codes)
}

async fn audit_actions(server: &crate::common::Server, token: &str) -> Vec<String> {
    let r = call(
        server,
        "GET",
        "/api/v1/audit?page_size=500",
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_login_with_code_reuse_refused_and_recovery_codes_once() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let token = login(&server, OWNER, OWNER_PW).await;

    // Enrollment shows the secret, the otpauth URI and a QR code; nothing is active yet.
    let e = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/enroll",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(e.status, 200, "{:?}", e.body);
    let secret = e.body["secret"].as_str().unwrap().to_owned();
    let uri = e.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Sentari:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(e.body["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        e.body["qr_data_uri"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&token), None).await;
    assert_eq!(st.body["enabled"], false);
    assert_eq!(st.body["enrollment_pending"], true);
    assert_eq!(login_with(&server, OWNER, OWNER_PW, None).await.status, 200);

    // The secret is stored sealed, never in clear.
    let t = generator(&secret);
    let wrong = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/confirm",
        Some(&token),
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "invalid_totp_code");
    let confirm_code = code(&t, 0);
    let c = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/confirm",
        Some(&token),
        Some(json!({"code": confirm_code})),
    )
    .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    let recovery: Vec<String> = c.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&token), None).await;
    assert_eq!(st.body["enabled"], true);
    assert_eq!(st.body["recovery_codes_left"], 10);
    let again = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/enroll",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(again.status, 409);

    // Login now needs the code: without one → mfa_required; a wrong one → invalid_totp_code.
    let r = login_with(&server, OWNER, OWNER_PW, None).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.body["error"], "mfa_required");
    let r = login_with(&server, OWNER, OWNER_PW, Some("123456")).await;
    assert_eq!(r.body["error"], "invalid_totp_code", "{:?}", r.body);
    // A wrong password with a code is still a plain credential failure.
    let r = login_with(&server, OWNER, "Wrong-Pass-123!", Some(&code(&t, 0))).await;
    assert_eq!(r.body["error"], "unauthenticated");

    // The code that confirmed the enrollment is used up.
    let r = login_with(&server, OWNER, OWNER_PW, Some(&confirm_code)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_totp_code");
    // The next step's code (within the accepted skew) works once, and never again; an older
    // step's code is refused after it.
    let next = code(&t, 1);
    let r = login_with(&server, OWNER, OWNER_PW, Some(&next)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = login_with(&server, OWNER, OWNER_PW, Some(&next)).await;
    assert_eq!(r.body["error"], "invalid_totp_code", "reused code accepted");
    let r = login_with(&server, OWNER, OWNER_PW, Some(&code(&t, -1))).await;
    assert_eq!(r.body["error"], "invalid_totp_code", "older code accepted");

    // A recovery code works once, in any case and spacing.
    let rc = recovery[3].to_uppercase();
    let r = login_with(&server, OWNER, OWNER_PW, Some(&rc)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let r = login_with(&server, OWNER, OWNER_PW, Some(&recovery[3])).await;
    assert_eq!(
        r.body["error"], "invalid_totp_code",
        "recovery code used twice"
    );
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&token), None).await;
    assert_eq!(st.body["recovery_codes_left"], 9);

    // Disabling needs a valid code or the password.
    let d = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/disable",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(d.status, 400);
    let d = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/disable",
        Some(&token),
        Some(json!({"password": "Wrong-Pass-123!"})),
    )
    .await;
    assert_eq!(d.status, 401);
    let d = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/disable",
        Some(&token),
        Some(json!({"password": OWNER_PW})),
    )
    .await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(login_with(&server, OWNER, OWNER_PW, None).await.status, 200);

    let actions = audit_actions(&server, &token).await;
    for a in ["mfa.enable", "mfa.recovery_code_used", "mfa.disable"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    let sec = eventually(
        Duration::from_secs(5),
        "mfa failures in security.log",
        || async {
            let s = read_log(&env.data_dir(), "security");
            s.contains("mfa_failed").then_some(s)
        },
    )
    .await;
    assert!(sec.contains("mfa_recovery_code_used"), "{sec}");
    assert!(
        !sec.contains(&secret),
        "the TOTP secret reached security.log"
    );
    let verify = call(&server, "GET", "/api/v1/audit/verify", Some(&token), None).await;
    assert_eq!(verify.body["ok"], true, "{:?}", verify.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_and_the_policy_that_forces_enrollment() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let pw = create_user(&server, &owner, "ana@example.com", "analyst").await;
    create_user(&server, &owner, "vic@example.com", "viewer").await;
    let ana = login(&server, "ana@example.com", &pw).await;
    let (_t, _codes) = enroll(&server, &ana).await;
    assert_eq!(
        login_with(&server, "ana@example.com", &pw, None).await.body["error"],
        "mfa_required"
    );

    // The admin reset turns MFA off and forgets the secret and the recovery codes.
    let users = call(&server, "GET", "/api/v1/users", Some(&owner), None).await;
    let ana_id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ana@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &server,
        "POST",
        &format!("/api/v1/users/{ana_id}/reset-mfa"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let ana = login(&server, "ana@example.com", &pw).await;
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&ana), None).await;
    assert_eq!(st.body["enabled"], false);
    assert_eq!(st.body["enrollment_pending"], false);
    assert_eq!(st.body["recovery_codes_left"], 0);

    // The policy: analysts and above must enroll. Only admins may read or change it.
    let get = call(
        &server,
        "GET",
        "/api/v1/settings/mfa-policy",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(get.body, json!({"required_from_role": null}));
    let denied = call(
        &server,
        "PUT",
        "/api/v1/settings/mfa-policy",
        Some(&ana),
        Some(json!({"required_from_role": "viewer"})),
    )
    .await;
    assert_eq!(denied.status, 403);
    let bad = call(
        &server,
        "PUT",
        "/api/v1/settings/mfa-policy",
        Some(&owner),
        Some(json!({"required_from_role": "wizard"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let put = call(
        &server,
        "PUT",
        "/api/v1/settings/mfa-policy",
        Some(&owner),
        Some(json!({"required_from_role": "analyst"})),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);

    // The analyst can sign in, but until enrolled only me, logout and MFA enrollment work.
    let r = login_with(&server, "ana@example.com", &pw, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["mfa_enrollment_required"], true);
    let ana = r.body["token"].as_str().unwrap().to_owned();
    let blocked = call(&server, "GET", "/api/v1/audit", Some(&ana), None).await;
    assert_eq!(blocked.status, 403);
    assert_eq!(blocked.body["error"], "mfa_enrollment_required");
    let keys = call(&server, "GET", "/api/v1/auth/api-keys", Some(&ana), None).await;
    assert_eq!(keys.body["error"], "mfa_enrollment_required");
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/me", Some(&ana), None)
            .await
            .status,
        200
    );
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&ana), None).await;
    assert_eq!(st.body["required_by_policy"], true);
    // The owner (above analyst) is held to it as well; a viewer is not.
    let blocked = call(&server, "GET", "/api/v1/users", Some(&owner), None).await;
    assert_eq!(blocked.body["error"], "mfa_enrollment_required");
    let vic = login(&server, "vic@example.com", "User-Pass-456?").await;
    assert_eq!(
        call(&server, "GET", "/api/v1/auth/api-keys", Some(&vic), None)
            .await
            .status,
        200
    );

    let (t, _) = enroll(&server, &ana).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/audit", Some(&ana), None)
            .await
            .status,
        200
    );
    // Under the policy the user cannot switch MFA off again.
    let d = call(
        &server,
        "POST",
        "/api/v1/auth/mfa/disable",
        Some(&ana),
        Some(json!({"code": code(&t, 1)})),
    )
    .await;
    assert_eq!(d.status, 409, "{:?}", d.body);

    // The CLI reset does the same as the API one: MFA off, secret and recovery codes gone.
    let out = env.run(&["users", "reset-mfa", "ana@example.com"], &[]);
    assert!(out.status.success(), "{} {}", out.stdout, out.stderr);
    let st = call(&server, "GET", "/api/v1/auth/mfa", Some(&ana), None).await;
    assert_eq!(st.body["enabled"], false, "{:?}", st.body);
    assert_eq!(st.body["recovery_codes_left"], 0);
    // ... and under the policy the analyst is held to enroll again.
    let blocked = call(&server, "GET", "/api/v1/audit", Some(&ana), None).await;
    assert_eq!(blocked.body["error"], "mfa_enrollment_required");
    let (_t, _) = enroll(&server, &ana).await;

    let actions = audit_actions(&server, &ana).await;
    for a in ["user.reset_mfa", "settings.mfa_policy", "mfa.enable"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    let entry = call(
        &server,
        "GET",
        "/api/v1/audit?action=settings.mfa_policy",
        Some(&ana),
        None,
    )
    .await;
    let item: &Value = &entry.body["items"][0];
    assert_eq!(item["after"]["required_from_role"], "analyst");
    assert_eq!(item["actor"], OWNER);
}
