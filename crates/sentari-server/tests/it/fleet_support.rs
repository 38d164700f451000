//! Shared helpers of the fleet tests: enrolled devices, uploads stored as the gateway stores
//! them, ingest runs, and small OSV bundles written on the fly.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use sentari_proto::agent::{HostInfo, OsReleaseInfo, Package, Runtime, ScanError, ScanUpload};
use sentari_server::ingest;
use sentari_store::{DeviceCert, DeviceEnrollment, NewJob, NewScan, Store};
use time::OffsetDateTime;
use uuid::Uuid;

/// The shared real data (`../shared/data` from the repository root).
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Enrolls a device directly in the store.
pub async fn device(store: &Store, hostname: &str) -> Uuid {
    // The machine id is searched like the hostname, so it must not contain random hex that a
    // search for part of another hostname (say `db`) could match.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = Uuid::now_v7();
    store
        .enroll_device(
            &DeviceEnrollment {
                id,
                machine_id: format!("machine-{hostname}-{n}"),
                hostname: hostname.to_owned(),
                os: "linux".into(),
                arch: "x86_64".into(),
                agent_version: "test".into(),
                tags: Vec::new(),
            },
            &DeviceCert {
                fingerprint: format!("fp-{id}"),
                serial: format!("sn-{id}"),
                not_after: OffsetDateTime::now_utc() + time::Duration::days(365),
            },
        )
        .await
        .unwrap()
        .id
}

/// A package of `ecosystem`.
pub fn pkg(ecosystem: &str, name: &str, version: &str) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        arch: None,
        install_path: "/usr/lib/python3/dist-packages".into(),
        env_type: "system".into(),
        environment: None,
        interpreter_version: None,
        purl: None,
        origin: None,
    }
}

/// An OS package with its source package.
pub fn os_pkg(ecosystem: &str, name: &str, source: &str, version: &str) -> Package {
    Package {
        source_name: Some(source.into()),
        arch: Some("amd64".into()),
        install_path: "/var/lib/dpkg/status".into(),
        env_type: "os".into(),
        ..pkg(ecosystem, name, version)
    }
}

/// A scan time: `secs` after a fixed instant, so tests can order scans.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000 + secs).unwrap()
}

/// Ingests a Debian 12 scan of `packages` taken at `at(secs)`.
pub async fn scan_debian(
    store: &Store,
    device: Uuid,
    host: &str,
    secs: i64,
    packages: Vec<Package>,
) {
    ingest_upload(
        store,
        device,
        &upload(host, "debian", "12", at(secs), packages),
    )
    .await;
}

/// A scan upload of `packages` taken at `at`.
pub fn upload(
    hostname: &str,
    os_id: &str,
    version_id: &str,
    at: OffsetDateTime,
    packages: Vec<Package>,
) -> ScanUpload {
    let mut packages = packages;
    packages.sort();
    ScanUpload {
        scan_id: Uuid::now_v7(),
        scanned_at: at,
        agent_version: "0.1.0-test".into(),
        duration_ms: 1234,
        host: HostInfo {
            hostname: hostname.into(),
            machine_id: String::new(),
            os_release: OsReleaseInfo {
                id: os_id.into(),
                version_id: Some(version_id.into()),
                version_codename: None,
                pretty_name: Some(format!("{os_id} {version_id}")),
            },
            kernel: "6.1.0-test".into(),
            arch: "x86_64".into(),
            host_kind: "vm".into(),
        },
        packages,
        runtimes: vec![Runtime {
            kind: "python".into(),
            version: "3.8.18".into(),
            path: "/usr/bin/python3.8".into(),
            vendor: None,
        }],
        errors: vec![ScanError {
            scanner: "python".into(),
            path: "/opt/app/venv".into(),
            error: "Permission denied (os error 13)".into(),
        }],
    }
}

