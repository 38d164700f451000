//! The rpm source against databases made by the real rpm tools: `rpmbuild` builds tiny
//! packages (with an epoch, a subpackage whose source RPM has another name, two
//! architectures), `rpm -i --justdb` installs them into a fresh `rpmdb.sqlite`, and the agent's
//! own header decoding must agree with `rpm -qa`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use sentari_agent::inventory::rpm;
use sentari_agent::inventory::{ScanOptions, scan};

const SPEC_A: &str = "Name: sentari-demo\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: demo\nLicense: MIT\nBuildArch: noarch\n%description\ndemo\n%package libs\nSummary: libs\n%description libs\nlibs\n%files\n%files libs\n";
const SPEC_B: &str = "Name: plainpkg\nVersion: 0.9~rc1\nRelease: 1\nSummary: plain\nLicense: MIT\n%description\nplain\n%files\n";

fn build(top: &Path, name: &str, spec: &str) {
    let spec_path = top.join(format!("{name}.spec"));
    std::fs::write(&spec_path, spec).unwrap();
    let out = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpmbuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rpms(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in walk(dir) {
        if e.extension().is_some_and(|x| x == "rpm") {
            out.push(e);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn sqlite_rpmdb_matches_rpm_qa() {
    if !common::have_tool("rpmbuild", "the rpmdb tests")
        || !common::have_tool("rpm", "the rpmdb tests")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("build");
    std::fs::create_dir_all(&top).unwrap();
    build(&top, "a", SPEC_A);
    build(&top, "b", SPEC_B);
    let root = tmp.path().join("root");
    let db = root.join("var/lib/rpm");
    std::fs::create_dir_all(&db).unwrap();
    let st = Command::new("rpm")
        .args(["--initdb", "--define", "_db_backend sqlite", "--dbpath"])
        .arg(&db)
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("rpm")
        .args([
            "-i",
            "--justdb",
            "--nodeps",
            "--ignorearch",
            "--define",
            "_db_backend sqlite",
            "--dbpath",
        ])
        .arg(&db)
        .args(rpms(&top.join("RPMS")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -i: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.join("rpmdb.sqlite").is_file());

    let qa = Command::new("rpm")
        .args(["-qa", "--dbpath"])
        .arg(&db)
        .args([
            "--qf",
            "%{NAME}|%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n",
        ])
        .output()
        .unwrap();
    assert!(qa.status.success());
    let reference: BTreeSet<String> = String::from_utf8_lossy(&qa.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let entries = rpm::read_sqlite(&db.join("rpmdb.sqlite")).unwrap();
    let ours: BTreeSet<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}|{}|{}|{}",
                e.name,
                e.evr(),
                e.arch.clone().unwrap_or_default(),
                e.source_rpm.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(ours, reference);
    assert_eq!(ours.len(), 3);

    // The same database inside a scan root, through the whole scan.
    common::write(
        &root,
        "etc/os-release",
        "ID=almalinux\nVERSION_ID=\"9.4\"\n",
    );
    let s = scan(&ScanOptions {
        root: root.clone(),
        ..ScanOptions::default()
    });
    let pkgs: BTreeSet<(String, String, String, Option<String>)> = s
        .packages
        .iter()
        .map(|p| {
            (
                p.ecosystem.clone(),
                p.name.clone(),
                p.version.clone(),
                p.source_name.clone(),
            )
        })
        .collect();
    let expect = |n: &str, v: &str, src: &str| {
        (
            "AlmaLinux:9".to_owned(),
            n.to_owned(),
            v.to_owned(),
            Some(src.to_owned()),
        )
    };
    assert_eq!(
        pkgs,
        BTreeSet::from([
            expect("sentari-demo", "2:1.2.3-4.el9", "sentari-demo"),
            expect("sentari-demo-libs", "2:1.2.3-4.el9", "sentari-demo"),
            expect("plainpkg", "0.9~rc1-1", "plainpkg"),
        ])
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
}

#[test]
fn legacy_databases_without_a_readable_backend_are_scan_errors() {
    // A BerkeleyDB `Packages` file that is not a database: with the rpm tool the scan reports
    // rpm's complaint; the agent never writes to the scanned tree either way.
    let tmp = tempfile::tempdir().unwrap();
    common::write(tmp.path(), "var/lib/rpm/Packages", "not a berkeley db");
    let s = scan(&ScanOptions {
        root: tmp.path().to_path_buf(),
        ..ScanOptions::default()
    });
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert_eq!(s.errors[0].scanner, "rpm");
    assert_eq!(s.errors[0].path, "/var/lib/rpm/Packages");
    let files: Vec<_> = std::fs::read_dir(tmp.path().join("var/lib/rpm"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files.len(), 1, "the scan created files: {files:?}");
}
