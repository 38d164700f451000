//! Matching against the real OSV and endoflife.date data in `shared/data`: every record
//! loads (or is reported), and known answers picked from the records hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use sentari_core::ecosystem::Ecosystem;
use sentari_core::eol::{EolDb, EolStatus, parse_bundle_line, parse_iso_date, parse_product_json};
use sentari_core::osv::{InsertOutcome, OsvIndex};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// Loads one `all.zip` completely; returns the index, the number of entries and the errors.
fn load(ecosystem: &str) -> (OsvIndex, usize, Vec<String>) {
    let path = format!("{DATA}/osv/{ecosystem}/all.zip");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut idx = OsvIndex::new();
    let mut errors = Vec::new();
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        buf.clear();
        entry.read_to_end(&mut buf).unwrap();
        if let Err(e) = idx.insert_json(&buf) {
            errors.push(format!("{name}: {e}"));
        }
    }
    (idx, zip.len(), errors)
}

fn ids(idx: &OsvIndex, eco: &str, name: &str, version: &str) -> Vec<String> {
    idx.query(&Ecosystem::parse(eco), name, version)
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.id)
        .collect()
}

#[test]
fn pypi_bundle() {
    let (idx, total, errors) = load("PyPI");
    assert!(errors.is_empty(), "{errors:#?}");
    let s = idx.stats();
    assert_eq!(total, 2661);
    assert_eq!(s.advisories + s.withdrawn, total, "{s:?}");
    assert_eq!(s.withdrawn, 10);
    assert!(s.git_ranges_skipped > 1000);

    // PYSEC-2021-9: django 2.2 ≤ v < 2.2.18, 3.0 ≤ v < 3.0.12, 3.1 ≤ v < 3.1.6.
    let hit = |v| ids(&idx, "PyPI", "Django", v).contains(&"PYSEC-2021-9".to_owned());
    assert!(hit("2.2.17"));
    assert!(!hit("2.2.18"));
    assert!(hit("3.1.5"));
    assert!(!hit("3.1.6"));
    assert!(hit("3.0"));
    assert!(hit("3.0.0"));
    assert!(!hit("2.1.15"));
    let out = idx.query(&Ecosystem::PyPI, "django", "3.1.5").unwrap();
    let m = out.matches.iter().find(|m| m.id == "PYSEC-2021-9").unwrap();
    assert_eq!(m.aliases, ["CVE-2021-3281", "GHSA-fvgf-6h6h-3322"]);
    assert_eq!(m.matched.comparator, "pep440");
    assert_eq!(m.matched.introduced.as_deref(), Some("3.1"));
    assert_eq!(m.matched.fixed.as_deref(), Some("3.1.6"));
}

#[test]
fn go_bundle() {
    let (idx, total, errors) = load("Go");
    assert!(errors.is_empty(), "{errors:#?}");
    let s = idx.stats();
    assert_eq!(total, 4291);
    assert_eq!(s.advisories + s.withdrawn, total, "{s:?}");
    // GO-2023-1533: github.com/anchore/syft 0.69.0 ≤ v < 0.70.0, queried with Go's `v`.
    let syft =
        |v| ids(&idx, "Go", "github.com/anchore/syft", v).contains(&"GO-2023-1533".to_owned());
    assert!(syft("v0.69.0"));
    assert!(syft("v0.69.5"));
    assert!(!syft("v0.70.0"));
    assert!(!syft("v0.68.9"));
    // GO-2023-1548: a pre-release introduced event.
    let argo = |v| {
        ids(&idx, "Go", "github.com/argoproj/argo-cd/v2", v).contains(&"GO-2023-1548".to_owned())
    };
    assert!(argo("v2.6.0-rc1"));
    assert!(argo("v2.6.0"));
    assert!(!argo("v2.6.0-rc0"));
    assert!(!argo("v2.6.1"));
    // GO-2022-0192: pseudo-versions order by their timestamp.
    let net = |v| ids(&idx, "Go", "golang.org/x/net", v).contains(&"GO-2022-0192".to_owned());
    assert!(net("v0.0.0-20180901000000-aaaaaaaaaaaa"));
    assert!(!net("v0.0.0-20180925071336-cf3bd585ca2a"));
    let m = &idx
        .query(&Ecosystem::Go, "github.com/anchore/syft", "v0.69.1")
        .unwrap()
        .matches;
    let m = m.iter().find(|m| m.id == "GO-2023-1533").unwrap();
    assert_eq!(m.matched.range_type, Some("SEMVER"));
    assert_eq!(m.matched.comparator, "semver");
}