/// Stores an upload as the gateway does (compressed, with its ingest job).
pub async fn store_upload(store: &Store, device: Uuid, u: &ScanUpload) {
    let body = ingest::encode(u).unwrap();
    let job = NewJob::new(
        ingest::INGEST_SCAN,
        serde_json::json!({"scan_id": u.scan_id, "device_id": device}),
    )
    .unique_key(format!("ingest_scan:{}", u.scan_id));
    store
        .store_scan_compressed(
            &NewScan {
                scan_id: u.scan_id,
                device_id: device,
                scanned_at: u.scanned_at,
                packages_received: u.packages.len() as u64,
            },
            &body,
            &job,
        )
        .await
        .unwrap();
}

/// Stores and ingests an upload (what the gateway plus the worker do); returns the summary.
pub async fn ingest_upload(store: &Store, device: Uuid, u: &ScanUpload) -> String {
    store_upload(store, device, u).await;
    ingest::ingest(store, u.scan_id, Instant::now())
        .await
        .unwrap()
}

/// Writes OSV records as an NDJSON bundle in `dir`.
pub fn ndjson(dir: &Path, name: &str, records: &[serde_json::Value]) -> PathBuf {
    let p = dir.join(name);
    let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    std::fs::write(&p, text.join("\n") + "\n").unwrap();
    p
}

/// A minimal OSV record with one ECOSYSTEM range.
pub fn record(
    id: &str,
    modified: &str,
    ecosystem: &str,
    name: &str,
    introduced: &str,
    fixed: &str,
) -> serde_json::Value {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "aliases": [format!("CVE-{id}")],
        "summary": format!("test advisory {id}"),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}]
        }]
    })
}

/// A small fleet seeded through the store as the ingest builds it: `web-01` with an old
/// `requests` (a critical advisory) and an OS package, `db-02` with a fixed `requests`, and
/// `idle-03`, enrolled but never scanned. Both scans report Python 3.8 (past its end of life)
/// and a permission error. Used by the dashboard's handler and browser tests; returns the id of `web-01`.
pub async fn small_fleet(database_url: &str) -> Uuid {
    use sentari_server::feeds::osv_import::import_bundle;
    let store = Store::connect(database_url, &sentari_store::StoreOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = ndjson(
        dir.path(),
        "osv.ndjson",
        &[record(
            "GHSA-TEST-1",
            "2026-01-01T00:00:00Z",
            "PyPI",
            "requests",
            "0",
            "2.31.0",
        )],
    );
    import_bundle(&store, &bundle, "test", None).await.unwrap();
    store
        .import_eol_cycles(&[sentari_store::EolCycleRow {
            product: "python".into(),
            cycle: "3.8".into(),
            release_date: Some("2019-10-14".into()),
            eol: Some("2024-10-07".into()),
            support: Some("2021-05-03".into()),
            latest: Some("3.8.20".into()),
            lts: None,
            record: serde_json::json!({"product": "python", "cycle": "3.8", "releaseDate": "2019-10-14",
                "eol": "2024-10-07", "latest": "3.8.20", "lts": false, "support": "2021-05-03"}),
        }])
        .await
        .unwrap();
    let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let web01 = device(&store, "web-01").await;
    ingest_upload(
        &store,
        web01,
        &upload(
            "web-01",
            "debian",
            "12",
            at,
            vec![
                pkg("PyPI", "requests", "2.25.0"),
                os_pkg("Debian:12", "libssl3", "openssl", "3.0.14-1~deb12u1"),
            ],
        ),
    )
    .await;
    let db02 = device(&store, "db-02").await;
    ingest_upload(
        &store,
        db02,
        &upload(
            "db-02",
            "debian",
            "12",
            at,
            vec![pkg("PyPI", "requests", "2.31.0")],
        ),
    )
    .await;
    device(&store, "idle-03").await;
    let today = sentari_core::eol::format_date(time::OffsetDateTime::now_utc().date());
    store.snapshot_runtimes(&today).await.unwrap();
    store.close().await;
    web01
}
