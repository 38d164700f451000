//! The fleet-wide findings lists (flat, and grouped by advisory) read counters and stored
//! per-advisory counts instead of aggregating every device finding. These tests take a small
//! fleet through every kind of change to device findings (first scans, upgrade, suppressions
//! by device, tag and advisory, withdrawal, a new advisory, device deletion) and check after
//! each that the fast answers equal the ones counted from the rows, with and without a
//! recount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fleet_support::*;
use sentari_proto::fleet::FindingRow;
use sentari_server::feeds::osv_import::import_bundle;
use sentari_store::testing::TestDb;
use sentari_store::{FindingFilter, PageRequest, Store, Suppression};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

const ALL: PageRequest = PageRequest {
    page: 1,
    page_size: 500,
};

const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N";
const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N";

fn open() -> FindingFilter {
    FindingFilter {
        resolved: Some(false),
        suppressed: Some(false),
        ..FindingFilter::default()
    }
}

/// The default view with a filter that lets everything through: the list then counts every
/// advisory from the rows.
fn open_counted_live() -> FindingFilter {
    FindingFilter {
        min_severity: Some("any".into()),
        ..open()
    }
}

/// An advisory on `name` below `fixed`, with a CVSS vector or none at all.
fn advisory(id: &str, modified: &str, name: &str, fixed: &str, vector: Option<&str>) -> Value {
    let mut r = record(id, modified, "PyPI", name, "0", fixed);
    match vector {
        Some(v) => r["severity"] = json!([{"type": "CVSS_V3", "score": v}]),
        None => {
            r.as_object_mut().unwrap().remove("severity");
        }
    }
    r
}

async fn grouped(store: &Store, filter: &FindingFilter, sort: Option<&str>) -> (Value, i64) {
    let (rows, total) = store
        .list_findings_by_advisory(filter, sort, ALL)
        .await
        .unwrap();
    (serde_json::to_value(rows).unwrap(), total)
}

fn rank(f: &FindingRow) -> u8 {
    match f.severity.rating.as_str() {
        "critical" => 5,
        "high" => 4,
        "medium" => 3,
        "low" => 2,
        "none" => 1,
        _ => 0,
    }
}

/// Checks both lists against their counted-from-rows answers.
async fn check(store: &Store, step: &str, devices: &[Uuid]) {
    // Grouped: the stored counts (with marked advisories counted live) equal a count of the
    // rows, before and after a recount, for every sort.
    for sort in [None, Some("-devices"), Some("packages"), Some("advisory")] {
        let expected = grouped(store, &open_counted_live(), sort).await;
        assert_eq!(expected.1 as usize, expected.0.as_array().unwrap().len());
        assert_eq!(
            grouped(store, &open(), sort).await,
            expected,
            "{step}: marked advisories counted live ({sort:?})"
        );
    }
    store.refresh_advisory_stats().await.unwrap();
    assert_eq!(
        store.advisory_stats_marks().await.unwrap().pending,
        0,
        "{step}"
    );
    for sort in [None, Some("-devices"), Some("first_detected")] {
        assert_eq!(
            grouped(store, &open(), sort).await,
            grouped(store, &open_counted_live(), sort).await,
            "{step}: stored counts ({sort:?})"
        );
    }

    // Flat: totals read from the per-device counters equal the rows the list returns.
    let mut filters = vec![
        ("open", open()),
        (
            "critical",
            FindingFilter {
                severity: Some("critical".into()),
                ..open()
            },
        ),
        (
            "at least high",
            FindingFilter {
                min_severity: Some("high".into()),
                ..open()
            },
        ),
        (
            "none or unknown",
            FindingFilter {
                severity: Some("none,unknown".into()),
                ..open()
            },
        ),
        (
            "suppressed",
            FindingFilter {
                suppressed: Some(true),
                ..open()
            },
        ),
        (
            "open, suppressed or not",
            FindingFilter {
                suppressed: None,
                ..open()
            },
        ),
        (
            "tag",
            FindingFilter {
                tag: Some("lab".into()),
                ..open()
            },
        ),
    ];
    for d in devices {
        filters.push((
            "device",
            FindingFilter {
                device_id: Some(*d),
                ..open()
            },
        ));
    }
    for (name, filter) in &filters {
        let (rows, total) = store.list_findings(filter, None, ALL).await.unwrap();
        assert_eq!(total as usize, rows.len(), "{step}: total of `{name}`");
        // Highest severity first, and one page after another gives the same rows.
        assert!(
            rows.windows(2).all(|w| rank(&w[0]) >= rank(&w[1])),
            "{step}: `{name}` sorted by severity"
        );
        let mut paged = Vec::new();
        for page in 1..=rows.len().div_ceil(2).max(1) {
            let (part, t) = store
                .list_findings(
                    filter,
                    None,
                    PageRequest {
                        page: page as u32,
                        page_size: 2,
                    },
                )
                .await
                .unwrap();
            assert_eq!(t, total);
            paged.extend(part);
        }
        let key = |f: &FindingRow| (f.device_id, f.package_version_id, f.advisory_id.clone());
        assert_eq!(
            paged.iter().map(key).collect::<Vec<_>>(),
            rows.iter().map(key).collect::<Vec<_>>(),
            "{step}: `{name}` pages"
        );
    }
}

