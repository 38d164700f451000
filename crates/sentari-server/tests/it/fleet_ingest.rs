//! Scan ingest by diff and correlation against real and hand-made OSV data, on the store the
//! server uses (SQLite, or PostgreSQL when `SENTARI_TEST_DATABASE_URL` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use crate::fleet_support::*;
use sentari_proto::fleet::{FindingRow, SeverityCounts};
use sentari_server::feeds::osv_import::import_bundle;
use sentari_server::ingest;
use sentari_store::testing::TestDb;
use sentari_store::{
    DevicePackageFilter, FindingFilter, PackageFilter, PageRequest, ScanFilter, Store, Suppression,
};
use time::OffsetDateTime;
use uuid::Uuid;

const ALL: PageRequest = PageRequest {
    page: 1,
    page_size: 500,
};

async fn packages_of(store: &Store, device: Uuid) -> Vec<(String, String)> {
    let (rows, _) = store
        .list_device_packages(device, &DevicePackageFilter::default(), Some("name"), ALL)
        .await
        .unwrap();
    rows.into_iter().map(|p| (p.name, p.version)).collect()
}

/// A device's open, unsuppressed findings, one row per package version and advisory.
async fn open_findings_of(store: &Store, device: Uuid, sort: Option<&str>) -> Vec<FindingRow> {
    let (rows, total) = store
        .list_findings(
            &FindingFilter {
                device_id: Some(device),
                resolved: Some(false),
                suppressed: Some(false),
                ..FindingFilter::default()
            },
            sort,
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(total as usize, rows.len());
    rows
}

/// A device's open-finding counters, as the devices list shows them.
async fn counts_of(store: &Store, device: Uuid) -> SeverityCounts {
    store
        .fleet_device(device, OffsetDateTime::now_utc() - time::Duration::days(1))
        .await
        .unwrap()
        .unwrap()
        .0
        .findings
}

async fn advisories_of(store: &Store, device: Uuid) -> Vec<String> {
    let rows = open_findings_of(store, device, Some("advisory")).await;
    let mut ids: Vec<String> = rows
        .into_iter()
        .map(|f| format!("{}@{}", f.advisory_id, f.name))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Each fleet-wide package version with the number of devices that have it, as the packages
/// list reports them.
async fn fleet_counts(store: &Store) -> Vec<(String, i64)> {
    let (rows, total) = store
        .list_fleet_packages(&PackageFilter::default(), Some("name"), ALL)
        .await
        .unwrap();
    assert_eq!(total as usize, rows.len());
    rows.into_iter()
        .map(|p| (format!("{}@{}", p.name, p.version), p.devices))
        .collect()
}

#[tokio::test]
async fn diff_ingest_adds_removes_upgrades_and_downgrades() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let d = device(s, "web-1").await;
    let first = upload(
        "web-1",
        "debian",
        "12",
        at(0),
        vec![
            pkg("PyPI", "requests", "2.31.0"),
            pkg("PyPI", "urllib3", "2.0.7"),
            pkg("PyPI", "idna", "3.6"),
        ],
    );
    let out = ingest_upload(s, d, &first).await;
    assert!(out.contains("+3"), "{out}");
    assert_eq!(
        packages_of(s, d).await,
        [
            ("idna".into(), "3.6".into()),
            ("requests".into(), "2.31.0".into()),
            ("urllib3".into(), "2.0.7".into())
        ]
    );
    // Upgrade requests, downgrade urllib3, remove idna, add certifi.
    let second = upload(
        "web-1",
        "debian",
        "12",
        at(60),
        vec![
            pkg("PyPI", "requests", "2.32.3"),
            pkg("PyPI", "urllib3", "1.26.18"),
            pkg("PyPI", "certifi", "2024.2.2"),
        ],
    );
    let out = ingest_upload(s, d, &second).await;
    assert!(out.contains("+1 -1 ~2"), "{out}");
    assert_eq!(
        packages_of(s, d).await,
        [
            ("certifi".into(), "2024.2.2".into()),
            ("requests".into(), "2.32.3".into()),
            ("urllib3".into(), "1.26.18".into())
        ]
    );
    let (scans, total) = s
        .list_scan_history(
            &ScanFilter {
                device_id: Some(d),
                ..ScanFilter::default()
            },
            Some("scanned_at"),
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(scans[1].status, "applied");
    assert_eq!(
        (
            scans[1].packages_added,
            scans[1].packages_removed,
            scans[1].packages_changed
        ),
        (1, 1, 2)
    );
    assert_eq!(scans[1].errors, 1);
    // The device row carries the facts of the newest scan.
    let (dev, _) = s
        .fleet_device(d, OffsetDateTime::now_utc() - time::Duration::days(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dev.package_count, 3);
    assert_eq!(dev.os_ecosystem, "Debian:12");
    assert_eq!(dev.python_version, "3.8.18");
    assert_eq!(dev.scan_status, "errors");
    // Scan errors are kept for Diagnostics, classified.
    let (kinds, devices, _) = s.diagnostics(ALL).await.unwrap();
    assert_eq!(kinds.len(), 1);
    assert_eq!(
        (kinds[0].scanner.as_str(), kinds[0].kind.as_str()),
        ("python", "permission_denied")
    );
    assert_eq!(devices[0].device_id, d);
}

#[tokio::test]
async fn device_counts_follow_ingest_upgrades_and_deletion() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let overview = || async {
        s.overview(OffsetDateTime::now_utc() - time::Duration::days(1))
            .await
            .unwrap()
    };
    let a = device(s, "count-a").await;
    let b = device(s, "count-b").await;
    // The same version twice on one device (two environments) counts that device once.
    let mut twice = pkg("PyPI", "requests", "2.31.0");
    twice.install_path = "/srv/app/venv/lib/python3.11/site-packages".into();
    twice.environment = Some("/srv/app/venv".into());
    scan_debian(
        s,
        a,
        "count-a",
        0,
        vec![
            pkg("PyPI", "requests", "2.31.0"),
            twice,
            pkg("PyPI", "idna", "3.6"),
        ],
    )
    .await;
    scan_debian(
        s,
        b,
        "count-b",
        0,
        vec![
            pkg("PyPI", "requests", "2.31.0"),
            pkg("PyPI", "urllib3", "2.0.7"),
        ],
    )
    .await;
    assert_eq!(
        fleet_counts(s).await,
        [
            ("idna@3.6".into(), 1),
            ("requests@2.31.0".into(), 2),
            ("urllib3@2.0.7".into(), 1)
        ]
    );
    assert_eq!(overview().await.distinct_package_versions, 3);
    // An upgrade on one device moves it to the new version; a removal leaves nobody on idna.
    scan_debian(s, a, "count-a", 60, vec![pkg("PyPI", "requests", "2.32.3")]).await;
    assert_eq!(
        fleet_counts(s).await,
        [
            ("requests@2.31.0".into(), 1),
            ("requests@2.32.3".into(), 1),
            ("urllib3@2.0.7".into(), 1)
        ]
    );
    // The same inventory again changes nothing.
    scan_debian(
        s,
        a,
        "count-a",
        120,
        vec![pkg("PyPI", "requests", "2.32.3")],
    )
    .await;
    assert_eq!(overview().await.distinct_package_versions, 3);
    // Deleting a device takes it out of every count.
    assert!(s.delete_device(b).await.unwrap());
    assert_eq!(fleet_counts(s).await, [("requests@2.32.3".into(), 1)]);
    let ov = overview().await;
    assert_eq!((ov.devices_total, ov.distinct_package_versions), (1, 1));
}

#[tokio::test]
async fn out_of_order_and_repeated_scans_change_nothing() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let d = device(s, "db-1").await;
    let newer = upload(
        "db-1",
        "debian",
        "12",
        at(100),
        vec![pkg("PyPI", "flask", "3.0.0")],
    );
    let older = upload(
        "db-1",
        "debian",
        "12",
        at(50),
        vec![pkg("PyPI", "flask", "2.0.0")],
    );
    ingest_upload(s, d, &newer).await;
    let out = ingest_upload(s, d, &older).await;
    assert!(out.starts_with("superseded"), "{out}");
    assert_eq!(packages_of(s, d).await, [("flask".into(), "3.0.0".into())]);
    // Running the same job again is a no-op.
    let again = ingest::ingest(s, newer.scan_id, Instant::now())
        .await
        .unwrap();
    assert_eq!(again, "already applied");
    let again = ingest::ingest(s, older.scan_id, Instant::now())
        .await
        .unwrap();
    assert_eq!(again, "already superseded");
    // An unchanged re-scan is recognised without a diff.
    let same = upload(
        "db-1",
        "debian",
        "12",
        at(200),
        vec![pkg("PyPI", "flask", "3.0.0")],
    );
    let out = ingest_upload(s, d, &same).await;
    assert_eq!(out, "inventory unchanged");
    assert_eq!(packages_of(s, d).await, [("flask".into(), "3.0.0".into())]);
}

#[tokio::test]
async fn a_rescan_applied_without_its_packages_never_overwrites_a_changed_inventory() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let d = device(s, "db-2").await;
    let pkgs = vec![
        pkg("PyPI", "flask", "3.0.0"),
        pkg("PyPI", "requests", "2.31.0"),
    ];
    let first = upload("db-2", "debian", "12", at(100), pkgs.clone());
    ingest_upload(s, d, &first).await;
    // A re-scan of the same inventory whose job saw the device's digest unchanged, while
    // another scan changed the inventory before the re-scan was applied.
    let rescan = upload("db-2", "debian", "12", at(400), pkgs);
    store_upload(s, d, &rescan).await;
    let other = upload(
        "db-2",
        "debian",
        "12",
        at(300),
        vec![pkg("PyPI", "flask", "3.1.0")],
    );
    ingest_upload(s, d, &other).await;
    let today = OffsetDateTime::now_utc().date();
    let eol = sentari_core::eol::EolDb::new();
    let stale = ingest::to_apply(d, &rescan, &eol, today, ingest::digest(&first), true);
    assert!(stale.packages.is_empty());
    assert_eq!(
        s.apply_scan(&stale, Instant::now()).await.unwrap(),
        sentari_store::ApplyOutcome::InventoryChanged
    );
    assert_eq!(packages_of(s, d).await, [("flask".into(), "3.1.0".into())]);
    // The job itself sees the digests differ and applies the re-scan with its packages.
    let out = ingest::ingest(s, rescan.scan_id, Instant::now())
        .await
        .unwrap();
    assert!(out.contains("packages"), "{out}");
    assert_eq!(
        packages_of(s, d).await,
        [
            ("flask".into(), "3.0.0".into()),
            ("requests".into(), "2.31.0".into())
        ]
    );
    // And a further identical re-scan is applied as unchanged, without its packages.
    let same = upload("db-2", "debian", "12", at(500), first.packages.clone());
    assert_eq!(ingest_upload(s, d, &same).await, "inventory unchanged");
    assert_eq!(packages_of(s, d).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scans_of_one_device_end_with_its_newest_inventory() {
    // Each ingest reads the device's rows and the version ids before it takes the write lock;
    // scans of one device applied at the same time must still each diff against the rows as
    // they are when it writes, so the device ends with exactly its newest inventory.
    let db = TestDb::from_env().await;
    let s = db.store();
    let d = device(s, "race-1").await;
    let other = device(s, "race-2").await;
    for round in 0..4_i64 {
        let uploads: Vec<_> = (0..4_i64)
            .map(|i| {
                let n = round * 10 + i;
                upload(
                    "race-1",
                    "debian",
                    "12",
                    at(1_000 * round + i),
                    vec![
                        pkg("PyPI", "flask", &format!("3.0.{n}")),
                        pkg("PyPI", &format!("extra-{}", n % 3), "1.0.0"),
                        pkg("PyPI", "requests", "2.31.0"),
                    ],
                )
            })
            .collect();
        for u in &uploads {
            store_upload(s, d, u).await;
        }
        let runs: Vec<_> = uploads
            .iter()
            .map(|u| {
                let (s, id) = (s.clone(), u.scan_id);
                tokio::spawn(async move { ingest::ingest(&s, id, Instant::now()).await })
            })
            .collect();
        for r in runs {
            r.await.unwrap().unwrap();
        }
        let newest = uploads.last().unwrap();
        let mut want: Vec<(String, String)> = newest
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        want.sort();
        assert_eq!(packages_of(s, d).await, want, "round {round}");
    }
    // The other device shares one version; the counts see both devices there and only the
    // newest scan's versions on the first.
    scan_debian(
        s,
        other,
        "race-2",
        0,
        vec![pkg("PyPI", "requests", "2.31.0")],
    )
    .await;
    assert_eq!(
        fleet_counts(s).await,
        [
            ("extra-0@1.0.0".into(), 1),
            ("flask@3.0.33".into(), 1),
            ("requests@2.31.0".into(), 2)
        ]
    );
}

#[tokio::test]
async fn correlates_against_the_real_shared_bundles() {
    let db = TestDb::from_env().await;
    let s = db.store();
    for eco in ["PyPI", "Go", "AlmaLinux"] {
        let summary = import_bundle(
            s,
            &shared_data().join(format!("osv/{eco}/all.zip")),
            "test",
            None,
        )
        .await
        .unwrap();
        assert!(summary.added > 2000, "{eco}: {summary:?}");
    }
    let py = device(s, "py").await;
    // PEP 503: `Django` and `django` are one project; PYSEC-2021-9 covers 3.1 ≤ v < 3.1.6.
    scan_debian(
        s,
        py,
        "py",
        0,
        vec![
            pkg("PyPI", "Django", "3.1.5"),
            pkg("PyPI", "zope.interface", "5.4.0"),
        ],
    )
    .await;
    assert!(
        advisories_of(s, py)
            .await
            .contains(&"PYSEC-2021-9@Django".to_owned())
    );
    let (rows, _) = s
        .list_findings(
            &FindingFilter {
                device_id: Some(py),
                advisory: Some("CVE-2021-3281".into()),
                resolved: Some(false),
                suppressed: Some(false),
                ..FindingFilter::default()
            },
            None,
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "found by alias");
    let why = &rows[0].matched;
    assert_eq!(why["comparator"], "pep440");
    assert_eq!(why["introduced"], "3.1");
    assert_eq!(why["fixed"], "3.1.6");
    assert_eq!(rows[0].fixed_version.as_deref(), Some("3.1.6"));
    // A fixed version does not match.
    let fixed = device(s, "py-fixed").await;
    scan_debian(
        s,
        fixed,
        "py-fixed",
        0,
        vec![pkg("PyPI", "django", "3.1.6")],
    )
    .await;
    assert!(
        !advisories_of(s, fixed)
            .await
            .iter()
            .any(|a| a.starts_with("PYSEC-2021-9@"))
    );

    // Go modules with `v`-prefixed SemVer: GO-2023-1533 covers syft 0.69.0 ≤ v < 0.70.0.
    let go = device(s, "go").await;
    scan_debian(
        s,
        go,
        "go",
        0,
        vec![
            pkg("Go", "github.com/anchore/syft", "v0.69.1"),
            pkg("Go", "github.com/argoproj/argo-cd/v2", "v2.6.1"),
        ],
    )
    .await;
    let g = advisories_of(s, go).await;
    assert!(
        g.contains(&"GO-2023-1533@github.com/anchore/syft".to_owned()),
        "{g:?}"
    );
    assert!(!g.iter().any(|a| a.starts_with("GO-2023-1548@")), "{g:?}");

    // AlmaLinux `version-release` strings, with epochs, in the release-scoped ecosystem.
    let alma = device(s, "alma9").await;
    let mut kernel = pkg("AlmaLinux:9", "kernel", "5.14.0-427.28.1.el9_4");
    kernel.source_name = Some("kernel".into());
    let mut kernel_fixed_elsewhere = pkg(
        "AlmaLinux:8",
        "oci-systemd-hook",
        "1:0.1.14-1.module_el8.4.0+1+aaaa",
    );
    kernel_fixed_elsewhere.source_name = Some("oci-systemd-hook".into());
    ingest_upload(
        s,
        alma,
        &upload("alma9", "almalinux", "9.4", at(0), vec![kernel]),
    )
    .await;
    assert!(
        advisories_of(s, alma)
            .await
            .contains(&"ALSA-2024:5363@kernel".to_owned())
    );
    let alma8 = device(s, "alma8").await;
    let mut k8 = pkg("AlmaLinux:8", "kernel", "4.18.0-100.el8");
    k8.source_name = Some("kernel".into());
    ingest_upload(
        s,
        alma8,
        &upload(
            "alma8",
            "almalinux",
            "8.9",
            at(0),
            vec![k8, kernel_fixed_elsewhere],
        ),
    )
    .await;
    let a8 = advisories_of(s, alma8).await;
    assert!(
        !a8.contains(&"ALSA-2024:5363@kernel".to_owned()),
        "an AlmaLinux:9 record on an 8 host"
    );
    assert!(
        a8.contains(&"ALBA-2019:0973@oci-systemd-hook".to_owned()),
        "{a8:?}"
    );
    // The upgrade resolves the device's finding and keeps its history.
    let mut upgraded = pkg("AlmaLinux:9", "kernel", "5.14.0-427.31.1.el9_4");
    upgraded.source_name = Some("kernel".into());
    ingest_upload(
        s,
        alma,
        &upload("alma9", "almalinux", "9.4", at(60), vec![upgraded]),
    )
    .await;
    assert!(
        !advisories_of(s, alma)
            .await
            .contains(&"ALSA-2024:5363@kernel".to_owned())
    );
    let (resolved, _) = s
        .list_findings(
            &FindingFilter {
                device_id: Some(alma),
                advisory: Some("ALSA-2024:5363".into()),
                resolved: Some(true),
                suppressed: None,
                ..FindingFilter::default()
            },
            None,
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].resolution.as_deref(), Some("package_upgraded"));
}

#[tokio::test]
async fn distro_packages_match_by_source_name_in_their_release() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let dir = tempfile::tempdir().unwrap();
    let bundle = ndjson(
        dir.path(),
        "distros.ndjson",
        &[
            record(
                "DSA-9001-1",
                "2026-01-01T00:00:00Z",
                "Debian:12",
                "openssl",
                "0",
                "3.0.15-1~deb12u1",
            ),
            record(
                "USN-9002-1",
                "2026-01-01T00:00:00Z",
                "Ubuntu:22.04:LTS",
                "openssl",
                "0",
                "3.0.2-0ubuntu1.18",
            ),
            record(
                "ALPINE-9003",
                "2026-01-01T00:00:00Z",
                "Alpine:v3.20",
                "openssl",
                "0",
                "3.3.2-r0",
            ),
            // A record for every Debian release.
            record(
                "DEBIAN-9004",
                "2026-01-01T00:00:00Z",
                "Debian",
                "zlib",
                "0",
                "1:1.2.13.dfsg-2",
            ),
        ],
    );
    import_bundle(s, &bundle, "test", None).await.unwrap();
    let deb12 = device(s, "deb12").await;
    scan_debian(
        s,
        deb12,
        "deb12",
        0,
        vec![
            os_pkg("Debian:12", "libssl3", "openssl", "3.0.14-1~deb12u1"),
            os_pkg("Debian:12", "zlib1g", "zlib", "1:1.2.13.dfsg-1"),
        ],
    )
    .await;
    assert_eq!(
        advisories_of(s, deb12).await,
        ["DEBIAN-9004@zlib1g", "DSA-9001-1@libssl3"]
    );
    // The same source and version under Debian 11: only the release-less record applies.
    let deb11 = device(s, "deb11").await;
    ingest_upload(
        s,
        deb11,
        &upload(
            "deb11",
            "debian",
            "11",
            at(0),
            vec![
                os_pkg("Debian:11", "libssl3", "openssl", "3.0.14-1~deb12u1"),
                os_pkg("Debian:11", "zlib1g", "zlib", "1:1.2.13.dfsg-1"),
            ],
        ),
    )
    .await;
    assert_eq!(advisories_of(s, deb11).await, ["DEBIAN-9004@zlib1g"]);
    let ubuntu = device(s, "jammy").await;
    ingest_upload(
        s,
        ubuntu,
        &upload(
            "jammy",
            "ubuntu",
            "22.04",
            at(0),
            vec![os_pkg(
                "Ubuntu:22.04:LTS",
                "libssl3",
                "openssl",
                "3.0.2-0ubuntu1.15",
            )],
        ),
    )
    .await;
    assert_eq!(advisories_of(s, ubuntu).await, ["USN-9002-1@libssl3"]);
    let alpine = device(s, "alpine").await;
    let mut apk = os_pkg("Alpine:v3.20", "libssl3", "openssl", "3.3.1-r3");
    apk.install_path = "/lib/apk/db/installed".into();
    let mut apk_fixed = os_pkg("Alpine:v3.20", "libcrypto3", "openssl", "3.3.2-r0");
    apk_fixed.install_path = "/lib/apk/db/installed".into();
    ingest_upload(
        s,
        alpine,
        &upload("alpine", "alpine", "3.20.3", at(0), vec![apk, apk_fixed]),
    )
    .await;
    assert_eq!(advisories_of(s, alpine).await, ["ALPINE-9003@libssl3"]);
}