#[test]
fn almalinux_bundle() {
    let (idx, total, errors) = load("AlmaLinux");
    assert!(errors.is_empty(), "{errors:#?}");
    let s = idx.stats();
    assert_eq!(total, 5637);
    assert_eq!(s.advisories, total, "{s:?}");
    assert_eq!(s.bad_ranges, 0);
    // ALSA-2024:5363: kernel on AlmaLinux 9, fixed in 5.14.0-427.31.1.el9_4.
    let k9 = |v| ids(&idx, "AlmaLinux:9", "kernel", v).contains(&"ALSA-2024:5363".to_owned());
    assert!(k9("5.14.0-427.28.1.el9_4"));
    assert!(k9("5.14.0-427.31.0.el9_4"));
    assert!(!k9("5.14.0-427.31.1.el9_4"));
    assert!(!k9("5.14.0-427.31.2.el9_4"));
    assert!(!k9("5.14.0-503.14.1.el9_5"));
    // The same record never applies to AlmaLinux 8 kernels.
    assert!(
        !ids(&idx, "AlmaLinux:8", "kernel", "4.18.0-100.el8")
            .contains(&"ALSA-2024:5363".to_owned())
    );
    assert!(
        ids(&idx, "AlmaLinux:8", "kernel", "4.18.0-100.el8")
            .iter()
            .all(|id| !id.is_empty())
    );
    // ALBA-2019:0973: an epoch in the fixed event (1:0.1.15-2…).
    let hook =
        |v| ids(&idx, "AlmaLinux:8", "oci-systemd-hook", v).contains(&"ALBA-2019:0973".to_owned());
    assert!(hook("1:0.1.14-1.module_el8.4.0+1+aaaa"));
    assert!(hook("0.1.99-1"));
    assert!(!hook("1:0.1.15-2.git2d0b8a3.module_el8.5.0+119+9a9ec082"));
    assert!(!hook("2:0.0.1-1"));
    let m = &idx
        .query(
            &Ecosystem::parse("AlmaLinux:9"),
            "kernel",
            "5.14.0-427.28.1.el9_4",
        )
        .unwrap();
    let m = m.matches.iter().find(|m| m.id == "ALSA-2024:5363").unwrap();
    assert_eq!(m.matched.ecosystem, "AlmaLinux:9");
    assert_eq!(m.matched.comparator, "rpm");
    assert_eq!(m.matched.fixed.as_deref(), Some("5.14.0-427.31.1.el9_4"));
}

