//! The agent side of protocol v1 (ARCHITECTURE.md §5): register, renew, config and scan upload
//! over mutual TLS.
//!
//! Trust is explicit. Before enrollment the agent knows at most the SHA-256 fingerprint of the
//! server's CA ([`ServerTrust::Pinned`]): the server sends its CA certificate in the chain, and
//! the connection is accepted only when that certificate has the pinned fingerprint and the
//! server certificate verifies against it. Without a pin the first contact trusts whatever it
//! meets (the agent warns). After enrollment only the CA the server returned is trusted
//! ([`ServerTrust::Ca`]) and the device certificate is presented on every connection.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sentari_proto::agent::{
    AgentConfigBody, RegisterRequest, RegisterResponse, RenewRequest, RenewResponse, ScanAccepted,
};
use sentari_proto::error::ErrorBody;
use sha2::{Digest, Sha256};

/// What went wrong talking to the agent gateway.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No HTTP answer: connection refused, TLS failure, timeout.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered with an error status.
    #[error("server answered {status}: {}", body.as_ref().map(|b| b.detail.as_str()).unwrap_or("no error body"))]
    Status {
        /// HTTP status.
        status: u16,
        /// The `{error, detail}` body when there was one.
        body: Option<ErrorBody>,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The answer did not have the expected shape.
    #[error("unexpected response body: {0}")]
    Decode(String),
    /// The TLS material is unusable.
    #[error("TLS setup: {0}")]
    Tls(String),
}

impl AgentError {
    /// Whether trying again later can help: no answer, 5xx, 429 or 408.
    pub fn is_retryable(&self) -> bool {
        match self {
            AgentError::Transport(_) => true,
            AgentError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AgentError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// How the agent decides to trust the server.
#[derive(Debug, Clone)]
pub enum ServerTrust {
    /// Only certificates issued by this CA (PEM).
    Ca(String),
    /// Before enrollment: a CA with this SHA-256 fingerprint (hex) in the server's chain, or
    /// anything when `None` (trust on first use).
    Pinned(Option<String>),
}

/// The device's certificate and key (PEM).
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    /// Certificate PEM.
    pub cert_pem: String,
    /// PKCS#8 key PEM.
    pub key_pem: String,
}

/// Proxy settings from `agent.conf` `[proxy]`.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// `https_proxy`.
    pub https_proxy: Option<String>,
    /// `no_proxy`.
    pub no_proxy: Option<String>,
}

/// Lowercase hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Accepts the server when its chain carries the pinned CA and the leaf verifies against it.
#[derive(Debug)]
struct PinnedCa {
    pin: Option<String>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pin) = &self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let Some(ca) = intermediates
            .iter()
            .chain(std::iter::once(end_entity))
            .find(|c| &fingerprint(c) == pin)
        else {
            return Err(rustls::Error::General(
                "the server's CA does not match the pinned fingerprint".into(),
            ));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        inner.verify_server_cert(end_entity, &[], server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn tls_config(
    trust: &ServerTrust,
    identity: Option<&DeviceIdentity>,
) -> Result<rustls::ClientConfig, AgentError> {
    let tls = |e: &dyn std::fmt::Display| AgentError::Tls(e.to_string());
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?;
    let builder = match trust {
        ServerTrust::Ca(pem) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(c.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
            }
            builder.with_root_certificates(roots)
        }
        ServerTrust::Pinned(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCa {
                pin: pin.clone(),
                provider: provider(),
            })),
    };
    let mut cfg = match identity {
        Some(id) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| tls(&e))?;
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(|e| tls(&e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls(&e))?
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A client of the agent gateway.
#[derive(Debug, Clone)]
pub struct AgentClient {
    base: String,
    http: reqwest::Client,
}

impl AgentClient {
    /// A client for `base_url` (`https://host:8000`).
    pub fn new(
        base_url: &str,
        trust: &ServerTrust,
        identity: Option<&DeviceIdentity>,
        proxy: &ProxySettings,
        timeout: Duration,
    ) -> Result<AgentClient, AgentError> {
        let tls = tls_config(trust, identity)?;
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sentari-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = &proxy.https_proxy {
            let mut px =
                reqwest::Proxy::https(p).map_err(|e| AgentError::Tls(format!("proxy: {e}")))?;
            if let Some(np) = &proxy.no_proxy {
                px = px.no_proxy(reqwest::NoProxy::from_string(np));
            }
            b = b.proxy(px);
        }
        let http = b.build().map_err(|e| AgentError::Tls(e.to_string()))?;
        Ok(AgentClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    async fn finish<T: serde::de::DeserializeOwned>(
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, AgentError> {
        let resp = resp.map_err(|e| AgentError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp.json::<ErrorBody>().await.ok();
            return Err(AgentError::Status {
                status,
                body,
                retry_after,
            });
        }
        resp.json::<T>()
            .await
            .map_err(|e| AgentError::Decode(e.to_string()))
    }

    /// `POST /api/v1/agent/register`.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, AgentError> {
        let r = self
            .http
            .post(format!("{}/api/v1/agent/register", self.base))
            .json(req)
            .send()
            .await;
        Self::finish(r).await
    }

    /// `POST /api/v1/agent/renew`.
    pub async fn renew(&self, req: &RenewRequest) -> Result<RenewResponse, AgentError> {
        let r = self
            .http
            .post(format!("{}/api/v1/agent/renew", self.base))
            .json(req)
            .send()
            .await;
        Self::finish(r).await
    }

    /// `GET /api/v1/agent/config`.
    pub async fn config(&self) -> Result<AgentConfigBody, AgentError> {
        let r = self
            .http
            .get(format!("{}/api/v1/agent/config", self.base))
            .send()
            .await;
        Self::finish(r).await
    }

    /// `POST /api/v1/agent/scan` with a body already encoded as `content_encoding`
    /// (`gzip`, `zstd` or `identity`).
    pub async fn upload_scan(
        &self,
        body: Vec<u8>,
        content_encoding: &str,
    ) -> Result<ScanAccepted, AgentError> {
        let r = self
            .http
            .post(format!("{}/api/v1/agent/scan", self.base))
            .header("content-type", "application/json")
            .header("content-encoding", content_encoding)
            .body(body)
            .send()
            .await;
        Self::finish(r).await
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