#[tokio::test]
async fn feed_reimport_touches_only_changed_keys_and_withdrawal_resolves() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let dir = tempfile::tempdir().unwrap();
    let v1 = ndjson(
        dir.path(),
        "v1.ndjson",
        &[
            record(
                "TEST-1",
                "2026-01-01T00:00:00Z",
                "PyPI",
                "alpha",
                "0",
                "2.0",
            ),
            record("TEST-2", "2026-01-01T00:00:00Z", "PyPI", "beta", "0", "2.0"),
        ],
    );
    let first = import_bundle(s, &v1, "test", None).await.unwrap();
    assert_eq!((first.added, first.updated, first.keys_changed), (2, 0, 2));
    let d = device(s, "app").await;
    scan_debian(
        s,
        d,
        "app",
        0,
        vec![
            pkg("PyPI", "alpha", "1.0"),
            pkg("PyPI", "beta", "1.0"),
            pkg("PyPI", "gamma", "1.0"),
        ],
    )
    .await;
    assert_eq!(advisories_of(s, d).await, ["TEST-1@alpha", "TEST-2@beta"]);
    // The same bundle again changes nothing.
    let same = import_bundle(s, &v1, "test", None).await.unwrap();
    assert_eq!(
        (same.added, same.updated, same.unchanged, same.keys_changed),
        (0, 0, 2, 0)
    );
    assert_eq!(same.versions_evaluated, 0);
    // TEST-2 is fixed earlier now, and a new advisory for gamma appears: two keys change,
    // and only their package versions are evaluated again.
    let v2 = ndjson(
        dir.path(),
        "v2.ndjson",
        &[
            record(
                "TEST-1",
                "2026-01-01T00:00:00Z",
                "PyPI",
                "alpha",
                "0",
                "2.0",
            ),
            record("TEST-2", "2026-02-01T00:00:00Z", "PyPI", "beta", "0", "0.5"),
            record(
                "TEST-3",
                "2026-02-01T00:00:00Z",
                "PyPI",
                "gamma",
                "0",
                "1.1",
            ),
        ],
    );
    let second = import_bundle(s, &v2, "test", None).await.unwrap();
    assert_eq!((second.added, second.updated, second.unchanged), (1, 1, 1));
    assert_eq!(second.keys_changed, 2);
    assert_eq!(second.versions_evaluated, 2);
    assert_eq!(advisories_of(s, d).await, ["TEST-1@alpha", "TEST-3@gamma"]);
    // Withdrawing TEST-1 resolves its findings as withdrawn.
    let mut w = record(
        "TEST-1",
        "2026-03-01T00:00:00Z",
        "PyPI",
        "alpha",
        "0",
        "2.0",
    );
    w["withdrawn"] = serde_json::json!("2026-03-01T00:00:00Z");
    let v3 = ndjson(dir.path(), "v3.ndjson", &[w]);
    let third = import_bundle(s, &v3, "test", None).await.unwrap();
    assert_eq!(third.withdrawn, 1);
    assert_eq!(advisories_of(s, d).await, ["TEST-3@gamma"]);
    let (rows, _) = s
        .list_findings(
            &FindingFilter {
                device_id: Some(d),
                advisory: Some("TEST-1".into()),
                resolved: Some(true),
                suppressed: None,
                ..FindingFilter::default()
            },
            None,
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(rows[0].resolution.as_deref(), Some("advisory_withdrawn"));
}

