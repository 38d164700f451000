//! The dashboard's Security, Profile-MFA and feed pages against the real server: Security → CVE
//! for each role (a viewer reads but sees no suppress control and is refused anyway; an analyst
//! suppresses and unsuppresses, audited), two-factor enrollment from the profile page and the
//! MFA policy sending unenrolled users there, Admin → Settings' CVE feed section (status, sync
//! now, settings the next sync uses), and the stale-feed banner. Data is seeded through the
//! store, as the ingest worker would write it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, eventually};
use crate::fleet_support::*;
use crate::web_support::*;
use sentari_server::feeds::osv_import::import_bundle;
use sentari_store::{Store, StoreOptions};
use serde_json::json;
use time::OffsetDateTime;
use totp_rs::{Algorithm, Secret, Totp};

const FAST: &[(&str, &str)] = &[
    ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000"),
    ("SENTARI_LOCKOUT_THRESHOLD", "50"),
    // Feed syncs in these tests must fail fast instead of reaching the network.
    ("SENTARI_OSV_BASE_URL", "http://127.0.0.1:9"),
    ("SENTARI_EOL_BASE_URL", "http://127.0.0.1:9"),
];

async fn store(env: &Env) -> Store {
    Store::connect(&env.database_url, &StoreOptions::default())
        .await
        .unwrap()
}

