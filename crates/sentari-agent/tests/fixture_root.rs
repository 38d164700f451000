//! Scanning a fake filesystem root holding every kind of source (dpkg status and `status.d`,
//! an rpmdb, an apk database, system/venv/conda/pyenv/user/pipx Python environments, global and
//! project `node_modules`, jars, JDK and JRE homes) gives an exact, stable inventory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sentari_agent::inventory::{ScanOptions, scan};
use sentari_proto::agent::ScanUpload;

fn scan_fixture(root: &std::path::Path, threads: usize) -> ScanUpload {
    scan(&ScanOptions {
        root: root.to_path_buf(),
        threads,
        ..ScanOptions::default()
    })
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// (ecosystem, name, version, source_name, source_version, arch, install_path, env_type,
/// environment, interpreter_version, origin)
const EXPECTED: &[Row] = &[
    (
        "Debian:12",
        "bash",
        "5.1.8-9.el9",
        Some("bash"),
        None,
        Some("x86_64"),
        "/var/lib/rpm/rpmdb.sqlite",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "bash",
        "5.2.15-2+b7",
        Some("bash"),
        Some("5.2.15-2"),
        Some("amd64"),
        "/var/lib/dpkg/status",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "libcrypto3",
        "3.3.2-r0",
        Some("openssl"),
        None,
        Some("x86_64"),
        "/lib/apk/db/installed",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "libssl3",
        "3.0.15-1~deb12u1",
        Some("openssl"),
        None,
        Some("amd64"),
        "/var/lib/dpkg/status",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "musl",
        "1.2.5-r0",
        Some("musl"),
        None,
        Some("x86_64"),
        "/lib/apk/db/installed",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "openssl-libs",
        "1:3.0.7-27.el9",
        Some("openssl"),
        None,
        Some("x86_64"),
        "/var/lib/rpm/rpmdb.sqlite",
        "os",
        None,
        None,
        None,
    ),
    (
        "Debian:12",
        "tzdata",
        "2024a-0+deb12u1",
        Some("tzdata"),
        None,
        Some("all"),
        "/var/lib/dpkg/status.d/tzdata",
        "os",
        None,
        None,
        None,
    ),
    (
        "Maven",
        "org.slf4j:slf4j-api",
        "2.0.9",
        None,
        None,
        None,
        "/usr/share/java/slf4j-api-2.0.9.jar",
        "jar",
        None,
        None,
        Some("pom.properties"),
    ),
    (
        "PyPI",
        "PyYAML",
        "6.0.1",
        None,
        None,
        None,
        "/usr/lib/python3/dist-packages",
        "system",
        Some("/usr"),
        Some("3.11.2"),
        None,
    ),
    (
        "PyPI",
        "attrs",
        "23.1.0",
        None,
        None,
        None,
        "/root/.local/lib/python3.11/site-packages",
        "user",
        Some("/root/.local"),
        Some("3.11.2"),
        None,
    ),
    (
        "PyPI",
        "black",
        "24.1.0",
        None,
        None,
        None,
        "/root/.local/share/pipx/venvs/black/lib/python3.11/site-packages",
        "pipx",
        Some("/root/.local/share/pipx/venvs/black"),
        Some("3.11.2"),
        None,
    ),
    (
        "PyPI",
        "idna",
        "3.7",
        None,
        None,
        None,
        "/opt/broken/lib/python3.12/site-packages",
        "venv",
        Some("/opt/broken"),
        Some("3.12.4"),
        None,
    ),
    (
        "PyPI",
        "mypkg",
        "0.1.dev0",
        None,
        None,
        None,
        "/usr/local/lib/python3.11/dist-packages",
        "system",
        Some("/usr/local"),
        Some("3.11.2"),
        None,
    ),
    (
        "PyPI",
        "numpy",
        "1.26.4",
        None,
        None,
        None,
        "/opt/conda/lib/python3.12/site-packages",
        "conda",
        Some("/opt/conda"),
        Some("3.12.4"),
        None,
    ),
    (
        "PyPI",
        "pip",
        "23.0.1",
        None,
        None,
        None,
        "/root/.pyenv/versions/3.10.13/lib/python3.10/site-packages",
        "system",
        Some("/root/.pyenv/versions/3.10.13"),
        Some("3.10.13"),
        None,
    ),
    (
        "PyPI",
        "requests",
        "2.31.0",
        None,
        None,
        None,
        "/srv/app/.venv/lib/python3.11/site-packages",
        "venv",
        Some("/srv/app/.venv"),
        Some("3.11.2"),
        None,
    ),
    (
        "PyPI",
        "six",
        "1.16.0",
        None,
        None,
        None,
        "/usr/lib/python3/dist-packages",
        "system",
        Some("/usr"),
        Some("3.11.2"),
        None,
    ),
    (
        "npm",
        "@babel/core",
        "7.23.9",
        None,
        None,
        None,
        "/srv/web/node_modules/@babel/core",
        "npm-project",
        Some("/srv/web"),
        None,
        None,
    ),
    (
        "npm",
        "abbrev",
        "2.0.0",
        None,
        None,
        None,
        "/usr/lib/node_modules/npm/node_modules/abbrev",
        "npm-global",
        Some("/usr"),
        None,
        None,
    ),
    (
        "npm",
        "lodash",
        "4.17.21",
        None,
        None,
        None,
        "/srv/web/node_modules/lodash",
        "npm-project",
        Some("/srv/web"),
        None,
        None,
    ),
    (
        "npm",
        "npm",
        "10.2.4",
        None,
        None,
        None,
        "/usr/lib/node_modules/npm",
        "npm-global",
        Some("/usr"),
        None,
        None,
    ),
    (
        "npm",
        "semver",
        "6.3.1",
        None,
        None,
        None,
        "/srv/web/node_modules/@babel/core/node_modules/semver",
        "npm-project",
        Some("/srv/web"),
        None,
        None,
    ),
];

#[test]
fn fixture_root_gives_the_exact_inventory() {
    let dir = tempfile::tempdir().unwrap();
    common::build_fixture_root(dir.path());
    let s = scan_fixture(dir.path(), 3);

    let got: Vec<Row> = s
        .packages
        .iter()
        .map(|p| {
            let leak = |v: &str| -> &'static str { Box::leak(v.to_owned().into_boxed_str()) };
            let leak_opt = |v: &Option<String>| v.as_deref().map(leak);
            (
                leak(&p.ecosystem),
                leak(&p.name),
                leak(&p.version),
                leak_opt(&p.source_name),
                leak_opt(&p.source_version),
                leak_opt(&p.arch),
                leak(&p.install_path),
                leak(&p.env_type),
                leak_opt(&p.environment),
                leak_opt(&p.interpreter_version),
                leak_opt(&p.origin),
            )
        })
        .collect();
    assert_eq!(got, EXPECTED);

    let purls: Vec<&str> = s
        .packages
        .iter()
        .filter_map(|p| p.purl.as_deref())
        .collect();
    assert_eq!(purls.len(), s.packages.len());
    assert!(purls.contains(&"pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12"));
    assert!(purls.contains(
        &"pkg:rpm/debian/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=debian-12&epoch=1"
    ));
    assert!(purls.contains(&"pkg:pypi/pyyaml@6.0.1"));
    assert!(purls.contains(&"pkg:npm/%40babel/core@7.23.9"));
    assert!(purls.contains(&"pkg:maven/org.slf4j/slf4j-api@2.0.9"));

    let runtimes: Vec<(&str, &str, &str, Option<&str>)> = s
        .runtimes
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.version.as_str(),
                r.path.as_str(),
                r.vendor.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        runtimes,
        vec![
            (
                "jdk",
                "21.0.5",
                "/usr/lib/jvm/temurin-21-jdk",
                Some("Eclipse Adoptium")
            ),
            ("jre", "1.8.0_412", "/opt/jre8", None),
            ("node", "20.11.1", "/usr/bin/node", None),
            (
                "python",
                "3.10.13",
                "/root/.pyenv/versions/3.10.13/bin/python3.10",
                None
            ),
            ("python", "3.11.2", "/usr/bin/python3.11", None),
            ("python", "3.12.4", "/opt/conda/bin/python3.12", None),
        ]
    );

    let errors: Vec<(&str, &str)> = s
        .errors
        .iter()
        .map(|e| (e.scanner.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            ("npm", "/srv/web/node_modules/bad/package.json"),
            ("python", "/opt/broken"),
            (
                "python",
                "/usr/local/lib/python3.11/dist-packages/broken-1.0.dist-info"
            ),
        ]
    );
    assert!(
        s.errors[1].error.contains("interpreter"),
        "{}",
        s.errors[1].error
    );

    assert_eq!(s.host.hostname, "fixture-host");
    assert_eq!(s.host.machine_id, "0123456789abcdef0123456789abcdef");
    assert_eq!(s.host.os_release.id, "debian");
    assert_eq!(s.host.os_release.version_id.as_deref(), Some("12"));
    assert_eq!(s.host.arch, "x86_64");
    assert_eq!(s.host.kernel, "");
}

