//! The fleet end to end through the REST API: the real `sentari-agent` scans a fixture host and
//! uploads over mTLS, the worker ingests and correlates against an OSV bundle imported by a
//! feed sync, and operators of each role read, filter, export, suppress and delete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::auth_support::*;
use crate::common::{Env, eventually};
use serde_json::{Value, json};

const TOKEN: &str = "fleet-api-enrollment-token";

fn agent_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let server = PathBuf::from(env!("CARGO_BIN_EXE_sentari"));
        let profile_dir = server.parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "sentari-agent", "--bin", "sentari-agent"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building sentari-agent failed");
        profile_dir.join("sentari-agent")
    })
    .clone()
}

fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// A Debian 12 host with an old Django and one OS package.
fn fixture_root(root: &Path) {
    let w = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    );
    w("etc/hostname", "fleet-test-host\n");
    w(
        "var/lib/dpkg/status",
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.14-1~deb12u1\n\n",
    );
    w(
        "usr/lib/python3/dist-packages/Django-3.1.5.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: Django\nVersion: 3.1.5\n",
    );
    w(
        "usr/lib/python3/dist-packages/Django-3.1.5.dist-info/RECORD",
        "",
    );
}

async fn get(server: &crate::common::Server, path: &str, token: &str) -> (u16, Value) {
    let r = call(server, "GET", path, Some(token), None).await;
    (r.status, r.body)
}

