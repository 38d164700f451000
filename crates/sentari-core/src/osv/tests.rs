//! Range evaluation and index behaviour on small hand-made records for the ecosystems that
//! have no real data in `shared/data` (Debian, Ubuntu, npm, Maven, Alpine), and on the
//! corner cases of the OSV schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::ecosystem::Ecosystem;

fn index(records: &[serde_json::Value]) -> OsvIndex {
    let mut idx = OsvIndex::new();
    for r in records {
        idx.insert_json(r.to_string().as_bytes()).unwrap();
    }
    idx
}

fn ids(idx: &OsvIndex, eco: &str, name: &str, version: &str) -> Vec<String> {
    idx.query(&Ecosystem::parse(eco), name, version)
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn rec(id: &str, eco: &str, name: &str, ranges: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": id, "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": eco, "name": name}, "ranges": ranges}]
    })
}

#[test]
fn debian_release_scoping_and_dpkg_order() {
    let idx = index(&[
        rec(
            "DSA-1",
            "Debian:12",
            "openssl",
            serde_json::json!([{"type": "ECOSYSTEM",
            "events": [{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]}]),
        ),
        rec(
            "DSA-2",
            "Debian",
            "openssl",
            serde_json::json!([{"type": "ECOSYSTEM",
            "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.11-1~deb12u2"}]}]),
        ),
    ]);
    assert_eq!(
        ids(&idx, "Debian:12", "openssl", "3.0.14-1~deb12u2"),
        ["DSA-1"]
    );
    assert_eq!(
        ids(&idx, "Debian:12", "openssl", "3.0.11-1~deb12u1"),
        ["DSA-1", "DSA-2"]
    );
    assert!(ids(&idx, "Debian:12", "openssl", "3.0.15-1~deb12u1").is_empty());
    // A Debian:12 record does not apply to Debian 11; a bare Debian record does.
    assert_eq!(ids(&idx, "Debian:11", "openssl", "3.0.1-1"), ["DSA-2"]);
    assert!(ids(&idx, "Ubuntu:22.04:LTS", "openssl", "3.0.1-1").is_empty());
    let m = &idx
        .query(
            &Ecosystem::parse("Debian:12"),
            "openssl",
            "3.0.14-1~deb12u2",
        )
        .unwrap()
        .matches[0];
    assert_eq!(m.matched.ecosystem, "Debian:12");
    assert_eq!(m.matched.comparator, "dpkg");
    assert_eq!(m.matched.via, "range");
    assert_eq!(m.matched.range_type, Some("ECOSYSTEM"));
    assert_eq!(m.matched.introduced.as_deref(), Some("0"));
    assert_eq!(m.matched.fixed.as_deref(), Some("3.0.15-1~deb12u1"));
}

#[test]
fn ubuntu_pro_and_lts_are_distinct_releases() {
    let idx = index(&[
        rec(
            "USN-1",
            "Ubuntu:22.04:LTS",
            "curl",
            serde_json::json!([{"type": "ECOSYSTEM",
            "events": [{"introduced": "0"}, {"fixed": "7.81.0-1ubuntu1.16"}]}]),
        ),
        rec(
            "USN-2",
            "Ubuntu:Pro:18.04:LTS",
            "curl",
            serde_json::json!([{"type": "ECOSYSTEM",
            "events": [{"introduced": "0"}, {"fixed": "7.58.0-2ubuntu3.24+esm1"}]}]),
        ),
    ]);
    assert_eq!(
        ids(&idx, "Ubuntu:22.04:LTS", "curl", "7.81.0-1ubuntu1.15"),
        ["USN-1"]
    );
    assert!(ids(&idx, "Ubuntu:22.04:LTS", "curl", "7.81.0-1ubuntu1.16").is_empty());
    assert_eq!(
        ids(&idx, "Ubuntu:Pro:18.04:LTS", "curl", "7.58.0-2ubuntu3.24"),
        ["USN-2"]
    );
    assert!(ids(&idx, "Ubuntu:18.04:LTS", "curl", "7.58.0-2ubuntu3.24").is_empty());
}

#[test]
fn npm_semver_ranges_and_scoped_names() {
    let idx = index(&[rec(
        "GHSA-npm",
        "npm",
        "@babel/traverse",
        serde_json::json!([
            {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "7.23.2"}]},
            {"type": "SEMVER", "events": [{"introduced": "8.0.0-alpha.0"}, {"fixed": "8.0.0-alpha.4"}]}
        ]),
    )]);
    assert_eq!(ids(&idx, "npm", "@babel/traverse", "7.23.1"), ["GHSA-npm"]);
    assert!(ids(&idx, "npm", "@babel/traverse", "7.23.2").is_empty());
    assert_eq!(
        ids(&idx, "npm", "@babel/traverse", "8.0.0-alpha.3"),
        ["GHSA-npm"]
    );
    assert!(ids(&idx, "npm", "@babel/traverse", "8.0.0-alpha.4").is_empty());
    assert!(ids(&idx, "npm", "@Babel/traverse", "7.0.0").is_empty());
}

