//! JVM archive identification on jars built at test time: plain, shaded (two poms),
//! Spring-Boot-style nested (stored and deflated, depth limit), WAR, manifest-only, name-only,
//! corrupt and bomb-like archives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Entry, pom, zip_bytes};
use sentari_agent::inventory::{Findings, Root, jvm};

fn scan(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Findings {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut f = Findings::default();
    jvm::scan_archive(&Root::new(dir), &path, &mut f);
    f.finish();
    f
}

/// (name, version, install_path, origin) of every package found.
fn coords(f: &Findings) -> Vec<(String, String, String, String)> {
    f.packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.install_path.clone(),
                p.origin.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn t(a: &str, b: &str, c: &str, d: &str) -> (String, String, String, String) {
    (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
}

#[test]
fn plain_jar_uses_pom_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (p, d) = pom("org.apache.commons", "commons-lang3", "3.12.0");
    let jar = zip_bytes(vec![
        Entry::Deflated(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Version: 9.9\r\n\r\n".to_vec(),
        ),
        Entry::Deflated(&p, d),
        Entry::Deflated(
            "org/apache/commons/lang3/StringUtils.class",
            vec![0xca, 0xfe, 0xba, 0xbe],
        ),
    ]);
    let f = scan(dir.path(), "commons-lang3-3.12.0.jar", &jar);
    assert_eq!(
        coords(&f),
        vec![t(
            "org.apache.commons:commons-lang3",
            "3.12.0",
            "/commons-lang3-3.12.0.jar",
            "pom.properties"
        )]
    );
    assert_eq!(
        f.packages[0].purl.as_deref(),
        Some("pkg:maven/org.apache.commons/commons-lang3@3.12.0")
    );
    assert_eq!(f.packages[0].ecosystem, "Maven");
    assert_eq!(f.packages[0].env_type, "jar");
    assert!(f.errors.is_empty());
}

#[test]
fn shaded_jar_reports_every_pom() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, d1) = pom("com.example", "shaded-app", "1.0.0");
    let (p2, d2) = pom("com.google.guava", "guava", "32.1.3-jre");
    let jar = zip_bytes(vec![Entry::Deflated(&p1, d1), Entry::Deflated(&p2, d2)]);
    let f = scan(dir.path(), "shaded-app-1.0.0.jar", &jar);
    assert_eq!(
        coords(&f),
        vec![
            t(
                "com.example:shaded-app",
                "1.0.0",
                "/shaded-app-1.0.0.jar",
                "pom.properties"
            ),
            t(
                "com.google.guava:guava",
                "32.1.3-jre",
                "/shaded-app-1.0.0.jar",
                "pom.properties"
            ),
        ]
    );
}

#[test]
fn spring_boot_nested_jars_are_read_to_depth_three() {
    let dir = tempfile::tempdir().unwrap();
    let (p, d) = pom("com.fasterxml.jackson.core", "jackson-databind", "2.15.2");
    let jackson = zip_bytes(vec![Entry::Deflated(&p, d)]);
    // Nesting levels 1 (level2), 2 (level3) and 3 (level4) are opened; level 4 (too deep) is not.
    let (p5, d5) = pom("too", "deep", "5");
    let level5 = zip_bytes(vec![Entry::Deflated(&p5, d5)]);
    let (p4, d4) = pom("org.deep", "level4", "4.0");
    let level4 = zip_bytes(vec![
        Entry::Deflated(&p4, d4),
        Entry::Deflated("lib/level5-5.jar", level5),
    ]);
    let (p3, d3) = pom("org.deep", "level3", "3.0");
    let level3 = zip_bytes(vec![
        Entry::Deflated(&p3, d3),
        Entry::Stored("lib/level4-4.0.jar", level4),
    ]);
    let (p2, d2) = pom("org.deep", "level2", "2.0");
    let level2 = zip_bytes(vec![
        Entry::Deflated(&p2, d2),
        Entry::Deflated("lib/level3-3.0.jar", level3),
    ]);
    let (pa, da) = pom("com.example", "boot-app", "0.0.1-SNAPSHOT");
    let app = zip_bytes(vec![
        Entry::Deflated("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\n\n".to_vec()),
        Entry::Deflated(&pa, da),
        Entry::Stored("BOOT-INF/lib/jackson-databind-2.15.2.jar", jackson),
        Entry::Stored("BOOT-INF/lib/level2-2.0.jar", level2),
        Entry::Deflated("BOOT-INF/classes/application.properties", b"x=1".to_vec()),
    ]);
    let f = scan(dir.path(), "boot-app.jar", &app);
    assert_eq!(
        coords(&f),
        vec![
            t(
                "com.example:boot-app",
                "0.0.1-SNAPSHOT",
                "/boot-app.jar",
                "pom.properties"
            ),
            t(
                "com.fasterxml.jackson.core:jackson-databind",
                "2.15.2",
                "/boot-app.jar!/BOOT-INF/lib/jackson-databind-2.15.2.jar",
                "pom.properties"
            ),
            t(
                "org.deep:level2",
                "2.0",
                "/boot-app.jar!/BOOT-INF/lib/level2-2.0.jar",
                "pom.properties"
            ),
            t(
                "org.deep:level3",
                "3.0",
                "/boot-app.jar!/BOOT-INF/lib/level2-2.0.jar!/lib/level3-3.0.jar",
                "pom.properties"
            ),
            t(
                "org.deep:level4",
                "4.0",
                "/boot-app.jar!/BOOT-INF/lib/level2-2.0.jar!/lib/level3-3.0.jar!/lib/level4-4.0.jar",
                "pom.properties"
            ),
        ]
    );
    let nested = f
        .packages
        .iter()
        .find(|p| p.name.ends_with("jackson-databind"))
        .unwrap();
    assert_eq!(nested.environment.as_deref(), Some("/boot-app.jar"));
    assert!(f.errors.is_empty(), "{:?}", f.errors);
}

