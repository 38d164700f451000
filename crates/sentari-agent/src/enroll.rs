//! Enrollment: make the device key, send a CSR with the enrollment token, check what comes back,
//! and keep the identity under `<data>/certs`.
//!
//! The private key is generated here and never sent anywhere. The returned device certificate
//! must be signed by the returned CA, and when the operator gave `--ca-fingerprint` that CA must
//! have exactly that fingerprint; otherwise nothing is written, so a man in the middle cannot
//! plant its own CA in the agent.

use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sentari_client::agent::{AgentClient, AgentError, DeviceIdentity, ServerTrust, fingerprint};
use sentari_proto::agent::{RegisterRequest, RegisterResponse};
use time::OffsetDateTime;

use crate::files::{make_private_dir, write_private_atomic};

/// Why enrollment or loading the identity failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Key or CSR generation failed.
    #[error("cannot create the device key: {0}")]
    Key(String),
    /// The server refused or could not be reached.
    #[error(transparent)]
    Server(#[from] AgentError),
    /// The returned certificates do not check out.
    #[error("the server's answer is not trustworthy: {0}")]
    Verify(String),
    /// Files could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The agent has not enrolled yet.
    #[error(
        "this agent is not enrolled: run sentari-agent --server-url URL --enroll-token TOKEN first"
    )]
    NotEnrolled,
}

/// The files of the device identity under `<data>/certs`.
#[derive(Debug, Clone)]
pub struct CertPaths {
    /// `<data>/certs`.
    pub dir: PathBuf,
}

impl CertPaths {
    /// For a data directory.
    pub fn new(data_dir: &Path) -> Self {
        CertPaths {
            dir: data_dir.join("certs"),
        }
    }
    /// The device certificate.
    pub fn device_cert(&self) -> PathBuf {
        self.dir.join("device.pem")
    }
    /// The device key.
    pub fn device_key(&self) -> PathBuf {
        self.dir.join("device.key")
    }
    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// The server URL and device id, as `key=value` lines.
    pub fn state(&self) -> PathBuf {
        self.dir.join("enrollment")
    }
}

/// A stored enrollment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The server the agent enrolled with.
    pub server_url: String,
    /// The device id.
    pub device_id: String,
    /// Certificate and key.
    pub identity: DeviceIdentity,
    /// The CA PEM.
    pub ca_pem: String,
}

impl Enrolled {
    /// The end of the device certificate's validity.
    pub fn not_after(&self) -> Option<OffsetDateTime> {
        let der = CertificateDer::from_pem_slice(self.identity.cert_pem.as_bytes()).ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
        Some(cert.validity().not_after.to_datetime())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnrollError + '_ {
    move |source| EnrollError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A fresh P-256 key and a CSR for it; returns (key PEM, CSR PEM).
pub fn new_key_and_csr(hostname: &str) -> Result<(String, String), EnrollError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| EnrollError::Key(e.to_string()))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, hostname);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|e| EnrollError::Key(e.to_string()))?;
    Ok((key.serialize_pem(), csr))
}

/// Checks that `cert_pem` is signed by `ca_pem`, and that the CA matches `pin` when given.
pub fn verify_chain(cert_pem: &str, ca_pem: &str, pin: Option<&str>) -> Result<(), EnrollError> {
    let v = |s: String| EnrollError::Verify(s);
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| v(format!("CA certificate: {e}")))?;
    let dev_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| v(format!("device certificate: {e}")))?;
    if let Some(pin) = pin
        && fingerprint(&ca_der) != pin
    {
        return Err(v(format!(
            "the server's CA has fingerprint {}, not the pinned {pin}",
            fingerprint(&ca_der)
        )));
    }
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).map_err(|e| v(e.to_string()))?;
    let (_, dev) = x509_parser::parse_x509_certificate(&dev_der).map_err(|e| v(e.to_string()))?;
    if dev.issuer() != ca.subject() {
        return Err(v(
            "the device certificate was not issued by the returned CA".into(),
        ));
    }
    dev.verify_signature(Some(ca.public_key())).map_err(|e| {
        v(format!(
            "the device certificate's signature does not verify: {e}"
        ))
    })?;
    Ok(())
}