#[test]
fn withdrawn_records_never_match() {
    let (idx, _, _) = load("PyPI");
    let path = format!("{DATA}/osv/PyPI/all.zip");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut checked = 0;
    for i in 0..zip.len() {
        let mut buf = Vec::new();
        zip.by_index(i).unwrap().read_to_end(&mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        if v.get("withdrawn").is_none() {
            continue;
        }
        let id = v["id"].as_str().unwrap();
        for a in v["affected"].as_array().into_iter().flatten() {
            let name = a["package"]["name"].as_str().unwrap();
            for ver in a["versions"].as_array().into_iter().flatten() {
                let got = ids(&idx, "PyPI", name, ver.as_str().unwrap());
                assert!(!got.contains(&id.to_owned()), "{id} matched {name} {ver}");
                checked += 1;
            }
        }
        let mut single = OsvIndex::new();
        assert_eq!(single.insert_json(&buf).unwrap(), InsertOutcome::Withdrawn);
    }
    assert!(checked > 0);
}

#[test]
fn every_listed_version_matches_its_record() {
    // For every non-withdrawn PyPI record, each version in `versions` must match it.
    let (idx, _, _) = load("PyPI");
    let path = format!("{DATA}/osv/PyPI/all.zip");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut checked = 0;
    for i in 0..zip.len() {
        let mut buf = Vec::new();
        zip.by_index(i).unwrap().read_to_end(&mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        if v.get("withdrawn").is_some() {
            continue;
        }
        let id = v["id"].as_str().unwrap();
        for a in v["affected"].as_array().into_iter().flatten() {
            let name = a["package"]["name"].as_str().unwrap();
            for ver in a["versions"].as_array().into_iter().flatten().step_by(7) {
                let Ok(out) = idx.query(&Ecosystem::PyPI, name, ver.as_str().unwrap()) else {
                    continue;
                };
                assert!(out.matches.iter().any(|m| m.id == id), "{id}: {name} {ver}");
                checked += 1;
            }
        }
    }
    assert!(checked > 5000, "{checked}");
}

#[test]
fn eol_data() {
    let mut db = EolDb::new();
    let bundle = std::fs::read_to_string(format!("{DATA}/eol/bundle.ndjson")).unwrap();
    for line in bundle.lines().filter(|l| !l.trim().is_empty()) {
        db.insert(parse_bundle_line(line.as_bytes()).unwrap());
    }
    assert_eq!(db.products(), 15);
    let mut from_files = EolDb::new();
    for entry in std::fs::read_dir(format!("{DATA}/eol")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let product = path.file_stem().unwrap().to_str().unwrap().to_owned();
            for c in parse_product_json(&product, &std::fs::read(&path).unwrap()).unwrap() {
                from_files.insert(c);
            }
        }
    }
    assert_eq!(from_files.cycles(), db.cycles());
    let today = parse_iso_date("2026-08-22").unwrap();
    let st = |p: &str, v: &str| {
        db.find(p, v)
            .map_or(EolStatus::Unknown, |c| c.status(today))
    };
    assert_eq!(db.find("python", "3.8.20").unwrap().cycle, "3.8");
    assert_eq!(st("python", "3.8.20"), EolStatus::EolPast);
    assert_eq!(st("python", "3.13.1"), EolStatus::Supported);
    assert_eq!(db.find("nodejs", "v20.11.0").unwrap().cycle, "20");
    assert_eq!(db.find("eclipse-temurin", "1.8.0_392").unwrap().cycle, "8");
    assert_eq!(db.find("ubuntu", "22.04").unwrap().cycle, "22.04");
    assert_eq!(db.find("alpine-linux", "3.20.3").unwrap().cycle, "3.20");
    assert_eq!(db.find("debian", "12.6").unwrap().cycle, "12");
    assert_eq!(st("python", "1.0"), EolStatus::Unknown);
}

/// The JSON written straight from the index (what `sentari osv query` prints) is exactly the
/// serialisation of the owned match, for every match of the AlmaLinux and Go bundles at the
/// versions their own events name (the cached parts must never go stale or leak between
/// entries).
#[test]
fn written_json_equals_the_owned_match() {
    let mut compared = 0;
    for eco in ["AlmaLinux", "Go", "PyPI"] {
        let (idx, _, _) = load(eco);
        let path = format!("{DATA}/osv/{eco}/all.zip");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        for i in (0..zip.len()).step_by(5) {
            let mut buf = Vec::new();
            zip.by_index(i).unwrap().read_to_end(&mut buf).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            for a in v["affected"].as_array().into_iter().flatten() {
                let (Some(pe), Some(name)) = (
                    a["package"]["ecosystem"].as_str(),
                    a["package"]["name"].as_str(),
                ) else {
                    continue;
                };
                let events = a["ranges"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["events"].as_array().into_iter().flatten())
                    .flat_map(|e| e.as_object().into_iter().flatten())
                    .filter_map(|(_, v)| v.as_str())
                    .filter(|v| *v != "0");
                for ver in events.take(3) {
                    let Ok(refs) = idx.query_refs(&Ecosystem::parse(pe), name, ver) else {
                        continue;
                    };
                    for m in &refs.matches {
                        let mut out = Vec::new();
                        m.write_json(&mut out);
                        let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
                        let owned = serde_json::to_value(m.to_match()).unwrap();
                        assert_eq!(written, owned, "{pe} {name} {ver}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}