#[tokio::test]
async fn findings_lists_stay_exact_through_every_change() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let dir = tempfile::tempdir().unwrap();
    // `record` gives a critical CVSS vector.
    let first = [
        record(
            "T-CRIT",
            "2026-01-01T00:00:00Z",
            "PyPI",
            "alpha",
            "0",
            "2.0",
        ),
        advisory("T-HIGH", "2026-01-01T00:00:00Z", "alpha", "1.5", Some(HIGH)),
        advisory("T-MED", "2026-01-01T00:00:00Z", "beta", "3.0", Some(MEDIUM)),
        advisory("T-UNK", "2026-01-01T00:00:00Z", "gamma", "1.5", None),
    ];
    let b = ndjson(dir.path(), "first.ndjson", &first);
    import_bundle(s, &b, "test", None).await.unwrap();

    let d1 = device(s, "one").await;
    let d2 = device(s, "two").await;
    let d3 = device(s, "three").await;
    let all = [d1, d2, d3];
    scan_debian(
        s,
        d1,
        "one",
        0,
        vec![
            pkg("PyPI", "alpha", "1.0"),
            pkg("PyPI", "beta", "2.0"),
            pkg("PyPI", "gamma", "1.0"),
        ],
    )
    .await;
    scan_debian(
        s,
        d2,
        "two",
        0,
        vec![pkg("PyPI", "alpha", "1.0"), pkg("PyPI", "beta", "2.5")],
    )
    .await;
    scan_debian(
        s,
        d3,
        "three",
        0,
        vec![pkg("PyPI", "alpha", "1.8"), pkg("PyPI", "gamma", "1.0")],
    )
    .await;
    let (g, total) = grouped(s, &open(), None).await;
    assert_eq!(total, 4);
    let ids: Vec<&str> = g
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["advisory_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["T-CRIT", "T-HIGH", "T-MED", "T-UNK"],
        "severity first"
    );
    assert_eq!(g[0]["devices"], 3);
    assert_eq!(g[0]["packages"], 2, "alpha 1.0 and 1.8");
    check(s, "first scans", &all).await;

    // An upgrade resolves the device's alpha findings.
    scan_debian(
        s,
        d1,
        "one",
        60,
        vec![
            pkg("PyPI", "alpha", "2.0"),
            pkg("PyPI", "beta", "2.0"),
            pkg("PyPI", "gamma", "1.0"),
        ],
    )
    .await;
    let (g, _) = grouped(s, &open(), None).await;
    assert_eq!(g[0]["devices"], 2, "d1 upgraded away");
    check(s, "upgrade", &all).await;

    // Suppressions by device, by tag and by advisory, then their removal.
    let base = Suppression {
        id: Uuid::now_v7(),
        scope: "device".into(),
        advisory_id: None,
        ecosystem: None,
        package_name: None,
        device_id: Some(d3),
        tag: None,
        reason: "lab machine".into(),
        created_by: "test".into(),
        created_at: OffsetDateTime::now_utc(),
        expires_at: None,
    };
    s.create_suppression(&base).await.unwrap();
    check(s, "device suppression", &all).await;
    s.set_device_tags(d2, &["lab".into()]).await.unwrap();
    let by_tag = Suppression {
        id: Uuid::now_v7(),
        scope: "tag".into(),
        device_id: None,
        tag: Some("lab".into()),
        ..base.clone()
    };
    s.create_suppression(&by_tag).await.unwrap();
    check(s, "tag suppression", &all).await;
    s.set_device_tags(d2, &[]).await.unwrap();
    check(s, "tag removed from the device", &all).await;
    let by_advisory = Suppression {
        id: Uuid::now_v7(),
        scope: "advisory".into(),
        device_id: None,
        advisory_id: Some("T-MED".into()),
        ..base.clone()
    };
    s.create_suppression(&by_advisory).await.unwrap();
    let (g, _) = grouped(s, &open(), None).await;
    assert!(
        g.as_array()
            .unwrap()
            .iter()
            .all(|a| a["advisory_id"] != "T-MED"),
        "suppressed everywhere: not listed"
    );
    check(s, "advisory suppression", &all).await;
    for id in [base.id, by_tag.id, by_advisory.id] {
        s.delete_suppression(id).await.unwrap().unwrap();
    }
    check(s, "suppressions removed", &all).await;

    // A withdrawn advisory resolves its findings everywhere.
    let mut withdrawn = advisory("T-UNK", "2026-02-01T00:00:00Z", "gamma", "1.5", None);
    withdrawn["withdrawn"] = json!("2026-02-01T00:00:00Z");
    let b = ndjson(dir.path(), "second.ndjson", &[withdrawn]);
    import_bundle(s, &b, "test", None).await.unwrap();
    let (g, total) = grouped(s, &open(), None).await;
    assert_eq!(total, 3);
    assert!(
        g.as_array()
            .unwrap()
            .iter()
            .all(|a| a["advisory_id"] != "T-UNK")
    );
    check(s, "withdrawal", &all).await;

    // A new advisory after a recount: the import's fan-out marks it, so it is counted live.
    let fresh = advisory("T-NEW", "2026-02-01T00:00:00Z", "beta", "2.6", Some(MEDIUM));
    let b = ndjson(dir.path(), "third.ndjson", &[fresh]);
    import_bundle(s, &b, "test", None).await.unwrap();
    let (g, _) = grouped(s, &open(), None).await;
    let new = g
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["advisory_id"] == "T-NEW")
        .expect("the new advisory is listed before any recount");
    assert_eq!(new["devices"], 2, "beta 2.0 on d1 and 2.5 on d2");
    check(s, "new advisory", &all).await;

    // A new advisory for a device whose findings are suppressed: the import's fan-out of new
    // findings stores its rows there as suppressed, and the device counters count them so.
    let quiet = Suppression {
        id: Uuid::now_v7(),
        device_id: Some(d1),
        ..base.clone()
    };
    s.create_suppression(&quiet).await.unwrap();
    let high = advisory("T-NEW2", "2026-02-02T00:00:00Z", "beta", "2.6", Some(HIGH));
    let b = ndjson(dir.path(), "fourth.ndjson", &[high]);
    let imported = import_bundle(s, &b, "test", None).await.unwrap();
    assert_eq!(imported.findings_new, 2, "beta 2.0 and beta 2.5");
    check(s, "new advisory, one device suppressed", &all).await;
    s.delete_suppression(quiet.id).await.unwrap().unwrap();
    check(s, "that suppression removed", &all).await;

    // Deleting a device takes its findings out of every count.
    assert!(s.delete_device(d2).await.unwrap());
    check(s, "device deleted", &[d1, d3]).await;

    // A new device after a recount: its advisories are marked and counted live until the next.
    let d4 = device(s, "four").await;
    scan_debian(s, d4, "four", 0, vec![pkg("PyPI", "alpha", "1.0")]).await;
    assert!(s.advisory_stats_marks().await.unwrap().pending > 0);
    let (g, _) = grouped(s, &open(), None).await;
    assert_eq!(g[0]["advisory_id"], "T-CRIT");
    assert_eq!(g[0]["devices"], 2, "d3 and the new d4");
    check(s, "new device", &[d1, d3, d4]).await;
}
