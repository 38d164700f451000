//! The agent transport end to end: the real `sentari` server and the real `sentari-agent`
//! binary over real TLS on loopback (issue 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{Env, Server, eventually, log_with};
use rcgen::{CertificateParams, KeyPair};
use sentari_client::agent::{AgentClient, AgentError, DeviceIdentity, ProxySettings, ServerTrust};
use sentari_proto::agent::RegisterRequest;
use sentari_server::pki;
use sentari_store::{Store, StoreOptions};

const SECRET: &str = "9f3c1e7a0b5d4c2e8f6a9b1c3d5e7f90a2b4c6d8e0f1a3b5";
pub(crate) const TOKEN: &str = "static-enrollment-token-for-tests";

/// Builds the agent binary once (it lives in another package of the workspace).
fn agent_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let server = PathBuf::from(env!("CARGO_BIN_EXE_sentari"));
        let profile_dir = server.parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "sentari-agent", "--bin", "sentari-agent"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building sentari-agent failed");
        profile_dir.join("sentari-agent")
    })
    .clone()
}

fn start(env: &Env, extra: &[(&str, &str)]) -> Server {
    let mut vars: Vec<(&str, &str)> = vec![
        ("SENTARI_SECRET_KEY", SECRET),
        ("SENTARI_ENROLLMENT_TOKEN", TOKEN),
        ("SENTARI_HTTP_TLS", "on"),
    ];
    vars.extend_from_slice(extra);
    let server = env.start("serve", &vars);
    wait_ready(env, &server);
    server
}

/// The banner comes before the database is reached: wait for `/api/ready` over HTTPS.
fn wait_ready(env: &Env, server: &Server) {
    let ca = ca_dir(env).join("ca.pem");
    let url = format!("{}/api/ready", server.url());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if curl_https(&ca, &url).0 == "200" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server never became ready");
}

pub(crate) fn ca_dir(env: &Env) -> PathBuf {
    env.data_dir().join("ca")
}

fn ca_fingerprint(env: &Env) -> String {
    let pem = std::fs::read_to_string(ca_dir(env).join("ca.pem")).unwrap();
    pki::CaCert::from_pem(&pem).unwrap().fingerprint
}

struct Agent {
    data: tempfile::TempDir,
    root: tempfile::TempDir,
}

