//! The internal certificate authority (ARCHITECTURE.md §8): creation on first start, loading,
//! signing device and server certificates, and fingerprints.
//!
//! The CA lives in `SENTARI_CA_DIR` (default `<data>/ca`): `ca.pem` is public, `ca.key` is an
//! encrypted PKCS#8 PEM (PBES2, PBKDF2-SHA256, AES-256-CBC) that `openssl pkey -passin` reads,
//! mode 0600. An existing CA is never overwritten: when its key cannot be read the server runs
//! degraded (no enrollment, no renewal) instead of minting a new CA that every enrolled agent
//! would reject.

pub mod keyfile;
pub mod setup;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Validity of a device certificate.
pub const DEVICE_CERT_DAYS: i64 = 365;
/// Validity of the CA certificate.
pub const CA_CERT_DAYS: i64 = 3650;
/// Validity of the server certificate the CA issues for the listeners.
pub const SERVER_CERT_DAYS: i64 = 90;

/// Which key the CA is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaKeyType {
    /// RSA-4096 with SHA-256 signatures (the default).
    Rsa4096,
    /// ECDSA P-384 with SHA-384 signatures.
    EcdsaP384,
}

impl std::str::FromStr for CaKeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rsa-4096" | "rsa4096" | "rsa" => Ok(CaKeyType::Rsa4096),
            "ecdsa-p384" | "p384" | "ecdsa" => Ok(CaKeyType::EcdsaP384),
            _ => Err("expected `rsa-4096` or `ecdsa-p384`".to_owned()),
        }
    }
}

/// Why the CA could not be created, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file could not be decrypted or parsed.
    #[error("cannot read the CA key {path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// Why (wrong passphrase, corrupt file).
        reason: String,
    },
    /// A certificate could not be parsed.
    #[error("invalid certificate: {0}")]
    Certificate(String),
    /// The CA key exists without its certificate, or the other way round.
    #[error("{0}")]
    Incomplete(String),
    /// Certificate generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Why a CSR is refused; each is a 400 for the agent.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// Not PEM or not a CSR.
    #[error("the CSR is not a PEM certificate signing request")]
    Malformed,
    /// The self-signature does not verify.
    #[error("the CSR's signature is invalid")]
    BadSignature,
    /// Not an ECDSA P-256 key.
    #[error("the CSR must be for an ECDSA P-256 key")]
    WrongKeyType,
    /// Signing failed.
    #[error("the certificate could not be signed: {0}")]
    Sign(String),
}

/// Lowercase hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// `AB:CD:…` form of a hex fingerprint, as `openssl x509 -fingerprint -sha256` prints it.
pub fn colon_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Normalises a fingerprint an operator typed (`AB:CD…`, `abcd…`, `sha256:…`) to lowercase hex.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The paths of the CA's files.
#[derive(Debug, Clone)]
pub struct CaPaths {
    /// The directory.
    pub dir: PathBuf,
}

impl CaPaths {
    /// `ca.pem`.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// `ca.key`.
    pub fn key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    /// `server.pem`, the listeners' certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    /// `server.key`, the listeners' key (plain PKCS#8, 0600: the server must read it even when
    /// the CA key cannot be decrypted, so the dashboard keeps working).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The CA public certificate, always available once created.
#[derive(Debug, Clone)]
pub struct CaCert {
    /// PEM text.
    pub pem: String,
    /// DER bytes.
    pub der: CertificateDer<'static>,
    /// Lowercase hex SHA-256 of the DER.
    pub fingerprint: String,
}

impl CaCert {
    /// Parses a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<CaCert, PkiError> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| PkiError::Certificate(e.to_string()))?;
        let fingerprint = fingerprint(&der);
        Ok(CaCert {
            pem: pem.to_owned(),
            der,
            fingerprint,
        })
    }

    /// Subject, validity and fingerprint, for `sentari ca show`.
    pub fn describe(&self) -> Result<CertSummary, PkiError> {
        summarize(&self.der)
    }
}

/// Human-facing facts about a certificate.
#[derive(Debug, Clone)]
pub struct CertSummary {
    /// The subject DN.
    pub subject: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Lowercase hex serial.
    pub serial: String,
    /// Lowercase hex SHA-256 of the DER.
    pub fingerprint: String,
}

