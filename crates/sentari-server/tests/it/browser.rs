//! The dashboard in a real browser: Debian's headless Chromium driven by playwright-core
//! (`tests/browser/dashboard.mjs` at the repository root) against the real server with seeded
//! users and a failed job.
//!
//! The script signs in (after a wrong password), visits every page, creates and revokes an
//! enrollment token, finds the failed job in Admin → Tasks, checks a phone-sized screen and dark
//! mode, signs out, and checks what a viewer sees and is refused; `tests/browser/fleet.mjs` then
//! walks the Fleet pages over a small seeded fleet (package search, device detail, runtime CSV
//! and XLSX exports, diagnostics, deleting a device); on every page it fails on
//! console errors, uncaught exceptions, failed requests and CSP violations. It saves a
//! screenshot of every page under `<cargo target dir>/screenshots/` (`$CARGO_TARGET_DIR`, else
//! the repository's `target/`).
//!
//! `.ci/setup.d/dashboard.sh` installs Chromium and playwright-core. Without them this test
//! prints a loud skip note and passes, except under CI (`CI` set), where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, eventually};
use sentari_store::{NewJob, Store, StoreOptions};
use serde_json::json;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
const FAILED_JOB_ERROR: &str = "seeded failure: the browser test expects to see this";

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where screenshots go: `<cargo target dir>/screenshots`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("screenshots")
}

/// `None` when everything the test needs is installed, else what is missing.
pub(crate) fn missing_tools() -> Option<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (Debian package chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_owned());
    }
    if !repo_root()
        .join("tests/browser/node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push("tests/browser/node_modules/playwright-core (npm ci in tests/browser)".into());
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_headless_chromium() {
    if let Some(missing) = missing_tools() {
        let note = format!(
            "browser test SKIPPED: missing {missing}; run `bash .ci/setup.d/dashboard.sh` as root"
        );
        assert!(std::env::var_os("CI").is_none(), "{note} (CI must run it)");
        eprintln!("\n=== {note} ===\n");
        return;
    }
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_LOGIN_RATE_PER_MINUTE", "1000")]).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let viewer_pw = create_user(&server, &owner, "viewer@example.com", "viewer").await;

    // A job that fails for good, as Admin → Tasks must show it.
    let store = Store::connect(&env.database_url, &StoreOptions::default())
        .await
        .unwrap();
    store
        .enqueue(NewJob::new("diagnostic", json!({"fail": FAILED_JOB_ERROR})).max_attempts(1))
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the seeded job to die", || async {
        let dead = store.list_jobs(Some("dead"), None, 10).await.unwrap();
        (!dead.is_empty()).then_some(())
    })
    .await;
    store.close().await;
    // A small fleet (three devices, findings, EOL runtimes, scan errors) for the Fleet pages.
    let device_id = crate::fleet_support::small_fleet(&env.database_url).await;

    let shots = screenshot_dir();
    // Only this test's own screenshots: other browser tests keep theirs in subdirectories.
    for e in std::fs::read_dir(&shots).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "png") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    // The general walk-through first, then the Fleet pages (`fleet.mjs`), each in its own
    // browser; both write their screenshots to the same directory. Both always run, so one
    // script's failure does not hide the other's.
    let mut failed = Vec::new();
    for script in ["dashboard.mjs", "fleet.mjs"] {
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(repo_root().join("tests/browser").join(script))
            .current_dir(repo_root().join("tests/browser"))
            .env("SENTARI_URL", server.url())
            .env("OWNER_EMAIL", OWNER)
            .env("OWNER_PASSWORD", OWNER_PW)
            .env("VIEWER_EMAIL", "viewer@example.com")
            .env("VIEWER_PASSWORD", &viewer_pw)
            .env("FAILED_JOB_ERROR", FAILED_JOB_ERROR)
            .env("DEVICE_ID", device_id.to_string())
            .env("SCREENSHOT_DIR", &shots)
            .env("CHROMIUM", CHROMIUM)
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{script} did not finish within 4 minutes"))
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}");
        eprintln!("{stderr}");
        if !out.status.success() || !stdout.contains("browser test passed") {
            failed.push(format!("{script} ({}):\n{stderr}", out.status));
        }
    }
    assert!(
        failed.is_empty(),
        "browser scripts failed:\n{}",
        failed.join("\n")
    );

    // A screenshot of every page, each a real PNG.
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    pngs.sort();
    for name in [
        "login",
        "fleet-overview",
        "fleet-devices",
        "fleet-device",
        "fleet-packages",
        "fleet-runtime",
        "fleet-scans",
        "fleet-diagnostics",
        "security-cve",
        "admin-settings",
        "admin-settings-token-created",
        "admin-tasks-failure",
        "admin-audit",
        "profile",
        "viewer-forbidden",
        "mobile-admin-settings",
        "dark-admin-tasks",
        "fleet-packages-search",
        "fleet-device-web-01",
        "fleet-runtime-exported",
        "fleet-diagnostics-device",
        "fleet-device-delete-confirm",
        "fleet-devices-deleted",
        "mobile-fleet-devices",
        "dark-fleet-runtime",
    ] {
        let found = pngs.iter().find(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| s.split_once('-').map(|(_, n)| n) == Some(name))
        });
        let Some(path) = found else {
            panic!("no screenshot {name} in {}: {pngs:?}", shots.display());
        };
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 2000,
            "{}",
            path.display()
        );
    }
    println!("screenshots: {}", shots.display());
}