#[test]
fn maven_group_artifact_and_last_affected() {
    let idx = index(&[rec(
        "GHSA-log4j",
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        serde_json::json!([
            {"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "2.16.0"}, {"last_affected": "2.16.5"}]}
        ]),
    )]);
    let name = "org.apache.logging.log4j:log4j-core";
    assert_eq!(ids(&idx, "Maven", name, "2.14.1"), ["GHSA-log4j"]);
    assert_eq!(ids(&idx, "Maven", name, "2.0-beta9"), ["GHSA-log4j"]);
    assert!(ids(&idx, "Maven", name, "2.0-beta8").is_empty());
    assert!(ids(&idx, "Maven", name, "2.15.0").is_empty());
    assert_eq!(ids(&idx, "Maven", name, "2.16.5"), ["GHSA-log4j"]);
    assert!(ids(&idx, "Maven", name, "2.16.6").is_empty());
    let m = &idx
        .query(&Ecosystem::Maven, name, "2.16.1")
        .unwrap()
        .matches[0];
    assert_eq!(m.matched.last_affected.as_deref(), Some("2.16.5"));
    assert!(ids(&idx, "Maven", "log4j-core", "2.14.1").is_empty());
}

#[test]
fn alpine_apk_order() {
    let idx = index(&[rec(
        "ALPINE-1",
        "Alpine:v3.20",
        "openssl",
        serde_json::json!([
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.3.2-r0"}]}
        ]),
    )]);
    assert_eq!(
        ids(&idx, "Alpine:v3.20", "openssl", "3.3.1-r3"),
        ["ALPINE-1"]
    );
    assert_eq!(
        ids(&idx, "Alpine:v3.20", "openssl", "3.3.2_rc1-r0"),
        ["ALPINE-1"]
    );
    assert!(ids(&idx, "Alpine:v3.20", "openssl", "3.3.2-r0").is_empty());
    assert!(ids(&idx, "Alpine:v3.19", "openssl", "3.1.0-r0").is_empty());
}

#[test]
fn git_ranges_are_skipped_without_hiding_others() {
    let idx = index(&[rec(
        "PYSEC-X",
        "PyPI",
        "Zope.Interface",
        serde_json::json!([
            {"type": "GIT", "repo": "https://example.invalid/z", "events": [{"introduced": "abc"}, {"fixed": "def"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]}
        ]),
    )]);
    assert_eq!(ids(&idx, "PyPI", "zope_interface", "1.1"), ["PYSEC-X"]);
    assert_eq!(ids(&idx, "PyPI", "ZOPE-INTERFACE", "1.0.0"), ["PYSEC-X"]);
    assert!(ids(&idx, "PyPI", "zope-interface", "1.2").is_empty());
    assert_eq!(idx.stats().git_ranges_skipped, 1);
}

#[test]
fn versions_list_and_normalisation() {
    let idx = index(&[serde_json::json!({
        "id": "PYSEC-L", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "pkg"}, "versions": ["1.0RC1", "2.0", "weird-tag"]}]
    })]);
    assert_eq!(ids(&idx, "PyPI", "pkg", "1.0rc1"), ["PYSEC-L"]);
    assert_eq!(ids(&idx, "PyPI", "pkg", "2.0.0"), ["PYSEC-L"]);
    assert!(ids(&idx, "PyPI", "pkg", "2.0.1").is_empty());
    let m = &idx.query(&Ecosystem::PyPI, "pkg", "2.0.0").unwrap().matches[0];
    assert_eq!(m.matched.via, "versions");
    assert_eq!(m.matched.listed_version.as_deref(), Some("2.0"));
}

#[test]
fn introduced_only_multiple_intervals_and_limit() {
    let idx = index(&[
        rec(
            "A",
            "PyPI",
            "a",
            serde_json::json!([{"type": "ECOSYSTEM", "events": [{"introduced": "1.5"}]}]),
        ),
        rec(
            "B",
            "PyPI",
            "b",
            serde_json::json!([{"type": "ECOSYSTEM", "events": [
            {"fixed": "1.2"}, {"introduced": "2.0"}, {"introduced": "1.0"}, {"fixed": "2.1"}]}]),
        ),
        rec(
            "C",
            "Go",
            "example.com/m",
            serde_json::json!([{"type": "SEMVER", "events": [
            {"introduced": "0"}, {"limit": "1.5.0"}]}]),
        ),
    ]);
    assert!(ids(&idx, "PyPI", "a", "1.4").is_empty());
    assert_eq!(ids(&idx, "PyPI", "a", "99"), ["A"]);
    // Events are evaluated in version order, not in the order written.
    assert_eq!(ids(&idx, "PyPI", "b", "1.1"), ["B"]);
    assert!(ids(&idx, "PyPI", "b", "1.5").is_empty());
    assert_eq!(ids(&idx, "PyPI", "b", "2.0.5"), ["B"]);
    assert!(ids(&idx, "PyPI", "b", "0.9").is_empty());
    assert_eq!(ids(&idx, "Go", "example.com/m", "v1.4.9"), ["C"]);
    assert!(ids(&idx, "Go", "example.com/m", "v1.5.0").is_empty());
}

