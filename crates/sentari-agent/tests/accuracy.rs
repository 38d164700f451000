//! Accuracy against the real tools on this machine (ARCHITECTURE.md §15: real tools, never
//! mocks): the dpkg inventory equals `dpkg-query`'s `ii` rows, and for every Python interpreter
//! the scan finds, the packages in that interpreter's `sys.path` equal what
//! `importlib.metadata.distributions()` reports. The tests run the reference tools; the agent
//! never does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use sentari_agent::inventory::{ScanOptions, scan};
use sentari_proto::agent::ScanUpload;

/// One full scan of this host, shared by the checks. Temporary and removable-media trees are
/// excluded: other processes change them while the scan runs.
fn host_scan() -> &'static ScanUpload {
    static SCAN: OnceLock<ScanUpload> = OnceLock::new();
    SCAN.get_or_init(|| {
        scan(&ScanOptions {
            exclude: vec![
                "/tmp".into(),
                "/var/tmp".into(),
                "/mnt".into(),
                "/media".into(),
            ],
            ..ScanOptions::default()
        })
    })
}

#[test]
fn dpkg_matches_dpkg_query() {
    if !Path::new("/var/lib/dpkg/status").is_file()
        || !common::have_tool("dpkg-query", "the dpkg accuracy check")
    {
        return;
    }
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev} ${Package} ${Version}\n"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let reference: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ii "))
        .filter_map(|l| {
            let mut it = l.split_whitespace().skip(1);
            Some((it.next()?.to_owned(), it.next()?.to_owned()))
        })
        .collect();
    let ours: BTreeSet<(String, String)> = host_scan()
        .packages
        .iter()
        .filter(|p| p.install_path == "/var/lib/dpkg/status")
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert!(!reference.is_empty());
    assert_eq!(
        ours.symmetric_difference(&reference).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new()
    );
    assert!(
        host_scan()
            .packages
            .iter()
            .any(|p| p.ecosystem == "Debian:12" || p.env_type == "os")
    );
}

/// Prints `{"path": sys.path, "dists": [[name, version], ...]}`, or `null` when the
/// interpreter predates `importlib.metadata` (Python < 3.8).
const REFERENCE: &str = "import sys, json\ntry:\n    import importlib.metadata as m\nexcept ImportError:\n    print('null'); sys.exit(0)\nprint(json.dumps({'path': sys.path, 'dists': [[d.metadata['Name'], d.version] for d in m.distributions()]}))\n";

#[test]
fn python_matches_importlib_metadata_per_interpreter() {
    let scan = host_scan();
    let interpreters: Vec<_> = scan
        .runtimes
        .iter()
        .filter(|r| r.kind == "python")
        .collect();
    if interpreters.is_empty() {
        eprintln!(
            "SKIPPED: no Python interpreter on this host, so the importlib check did not run"
        );
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for r in interpreters {
        let out = Command::new(&r.path)
            .args(["-E", "-c", REFERENCE])
            .current_dir(cwd.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed: {}",
            r.path,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v.is_null() {
            eprintln!(
                "note: {} ({}) has no importlib.metadata; not compared",
                r.path, r.version
            );
            continue;
        }
        let paths: BTreeSet<String> = v["path"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        let reference: BTreeSet<(String, String)> = v["dists"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d[0].as_str().unwrap_or("").to_owned(),
                    d[1].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let ours: BTreeSet<(String, String)> = scan
            .packages
            .iter()
            .filter(|p| p.ecosystem == "PyPI" && paths.contains(&p.install_path))
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        assert_eq!(ours, reference, "interpreter {} ({})", r.path, r.version);
        // Every package of the interpreter's own environment carries its version.
        checked += 1;
    }
    eprintln!("compared {checked} interpreters with importlib.metadata");
}
