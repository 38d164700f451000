//! The daemon loop (`--serve`) and the one-shot upload (`--once`).
//!
//! `--serve` fetches its configuration, scans every `scan_interval` (±10 % jitter so a fleet
//! restarted together does not scan in lockstep), spools each scan and delivers the spool
//! oldest-first, retrying with exponential backoff and jitter (honouring `Retry-After`) while
//! the server is unreachable, and renews the device certificate when it is within 30 days of
//! expiry.

use std::path::PathBuf;
use std::time::Duration;

use sentari_client::agent::{AgentClient, ProxySettings, ServerTrust};
use sentari_proto::agent::RenewRequest;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::ScanOptions;
use crate::enroll::{self, EnrollError, Enrolled};
use crate::spool::Spool;
use crate::uploader::{self, UploadError};

/// Renew when the certificate expires within this many days.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Everything the loop needs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The agent's data directory.
    pub data_dir: PathBuf,
    /// Server URL override (default: the one enrolled with).
    pub server_url: Option<String>,
    /// What to scan.
    pub scan: ScanOptions,
    /// Local scan interval, until the server's configuration says otherwise.
    pub scan_interval: Duration,
    /// How often the configuration is fetched again.
    pub poll_interval: Duration,
    /// Proxy.
    pub proxy: ProxySettings,
    /// Spool bounds.
    pub spool_max_scans: usize,
    /// Spool bounds.
    pub spool_max_bytes: u64,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

/// Why the loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The identity is missing or unreadable.
    #[error(transparent)]
    Enroll(#[from] EnrollError),
    /// Uploading failed in a way retrying cannot fix.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// The outcome of `--once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceOutcome {
    /// The scan (and everything spooled before it) reached the server.
    Delivered,
    /// The scan is in the spool, waiting for the server.
    Spooled,
}

fn client(opts: &DaemonOptions, e: &Enrolled) -> Result<AgentClient, DaemonError> {
    let url = opts
        .server_url
        .clone()
        .unwrap_or_else(|| e.server_url.clone());
    Ok(AgentClient::new(
        &url,
        &ServerTrust::Ca(e.ca_pem.clone()),
        Some(&e.identity),
        &opts.proxy,
        Duration::from_secs(120),
    )
    .map_err(EnrollError::from)?)
}

async fn scan_now(opts: &DaemonOptions) -> sentari_proto::agent::ScanUpload {
    let scan_opts = opts.scan.clone();
    match tokio::task::spawn_blocking(move || crate::scan(&scan_opts)).await {
        Ok(s) => s,
        Err(e) => {
            // The scan thread panicked: report an empty scan rather than dying, so the server
            // still hears from the device and Diagnostics shows the failure.
            let mut s = crate::scan(&ScanOptions {
                root: PathBuf::from("/nonexistent-sentari-scan-root"),
                ..opts.scan.clone()
            });
            s.errors.push(sentari_proto::agent::ScanError {
                scanner: "agent".into(),
                path: String::new(),
                error: format!("the scan failed: {e}"),
            });
            s
        }
    }
}

/// One scan, spooled then delivered with whatever was spooled before it.
pub async fn run_once(opts: &DaemonOptions) -> Result<OnceOutcome, DaemonError> {
    let enrolled = enroll::load(&opts.data_dir)?;
    let spool = Spool::open(&opts.data_dir, opts.spool_max_scans, opts.spool_max_bytes)
        .map_err(UploadError::from)?;
    let client = client(opts, &enrolled)?;
    let scan = scan_now(opts).await;
    uploader::spool_scan(&spool, &scan)?;
    let (_, err) = uploader::flush(&client, &spool).await;
    if let Some(e) = err {
        eprintln!("sentari-agent: scan {} spooled: {e}", scan.scan_id);
        return Ok(OnceOutcome::Spooled);
    }
    Ok(OnceOutcome::Delivered)
}

