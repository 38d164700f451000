//! The matching commands end to end: the built `sentari` binary with real shared data.
//!
//! `SENTARI_BIN` may point at another build of the binary (useful while the command line is
//! being wired); by default the one Cargo built for this test is used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn bin() -> String {
    std::env::var("SENTARI_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sentari").to_owned())
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env(
            "SENTARI_DATA_DIR",
            std::env::temp_dir().join("sentari-matching-cli"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn vercmp_pairs() {
    for (eco, a, b, want) in [
        ("Debian", "1.0~rc1", "1.0", "<"),
        ("Debian:12", "1:0.1", "9.9", ">"),
        ("PyPI", "1.0RC1", "1.0rc1", "="),
        (
            "AlmaLinux:9",
            "5.14.0-427.31.1.el9_4",
            "5.14.0-427.28.1.el9_4",
            ">",
        ),
        ("Alpine", "1.0_rc1", "1.0", "<"),
        ("Go", "v1.2.3", "1.2.3+incompatible", "="),
        ("npm", "1.0.0-alpha.1", "1.0.0-alpha.beta", "<"),
        ("Maven", "1.0-SNAPSHOT", "1.0", "<"),
        ("rpm", "1.0^git1", "1.0.1", "<"),
        ("fedora", "1.0~rc1", "1.0", "<"),
    ] {
        let o = run(&["vercmp", eco, a, b], "");
        assert!(o.status.success(), "{eco} {a} {b}: {o:?}");
        assert_eq!(stdout(&o), format!("{want}\n"), "{eco} {a} {b}");
    }
    let o = run(&["vercmp", "PyPI", "not a version", "1"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("error: "));
    let o = run(&["vercmp", "Hackage", "1", "2"], "");
    assert!(!o.status.success());
}

#[test]
fn vercmp_stdin_continues_after_errors() {
    let o = run(
        &["vercmp", "dpkg"],
        "1.0\t1.0~rc1\n1:\t1\nno tab\n2.30-1\t2.4-1\n",
    );
    assert!(o.status.success());
    let out = stdout(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l.len(), 4);
    assert_eq!(l[0], ">");
    assert!(l[1].starts_with("error: "));
    assert!(l[2].starts_with("error: "));
    assert_eq!(l[3], ">");
}

#[test]
fn osv_query_real_bundles() {
    let pypi = format!("{DATA}/osv/PyPI/all.zip");
    let alma = format!("{DATA}/osv/AlmaLinux/all.zip");
    let input = [
        r#"{"ecosystem":"PyPI","name":"Django","version":"3.1.5"}"#,
        r#"{"ecosystem":"PyPI","name":"django","version":"3.1.6","extra":1}"#,
        r#"{"ecosystem":"AlmaLinux:9","name":"kernel","version":"5.14.0-427.28.1.el9_4"}"#,
        r#"{"ecosystem":"Hackage","name":"x","version":"1"}"#,
        r#"{"ecosystem":"PyPI","name":"django","version":"not-a-version"}"#,
        r#"not json"#,
    ]
    .join("\n");
    let o = run(
        &["osv", "query", "--bundle", &pypi, "--bundle", &alma, "-q"],
        &input,
    );
    assert!(o.status.success(), "{o:?}");
    let out = lines(&o);
    assert_eq!(out.len(), 6);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["vulns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&out[0]).contains(&"PYSEC-2021-9".to_owned()));
    assert!(!ids(&out[1]).contains(&"PYSEC-2021-9".to_owned()));
    assert_eq!(out[1]["extra"], 1);
    let m = out[0]["vulns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "PYSEC-2021-9")
        .unwrap();
    assert_eq!(m["aliases"][0], "CVE-2021-3281");
    assert_eq!(m["matched"]["comparator"], "pep440");
    assert_eq!(m["matched"]["range_type"], "ECOSYSTEM");
    assert_eq!(m["matched"]["introduced"], "3.1");
    assert_eq!(m["matched"]["fixed"], "3.1.6");
    assert!(ids(&out[2]).contains(&"ALSA-2024:5363".to_owned()));
    assert_eq!(out[3]["status"], "unsupported_ecosystem");
    assert_eq!(out[4]["status"], "unparsable_version");
    assert_eq!(out[5]["status"], "invalid_input");
}

#[test]
fn osv_query_directory_of_ecosystems_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("local.ndjson");
    std::fs::write(
        &nd,
        concat!(
            r#"{"id":"DSA-X","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.15-1~deb12u1"}]}]}]}"#,
            "\n{broken\n"
        ),
    )
    .unwrap();
    let input = [
        r#"{"ecosystem":"Debian:12","name":"openssl","version":"3.0.14-1~deb12u2"}"#,
        r#"{"ecosystem":"Debian:11","name":"openssl","version":"3.0.14-1~deb12u2"}"#,
        r#"{"ecosystem":"Go","name":"github.com/anchore/syft","version":"v0.69.1"}"#,
    ]
    .join("\n");
    let osv_dir = format!("{DATA}/osv");
    let o = run(
        &[
            "osv",
            "query",
            "--bundle",
            nd.to_str().unwrap(),
            "--bundle",
            &osv_dir,
        ],
        &input,
    );
    assert!(o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 unusable"), "{err}");
    let out = lines(&o);
    assert_eq!(out[0]["vulns"][0]["id"], "DSA-X");
    assert_eq!(out[0]["vulns"][0]["matched"]["ecosystem"], "Debian:12");
    assert_eq!(out[1]["vulns"].as_array().unwrap().len(), 0);
    assert!(
        out[2]["vulns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "GO-2023-1533")
    );
}

#[test]
fn osv_query_bad_bundles_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("cut.zip");
    let bytes = std::fs::read(format!("{DATA}/osv/PyPI/all.zip")).unwrap();
    std::fs::write(&z, &bytes[..bytes.len() / 3]).unwrap();
    let o = run(&["osv", "query", "--bundle", z.to_str().unwrap()], "");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut.zip"));
    let o = run(&["osv", "query", "--bundle", "/nonexistent/osv.zip"], "");
    assert!(!o.status.success());
}

#[test]
fn eol_query() {
    let bundle = format!("{DATA}/eol/bundle.ndjson");
    let input = [
        r#"{"product":"python","version":"3.8.20"}"#,
        r#"{"product":"nodejs","version":"v20.11.0"}"#,
        r#"{"product":"eclipse-temurin","version":"1.8.0_392"}"#,
        r#"{"product":"python","version":"1.0"}"#,
    ]
    .join("\n");
    let o = run(
        &["eol", "query", "--bundle", &bundle, "--date", "2024-10-01"],
        &input,
    );
    assert!(o.status.success(), "{o:?}");
    let out = lines(&o);
    assert_eq!(out[0]["cycle"], "3.8");
    assert_eq!(out[0]["eol"], "2024-10-07");
    assert_eq!(out[0]["status"], "eol_soon");
    assert_eq!(out[1]["cycle"], "20");
    assert_eq!(out[1]["status"], "supported");
    assert_eq!(out[2]["cycle"], "8");
    assert_eq!(out[3]["cycle"], serde_json::Value::Null);
    assert_eq!(out[3]["status"], "unknown");
    let o = run(
        &["eol", "query", "--bundle", &bundle, "--date", "tomorrow"],
        "",
    );
    assert!(!o.status.success());
}