/// Two advisories, three findings on two devices.
async fn seed_findings(env: &Env) -> (uuid::Uuid, uuid::Uuid) {
    let s = store(env).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = ndjson(
        dir.path(),
        "osv.ndjson",
        &[
            record(
                "PYSEC-T-1",
                "2026-01-01T00:00:00Z",
                "PyPI",
                "django",
                "0",
                "3.1.6",
            ),
            record(
                "PYSEC-T-2",
                "2026-01-01T00:00:00Z",
                "PyPI",
                "requests",
                "0",
                "2.99.0",
            ),
        ],
    );
    import_bundle(&s, &bundle, "test", None).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let web1 = device(&s, "web-1").await;
    ingest_upload(
        &s,
        web1,
        &upload(
            "web-1",
            "debian",
            "12",
            now,
            vec![
                pkg("PyPI", "django", "3.1.5"),
                pkg("PyPI", "requests", "2.0.0"),
            ],
        ),
    )
    .await;
    let web2 = device(&s, "web-2").await;
    ingest_upload(
        &s,
        web2,
        &upload(
            "web-2",
            "debian",
            "12",
            now,
            vec![pkg("PyPI", "django", "3.1.5")],
        ),
    )
    .await;
    (web1, web2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_security_cve_page_per_role_and_suppression_through_the_api_rules() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let viewer_pw = create_user(&server, &owner, "viewer@example.com", "viewer").await;
    let analyst_pw = create_user(&server, &owner, "analyst@example.com", "analyst").await;
    let (web1, _web2) = seed_findings(&env).await;

    // A viewer reads the findings grouped by advisory, with aliases, fixed versions, counts
    // and a link to each advisory, but gets no suppress control.
    let viewer = Web::login(&server, "viewer@example.com", &viewer_pw).await;
    let page = viewer.get("/security/cve").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for needle in [
        "href=\"/security/cve/PYSEC-T-1\"",
        "CVE-PYSEC-T-1",
        "3.1.6",
        "PyPI/django",
        "href=\"/security/cve/PYSEC-T-2\"",
        "sev-badge c-critical",
        "aria-current=\"page\">CVE</a>",
    ] {
        assert!(page.body.contains(needle), "{needle}: {}", page.body);
    }
    assert!(!page.body.contains("action=\"/security/cve/suppressions"));
    assert!(!page.body.contains("Suppress…"));

    // Per device, with why each finding matched.
    let page = viewer.get("/security/cve?view=device").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(">web-1</a>") && page.body.contains(">web-2</a>"));
    assert!(
        page.body.contains(
            "Installed PyPI django 3.1.5 falls in the ECOSYSTEM range of PyPI django (introduced in 0, fixed in 3.1.6)"
        ),
        "{}",
        page.body
    );
    // Filters: severity, package, device.
    let page = viewer.get("/security/cve?severity=low").await;
    assert!(page.body.contains("id=\"no-findings\""));
    let page = viewer.get("/security/cve?package=requests").await;
    assert!(page.body.contains("PYSEC-T-2") && !page.body.contains("PYSEC-T-1\""));
    let page = viewer
        .get(&format!("/security/cve?view=device&device={web1}"))
        .await;
    assert!(page.body.contains(">web-1</a>") && !page.body.contains(">web-2</a>"));
    let page = viewer.get("/security/cve?device=not-a-uuid").await;
    assert_eq!(page.status, 400);

    // The advisory's page.
    let page = viewer.get("/security/cve/PYSEC-T-1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"affected-devices\">2<"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"suppress-advisory\""));
    // An alias finds it too; an unknown id is a 404.
    assert_eq!(viewer.get("/security/cve/CVE-PYSEC-T-1").await.status, 200);
    assert_eq!(viewer.get("/security/cve/NOPE-1").await.status, 404);
    // The server refuses a viewer's suppression whatever the page shows.
    let r = viewer
        .post(
            "/security/cve/suppressions",
            &[
                ("scope", "advisory"),
                ("advisory_id", "PYSEC-T-1"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);

    // An analyst sees the forms; the API's validation applies.
    let analyst = Web::login(&server, "analyst@example.com", &analyst_pw).await;
    let page = analyst.get("/security/cve/PYSEC-T-1").await;
    assert!(page.body.contains("id=\"suppress-advisory\""));
    assert!(page.body.contains("<option value=\"PyPI/django\">"));
    let r = analyst
        .post(
            "/security/cve/suppressions",
            &[
                ("scope", "advisory_package"),
                ("advisory_id", "PYSEC-T-1"),
                ("package_key", "PyPI/django"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Say why the finding is suppressed."),
        "{}",
        r.body
    );
    // Without the CSRF token the form is refused.
    let r = analyst
        .post_raw(
            "/security/cve/suppressions",
            &[
                ("scope", "advisory"),
                ("advisory_id", "PYSEC-T-1"),
                ("reason", "x"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 403);

    let r = analyst
        .post(
            "/security/cve/suppressions",
            &[
                ("scope", "advisory_package"),
                ("advisory_id", "PYSEC-T-1"),
                ("package_key", "PyPI/django"),
                ("reason", "accepted risk until the upgrade"),
                ("expires", "2099-12-31"),
                ("back", "/security/cve/PYSEC-T-1"),
            ],
        )
        .await;
    assert_redirect(&r, "/security/cve/PYSEC-T-1?notice=suppressed");
    let page = analyst.get("/security/cve").await;
    assert!(!page.body.contains("href=\"/security/cve/PYSEC-T-1\""));
    assert!(
        page.body.contains("PYSEC-T-1 in PyPI django"),
        "{}",
        page.body
    );
    assert!(page.body.contains("accepted risk until the upgrade"));
    assert!(page.body.contains("2100-01-01 00:00:00 UTC"));
    let page = analyst.get("/security/cve?suppressed=only").await;
    assert!(page.body.contains("href=\"/security/cve/PYSEC-T-1\""));
    let page = viewer
        .get("/security/cve?view=device&suppressed=shown")
        .await;
    assert!(page.body.contains("status-off\">suppressed</span>"));
    // A per-device suppression from the device view's form.
    let r = analyst
        .post(
            "/security/cve/suppressions",
            &[
                ("scope", "device"),
                ("advisory_id", "PYSEC-T-2"),
                ("device_id", &web1.to_string()),
                ("reason", "lab machine"),
                ("back", "/security/cve?view=device"),
            ],
        )
        .await;
    assert_redirect(&r, "/security/cve?view=device&notice=suppressed");

    // Audited as the API audits it.
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=suppression.create",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(audit.status, 200);
    let text = audit.body.to_string();
    assert!(text.contains("analyst@example.com") && text.contains("lab machine"));

    // Unsuppressing: a viewer may not, an analyst may.
    let rules = call(&server, "GET", "/api/v1/suppressions", Some(&owner), None).await;
    let items = rules.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let id = items
        .iter()
        .find(|i| i["scope"] == "advisory_package")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/security/cve/suppressions/{id}/delete");
    assert_eq!(viewer.post(&path, &[]).await.status, 403);
    let r = analyst.post(&path, &[("back", "/security/cve")]).await;
    assert_redirect(&r, "/security/cve?notice=unsuppressed");
    let page = analyst.get("/security/cve?notice=unsuppressed").await;
    assert!(page.body.contains("href=\"/security/cve/PYSEC-T-1\""));
    assert!(page.body.contains("Suppression removed"));
    assert_eq!(analyst.post(&path, &[]).await.status, 404);
}

fn generator(secret_b32: &str) -> Totp {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret_b32).unwrap())
        .build_noncompliant()
}

fn code(t: &Totp, offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    t.generate((now + offset * 30) as u64).to_string()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html
        .find(start)
        .unwrap_or_else(|| panic!("{start}: {html}"))
        + start.len();
    html[i..].split(end).next().unwrap()
}

/// Enrolls the signed-in user from the profile page; returns the generator of their codes.
async fn enroll(web: &Web<'_>) -> Totp {
    let page = web.post("/profile/mfa/enroll", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<figure class=\"qr\"") && page.body.contains("<svg"));
    assert!(!page.body.contains("<?xml"));
    let secret = between(&page.body, "id=\"mfa-secret\">", "<").to_owned();
    let uri = between(&page.body, "name=\"otpauth_uri\" value=\"", "\"").replace("&#38;", "&");
    let t = generator(&secret);
    // A wrong code keeps the same secret and QR code on the page.
    let wrong = if code(&t, 0) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let r = web
        .post(
            "/profile/mfa/confirm",
            &[("code", wrong), ("secret", &secret), ("otpauth_uri", &uri)],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains(&secret) && r.body.contains("<svg"));
    let r = web
        .post(
            "/profile/mfa/confirm",
            &[
                ("code", &code(&t, 0)),
                ("secret", &secret),
                ("otpauth_uri", &uri),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes = between(&r.body, "id=\"recovery-code-list\">", "</ol>");
    assert_eq!(codes.matches("<li><code>").count(), 10, "{codes}");
    assert!(r.body.contains("status-ok\">on</span>"));
    // Shown once: the page does not list them again.
    assert!(
        !web.get("/profile")
            .await
            .body
            .contains("recovery-code-list")
    );
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_security_profile_enrolls_mfa_and_the_policy_sends_unenrolled_users_there() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let analyst_pw = create_user(&server, &owner, "analyst@example.com", "analyst").await;
    let viewer_pw = create_user(&server, &owner, "viewer@example.com", "viewer").await;

    // Without a policy: enroll, sign in with the code, then disable with the password.
    let analyst = Web::login(&server, "analyst@example.com", &analyst_pw).await;
    let page = analyst.get("/profile").await;
    assert!(page.body.contains("id=\"mfa-enroll\""));
    let t = enroll(&analyst).await;
    let mut web = Web::anonymous(&server);
    let step = web
        .post_raw(
            "/login",
            &[("email", "analyst@example.com"), ("password", &analyst_pw)],
            true,
        )
        .await;
    assert_eq!(step.status, 200);
    assert!(step.body.contains("name=\"totp_code\""));
    let r = web
        .post_raw(
            "/login",
            &[
                ("email", "analyst@example.com"),
                ("password", &analyst_pw),
                ("totp_code", &code(&t, 1)),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    web.cookie = session_cookie(&r);
    web.csrf = csrf_of(&web.get("/profile").await.body);
    let r = web
        .post("/profile/mfa/disable", &[("password", "wrong-password")])
        .await;
    assert_eq!(r.status, 401);
    let r = web
        .post("/profile/mfa/disable", &[("password", &analyst_pw)])
        .await;
    assert_redirect(&r, "/profile?notice=mfa_disabled#mfa");
    let page = web.get("/profile").await;
    assert!(page.body.contains("status-off\">off</span>"));

    // The policy requires MFA from viewers up: an unenrolled viewer is sent to enroll first.
    let r = call(
        &server,
        "PUT",
        "/api/v1/settings/mfa-policy",
        Some(&owner),
        Some(json!({"required_from_role": "viewer"})),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let viewer = Web::login(&server, "viewer@example.com", &viewer_pw).await;
    for path in ["/fleet/overview", "/security/cve", "/"] {
        let r = viewer.get(path).await;
        assert_redirect(&r, "/profile#mfa");
    }
    let page = viewer.get("/profile").await;
    assert!(
        page.body
            .contains("Two-factor authentication is required for the viewer role"),
        "{}",
        page.body
    );
    let r = viewer
        .post("/profile/api-keys", &[("name", "x"), ("role", "viewer")])
        .await;
    assert_eq!(r.status, 403);
    enroll(&viewer).await;
    assert_eq!(viewer.get("/fleet/overview").await.status, 200);
    let page = viewer.get("/profile").await;
    assert!(page.body.contains("cannot be turned off here"));
    assert!(!page.body.contains("id=\"mfa-disable\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_security_feed_section_syncs_saves_settings_and_stale_feeds_show_a_banner() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let viewer_pw = create_user(&server, &owner, "viewer@example.com", "viewer").await;
    // A feed that has only ever failed is stale (the rule of /api/health).
    let s = store(&env).await;
    s.feed_attempt("osv:PyPI").await.unwrap();
    s.feed_failure("osv:PyPI", "connection refused")
        .await
        .unwrap();

    let viewer = Web::login(&server, "viewer@example.com", &viewer_pw).await;
    for path in ["/security/cve", "/profile"] {
        let page = viewer.get(path).await;
        assert!(
            page.body
                .contains("<strong>Vulnerability feed out of date.</strong>"),
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains("osv:PyPI has never synced"));
    }
    assert_eq!(viewer.get("/admin/settings").await.status, 403);
    assert_eq!(
        viewer.post("/admin/settings/feed/sync", &[]).await.status,
        403
    );
    assert_eq!(
        viewer
            .post("/admin/settings/feed", &[("osv_bundle_path", "/tmp")])
            .await
            .status,
        403
    );

    let admin = Web::login(&server, OWNER, OWNER_PW).await;
    let page = admin.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"feed-sources\""));
    assert!(page.body.contains("status-bad\">stale</span>"));
    assert!(page.body.contains("connection refused"));
    assert!(page.body.contains("action=\"/admin/settings/feed/sync\""));

    // Settings: the API's checks, then the next sync's paths.
    let r = admin
        .post(
            "/admin/settings/feed",
            &[
                ("osv_bundle_path", "relative/path"),
                ("eol_bundle_path", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("absolute path"), "{}", r.body);
    let dir = tempfile::tempdir().unwrap();
    let bundle = ndjson(
        dir.path(),
        "osv.ndjson",
        &[record(
            "PYSEC-F-1",
            "2026-01-01T00:00:00Z",
            "PyPI",
            "flask",
            "0",
            "9.0",
        )],
    );
    let path = bundle.display().to_string();
    let r = admin
        .post(
            "/admin/settings/feed",
            &[
                ("osv_bundle_path", path.as_str()),
                ("eol_bundle_path", ""),
                ("nvd_api_key", "nvd-secret-XYZ123"),
            ],
        )
        .await;
    assert_redirect(&r, "/admin/settings?notice=feed_saved#cve-feed");
    let page = admin.get("/admin/settings").await;
    assert!(page.body.contains(&format!("value=\"{path}\"")));
    assert!(page.body.contains("A key is stored"));
    assert!(!page.body.contains("nvd-secret-XYZ123"));
    let feeds = call(&server, "GET", "/api/v1/feeds", Some(&owner), None).await;
    assert_eq!(feeds.body["osv_bundle_path"], path.as_str());

    // Sync now: queued at once, the page shows the job and then its result, and the bundle set
    // above is what it read.
    let r = admin.post("/admin/settings/feed/sync", &[]).await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap();
    assert!(
        to == "/admin/settings?notice=sync_queued#cve-feed"
            || to == "/admin/settings?notice=sync_already#cve-feed",
        "{to}"
    );
    let page = admin.get("/admin/settings?notice=sync_queued").await;
    assert!(page.body.contains("id=\"feed-jobs\""), "{}", page.body);
    assert!(page.body.contains("<code>osv_sync</code>"));
    eventually(Duration::from_secs(60), "the OSV bundle synced", || async {
        let page = admin.get("/admin/settings").await;
        (page.body.contains("osv:bundle") && page.body.contains("status-ok\">done</span>"))
            .then_some(())
    })
    .await;
    let adv = call(
        &server,
        "GET",
        "/api/v1/advisories/PYSEC-F-1",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(adv.status, 200);
    // The audit has the key change without the key.
    let audit = call(
        &server,
        "GET",
        "/api/v1/audit?action=feeds.nvd_api_key",
        Some(&owner),
        None,
    )
    .await;
    let text = audit.body.to_string();
    assert!(text.contains("feeds.nvd_api_key") && !text.contains("XYZ123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_security_in_headless_chromium() {
    use crate::browser::{CHROMIUM, missing_tools, repo_root, screenshot_dir};
    if let Some(missing) = missing_tools() {
        let note = format!(
            "browser test SKIPPED: missing {missing}; run `bash .ci/setup.d/dashboard.sh` as root"
        );
        assert!(std::env::var_os("CI").is_none(), "{note} (CI must run it)");
        eprintln!("\n=== {note} ===\n");
        return;
    }
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let analyst_pw = create_user(&server, &owner, "analyst@example.com", "analyst").await;
    let viewer_pw = create_user(&server, &owner, "viewer@example.com", "viewer").await;
    seed_findings(&env).await;

    let shots = screenshot_dir().join("security");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(repo_root().join("tests/browser/security.mjs"))
        .current_dir(repo_root().join("tests/browser"))
        .env("SENTARI_URL", server.url())
        .env("OWNER_EMAIL", OWNER)
        .env("OWNER_PASSWORD", OWNER_PW)
        .env("ANALYST_EMAIL", "analyst@example.com")
        .env("ANALYST_PASSWORD", &analyst_pw)
        .env("VIEWER_EMAIL", "viewer@example.com")
        .env("VIEWER_PASSWORD", &viewer_pw)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", CHROMIUM)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("the browser script did not finish within 4 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "the browser script failed ({}):\n{stderr}",
        out.status
    );
    assert!(stdout.contains("security browser test passed"));
    let pngs = std::fs::read_dir(&shots).unwrap().count();
    assert!(pngs >= 10, "{pngs} screenshots in {}", shots.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_security_login_page_offers_sso_only_when_oidc_is_configured() {
    let env = Env::new().await;
    let server = start(&env, FAST).await;
    let page = Web::anonymous(&server).get("/login").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/api/v1/auth/oidc/login"));
    server.kill();
    // The provider is contacted only when someone uses the button, so an unreachable issuer
    // is enough to show it.
    let mut vars = FAST.to_vec();
    vars.extend([
        ("SENTARI_OIDC_ISSUER_URL", "http://127.0.0.1:9"),
        ("SENTARI_OIDC_CLIENT_ID", "sentari"),
        ("SENTARI_OIDC_CLIENT_SECRET", "client-secret-for-tests"),
    ]);
    let server = start(&env, &vars).await;
    let page = Web::anonymous(&server).get("/login").await;
    assert!(
        page.body.contains(
            "<a class=\"button\" href=\"/api/v1/auth/oidc/login\">Sign in with single sign-on</a>"
        ),
        "{}",
        page.body
    );
    // A failed password attempt keeps the button.
    let r = Web::anonymous(&server)
        .post_raw(
            "/login",
            &[("email", "nobody@example.com"), ("password", "wrong")],
            true,
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Sign in with single sign-on"));
}