/// Parses the facts the gateway and the CLI need from a DER certificate.
pub fn summarize(der: &[u8]) -> Result<CertSummary, PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PkiError::Certificate(e.to_string()))?;
    Ok(CertSummary {
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        serial: hex::encode(cert.raw_serial()),
        fingerprint: fingerprint(der),
    })
}

/// A loaded CA that can sign: its certificate and its decrypted key.
pub struct Ca {
    /// The public part.
    pub cert: CaCert,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("fingerprint", &self.cert.fingerprint)
            .finish()
    }
}

/// What `init` found on disk.
#[derive(Debug)]
pub enum CaStatus {
    /// The CA is usable.
    Ready(Box<Ca>),
    /// The certificate is readable but the key is not: the reason, and the public part when
    /// it could be read.
    Degraded {
        /// Why.
        reason: String,
        /// The CA certificate, for verifying client certificates.
        cert: Option<CaCert>,
    },
}

/// Loads the CA from `paths`, creating it when neither file exists.
pub fn init(paths: &CaPaths, passphrase: &str, key_type: CaKeyType) -> CaStatus {
    let (cert_exists, key_exists) = (paths.cert().exists(), paths.key().exists());
    if !cert_exists && !key_exists {
        return match create(paths, passphrase, key_type) {
            Ok(ca) => CaStatus::Ready(Box::new(ca)),
            Err(e) => CaStatus::Degraded {
                reason: e.to_string(),
                cert: None,
            },
        };
    }
    let cert = std::fs::read_to_string(paths.cert())
        .map_err(io_err(&paths.cert()))
        .and_then(|p| CaCert::from_pem(&p));
    match load(paths, passphrase) {
        Ok(ca) => CaStatus::Ready(Box::new(ca)),
        Err(e) => CaStatus::Degraded {
            reason: e.to_string(),
            cert: cert.ok(),
        },
    }
}

/// Loads an existing CA; never creates or changes anything.
pub fn load(paths: &CaPaths, passphrase: &str) -> Result<Ca, PkiError> {
    let cert_path = paths.cert();
    let key_path = paths.key();
    if !cert_path.exists() {
        return Err(PkiError::Incomplete(format!(
            "{} is missing while {} exists",
            cert_path.display(),
            key_path.display()
        )));
    }
    let pem = std::fs::read_to_string(&cert_path).map_err(io_err(&cert_path))?;
    let cert = CaCert::from_pem(&pem)?;
    let key_pem = std::fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
    let key = keyfile::decrypt(&key_pem, passphrase).map_err(|reason| PkiError::Key {
        path: key_path.display().to_string(),
        reason,
    })?;
    let issuer = Issuer::from_ca_cert_der(&cert.der, key)?;
    Ok(Ca { cert, issuer })
}

/// Creates a new CA in `paths.dir`: key first (0600), then the certificate.
pub fn create(paths: &CaPaths, passphrase: &str, key_type: CaKeyType) -> Result<Ca, PkiError> {
    make_private_dir(&paths.dir)?;
    let key = match key_type {
        CaKeyType::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)?
        }
        CaKeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
    };
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Sentari");
    dn.push(DnType::CommonName, "Sentari Internal CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(CA_CERT_DAYS);
    params.serial_number = Some(random_serial());
    let cert = params.self_signed(&key)?;
    let key_pem = keyfile::encrypt(&key, passphrase).map_err(|reason| PkiError::Key {
        path: paths.key().display().to_string(),
        reason,
    })?;
    crate::secrets::write_private(&paths.key(), key_pem.as_bytes())
        .map_err(io_err(&paths.key()))?;
    crate::secrets::write_private(&paths.cert(), cert.pem().as_bytes())
        .map_err(io_err(&paths.cert()))?;
    set_mode(&paths.cert(), 0o644);
    tracing::info!(dir = %paths.dir.display(), "created the internal CA");
    load(paths, passphrase)
}