/// A CSV export: 200, a CSV content type, and the text.
async fn get_csv(server: &crate::common::Server, path: &str, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let (st, headers, csv) = server
        .client()
        .get_bytes(path, &[("authorization", auth.as_str())])
        .await
        .unwrap();
    assert_eq!(st, 200, "{path}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/csv")),
        "{path}: {headers:?}"
    );
    String::from_utf8(csv).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_to_findings_through_the_api() {
    let env = Env::new().await;
    // An offline OSV bundle: the real PyPI data plus a Debian advisory for the fixture's openssl.
    let bundles = tempfile::tempdir().unwrap();
    std::fs::copy(
        shared_data().join("osv/PyPI/all.zip"),
        bundles.path().join("pypi.zip"),
    )
    .unwrap();
    let osv_dir = bundles.path().join("osv");
    std::fs::create_dir_all(osv_dir.join("PyPI")).unwrap();
    std::fs::rename(
        bundles.path().join("pypi.zip"),
        osv_dir.join("PyPI/all.zip"),
    )
    .unwrap();
    std::fs::write(
        osv_dir.join("DSA-TEST-1.json"),
        json!({
            "id": "DSA-TEST-1", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
            "summary": "openssl test advisory",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]}],
                "database_specific": {"severity": "high"}}]
        })
        .to_string(),
    )
    .unwrap();
    let eol = shared_data().join("eol/bundle.ndjson");
    let osv = osv_dir.display().to_string();
    let eol = eol.display().to_string();
    let server = start(
        &env,
        &[
            ("SENTARI_ENROLLMENT_TOKEN", TOKEN),
            ("SENTARI_OSV_BUNDLE_PATH", osv.as_str()),
            ("SENTARI_EOL_BUNDLE_PATH", eol.as_str()),
            ("SENTARI_LOGIN_RATE_PER_MINUTE", "1000"),
        ],
    )
    .await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let mut tokens = Vec::new();
    for role in ["viewer", "analyst", "admin"] {
        let email = format!("{role}@example.com");
        let pw = create_user(&server, &owner, &email, role).await;
        tokens.push(login(&server, &email, &pw).await);
    }
    let (viewer, analyst, admin) = (tokens[0].clone(), tokens[1].clone(), tokens[2].clone());

    // Feed sync from the configured offline bundles, as an admin; viewers may not trigger it.
    let r = call(
        &server,
        "POST",
        "/api/v1/feeds/sync",
        Some(&viewer),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &server,
        "POST",
        "/api/v1/feeds/sync",
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let feeds = eventually(Duration::from_secs(120), "feeds synced", || async {
        let (_, b) = get(&server, "/api/v1/feeds", &viewer).await;
        let ok = b["sources"]
            .as_array()
            .map(|s| s.len() == 2 && s.iter().all(|f| !f["last_success"].is_null()))
            .unwrap_or(false);
        ok.then_some(b)
    })
    .await;
    assert!(feeds["advisories"].as_i64().unwrap() > 2600, "{feeds}");
    assert_eq!(feeds["osv_bundle_path"], osv);

    // The real agent enrolls and uploads one scan of the fixture host.
    let root = tempfile::tempdir().unwrap();
    fixture_root(root.path());
    let data = tempfile::tempdir().unwrap();
    let agent_url = server.agent.clone().unwrap();
    let out = Command::new(agent_bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(data.path())
        .arg("--scan-root")
        .arg(root.path())
        .args([
            "--machine-id",
            "fleet-api-machine",
            "--server-url",
            &agent_url,
        ])
        .args(["--enroll-token", TOKEN, "--once"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Ingest and correlation run in the worker; the device's findings appear.
    let device = eventually(Duration::from_secs(60), "device with findings", || async {
        let (_, b) = get(&server, "/api/v1/devices?sort=-findings", &viewer).await;
        let d = b["items"].get(0)?.clone();
        let f = &d["findings"];
        let open: i64 = ["critical", "high", "medium", "low", "unknown"]
            .iter()
            .filter_map(|k| f[*k].as_i64())
            .sum();
        (open >= 2).then_some(d)
    })
    .await;
    let id = device["id"].as_str().unwrap().to_owned();
    assert_eq!(device["os_ecosystem"], "Debian:12");
    assert_eq!(device["scan_status"], "ok");
    assert!(device["package_count"].as_i64().unwrap() >= 2);

    // Device detail, packages with a source filter, findings with the reason.
    let (st, detail) = get(&server, &format!("/api/v1/devices/{id}"), &viewer).await;
    assert_eq!(st, 200);
    assert_eq!(detail["recent_scans"][0]["status"], "applied");
    let (_, pk) = get(
        &server,
        &format!("/api/v1/devices/{id}/packages?source=os"),
        &viewer,
    )
    .await;
    assert_eq!(pk["total"], 1);
    assert_eq!(pk["items"][0]["source_name"], "openssl");
    assert_eq!(pk["items"][0]["open_findings"], 1);
    let (_, f) = get(
        &server,
        &format!("/api/v1/devices/{id}/findings?advisory=CVE-2099-0001"),
        &viewer,
    )
    .await;
    assert_eq!(f["total"], 1, "{f}");
    let why = &f["items"][0]["matched"];
    assert_eq!(why["ecosystem"], "Debian:12");
    assert_eq!(why["package"], "openssl");
    assert_eq!(why["comparator"], "dpkg");
    assert_eq!(why["fixed"], "3.0.15-1~deb12u1");
    assert_eq!(f["items"][0]["severity"]["rating"], "high");

    // Grouped by advisory, with the fixed versions; the advisory by its CVE alias.
    let (_, g) = get(
        &server,
        "/api/v1/findings?group=advisory&page_size=200",
        &viewer,
    )
    .await;
    let django = g["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["advisory_id"] == "PYSEC-2021-9")
        .expect("PYSEC-2021-9 grouped");
    assert_eq!(django["devices"], 1);
    assert!(
        django["fixed_versions"]
            .as_array()
            .unwrap()
            .contains(&json!("3.1.6"))
    );
    let (st, adv) = get(&server, "/api/v1/advisories/CVE-2021-3281", &viewer).await;
    assert_eq!(st, 200);
    assert_eq!(adv["id"], "PYSEC-2021-9");
    assert_eq!(adv["affected_devices"], 1);
    let (st, _) = get(&server, "/api/v1/advisories/NOPE-1", &viewer).await;
    assert_eq!(st, 404);

    // Fleet-wide package search, with a version range in the ecosystem's order.
    let (_, p) = get(
        &server,
        "/api/v1/packages?name=django&ecosystem=PyPI&range=%3E%3D3.0,%3C3.2",
        &viewer,
    )
    .await;
    assert_eq!(p["total"], 1, "{p}");
    assert_eq!(p["items"][0]["devices"], 1);
    let (_, p) = get(
        &server,
        "/api/v1/packages?name=django&ecosystem=PyPI&range=%3E%3D4",
        &viewer,
    )
    .await;
    assert_eq!(p["total"], 0);
    let (st, e) = get(&server, "/api/v1/packages?name=django&range=bogus", &viewer).await;
    assert_eq!(st, 400, "{e}");
    let (_, by_pkg) = get(
        &server,
        "/api/v1/devices?package=Django&version=3.1.5",
        &viewer,
    )
    .await;
    assert_eq!(by_pkg["total"], 1);

    // Pagination and sorting are checked.
    let (st, e) = get(&server, "/api/v1/devices?page_size=501", &viewer).await;
    assert_eq!(st, 400);
    assert_eq!(e["field"], "page_size");
    let (st, e) = get(&server, "/api/v1/devices?sort=-password", &viewer).await;
    assert_eq!(st, 400, "{e}");

    // Scans, diagnostics (analyst and up), overview.
    let (_, sc) = get(&server, "/api/v1/scans", &viewer).await;
    assert_eq!(sc["total"], 1);
    let (st, _) = get(&server, "/api/v1/diagnostics", &viewer).await;
    assert_eq!(st, 403);
    let (st, _) = get(&server, "/api/v1/diagnostics", &analyst).await;
    assert_eq!(st, 200);
    let (_, ov) = get(&server, "/api/v1/overview", &viewer).await;
    assert_eq!(ov["devices_total"], 1);
    assert!(ov["findings"]["high"].as_i64().unwrap() >= 1, "{ov}");

    // Exports: CSV of any list, XLSX of the runtime inventory.
    let auth = format!("Bearer {viewer}");
    let csv = get_csv(&server, "/api/v1/devices?format=csv", &viewer).await;
    assert!(csv.starts_with("id,hostname,os,"), "{csv}");
    assert!(csv.contains("fleet-test-host"));
    let (st, _, xlsx) = server
        .client()
        .get_bytes(
            "/api/v1/runtimes?format=xlsx",
            &[("authorization", auth.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(st, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(sheet.contains("hostname") || zip.len() > 3);

    // Suppression: analysts may, viewers may not; the finding leaves the open counts.
    let body = json!({"scope": "advisory", "advisory_id": "CVE-2099-0001", "reason": "backported fix verified"});
    let r = call(
        &server,
        "POST",
        "/api/v1/suppressions",
        Some(&viewer),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &server,
        "POST",
        "/api/v1/suppressions",
        Some(&analyst),
        Some(json!({"scope": "advisory"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &server,
        "POST",
        "/api/v1/suppressions",
        Some(&analyst),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["advisory_id"], "DSA-TEST-1");
    let (_, f) = get(
        &server,
        &format!("/api/v1/devices/{id}/findings?advisory=DSA-TEST-1"),
        &viewer,
    )
    .await;
    assert_eq!(f["total"], 0);
    let (_, f) = get(
        &server,
        &format!("/api/v1/devices/{id}/findings?advisory=DSA-TEST-1&suppressed=true"),
        &viewer,
    )
    .await;
    assert_eq!(f["total"], 1);
    let (_, d) = get(&server, &format!("/api/v1/devices/{id}"), &viewer).await;
    assert_eq!(d["findings"]["suppressed"], 1);
    let (_, audit) = get(&server, "/api/v1/audit?action=suppression.create", &analyst).await;
    assert_eq!(audit["total"], 1);

    // Health reports no stale feed.
    let (st, h) = get(&server, "/api/health", &viewer).await;
    assert_eq!(st, 200);
    assert!(
        h["warnings"]
            .as_array()
            .is_none_or(|w| w.iter().all(|x| !x.as_str().unwrap_or("").contains("feed"))),
        "{h}"
    );

    // Deleting the device (admin) revokes it: the agent's next upload is refused.
    let r = call(
        &server,
        "DELETE",
        &format!("/api/v1/devices/{id}"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &server,
        "DELETE",
        &format!("/api/v1/devices/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let (st, _) = get(&server, &format!("/api/v1/devices/{id}"), &viewer).await;
    assert_eq!(st, 404);
    let again = Command::new(agent_bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(data.path())
        .arg("--scan-root")
        .arg(root.path())
        .args(["--machine-id", "fleet-api-machine", "--once"])
        .output()
        .unwrap();
    assert!(!again.status.success(), "a deleted device must not deliver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_metrics_show_the_fleet() {
    let env = Env::new().await;
    let server = start(&env, &[]).await;
    // Anonymous: the description of the API is public.
    let r = call(&server, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"], "3.1.0");
    for (method, path, access) in sentari_server::http::api::route_table() {
        let op = &r.body["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
        let role = match access {
            sentari_server::auth::Access::Public => "public".to_owned(),
            sentari_server::auth::Access::Role(role) => role.as_str().to_owned(),
        };
        assert_eq!(op["x-sentari-min-role"], role.as_str(), "{method} {path}");
    }
    let list = &r.body["paths"]["/api/v1/devices"]["get"]["parameters"];
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "page_size")
    );
    // The metrics listener reports the fleet gauges at scrape time.
    let metrics = server.metrics.clone().unwrap();
    let text = eventually(Duration::from_secs(20), "fleet gauges", || async {
        let c = sentari_client::Client::new(&metrics).unwrap();
        let (_, _, body) = c.get_bytes("/metrics", &[]).await.ok()?;
        let text = String::from_utf8(body).ok()?;
        text.contains("sentari_devices{state=\"total\"} 0")
            .then_some(text)
    })
    .await;
    assert!(
        text.contains("sentari_findings_open{severity=\"critical\"}"),
        "{text}"
    );
}

/// The query string of every list is checked: a repeated, malformed or unknown parameter is a
/// JSON 400 naming it (a misspelt filter must not answer with the whole fleet), ecosystems are
/// read in any letter case, and "which devices have package X in this version range?" is one
/// call. Also: suppressions sort, the audit log exports as CSV, and feed status fields are
/// always present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parameters_are_checked_and_a_version_range_finds_devices() {
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_LOGIN_RATE_PER_MINUTE", "1000")]).await;
    let web01 = crate::fleet_support::small_fleet(&env.database_url).await;
    let owner = login(&server, OWNER, OWNER_PW).await;
    let pw = create_user(&server, &owner, "analyst@example.com", "analyst").await;
    let analyst = login(&server, "analyst@example.com", &pw).await;

    // Bad query strings: JSON bodies with the error code and the parameter.
    for (path, field) in [
        ("/api/v1/findings?device=1&devise_id=2", "devise_id"),
        ("/api/v1/devices?hostname=web-01", "hostname"),
        ("/api/v1/packages?nme=requests", "nme"),
        ("/api/v1/scans?device=x", "device"),
        ("/api/v1/audit?page=abc", "page"),
        ("/api/v1/audit?sort=at", "sort"),
        ("/api/v1/diagnostics?sort=kind", "sort"),
        ("/api/v1/suppressions?sort=bogus", ""),
        ("/api/v1/devices?ecosystem=PyPI", "ecosystem"),
        (
            "/api/v1/devices?package=requests&range=%3E%3D2.0",
            "ecosystem",
        ),
        (
            "/api/v1/devices?package=requests&ecosystem=PyPI&range=2.0",
            "range",
        ),
        ("/api/v1/findings?severity=high&severity=critical", ""),
    ] {
        let r = call(&server, "GET", path, Some(&analyst), None).await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"], "invalid_request", "{path}: {:?}", r.body);
        assert!(
            r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}"
        );
        if !field.is_empty() {
            assert_eq!(r.body["field"], field, "{path}: {:?}", r.body);
        }
    }

    // `device` is the findings filter's short name; both give web-01's findings only.
    for name in ["device", "device_id"] {
        let (st, b) = get(
            &server,
            &format!("/api/v1/findings?{name}={web01}"),
            &analyst,
        )
        .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["total"], 1, "{name}: {b}");
        assert_eq!(b["items"][0]["device_id"], web01.to_string());
    }

    // Which devices have requests in a range? web-01 has 2.25.0, db-02 has 2.31.0. The
    // ecosystem may be typed in any case.
    let hosts = |b: &Value| -> Vec<String> {
        let mut h: Vec<String> = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["hostname"].as_str().unwrap().to_owned())
            .collect();
        h.sort();
        h
    };
    for (range, want) in [
        ("%3C2.31", vec!["web-01"]),
        ("%3E%3D2.26,%3C3", vec!["db-02"]),
        ("%3E%3D2.0", vec!["db-02", "web-01"]),
        ("%3E3", vec![]),
    ] {
        let (st, b) = get(
            &server,
            &format!("/api/v1/devices?package=requests&ecosystem=pypi&range={range}"),
            &analyst,
        )
        .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(hosts(&b), want, "range {range}: {b}");
        assert_eq!(b["total"], want.len(), "{b}");
    }
    let (_, b) = get(
        &server,
        "/api/v1/packages?name=requests&ecosystem=PYPI",
        &analyst,
    )
    .await;
    assert_eq!(b["total"], 2, "{b}");
    // Only the version with an open finding is vulnerable (2.31.0 is the fixed one).
    let (_, b) = get(
        &server,
        "/api/v1/packages?name=requests&vulnerable=true",
        &analyst,
    )
    .await;
    assert_eq!(b["total"], 1, "{b}");
    assert_eq!(b["items"][0]["version"], "2.25.0", "{b}");
    let (_, b) = get(&server, "/api/v1/devices?min_severity=critical", &analyst).await;
    assert_eq!(hosts(&b), vec!["web-01"], "{b}");

    // Suppressions sort by any of their fields.
    for body in [
        json!({"scope": "advisory", "advisory_id": "GHSA-TEST-1", "reason": "accepted"}),
        json!({"scope": "tag", "tag": "env:prod", "reason": "lab machines"}),
    ] {
        let r = call(
            &server,
            "POST",
            "/api/v1/suppressions",
            Some(&analyst),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let scopes = |b: &Value| -> Vec<String> {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["scope"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, b) = get(&server, "/api/v1/suppressions?sort=scope", &analyst).await;
    assert_eq!(scopes(&b), ["advisory", "tag"], "{b}");
    let (_, b) = get(&server, "/api/v1/suppressions?sort=-scope", &analyst).await;
    assert_eq!(scopes(&b), ["tag", "advisory"], "{b}");
    let (_, b) = get(
        &server,
        "/api/v1/suppressions?page=16777217&page_size=256",
        &analyst,
    )
    .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 0, "{b}");
    assert_eq!(b["total"], 2, "{b}");

    // The audit log as CSV: the suppressions just made are in it.
    let csv = get_csv(
        &server,
        "/api/v1/audit?format=csv&action=suppression.create",
        &analyst,
    )
    .await;
    assert!(
        csv.starts_with("seq,at,actor,actor_ip,action,target,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("analyst@example.com"), "{csv}");

    // Feed status: every field is present, null when there is nothing to say (a source that
    // only ever failed has no success and no age).
    let store =
        sentari_store::Store::connect(&env.database_url, &sentari_store::StoreOptions::default())
            .await
            .unwrap();
    store.feed_attempt("eol").await.unwrap();
    store
        .feed_failure("eol", "endoflife.date unreachable")
        .await
        .unwrap();
    store.close().await;
    let (_, b) = get(&server, "/api/v1/feeds", &analyst).await;
    let sources = b["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{b}");
    for s in sources {
        for key in ["last_error", "last_error_at", "age_seconds", "last_success"] {
            assert!(s.get(key).is_some(), "{key} missing: {s}");
        }
    }
    assert_eq!(sources[0]["age_seconds"], Value::Null, "{b}");
    assert_eq!(
        sources[0]["last_error"], "endoflife.date unreachable",
        "{b}"
    );

    // The OpenAPI document lists the devices list's range filter, and no `sort` where there is
    // a fixed order.
    let (_, doc) = get(&server, "/api/v1/openapi.json", &analyst).await;
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(params("/api/v1/devices").contains(&"range".to_owned()));
    assert!(!params("/api/v1/audit").contains(&"sort".to_owned()));
    assert!(params("/api/v1/suppressions").contains(&"sort".to_owned()));
}
