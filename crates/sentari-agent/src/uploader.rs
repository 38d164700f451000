//! Uploading scans: compress, spool, deliver oldest-first.
//!
//! Every scan goes to the spool first and is then delivered from it, oldest first. That one
//! path gives the guarantees the spool promises: order is preserved, and a scan is removed only
//! after the server answered 202 for it.

use std::io::Write;
use std::time::Duration;

use rand::RngExt;
use sentari_client::agent::{AgentClient, AgentError};
use sentari_proto::agent::ScanUpload;

use crate::spool::Spool;

/// Why an upload step failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The spool could not be written or read.
    #[error("spool: {0}")]
    Spool(#[from] std::io::Error),
    /// The server could not be reached or refused.
    #[error(transparent)]
    Server(#[from] AgentError),
    /// The scan could not be encoded.
    #[error("cannot encode the scan: {0}")]
    Encode(String),
}

/// gzip-compressed JSON of a scan.
pub fn encode(scan: &ScanUpload) -> Result<Vec<u8>, UploadError> {
    let json = serde_json::to_vec(scan).map_err(|e| UploadError::Encode(e.to_string()))?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&json)
        .map_err(|e| UploadError::Encode(e.to_string()))?;
    enc.finish().map_err(|e| UploadError::Encode(e.to_string()))
}

/// Puts a scan in the spool, warning about any scans dropped to make room.
pub fn spool_scan(spool: &Spool, scan: &ScanUpload) -> Result<(), UploadError> {
    let gz = encode(scan)?;
    for d in spool.push(scan.scan_id, &gz)? {
        eprintln!(
            "sentari-agent: warning: spool full; dropped the oldest scan {}",
            d.scan_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| d.path.display().to_string())
        );
    }
    Ok(())
}

/// Delivers spooled scans oldest-first until the spool is empty or the server fails. Returns
/// how many were delivered; the error, if any, is the one that stopped delivery.
pub async fn flush(client: &AgentClient, spool: &Spool) -> (usize, Option<UploadError>) {
    let mut delivered = 0;
    let entries = match spool.entries() {
        Ok(e) => e,
        Err(e) => return (0, Some(e.into())),
    };
    for e in entries {
        let body = match spool.read(&e) {
            Ok(b) => b,
            Err(err) => return (delivered, Some(err.into())),
        };
        match client.upload_scan(body, "gzip").await {
            Ok(_) => {
                if let Err(err) = spool.remove(&e) {
                    return (delivered, Some(err.into()));
                }
                delivered += 1;
            }
            Err(err) if err.is_retryable() => return (delivered, Some(err.into())),
            Err(AgentError::Status { status, .. })
                if status == 400 || status == 413 || status == 415 =>
            {
                // The server will refuse this scan however often it is sent: drop it so it does
                // not block the ones behind it.
                eprintln!(
                    "sentari-agent: warning: the server refused spooled scan {} ({status}); dropping it",
                    e.path.display()
                );
                let _ = spool.remove(&e);
            }
            Err(err) => return (delivered, Some(err.into())),
        }
    }
    (delivered, None)
}

/// Exponential backoff with ±20 % jitter: `base · 2^attempt`, at most `max`.
pub fn backoff(base: Duration, attempt: u32, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    jitter(exp, 0.2)
}

/// `d` scaled by a random factor in `[1 - frac, 1 + frac]`.
pub fn jitter(d: Duration, frac: f64) -> Duration {
    let f: f64 = rand::rng().random_range((1.0 - frac)..=(1.0 + frac));
    d.mul_f64(f)
}