#[test]
fn scans_are_stable_across_runs_and_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    common::build_fixture_root(dir.path());
    let strip = |mut s: ScanUpload| {
        s.scan_id = uuid::Uuid::nil();
        s.scanned_at = time::OffsetDateTime::UNIX_EPOCH;
        s.duration_ms = 0;
        serde_json::to_string_pretty(&s).unwrap()
    };
    let one = strip(scan_fixture(dir.path(), 1));
    let two = strip(scan_fixture(dir.path(), 4));
    let three = strip(scan_fixture(dir.path(), 4));
    assert_eq!(one, two);
    assert_eq!(two, three);
}

#[test]
fn max_depth_and_excludes_limit_the_walk() {
    let dir = tempfile::tempdir().unwrap();
    common::build_fixture_root(dir.path());
    let s = scan(&ScanOptions {
        root: dir.path().to_path_buf(),
        exclude: vec!["/srv/**".to_owned(), "/usr/lib/node_modules".to_owned()],
        max_depth: 4,
        ..ScanOptions::default()
    });
    assert!(
        !s.packages
            .iter()
            .any(|p| p.install_path.starts_with("/srv/"))
    );
    assert!(!s.packages.iter().any(|p| p.ecosystem == "npm"));
    // site-packages of pyenv sit 7 levels down: beyond max_depth.
    assert!(!s.packages.iter().any(|p| p.name == "pip"));
    // The OS databases are read at fixed paths, independent of the walk.
    assert!(s.packages.iter().any(|p| p.name == "libssl3"));
}