/// What the agent says about its machine when it enrolls.
#[derive(Debug, Clone)]
pub struct MachineFacts {
    /// Host name.
    pub hostname: String,
    /// Machine id.
    pub machine_id: String,
    /// Operating system.
    pub os: String,
    /// Architecture.
    pub arch: String,
}

/// Facts about this machine; `machine_id` from `/etc/machine-id` unless given.
pub fn machine_facts(data_dir: &Path, machine_id: Option<&str>) -> MachineFacts {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let machine_id = machine_id
        .map(str::to_owned)
        .or_else(|| {
            std::fs::read_to_string("/etc/machine-id")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| {
            // No platform id: keep a random one in the data directory so re-enrolling this
            // installation still finds its device.
            let path = data_dir.join("machine_id");
            if let Ok(s) = std::fs::read_to_string(&path)
                && !s.trim().is_empty()
            {
                return s.trim().to_owned();
            }
            let id = uuid::Uuid::new_v4().simple().to_string();
            let _ = write_private_atomic(&path, id.as_bytes());
            id
        });
    MachineFacts {
        hostname,
        machine_id,
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
    }
}

/// Enrolls with the server and writes `<data>/certs`.
pub async fn enroll(
    server_url: &str,
    token: &str,
    pin: Option<&str>,
    data_dir: &Path,
    facts: &MachineFacts,
    proxy: &sentari_client::agent::ProxySettings,
) -> Result<(Enrolled, RegisterResponse), EnrollError> {
    let (key_pem, csr) = new_key_and_csr(&facts.hostname)?;
    let client = AgentClient::new(
        server_url,
        &ServerTrust::Pinned(pin.map(str::to_owned)),
        None,
        proxy,
        std::time::Duration::from_secs(60),
    )?;
    let resp = client
        .register(&RegisterRequest {
            enrollment_token: token.to_owned(),
            hostname: facts.hostname.clone(),
            machine_id: facts.machine_id.clone(),
            os: facts.os.clone(),
            arch: facts.arch.clone(),
            agent_version: crate::AGENT_VERSION.to_owned(),
            csr,
        })
        .await?;
    verify_chain(&resp.device_cert, &resp.ca_cert, pin)?;
    let enrolled = Enrolled {
        server_url: server_url.trim_end_matches('/').to_owned(),
        device_id: resp.device_id.to_string(),
        identity: DeviceIdentity {
            cert_pem: resp.device_cert.clone(),
            key_pem,
        },
        ca_pem: resp.ca_cert.clone(),
    };
    save(data_dir, &enrolled)?;
    Ok((enrolled, resp))
}

/// Writes the identity; the key first, the state file last, so a crash in between leaves the
/// agent "not enrolled" rather than holding a certificate without its key.
pub fn save(data_dir: &Path, e: &Enrolled) -> Result<(), EnrollError> {
    let p = CertPaths::new(data_dir);
    make_private_dir(&p.dir).map_err(io(&p.dir))?;
    write_private_atomic(&p.device_key(), e.identity.key_pem.as_bytes())
        .map_err(io(&p.device_key()))?;
    write_private_atomic(&p.device_cert(), e.identity.cert_pem.as_bytes())
        .map_err(io(&p.device_cert()))?;
    write_private_atomic(&p.ca(), e.ca_pem.as_bytes()).map_err(io(&p.ca()))?;
    let state = format!("server_url={}\ndevice_id={}\n", e.server_url, e.device_id);
    write_private_atomic(&p.state(), state.as_bytes()).map_err(io(&p.state()))?;
    Ok(())
}

/// Reads the stored identity.
pub fn load(data_dir: &Path) -> Result<Enrolled, EnrollError> {
    let p = CertPaths::new(data_dir);
    let read = |path: PathBuf| -> Result<String, EnrollError> {
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(EnrollError::NotEnrolled),
            Err(source) => Err(EnrollError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    };
    let state = read(p.state())?;
    let get = |k: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    Ok(Enrolled {
        server_url: get("server_url"),
        device_id: get("device_id"),
        identity: DeviceIdentity {
            cert_pem: read(p.device_cert())?,
            key_pem: read(p.device_key())?,
        },
        ca_pem: read(p.ca())?,
    })
}