#[test]
fn war_libraries_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (p, d) = pom("org.slf4j", "slf4j-api", "2.0.9");
    let lib = zip_bytes(vec![Entry::Deflated(&p, d)]);
    let war = zip_bytes(vec![
        Entry::Deflated("WEB-INF/web.xml", b"<web-app/>".to_vec()),
        Entry::Deflated("WEB-INF/lib/slf4j-api-2.0.9.jar", lib),
    ]);
    let f = scan(dir.path(), "shop.war", &war);
    assert_eq!(
        coords(&f),
        vec![t(
            "org.slf4j:slf4j-api",
            "2.0.9",
            "/shop.war!/WEB-INF/lib/slf4j-api-2.0.9.jar",
            "pom.properties"
        )]
    );
}

#[test]
fn manifest_only_jar_uses_manifest_with_continuations() {
    let dir = tempfile::tempdir().unwrap();
    let mf = "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.commons.commons-t\r\n ext;singleton:=true\r\nBundle-Version: 1.10.0\r\nImplementation-Title: Apache Commons Text\r\n\r\n";
    let jar = zip_bytes(vec![Entry::Deflated(
        "META-INF/MANIFEST.MF",
        mf.as_bytes().to_vec(),
    )]);
    let f = scan(dir.path(), "commons-text.jar", &jar);
    assert_eq!(
        coords(&f),
        vec![t(
            "org.apache.commons:commons-text",
            "1.10.0",
            "/commons-text.jar",
            "manifest"
        )]
    );
    let mf2 = "Manifest-Version: 1.0\nImplementation-Title: netty\nImplementation-Version: 4.1.100.Final\nImplementation-Vendor-Id: io.netty\n\n";
    let jar2 = zip_bytes(vec![Entry::Deflated(
        "META-INF/MANIFEST.MF",
        mf2.as_bytes().to_vec(),
    )]);
    let f2 = scan(dir.path(), "netty-all-4.1.100.Final.jar", &jar2);
    assert_eq!(
        coords(&f2),
        vec![t(
            "io.netty:netty-all",
            "4.1.100.Final",
            "/netty-all-4.1.100.Final.jar",
            "manifest"
        )]
    );
}

#[test]
fn name_only_jar_is_a_low_confidence_guess() {
    let dir = tempfile::tempdir().unwrap();
    let jar = zip_bytes(vec![Entry::Deflated("a/B.class", vec![1, 2, 3])]);
    let f = scan(dir.path(), "foo-bar-1.2.3.jar", &jar);
    assert_eq!(
        coords(&f),
        vec![t("foo-bar", "1.2.3", "/foo-bar-1.2.3.jar", "filename")]
    );
    assert_eq!(f.packages[0].purl, None);
    // No version anywhere: nothing to report, and nothing wrong either.
    let f2 = scan(dir.path(), "tools.jar", &jar);
    assert!(f2.packages.is_empty() && f2.errors.is_empty());
}

#[test]
fn broken_archives_are_scan_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan(dir.path(), "broken.jar", b"PK\x03\x04 this is not a zip");
    assert!(f.packages.is_empty());
    assert_eq!(f.errors.len(), 1);
    assert_eq!(f.errors[0].scanner, "jvm");
    assert_eq!(f.errors[0].path, "/broken.jar");
}

#[test]
fn highly_compressed_nested_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // 40 MiB of zeros deflates to ~40 KiB: over the in-memory cap and the ratio cap.
    let (p, d) = pom("com.example", "outer", "1");
    let outer = zip_bytes(vec![
        Entry::Deflated(&p, d),
        Entry::Deflated("lib/bomb-1.jar", vec![0u8; 40 * 1024 * 1024]),
    ]);
    let f = scan(dir.path(), "outer-1.jar", &outer);
    assert_eq!(
        coords(&f),
        vec![t(
            "com.example:outer",
            "1",
            "/outer-1.jar",
            "pom.properties"
        )]
    );
    assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
    assert_eq!(f.errors[0].path, "/outer-1.jar!/lib/bomb-1.jar");
    assert!(f.errors[0].error.contains("limit"), "{}", f.errors[0].error);
}