#[test]
fn withdrawn_and_newer_copies() {
    let base = rec(
        "W",
        "PyPI",
        "w",
        serde_json::json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]),
    );
    let mut idx = index(std::slice::from_ref(&base));
    assert_eq!(ids(&idx, "PyPI", "w", "1.0"), ["W"]);
    let mut withdrawn = base.clone();
    withdrawn["withdrawn"] = "2024-02-01T00:00:00Z".into();
    withdrawn["modified"] = "2024-02-01T00:00:00Z".into();
    assert_eq!(
        idx.insert_json(withdrawn.to_string().as_bytes()).unwrap(),
        InsertOutcome::Withdrawn
    );
    assert!(ids(&idx, "PyPI", "w", "1.0").is_empty());
    assert_eq!(idx.len(), 0);

    let mut idx = index(std::slice::from_ref(&base));
    let mut newer = rec(
        "W",
        "PyPI",
        "w",
        serde_json::json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]),
    );
    newer["modified"] = "2024-03-01T00:00:00Z".into();
    assert_eq!(
        idx.insert_json(newer.to_string().as_bytes()).unwrap(),
        InsertOutcome::Replaced
    );
    assert!(ids(&idx, "PyPI", "w", "1.0").is_empty());
    assert_eq!(
        idx.insert_json(base.to_string().as_bytes()).unwrap(),
        InsertOutcome::Stale
    );
    assert_eq!(idx.stats().entries, 1);
}

#[test]
fn bad_input_is_reported_not_fatal() {
    let mut idx = OsvIndex::new();
    assert!(idx.insert_json(b"{not json").is_err());
    assert!(idx.insert_json(b"[]").is_err());
    let e = idx
        .insert_json(br#"{"id": "X", "affected": 5}"#)
        .unwrap_err();
    assert_eq!(e.id.as_deref(), Some("X"));
    // Unknown fields, nulls and odd database_specific shapes are tolerated.
    let ok = serde_json::json!({"id": "Y", "aliases": null, "unknown": {"a": 1},
        "database_specific": {"severity": {"nested": true}},
        "affected": [{"package": {"ecosystem": "PyPI", "name": "y"}, "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "not a version!"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2"}]}]},
          {"package": {"ecosystem": "Hackage", "name": "z"}, "versions": ["1"]}]});
    idx.insert_json(ok.to_string().as_bytes()).unwrap();
    assert_eq!(ids(&idx, "PyPI", "y", "1.5"), ["Y"]);
    assert_eq!(idx.stats().bad_ranges, 2);
    assert_eq!(idx.stats().unsupported_entries, 1);
    assert!(matches!(
        idx.query(&Ecosystem::parse("Hackage"), "z", "1"),
        Err(QueryError::UnsupportedEcosystem(_))
    ));
    assert!(matches!(
        idx.query(&Ecosystem::PyPI, "y", "not a version"),
        Err(QueryError::UnparsableVersion(_))
    ));
}

#[test]
fn severity_resolution() {
    let idx = index(&[
        serde_json::json!({"id": "S1", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "s"}, "versions": ["1"]}]}),
        serde_json::json!({"id": "S2", "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
            "database_specific": {"severity": "HIGH"},
            "affected": [{"package": {"ecosystem": "PyPI", "name": "s"}, "versions": ["1"]}]}),
        serde_json::json!({"id": "S3", "database_specific": {"severity": "Moderate"},
            "affected": [{"package": {"ecosystem": "PyPI", "name": "s"}, "versions": ["1"]}]}),
    ]);
    let out = idx.query(&Ecosystem::PyPI, "s", "1").unwrap();
    let sev: Vec<_> = out
        .matches
        .iter()
        .map(|m| m.severity.clone().unwrap())
        .collect();
    assert_eq!(sev[0].score, Some(9.8));
    assert_eq!(sev[0].rating, Some(Rating::Critical));
    assert_eq!(sev[1].kind, "CVSS_V4");
    assert!(sev[1].vector.as_deref().unwrap().starts_with("CVSS:4.0/"));
    assert_eq!(sev[1].rating, Some(Rating::High));
    assert_eq!(sev[2].rating, Some(Rating::Medium));
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn insert_never_panics(s in "\\PC{0,200}") {
            let mut idx = OsvIndex::new();
            let _ = idx.insert_json(s.as_bytes());
        }

        #[test]
        fn range_agrees_with_interval(lo in 0u32..50, hi in 0u32..50, v in 0u32..60) {
            let idx = index(&[rec("R", "PyPI", "p", serde_json::json!([{"type": "ECOSYSTEM",
                "events": [{"introduced": lo.to_string()}, {"fixed": hi.to_string()}]}]))]);
            let hit = !ids(&idx, "PyPI", "p", &v.to_string()).is_empty();
            // Events are sorted first, so a `fixed` below its `introduced` closes nothing
            // and an equal pair affects nothing.
            let want = if lo < hi { lo <= v && v < hi } else if lo == hi { false } else { v >= lo };
            prop_assert_eq!(hit, want);
        }
    }
}
