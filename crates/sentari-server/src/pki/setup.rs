//! Start-up of the CA and the listeners' TLS material for the `serve` and `api` roles.
//!
//! Order: load (or, on the very first start, create) the CA; issue the listeners' server
//! certificate from it, or take the operator's; build the rustls configurations. A CA whose key
//! cannot be read is reported and the server goes on in a degraded mode: the last server
//! certificate on disk keeps the dashboard and the gateway up for enrolled agents, and only
//! enrollment and renewal answer 503 until the operator fixes the key or the passphrase.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use sentari_proto::agent::AgentConfigBody;

use crate::app::StartError;
use crate::config::{Config, Paths};
use crate::http::agent::{Gateway, Limits};
use crate::pki::{self, CaPaths, CaStatus};
use crate::secrets::SecretKey;
use crate::state::AppState;
use crate::tls;

/// What the HTTP roles need from the PKI.
pub struct Transport {
    /// The web listener's TLS configuration; `None` for plain HTTP.
    pub web_tls: Option<Arc<rustls::ServerConfig>>,
    /// The agent gateway's TLS configuration; `None` when no server certificate exists.
    pub agent_tls: Option<Arc<rustls::ServerConfig>>,
    /// The gateway's handler state.
    pub gateway: Gateway,
}

/// The CA passphrase: `SENTARI_CA_PASSPHRASE_KEY`, else the secret key.
pub fn passphrase(config: &Config, secret: &SecretKey) -> String {
    config
        .ca_passphrase_key
        .clone()
        .unwrap_or_else(|| secret.expose().to_owned())
}

fn tls_err(e: impl std::fmt::Display) -> StartError {
    StartError::Tls(e.to_string())
}

/// Loads or creates the CA and prepares both listeners' TLS.
pub async fn prepare(
    config: &Config,
    paths: &Paths,
    secret: &SecretKey,
    state: &AppState,
) -> Result<Transport, StartError> {
    let ca_paths = CaPaths {
        dir: config.ca_dir(paths),
    };
    let pass = passphrase(config, secret);
    let key_type = config.ca_key_type;
    let names = config.server_names();
    let cp = ca_paths.clone();
    // RSA-4096 generation takes a noticeable moment; keep it off the async workers.
    let (status, server) = tokio::task::spawn_blocking(move || {
        let status = pki::init(&cp, &pass, key_type);
        let server = match &status {
            CaStatus::Ready(ca) => match ca.issue_server_cert(&names) {
                Ok((cert, key)) => {
                    let chain = format!("{cert}{}", ca.cert.pem);
                    let saved = crate::secrets::write_private(&cp.server_key(), key.as_bytes())
                        .and_then(|()| {
                            crate::secrets::write_private(&cp.server_cert(), chain.as_bytes())
                        });
                    if let Err(e) = saved {
                        tracing::warn!(error = %e, "could not save the server certificate");
                    }
                    Some((chain, key))
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not issue the server certificate");
                    None
                }
            },
            CaStatus::Degraded { .. } => {
                let cert = std::fs::read_to_string(cp.server_cert()).ok();
                let key = std::fs::read_to_string(cp.server_key()).ok();
                cert.zip(key)
            }
        };
        (status, server)
    })
    .await
    .map_err(tls_err)?;

    let (ca, ca_cert, ca_error) = match status {
        CaStatus::Ready(ca) => {
            let cert = ca.cert.clone();
            (Some(Arc::from(ca)), Some(cert), None)
        }
        CaStatus::Degraded { reason, cert } => {
            tracing::error!("CA initialisation failed: {reason}");
            eprintln!("CA initialisation failed: {reason}");
            state.set_warnings(vec![format!(
                "ca_degraded: CA initialisation failed: {reason}; agent enrollment and renewal are unavailable"
            )]);
            (None, cert, Some(reason))
        }
    };

    let server_identity = match &server {
        Some((c, k)) => Some(tls::load_identity(c, k).map_err(tls_err)?),
        None => None,
    };

    let web_tls = if config.http_tls.0 {
        let (chain, key) = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => {
                let cert = std::fs::read_to_string(c)
                    .map_err(|e| tls_err(format!("SENTARI_TLS_CERT {}: {e}", c.display())))?;
                let key = std::fs::read_to_string(k)
                    .map_err(|e| tls_err(format!("SENTARI_TLS_KEY {}: {e}", k.display())))?;
                tls::load_identity(&cert, &key).map_err(tls_err)?
            }
            _ => match &server_identity {
                Some((chain, key)) => (chain.clone(), key.clone_key()),
                None => {
                    return Err(tls_err(
                        "no server certificate: the CA is unusable and no earlier certificate exists; set SENTARI_TLS_CERT/SENTARI_TLS_KEY or SENTARI_HTTP_TLS=off",
                    ));
                }
            },
        };
        Some(tls::web_config(chain, key).map_err(tls_err)?)
    } else {
        None
    };

    let agent_tls = match (&server_identity, &ca_cert) {
        (Some((chain, key)), Some(ca)) => {
            let ca_der: CertificateDer<'static> = ca.der.clone();
            Some(tls::agent_config(chain.clone(), key.clone_key(), &ca_der).map_err(tls_err)?)
        }
        _ => {
            tracing::error!(
                "the agent gateway is not started: no CA certificate or server certificate"
            );
            None
        }
    };

    let gateway = Gateway::new(
        state.clone(),
        ca,
        ca_error,
        config.enrollment_token.as_deref(),
        Limits {
            max_body: config.agent_max_body_bytes,
            max_decompressed: config.agent_max_decompressed_bytes,
            register_per_minute: config.agent_register_rate_per_minute,
        },
        AgentConfigBody {
            config_version: 1,
            scan_interval_s: config.agent_scan_interval_s,
            metrics_interval_s: 60,
            services: Vec::new(),
            ssh_watch: false,
        },
    );
    Ok(Transport {
        web_tls,
        agent_tls,
        gateway,
    })
}