impl Agent {
    fn new() -> Agent {
        Agent {
            data: tempfile::tempdir().unwrap(),
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, machine_id: &str) -> Command {
        let mut c = Command::new(agent_bin());
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("--data-dir")
            .arg(self.data.path())
            .arg("--scan-root")
            .arg(self.root.path())
            .arg("--machine-id")
            .arg(machine_id);
        c
    }

    fn certs(&self) -> PathBuf {
        self.data.path().join("certs")
    }

    fn identity(&self) -> DeviceIdentity {
        DeviceIdentity {
            cert_pem: std::fs::read_to_string(self.certs().join("device.pem")).unwrap(),
            key_pem: std::fs::read_to_string(self.certs().join("device.key")).unwrap(),
        }
    }

    fn spooled(&self) -> usize {
        std::fs::read_dir(self.data.path().join("spool"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

async fn store(env: &Env) -> Store {
    Store::connect(&env.database_url, &StoreOptions::default())
        .await
        .unwrap()
}

pub(crate) fn client(url: &str, ca: &Path, id: Option<&DeviceIdentity>) -> AgentClient {
    let trust = ServerTrust::Ca(std::fs::read_to_string(ca).unwrap());
    AgentClient::new(
        url,
        &trust,
        id,
        &ProxySettings::default(),
        Duration::from_secs(120),
    )
    .unwrap()
}

fn csr_p256() -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap()
}

pub(crate) fn register_req(token: &str, machine: &str, csr: String) -> RegisterRequest {
    RegisterRequest {
        enrollment_token: token.into(),
        hostname: "test-host".into(),
        machine_id: machine.into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        agent_version: "test".into(),
        csr,
    }
}

pub(crate) fn status_of(e: &AgentError) -> (u16, String) {
    match e {
        AgentError::Status { status, body, .. } => (
            *status,
            body.as_ref().map(|b| b.error.clone()).unwrap_or_default(),
        ),
        other => panic!("expected an HTTP error, got {other}"),
    }
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_uploads_and_the_ca_key_is_openssl_readable() {
    let env = Env::new().await;
    // The default key type (RSA-4096) for this one test.
    let server = start(&env, &[("SENTARI_CA_KEY_TYPE", "rsa-4096")]);
    let agent_url = server.agent.clone().expect("agent listener in the banner");
    assert!(server.url().starts_with("https://"), "{:?}", server.banner);
    let fp = ca_fingerprint(&env);

    let agent = Agent::new();
    let out = agent
        .cmd("machine-e2e")
        .args([
            "--server-url",
            &agent_url,
            "--enroll-token",
            TOKEN,
            "--ca-fingerprint",
            &fp,
            "--once",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The identity files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["device.key", "device.pem", "ca.pem"] {
            let mode = std::fs::metadata(agent.certs().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let mode = std::fs::metadata(ca_dir(&env).join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let s = store(&env).await;
    let devices = s.list_devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    let scans = s.list_scans(devices[0].id).await.unwrap();
    assert_eq!(scans.len(), 1, "the scan is stored once");
    assert_eq!(agent.spooled(), 0);
    // The worker of this `serve` process ingested the upload its gateway had parsed, without
    // decoding the stored copy again (`ingest::handoff`), and applied it.
    let metrics = server.metrics.clone().unwrap();
    eventually(
        Duration::from_secs(20),
        "the ingest handoff hit",
        || async {
            let c = sentari_client::Client::new(&metrics).unwrap();
            let (_, _, body) = c.get_bytes("/metrics", &[]).await.ok()?;
            String::from_utf8(body)
                .ok()?
                .contains("sentari_ingest_handoff_total{outcome=\"hit\"} 1")
                .then_some(())
        },
    )
    .await;
    let stored = eventually(Duration::from_secs(20), "the scan applied", || async {
        let row = s.scan_for_ingest(scans[0].scan_id, false).await.ok()??;
        (row.status == "applied").then_some(row)
    })
    .await;
    assert_eq!(stored.device_id, devices[0].id);

    // openssl agrees on the chain and on the key's encryption.
    let v = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(agent.certs().join("ca.pem"))
        .arg(agent.certs().join("device.pem"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let key = ca_dir(&env).join("ca.key");
    let ok = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key)
        .arg("-passin")
        .arg(format!("pass:{SECRET}"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key)
        .args(["-passin", "pass:wrong-passphrase"])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    // The web listener speaks HTTPS with a certificate from the same CA.
    let curl = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(ca_dir(&env).join("ca.pem"))
        .arg(format!("{}/api/health", server.url()))
        .output();
    if let Ok(curl) = curl {
        assert!(
            curl.status.success(),
            "{}",
            String::from_utf8_lossy(&curl.stderr)
        );
        assert!(String::from_utf8_lossy(&curl.stdout).contains("\"status\""));
    }

    // A repeated upload of the same scan answers the same and stores nothing twice.
    let c = client(
        &agent_url,
        &agent.certs().join("ca.pem"),
        Some(&agent.identity()),
    );
    let scan = sentari_agent_like_scan();
    let body = serde_json::to_vec(&scan).unwrap();
    let a = c.upload_scan(body.clone(), "identity").await.unwrap();
    let b = c.upload_scan(body, "identity").await.unwrap();
    assert_eq!(a, b);
    assert_eq!(s.list_scans(devices[0].id).await.unwrap().len(), 2);
    // An invalid field is a 400 naming the field.
    let mut bad = serde_json::to_value(&scan).unwrap();
    bad["packages"] = serde_json::json!([{"ecosystem": "PyPI", "name": "x"}]);
    let e = c
        .upload_scan(serde_json::to_vec(&bad).unwrap(), "identity")
        .await
        .unwrap_err();
    match e {
        AgentError::Status {
            status: 400,
            body: Some(b),
            ..
        } => {
            assert!(
                b.field.unwrap_or_default().starts_with("packages"),
                "{}",
                b.detail
            )
        }
        other => panic!("{other}"),
    }
    // Re-enrolling the same machine keeps the device and its history.
    let again = agent
        .cmd("machine-e2e")
        .args([
            "--server-url",
            &agent_url,
            "--enroll-token",
            TOKEN,
            "--ca-fingerprint",
            &fp,
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    let after = s.list_devices().await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, devices[0].id);
    assert_eq!(s.list_scans(after[0].id).await.unwrap().len(), 2);
    // A wrong pin is refused before anything is written.
    let other = Agent::new();
    let pinned = other
        .cmd("machine-pin")
        .args([
            "--server-url",
            &agent_url,
            "--enroll-token",
            TOKEN,
            "--ca-fingerprint",
            &"ab".repeat(32),
        ])
        .output()
        .unwrap();
    assert!(!pinned.status.success());
    assert!(!other.certs().join("device.pem").exists());
    s.close().await;
}

pub(crate) fn sentari_agent_like_scan() -> sentari_proto::agent::ScanUpload {
    serde_json::from_value(serde_json::json!({
        "scan_id": uuid::Uuid::new_v4(),
        "scanned_at": "2026-01-01T00:00:00Z",
        "agent_version": "test",
        "duration_ms": 5,
        "host": {"hostname": "h", "machine_id": "m", "os_release": {"id": "debian"}, "kernel": "", "arch": "x86_64", "host_kind": "vm"},
        "packages": [{"ecosystem": "PyPI", "name": "requests", "version": "2.31.0", "install_path": "/x", "env_type": "system"}],
        "runtimes": [],
        "errors": []
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_bad_csrs_are_refused_and_logged() {
    let env = Env::new().await;
    let server = start(&env, &[]);
    let url = server.agent.clone().unwrap();
    let ca = ca_dir(&env).join("ca.pem");
    let c = client(&url, &ca, None);
    let tok = |args: &[&str]| {
        let out = env.run(
            &[&["enroll-token", "create"], args].concat(),
            &[("SENTARI_SECRET_KEY", SECRET)],
        );
        assert!(out.status.success(), "{}", out.stderr);
        out.stdout.trim().to_owned()
    };

    let e = c
        .register(&register_req("nope", "m-wrong", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (401, "invalid_token".into()));

    let short = tok(&["--ttl", "1s"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = c
        .register(&register_req(&short, "m-exp", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (403, "token_expired".into()));

    let revoked = tok(&[]);
    let list = env.run(&["enroll-token", "list"], &[("SENTARI_SECRET_KEY", SECRET)]);
    let id = list
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // The newest token is listed first: the one just made.
    assert!(
        env.run(&["enroll-token", "revoke", &id], &[])
            .status
            .success()
    );
    let e = c
        .register(&register_req(&revoked, "m-rev", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (403, "token_revoked".into()));

    let once = tok(&["--max-uses", "1", "--tag", "site:lab"]);
    c.register(&register_req(&once, "m-once-1", csr_p256()))
        .await
        .unwrap();
    let e = c
        .register(&register_req(&once, "m-once-2", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (403, "token_exhausted".into()));

    // An RSA key, and a CSR whose signature does not verify.
    let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let rsa_csr = CertificateParams::default()
        .serialize_request(&rsa)
        .unwrap()
        .pem()
        .unwrap();
    let e = c
        .register(&register_req(TOKEN, "m-rsa", rsa_csr))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, 400);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut der = CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .der()
        .to_vec();
    let n = der.len();
    der[n - 3] ^= 0x55;
    let pem = pem_encode("CERTIFICATE REQUEST", &der);
    let e = c
        .register(&register_req(TOKEN, "m-sig", pem))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, 400);

    let sec = log_with(
        &env.data_dir(),
        "security",
        &[
            "unknown token",
            "expired token",
            "revoked token",
            "over-used token",
        ],
    )
    .await;
    assert!(sec.contains("127.0.0.1"), "{sec}");
    drop(server);
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    let body: Vec<String> = s
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_expired_and_deleted_certificates_are_rejected() {
    let env = Env::new().await;
    let server = start(&env, &[]);
    let url = server.agent.clone().unwrap();
    let ca_pem = ca_dir(&env).join("ca.pem");
    let c = client(&url, &ca_pem, None);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let reg = c
        .register(&register_req(TOKEN, "m-del", csr.clone()))
        .await
        .unwrap();
    let id = DeviceIdentity {
        cert_pem: reg.device_cert.clone(),
        key_pem: key.serialize_pem(),
    };
    let authed = client(&url, &ca_pem, Some(&id));
    authed.config().await.unwrap();

    // Without a certificate: 401.
    let e = c.config().await.unwrap_err();
    assert_eq!(status_of(&e).0, 401);

    // A certificate from another CA fails the handshake.
    let other = tempfile::tempdir().unwrap();
    let foreign_ca = pki::create(
        &pki::CaPaths {
            dir: other.path().join("ca"),
        },
        "x-pass",
        pki::CaKeyType::EcdsaP384,
    )
    .unwrap();
    let foreign = foreign_ca
        .sign_device_csr(&csr, reg.device_id, time::Duration::days(1))
        .unwrap();
    let fc = client(
        &url,
        &ca_pem,
        Some(&DeviceIdentity {
            cert_pem: foreign.pem,
            key_pem: key.serialize_pem(),
        }),
    );
    assert!(matches!(fc.config().await, Err(AgentError::Transport(_))));

    // An expired certificate from the right CA fails the handshake too.
    let real_ca = pki::load(&pki::CaPaths { dir: ca_dir(&env) }, SECRET).unwrap();
    let expired = real_ca
        .sign_device_csr(&csr, reg.device_id, time::Duration::minutes(-10))
        .unwrap();
    let ec = client(
        &url,
        &ca_pem,
        Some(&DeviceIdentity {
            cert_pem: expired.pem,
            key_pem: key.serialize_pem(),
        }),
    );
    assert!(matches!(ec.config().await, Err(AgentError::Transport(_))));

    // Deleting the device revokes its certificate at once.
    let s = store(&env).await;
    assert!(s.delete_device(reg.device_id).await.unwrap());
    let e = authed.config().await.unwrap_err();
    assert_eq!(status_of(&e), (403, "device_revoked".into()));
    let sec = log_with(
        &env.data_dir(),
        "security",
        &["certificate_rejected", "revoked_device"],
    )
    .await;
    assert!(!sec.is_empty());
    s.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_and_huge_bodies_get_413_without_memory_growth() {
    let env = Env::new().await;
    let server = start(&env, &[]);
    let url = server.agent.clone().unwrap();
    let ca_pem = ca_dir(&env).join("ca.pem");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let reg = client(&url, &ca_pem, None)
        .register(&register_req(TOKEN, "m-bomb", csr))
        .await
        .unwrap();
    let c = client(
        &url,
        &ca_pem,
        Some(&DeviceIdentity {
            cert_pem: reg.device_cert,
            key_pem: key.serialize_pem(),
        }),
    );
    c.config().await.unwrap();
    let pid = server.child.id();
    let baseline = rss_kib(pid);

    // 1 GiB of zeros as 128 concatenated gzip members of 8 MiB each (about 1 MB on the wire).
    let member = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 8 << 20]).unwrap();
        enc.finish().unwrap()
    };
    let bomb: Vec<u8> = std::iter::repeat_n(member.as_slice(), 128)
        .flatten()
        .copied()
        .collect();
    let e = c.upload_scan(bomb, "gzip").await.unwrap_err();
    assert_eq!(status_of(&e).0, 413);
    let after_bomb = rss_kib(pid);

    let plain = vec![b' '; 200 << 20];
    let e = c.upload_scan(plain, "identity").await.unwrap_err();
    assert_eq!(status_of(&e).0, 413);
    let after_plain = rss_kib(pid);
    let peak = after_bomb.max(after_plain);
    assert!(
        peak.saturating_sub(baseline) < 100 * 1024,
        "RSS grew from {baseline} KiB to {peak} KiB"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_spool_while_the_server_is_down_and_arrive_once_in_order() {
    let env = Env::new().await;
    let fast = [("SENTARI_AGENT_SCAN_INTERVAL_S", "2")];
    let server = start(&env, &fast);
    let url = server.agent.clone().unwrap();
    let agent_bind = url.trim_start_matches("https://").to_owned();
    let fp = ca_fingerprint(&env);
    let agent = Agent::new();
    let enrolled = agent
        .cmd("m-spool")
        .args([
            "--server-url",
            &url,
            "--enroll-token",
            TOKEN,
            "--ca-fingerprint",
            &fp,
        ])
        .output()
        .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let mut daemon = agent
        .cmd("m-spool")
        .args(["--serve", "--retry-max", "2"])
        .env("SENTARI_SCANNER_INTERVAL", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = store(&env).await;
    let device = eventually(Duration::from_secs(120), "first scan", || async {
        let d = s.list_devices().await.ok()?.into_iter().next()?;
        (!s.list_scans(d.id).await.ok()?.is_empty()).then_some(d)
    })
    .await;
    server.terminate(Duration::from_secs(30));
    eventually(
        Duration::from_secs(120),
        "scans spooled while the server is down",
        || async { (agent.spooled() >= 3).then_some(()) },
    )
    .await;
    let before = s.list_scans(device.id).await.unwrap().len();
    let server = start(
        &env,
        &[fast[0], ("SENTARI_AGENT_BIND", agent_bind.as_str())],
    );
    eventually(Duration::from_secs(180), "spool drained", || async {
        (agent.spooled() == 0 && s.list_scans(device.id).await.ok()?.len() >= before + 3)
            .then_some(())
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let scans = s.list_scans(device.id).await.unwrap();
    let mut ids: Vec<_> = scans.iter().map(|r| r.scan_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), scans.len(), "no scan stored twice");
    // Delivery order (received) is scan order.
    for w in scans.windows(2) {
        assert!(
            w[0].scanned_at <= w[1].scanned_at,
            "out of order: {scans:?}"
        );
    }
    s.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencrypt_then_restart_with_the_new_passphrase_keeps_agents_working() {
    let env = Env::new().await;
    let server = start(&env, &[]);
    let url = server.agent.clone().unwrap();
    let bind = url.trim_start_matches("https://").to_owned();
    let fp = ca_fingerprint(&env);
    let agent = Agent::new();
    let out = agent
        .cmd("m-rot")
        .args([
            "--server-url",
            &url,
            "--enroll-token",
            TOKEN,
            "--ca-fingerprint",
            &fp,
            "--once",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.terminate(Duration::from_secs(30));

    let new_pass = "0e1d2c3b4a5968778695a4b3c2d1e0f0aa55bb66cc77dd88";
    let r = env.run(
        &[
            "ca",
            "reencrypt",
            "--from-env",
            "OLD_PASS",
            "--to-env",
            "NEW_PASS",
        ],
        &[("OLD_PASS", SECRET), ("NEW_PASS", new_pass)],
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(std::fs::read_dir(ca_dir(&env)).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("ca.key.bak-")
    }));

    // The old passphrase no longer opens the CA: degraded, never replaced.
    let ca_before = std::fs::read(ca_dir(&env).join("ca.pem")).unwrap();
    let degraded = start(&env, &[("SENTARI_AGENT_BIND", bind.as_str())]);
    let c = client(&url, &ca_dir(&env).join("ca.pem"), None);
    let e = c
        .register(&register_req(TOKEN, "m-new", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, 503);
    assert_eq!(
        std::fs::read(ca_dir(&env).join("ca.pem")).unwrap(),
        ca_before
    );
    let lines = format!(
        "{}\n{}",
        degraded.banner.join("\n"),
        degraded.drain().join("\n")
    );
    assert!(lines.contains("CA initialisation failed"), "{lines}");
    // The dashboard and API keep serving, and health says what is wrong.
    let (code, body) = curl_https(
        &ca_dir(&env).join("ca.pem"),
        &format!("{}/api/health", degraded.url()),
    );
    assert!(body.contains("ca_degraded"), "{code} {body}");
    degraded.terminate(Duration::from_secs(30));

    let server = start(
        &env,
        &[
            ("SENTARI_CA_PASSPHRASE_KEY", new_pass),
            ("SENTARI_AGENT_BIND", bind.as_str()),
        ],
    );
    let out = agent.cmd("m-rot").arg("--once").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.register(&register_req(TOKEN, "m-new", csr_p256()))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(ca_dir(&env).join("ca.pem")).unwrap(),
        ca_before
    );
    drop(server);
}

fn curl_https(ca: &Path, url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_owned(), body.to_owned())
}

pub(crate) fn identity(key: &KeyPair, cert_pem: &str) -> DeviceIdentity {
    DeviceIdentity {
        cert_pem: cert_pem.to_owned(),
        key_pem: key.serialize_pem(),
    }
}

pub(crate) fn csr_of(key: &KeyPair) -> String {
    CertificateParams::default()
        .serialize_request(key)
        .unwrap()
        .pem()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_opens_near_expiry_keeps_an_overlap_and_registration_is_rate_limited() {
    let env = Env::new().await;
    let server = start(&env, &[("SENTARI_AGENT_REGISTER_RATE_PER_MINUTE", "4")]);
    let url = server.agent.clone().unwrap();
    let ca_pem = ca_dir(&env).join("ca.pem");
    let anon = client(&url, &ca_pem, None);

    let key1 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let reg = anon
        .register(&register_req(TOKEN, "m-renew", csr_of(&key1)))
        .await
        .unwrap();

    // A fresh 365-day certificate is not due for renewal: a clear 409, nothing changed.
    let c1 = client(&url, &ca_pem, Some(&identity(&key1, &reg.device_cert)));
    let e = c1
        .renew(&sentari_proto::agent::RenewRequest { csr: csr_p256() })
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (409, "renewal_not_due".into()));

    // Give the device a certificate that expires in ten days, as if a year had passed.
    let ca = pki::load(&pki::CaPaths { dir: ca_dir(&env) }, SECRET).unwrap();
    let key2 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let short = ca
        .sign_device_csr(&csr_of(&key2), reg.device_id, time::Duration::days(10))
        .unwrap();
    let s = store(&env).await;
    assert!(
        s.renew_device_cert(
            reg.device_id,
            &sentari_store::DeviceCert {
                fingerprint: short.fingerprint.clone(),
                serial: short.serial.clone(),
                not_after: short.not_after,
            },
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
    );
    let c2 = client(&url, &ca_pem, Some(&identity(&key2, &short.pem)));
    c2.config().await.unwrap();

    // Now within 30 days of expiry: renewal issues a 365-day certificate for the same device.
    let key3 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let renewed = c2
        .renew(&sentari_proto::agent::RenewRequest { csr: csr_of(&key3) })
        .await
        .unwrap();
    let summary = pki::summarize(&pem_der(&renewed.device_cert)).unwrap();
    let days = (summary.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((363..=365).contains(&days), "renewed for {days} days");
    assert!(
        summary.subject.contains(&reg.device_id.to_string()),
        "{}",
        summary.subject
    );
    let c3 = client(&url, &ca_pem, Some(&identity(&key3, &renewed.device_cert)));
    c3.config().await.unwrap();
    // The replaced certificate keeps working during the overlap, so a crash between the
    // renewal and saving the new certificate cannot lock the agent out.
    c2.config().await.unwrap();
    let device = s.get_device(reg.device_id).await.unwrap().unwrap();
    assert_eq!(device.id, reg.device_id);
    s.close().await;

    // Registration: four attempts per minute per address (one used above), whatever their
    // outcome; the fifth is refused with 429 and a Retry-After.
    for i in 0..3 {
        let e = anon
            .register(&register_req(
                "wrong-token",
                &format!("m-rl-{i}"),
                csr_p256(),
            ))
            .await
            .unwrap_err();
        assert_eq!(status_of(&e).0, 401);
    }
    let e = anon
        .register(&register_req(TOKEN, "m-rl-last", csr_p256()))
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), (429, "rate_limited".into()));
    assert!(e.retry_after().is_some(), "{e}");
    let sec = log_with(&env.data_dir(), "security", &["rate limited"]).await;
    assert!(sec.contains("127.0.0.1"), "{sec}");
    drop(server);
}

/// The DER of a PEM certificate.
fn pem_der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_certificate_replaces_the_ca_issued_one_on_the_web_listener() {
    let env = Env::new().await;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("operator.pem");
    let key_path = dir.path().join("operator.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let server = env.start(
        "serve",
        &[
            ("SENTARI_SECRET_KEY", SECRET),
            ("SENTARI_HTTP_TLS", "on"),
            ("SENTARI_TLS_CERT", cert_path.to_str().unwrap()),
            ("SENTARI_TLS_KEY", key_path.to_str().unwrap()),
        ],
    );
    // Trusting only the operator's certificate must be enough to reach the web listener.
    let ready = eventually(
        Duration::from_secs(60),
        "HTTPS with the operator cert",
        || {
            let (code, _) = curl_https(&cert_path, &format!("{}/api/ready", server.url()));
            async move { (code == "200").then_some(()) }
        },
    )
    .await;
    let () = ready;
    // The internal CA does not vouch for the web listener any more.
    let (code, _) = curl_https(
        &ca_dir(&env).join("ca.pem"),
        &format!("{}/api/ready", server.url()),
    );
    assert_ne!(code, "200");
    drop(server);
}