/// A device that has one version at two paths has one finding of it, whichever path gives it
/// the finding: its scan (a known finding), a feed import (a new finding) or an advisory that
/// comes back after its withdrawal (a reopened finding); its counters follow each step.
#[tokio::test]
async fn one_device_finding_per_version_at_several_paths_through_every_fan_out() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let dir = tempfile::tempdir().unwrap();
    let alpha = record(
        "TEST-1",
        "2026-01-01T00:00:00Z",
        "PyPI",
        "alpha",
        "0",
        "2.0",
    );
    let beta = record("TEST-2", "2026-01-01T00:00:00Z", "PyPI", "beta", "0", "2.0");
    let v1 = ndjson(dir.path(), "v1.ndjson", std::slice::from_ref(&alpha));
    import_bundle(s, &v1, "test", None).await.unwrap();
    let d = device(s, "twin").await;
    let at_two_paths = |name: &str| {
        let mut other = pkg("PyPI", name, "1.0");
        other.install_path = "/opt/app/venv/lib/python3.11/site-packages".into();
        [pkg("PyPI", name, "1.0"), other]
    };
    let packages: Vec<_> = at_two_paths("alpha")
        .into_iter()
        .chain(at_two_paths("beta"))
        .collect();
    scan_debian(s, d, "twin", 0, packages).await;
    // The rows of the device's open findings (one per version and advisory) and its counters.
    let state = || async {
        let rows = open_findings_of(s, d, None).await;
        let mut ids: Vec<String> = rows.into_iter().map(|f| f.advisory_id).collect();
        ids.sort();
        (ids, counts_of(s, d).await.critical)
    };
    assert_eq!(state().await, (vec!["TEST-1".to_owned()], 1));
    // A new advisory reaches the device by the import's fan-out of new findings.
    let v2 = ndjson(dir.path(), "v2.ndjson", &[alpha.clone(), beta.clone()]);
    let second = import_bundle(s, &v2, "test", None).await.unwrap();
    assert_eq!(second.findings_new, 1);
    assert_eq!(state().await, (vec!["TEST-1".into(), "TEST-2".into()], 2));
    // Withdrawn, then published again: the finding is reopened for the device.
    let mut withdrawn = beta.clone();
    withdrawn["modified"] = serde_json::json!("2026-02-01T00:00:00Z");
    withdrawn["withdrawn"] = serde_json::json!("2026-02-01T00:00:00Z");
    let v3 = ndjson(dir.path(), "v3.ndjson", &[withdrawn]);
    import_bundle(s, &v3, "test", None).await.unwrap();
    assert_eq!(state().await, (vec!["TEST-1".to_owned()], 1));
    let mut back = beta;
    back["modified"] = serde_json::json!("2026-03-01T00:00:00Z");
    let v4 = ndjson(dir.path(), "v4.ndjson", &[back]);
    let fourth = import_bundle(s, &v4, "test", None).await.unwrap();
    assert_eq!(fourth.findings_new, 1);
    assert_eq!(state().await, (vec!["TEST-1".into(), "TEST-2".into()], 2));
}

