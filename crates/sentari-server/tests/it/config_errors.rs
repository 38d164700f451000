//! Bad configuration: one clear line naming the key, exit status 2, nothing created half-way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::sentari;

fn run(vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = sentari();
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_values_exit_2_with_one_line_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    for (key, value) in [
        ("SENTARI_HTTP_BIND", "not-an-address"),
        ("SENTARI_METRICS_BIND", "127.0.0.1:99999"),
        ("SENTARI_SLOW_REQUEST_MS", "fast"),
        ("SENTARI_ENV", "staging"),
        ("SENTARI_DATABASE_URL", "mysql://root@localhost/x"),
        ("SENTARI_LOG_LEVEL", "info,["),
        ("SENTARI_WORKER_CONCURRENCY", "0"),
    ] {
        let (code, _out, err) = run(&[("SENTARI_DATA_DIR", d), (key, value)]);
        assert_eq!(code, 2, "{key}={value}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "exactly one line for {key}: {err}");
        assert!(lines[0].contains(key), "the line names {key}: {err}");
        assert!(!data.exists(), "nothing created for {key}={value}");
    }
}

#[test]
fn unusable_data_directory_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("occupied");
    std::fs::write(&file, "not a directory").unwrap();
    let (code, _, err) = run(&[("SENTARI_DATA_DIR", file.to_str().unwrap())]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("data directory") && err.contains("not a directory"),
        "{err}"
    );

    let below = file.join("data");
    let (code, _, err) = run(&[("SENTARI_DATA_DIR", below.to_str().unwrap())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("data directory"), "{err}");
}

#[test]
fn production_requires_a_strong_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, _, err) = run(&[("SENTARI_DATA_DIR", d), ("SENTARI_ENV", "production")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("FATAL: SENTARI_SECRET_KEY is not set"),
        "{err}"
    );
    let (code, _, err) = run(&[
        ("SENTARI_DATA_DIR", d),
        ("SENTARI_ENV", "production"),
        ("SENTARI_SECRET_KEY", "changeme"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("FATAL: SENTARI_SECRET_KEY is set to an insecure value"),
        "{err}"
    );
    assert!(!data.exists(), "nothing created when the key is refused");
}

#[test]
fn config_file_errors_name_the_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sentari.toml");
    std::fs::write(&f, "http_bind = 8443\n").unwrap();
    let (code, _, err) = run(&[
        (
            "SENTARI_DATA_DIR",
            dir.path().join("data").to_str().unwrap(),
        ),
        ("SENTARI_CONFIG", f.to_str().unwrap()),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sentari.toml: http_bind"), "{err}");
}