/// Renews the certificate when it is due; returns whether it did.
async fn renew_if_due(
    opts: &DaemonOptions,
    client: &AgentClient,
    enrolled: &mut Enrolled,
) -> Result<bool, DaemonError> {
    let Some(not_after) = enrolled.not_after() else {
        return Ok(false);
    };
    if not_after - OffsetDateTime::now_utc() > time::Duration::days(RENEW_BEFORE_DAYS) {
        return Ok(false);
    }
    let hostname = enroll::machine_facts(&opts.data_dir, Some("-")).hostname;
    let (key_pem, csr) = enroll::new_key_and_csr(&hostname)?;
    let resp = client
        .renew(&RenewRequest { csr })
        .await
        .map_err(EnrollError::from)?;
    enroll::verify_chain(&resp.device_cert, &enrolled.ca_pem, None)?;
    enrolled.identity.cert_pem = resp.device_cert;
    enrolled.identity.key_pem = key_pem;
    enroll::save(&opts.data_dir, enrolled)?;
    eprintln!("sentari-agent: device certificate renewed");
    Ok(true)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The daemon loop; returns on SIGTERM/SIGINT.
pub async fn serve(opts: DaemonOptions) -> Result<(), DaemonError> {
    let mut enrolled = enroll::load(&opts.data_dir)?;
    let spool = Spool::open(&opts.data_dir, opts.spool_max_scans, opts.spool_max_bytes)
        .map_err(UploadError::from)?;
    let mut client = client(&opts, &enrolled)?;
    let mut scan_interval = opts.scan_interval;
    let now = Instant::now();
    let (mut next_scan, mut next_config, mut next_flush, mut next_renew) = (now, now, now, now);
    let mut attempt: u32 = 0;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    eprintln!("sentari-agent: running; device {}", enrolled.device_id);
    loop {
        let now = Instant::now();
        if now >= next_config {
            match client.config().await {
                Ok(c) => {
                    let wanted = Duration::from_secs(c.scan_interval_s.max(1));
                    if wanted != scan_interval {
                        next_scan = next_scan.min(now + uploader::jitter(wanted, 0.1));
                        scan_interval = wanted;
                    }
                }
                Err(e) => eprintln!("sentari-agent: cannot fetch the configuration: {e}"),
            }
            next_config = now + opts.poll_interval;
        }
        if now >= next_renew {
            match renew_if_due(&opts, &client, &mut enrolled).await {
                Ok(true) => client = self::client(&opts, &enrolled)?,
                Ok(false) => {}
                Err(e) => eprintln!("sentari-agent: certificate renewal failed: {e}"),
            }
            next_renew = now + Duration::from_secs(6 * 3600);
        }
        if now >= next_scan {
            let scan = scan_now(&opts).await;
            uploader::spool_scan(&spool, &scan)?;
            next_scan = Instant::now() + uploader::jitter(scan_interval, 0.1);
            next_flush = Instant::now();
        }
        if Instant::now() >= next_flush {
            let (n, err) = uploader::flush(&client, &spool).await;
            if n > 0 {
                eprintln!("sentari-agent: delivered {n} scan(s)");
            }
            match err {
                None => {
                    attempt = 0;
                    next_flush = next_scan;
                }
                Some(e) => {
                    let retry_after = match &e {
                        UploadError::Server(s) => s.retry_after(),
                        _ => None,
                    };
                    let wait = retry_after.unwrap_or_else(|| {
                        uploader::backoff(opts.backoff_base, attempt, opts.backoff_max)
                    });
                    attempt = attempt.saturating_add(1);
                    eprintln!(
                        "sentari-agent: upload failed ({e}); scans stay spooled; retrying in {wait:?}"
                    );
                    next_flush = Instant::now() + wait;
                }
            }
        }
        let wake = next_scan.min(next_flush).min(next_config).min(next_renew);
        tokio::select! {
            _ = &mut stop => {
                eprintln!("sentari-agent: stopping");
                return Ok(());
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}