#[tokio::test]
async fn suppressions_hide_findings_until_they_expire() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let dir = tempfile::tempdir().unwrap();
    let b = ndjson(
        dir.path(),
        "b.ndjson",
        &[record(
            "TEST-9",
            "2026-01-01T00:00:00Z",
            "PyPI",
            "alpha",
            "0",
            "2.0",
        )],
    );
    import_bundle(s, &b, "test", None).await.unwrap();
    let d1 = device(s, "one").await;
    let d2 = device(s, "two").await;
    for (d, h) in [(d1, "one"), (d2, "two")] {
        ingest_upload(
            s,
            d,
            &upload(h, "debian", "12", at(0), vec![pkg("PyPI", "alpha", "1.0")]),
        )
        .await;
    }
    let dev = |id| counts_of(s, id);
    let open_advisories = || async {
        s.overview(OffsetDateTime::now_utc() - time::Duration::days(1))
            .await
            .unwrap()
            .advisories_open
    };
    assert_eq!(dev(d1).await.critical, 1);
    assert_eq!(open_advisories().await, 1);
    // A device suppression that expires shortly.
    let sup = Suppression {
        id: Uuid::now_v7(),
        scope: "device".into(),
        advisory_id: None,
        ecosystem: None,
        package_name: None,
        device_id: Some(d1),
        tag: None,
        reason: "lab machine".into(),
        created_by: "test".into(),
        created_at: OffsetDateTime::now_utc(),
        expires_at: Some(OffsetDateTime::now_utc() + time::Duration::seconds(2)),
    };
    s.create_suppression(&sup).await.unwrap();
    let c = dev(d1).await;
    assert_eq!((c.critical, c.suppressed), (0, 1));
    assert_eq!(dev(d2).await.critical, 1, "other devices keep theirs");
    assert_eq!(open_advisories().await, 1, "still open on the other device");
    assert_eq!(advisories_of(s, d1).await, Vec::<String>::new());
    // After the expiry the finding counts again.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(s.apply_suppression_expiry().await.unwrap(), 1);
    let c = dev(d1).await;
    assert_eq!((c.critical, c.suppressed), (1, 0));
    // An advisory-wide suppression covers every device; deleting it restores them.
    let all = Suppression {
        id: Uuid::now_v7(),
        scope: "advisory".into(),
        advisory_id: Some("TEST-9".into()),
        device_id: None,
        expires_at: None,
        reason: "accepted risk".into(),
        ..sup.clone()
    };
    s.create_suppression(&all).await.unwrap();
    assert_eq!((dev(d1).await.critical, dev(d2).await.critical), (0, 0));
    assert_eq!(open_advisories().await, 0, "suppressed everywhere");
    s.delete_suppression(all.id).await.unwrap().unwrap();
    assert_eq!((dev(d1).await.critical, dev(d2).await.critical), (1, 1));
    assert_eq!(open_advisories().await, 1);
    // A device that upgrades away resolves its finding; the advisory stays open on the other.
    scan_debian(s, d1, "one", 60, vec![pkg("PyPI", "alpha", "2.0")]).await;
    assert_eq!(open_advisories().await, 1);
    scan_debian(s, d2, "two", 60, vec![pkg("PyPI", "alpha", "2.0")]).await;
    assert_eq!(
        open_advisories().await,
        0,
        "no device has a vulnerable version"
    );
}