fn make_private_dir(dir: &Path) -> Result<(), PkiError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io_err(dir))
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A random positive 128-bit serial number.
fn random_serial() -> SerialNumber {
    use rand::RngExt;
    let mut bytes: [u8; 16] = rand::rng().random();
    // The high bit clear keeps the DER INTEGER positive without a padding byte.
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// A signed device certificate and the facts the device row stores.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// PEM text.
    pub pem: String,
    /// Lowercase hex SHA-256 of the DER.
    pub fingerprint: String,
    /// Lowercase hex serial.
    pub serial: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Ca {
    /// Signs a device CSR. Only the CSR's public key is used: subject, SAN (the device id),
    /// key usage, EKU clientAuth and the validity are set here, never copied from the request.
    pub fn sign_device_csr(
        &self,
        csr_pem: &str,
        device_id: Uuid,
        validity: Duration,
    ) -> Result<IssuedCert, CsrError> {
        let csr = parse_csr(csr_pem)?;
        if csr.public_key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256 {
            return Err(CsrError::WrongKeyType);
        }
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Sentari");
        dn.push(DnType::CommonName, device_id.to_string());
        params.distinguished_name = dn;
        let san = format!("urn:uuid:{device_id}");
        params.subject_alt_names = vec![SanType::URI(
            san.try_into()
                .map_err(|e: rcgen::Error| CsrError::Sign(e.to_string()))?,
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + validity;
        params.serial_number = Some(random_serial());
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(|e| CsrError::Sign(e.to_string()))?;
        let summary = summarize(cert.der()).map_err(|e| CsrError::Sign(e.to_string()))?;
        Ok(IssuedCert {
            pem: cert.pem(),
            fingerprint: summary.fingerprint,
            serial: summary.serial,
            not_after: summary.not_after,
        })
    }

    /// Issues a TLS server certificate for `names` (DNS names or IP addresses) with a fresh
    /// P-256 key; returns the certificate PEM and the key PEM.
    pub fn issue_server_cert(&self, names: &[String]) -> Result<(String, String), PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Sentari");
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "localhost".into()),
        );
        params.distinguished_name = dn;
        let mut sans = Vec::new();
        for n in names {
            if let Ok(ip) = n.parse::<IpAddr>() {
                sans.push(SanType::IpAddress(ip));
            } else {
                sans.push(SanType::DnsName(n.clone().try_into()?));
            }
        }
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(SERVER_CERT_DAYS);
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn parse_csr(pem: &str) -> Result<CertificateSigningRequestParams, CsrError> {
    use rustls::pki_types::CertificateSigningRequestDer;
    if pem.len() > 16 * 1024 {
        return Err(CsrError::Malformed);
    }
    let der = CertificateSigningRequestDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| CsrError::Malformed)?;
    CertificateSigningRequestParams::from_der(&der).map_err(|e| match e {
        rcgen::Error::InvalidCertificationRequestSignature => CsrError::BadSignature,
        rcgen::Error::UnsupportedSignatureAlgorithm => CsrError::WrongKeyType,
        _ => CsrError::Malformed,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn fingerprints_normalise() {
        let h = "ab".repeat(32);
        assert_eq!(normalize_fingerprint(&colon_hex(&h)).unwrap(), h);
        assert_eq!(normalize_fingerprint(&format!("sha256:{h}")).unwrap(), h);
        assert!(normalize_fingerprint("abc").is_none());
    }

    #[test]
    fn create_load_sign_and_refuse_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CaPaths {
            dir: dir.path().join("ca"),
        };
        let ca = create(&paths, "pass-one", CaKeyType::EcdsaP384).unwrap();
        assert!(matches!(
            init(&paths, "wrong", CaKeyType::EcdsaP384),
            CaStatus::Degraded { cert: Some(_), .. }
        ));
        let again = load(&paths, "pass-one").unwrap();
        assert_eq!(again.cert.fingerprint, ca.cert.fingerprint);
        let device_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = CertificateParams::default()
            .serialize_request(&device_key)
            .unwrap()
            .pem()
            .unwrap();
        let id = Uuid::now_v7();
        let issued = ca.sign_device_csr(&csr, id, Duration::days(365)).unwrap();
        let s = summarize(&CertificateDer::from_pem_slice(issued.pem.as_bytes()).unwrap()).unwrap();
        assert!(s.subject.contains(&id.to_string()));
        let rsa =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        let csr = CertificateParams::default()
            .serialize_request(&rsa)
            .unwrap()
            .pem()
            .unwrap();
        assert!(matches!(
            ca.sign_device_csr(&csr, id, Duration::days(1)),
            Err(CsrError::WrongKeyType)
        ));
    }
}
