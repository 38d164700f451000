//! The `sentari-agent --scan` command end to end: formats, output file, configuration file,
//! exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use sentari_proto::agent::ScanUpload;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sentari-agent"))
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::build_fixture_root(dir.path());
    dir
}

#[test]
fn json_is_the_scan_upload_body() {
    let root = fixture();
    let out = agent()
        .args(["--scan", "--format", "json", "--scan-root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scan: ScanUpload = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scan.packages.len(), 22);
    assert_eq!(scan.runtimes.len(), 6);
    assert_eq!(scan.host.hostname, "fixture-host");
    assert_eq!(scan.agent_version, env!("CARGO_PKG_VERSION"));
    // Field names are exactly the protocol's.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "scan_id",
        "scanned_at",
        "agent_version",
        "duration_ms",
        "host",
        "packages",
        "runtimes",
        "errors",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn cyclonedx_is_a_1_6_sbom_with_purls() {
    let root = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sbom.json");
    let st = agent()
        .args(["--scan", "--format", "cyclonedx", "--output"])
        .arg(&file)
        .arg("--scan-root")
        .arg(root.path())
        .status()
        .unwrap();
    assert!(st.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["bomFormat"], "CycloneDX");
    assert_eq!(v["specVersion"], "1.6");
    assert!(v["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    let comps = v["components"].as_array().unwrap();
    let libs: Vec<_> = comps.iter().filter(|c| c["type"] == "library").collect();
    assert_eq!(libs.len(), 22);
    assert!(
        libs.iter()
            .all(|c| c["purl"].as_str().is_some_and(|p| p.starts_with("pkg:")))
    );
    let slf4j = libs.iter().find(|c| c["name"] == "slf4j-api").unwrap();
    assert_eq!(slf4j["group"], "org.slf4j");
    let refs: std::collections::HashSet<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), comps.len(), "bom-refs must be unique");
    assert!(
        comps
            .iter()
            .any(|c| c["type"] == "platform" && c["name"] == "python")
    );
    assert!(
        comps
            .iter()
            .any(|c| c["type"] == "operating-system" && c["name"] == "debian")
    );
}

#[test]
fn table_has_a_summary_per_source() {
    let root = fixture();
    let out = agent()
        .arg("--scan")
        .arg("--scan-root")
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "dpkg ",
        "rpm ",
        "apk ",
        "python ",
        "jvm ",
        "npm ",
        "runtimes ",
        "errors ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no summary for {line:?} in\n{text}"
        );
    }
    assert!(text.contains("fixture-host"));
    assert!(text.contains("/srv/web/node_modules/bad/package.json"));
}

#[test]
fn config_file_is_read_and_unknown_keys_warned() {
    let root = fixture();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("agent.conf");
    std::fs::write(
        &conf,
        format!(
            "[server]\nurl = https://sentari.example:8000\npoll_interval = 900 ; seconds\n[scanner]\nscan_root = {}\nexclude = /srv/**\nfrobnicate = yes\n",
            root.path().display()
        ),
    )
    .unwrap();
    let out = agent()
        .args(["--scan", "--format", "json", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("frobnicate"), "{stderr}");
    let scan: ScanUpload = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scan.host.hostname, "fixture-host");
    assert!(
        !scan
            .packages
            .iter()
            .any(|p| p.install_path.starts_with("/srv/"))
    );

    std::fs::write(&conf, "[scanner]\nmax_depth = lots\n").unwrap();
    let out = agent()
        .args(["--scan", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_depth"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(agent().output().unwrap().status.code(), Some(2));
    assert_eq!(
        agent()
            .args(["--scan", "--format", "xml"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    let out = agent()
        .args(["--scan", "--scan-root", "/nonexistent/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn legacy_rpmdb_without_the_rpm_tool_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    common::write(root.path(), "var/lib/rpm/Packages", "bdb");
    let out = agent()
        .env("PATH", "/nonexistent")
        .args(["--scan", "--format", "json", "--scan-root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let scan: ScanUpload = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scan.errors.len(), 1);
    assert!(
        scan.errors[0].error.contains("no `rpm` tool"),
        "{}",
        scan.errors[0].error
    );
}
