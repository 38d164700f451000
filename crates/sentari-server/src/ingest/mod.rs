//! The `ingest_scan` job: applies a stored upload to its device, then correlates what is new.
//!
//! The gateway stores each upload (compressed) and enqueues this job in the same transaction.
//! The job takes the parsed upload from its process's gateway ([`handoff`]) or decodes the
//! stored one, derives what the store needs (advisory lookup keys through
//! `sentari-core`, the OS ecosystem from os-release, runtime end-of-life status, a digest of
//! the inventory), applies it by diff in one transaction, evaluates the package versions the
//! fleet has never had, and gives the device the findings of its new versions. Every step is
//! idempotent, so a job that runs twice (a crashed worker's lease expired) changes nothing.

pub mod eol;
pub mod handoff;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use sentari_core::ecosystem::{Ecosystem, OsRelease, normalize_package_name, os_package_ecosystem};
use sentari_proto::agent::ScanUpload;
use sentari_store::{
    ApplyOutcome, ApplyScan, HostFacts, InventoryError, InventoryPackage, InventoryRuntime, Store,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::correlate;
use crate::jobs::handlers::{JobContext, JobError};

/// The job kind.
pub const INGEST_SCAN: &str = "ingest_scan";

/// The most bytes an upload may decompress to when the job reads it back (the gateway has
/// already enforced the configured cap; this guards rows written by anything else).
const MAX_STORED_SCAN_BYTES: u64 = 1024 * 1024 * 1024;

/// Runs one `ingest_scan` job (`{"scan_id", "device_id"}`).
pub async fn ingest_scan(ctx: JobContext) -> Result<(), JobError> {
    let started = Instant::now();
    let scan_id = ctx
        .job
        .payload
        .get("scan_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::InvalidPayload("scan_id must be a UUID".into()))?;
    let report = ingest(&ctx.store, scan_id, started).await?;
    tracing::info!(
        scan_id = %scan_id,
        outcome = %report,
        ms = started.elapsed().as_millis() as u64,
        "scan ingested"
    );
    metrics::histogram!("sentari_ingest_seconds").record(started.elapsed().as_secs_f64());
    Ok(())
}

/// Applies one stored scan and correlates it; returns a one-line summary.
pub async fn ingest(store: &Store, scan_id: Uuid, started: Instant) -> Result<String, JobError> {
    // The gateway of this process usually parsed the upload moments ago; read and decode the
    // stored copy only when it did not (`handoff`).
    let taken = handoff::global().take(scan_id);
    let hit = if taken.is_some() { "hit" } else { "miss" };
    metrics::counter!("sentari_ingest_handoff_total", "outcome" => hit).increment(1);
    let Some(stored) = store.scan_for_ingest(scan_id, taken.is_none()).await? else {
        return Ok("scan no longer exists (device deleted)".into());
    };
    if stored.status != "pending" {
        return Ok(format!("already {}", stored.status));
    }
    let decoded = match taken {
        Some(upload) => Ok(upload),
        None => {
            tokio::task::spawn_blocking(move || decode(stored.body, stored.payload).map(Arc::new))
                .await
                .map_err(|e| JobError::Failed(format!("decoding task failed: {e}")))?
        }
    };
    let upload = match decoded {
        Ok(u) => u,
        Err(detail) => {
            // A stored upload that cannot be read will not become readable on retry.
            tracing::error!(scan_id = %scan_id, error = %detail, "stored scan cannot be decoded; marked failed");
            store.fail_scan(scan_id, &detail).await?;
            return Ok(format!("failed: {detail}"));
        }
    };
    let eol_db = eol::current(store).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let device_id = stored.device_id;
    // An unchanged re-scan (the device's digest equals this upload's) is applied without
    // building its package rows; should the inventory change before the device is locked, the
    // store writes nothing and the scan is applied again with its packages.
    let prepare = |force_packages: bool| {
        let (upload, eol_db, device_digest) =
            (upload.clone(), eol_db.clone(), stored.device_digest.clone());
        tokio::task::spawn_blocking(move || {
            let digest = digest(&upload);
            let omit = !force_packages && digest == device_digest;
            to_apply(device_id, &upload, &eol_db, today, digest, omit)
        })
    };
    let apply = prepare(false)
        .await
        .map_err(|e| JobError::Failed(format!("preparing task failed: {e}")))?;
    let mut outcome = store.apply_scan(&apply, started).await?;
    if outcome == ApplyOutcome::InventoryChanged {
        let full = prepare(true)
            .await
            .map_err(|e| JobError::Failed(format!("preparing task failed: {e}")))?;
        outcome = store.apply_scan(&full, started).await?;
    }
    // Freeing twenty thousand parsed packages is work for a blocking thread.
    tokio::task::spawn_blocking(move || drop((upload, apply)));
    let report = match outcome {
        ApplyOutcome::Gone => return Ok("device deleted meanwhile".into()),
        ApplyOutcome::AlreadyDone => return Ok("already applied".into()),
        ApplyOutcome::Superseded { newer_scan_at } => {
            return Ok(format!("superseded by the scan of {newer_scan_at}"));
        }
        ApplyOutcome::InventoryChanged => {
            return Err(JobError::Failed(
                "the device's inventory changed while the scan was applied twice; retrying".into(),
            ));
        }
        ApplyOutcome::Applied(r) => r,
    };
    let pending = store
        .pending_package_versions(&report.pending_versions)
        .await?;
    let pending_count = pending.len();
    // Versions pending when the scan was applied but evaluated since by a concurrent ingest:
    // that ingest's fan-out may have run before this device's packages were committed, so the
    // device takes their findings here, after that evaluation is committed.
    let still_pending: std::collections::HashSet<i64> = pending.iter().map(|p| p.id).collect();
    let evaluated_elsewhere: Vec<i64> = report
        .pending_versions
        .iter()
        .copied()
        .filter(|id| !still_pending.contains(id))
        .collect();
    let changes = correlate::correlate(store, pending)
        .await
        .map_err(|e| JobError::Failed(e.to_string()))?;
    if !evaluated_elsewhere.is_empty() {
        store
            .fan_out_device_findings(device_id, &evaluated_elsewhere)
            .await?;
    }
    Ok(if report.unchanged {
        "inventory unchanged".to_owned()
    } else {
        format!(
            "+{} -{} ~{} packages, {} new versions evaluated, {} new findings, {} device findings opened, {} device findings resolved",
            report.added - report.changed,
            report.removed - report.changed,
            report.changed,
            pending_count,
            changes.new_findings,
            report.findings_fanned_out,
            report.findings_resolved
        )
    })
}

/// Reads the stored upload: zstd-compressed JSON, or a JSON payload from older rows.
fn decode(body: Option<Vec<u8>>, payload: Option<String>) -> Result<ScanUpload, String> {
    if let Some(body) = body {
        let dec = zstd::stream::read::Decoder::new(&body[..])
            .map_err(|e| format!("cannot decompress the stored scan: {e}"))?;
        let mut capped = dec.take(MAX_STORED_SCAN_BYTES);
        let mut buf = Vec::new();
        capped
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot decompress the stored scan: {e}"))?;
        return serde_json::from_slice(&buf).map_err(|e| format!("stored scan is not valid: {e}"));
    }
    match payload {
        Some(p) => serde_json::from_str(&p).map_err(|e| format!("stored scan is not valid: {e}")),
        None => Err("the stored scan has no upload".into()),
    }
}

/// Compresses an upload for storage (the gateway calls this).
pub fn encode(upload: &ScanUpload) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(upload).map_err(|e| e.to_string())?;
    zstd::bulk::compress(&json, 1).map_err(|e| e.to_string())
}

/// Everything the store needs from an upload.
pub fn to_apply(
    device_id: Uuid,
    upload: &ScanUpload,
    eol_db: &sentari_core::eol::EolDb,
    today: time::Date,
    digest: String,
    packages_omitted: bool,
) -> ApplyScan {
    let packages: Vec<InventoryPackage> = if packages_omitted {
        Vec::new()
    } else {
        upload.packages.iter().map(inventory_package).collect()
    };
    let runtimes: Vec<InventoryRuntime> = upload
        .runtimes
        .iter()
        .map(|r| eol::runtime_status(eol_db, r, today))
        .collect();
    let errors = upload
        .errors
        .iter()
        .map(|e| InventoryError {
            scanner: e.scanner.clone(),
            kind: classify_error(&e.error).to_owned(),
            path: e.path.clone(),
            message: e.error.clone(),
        })
        .collect();
    let os = &upload.host.os_release;
    let release = OsRelease {
        id: os.id.to_ascii_lowercase(),
        id_like: Vec::new(),
        version_id: os.version_id.clone(),
        version_codename: os.version_codename.clone(),
        pretty_name: os.pretty_name.clone(),
    };
    let os_ecosystem = os_package_ecosystem(&release)
        .map(|e| e.to_string())
        .unwrap_or_default();
    let python_version = newest_python(upload);
    ApplyScan {
        scan_id: upload.scan_id,
        device_id,
        scanned_at: upload.scanned_at,
        duration_ms: upload.duration_ms,
        host: HostFacts {
            hostname: upload.host.hostname.clone(),
            os_id: os.id.clone(),
            os_version_id: os.version_id.clone().unwrap_or_default(),
            os_pretty_name: os.pretty_name.clone().unwrap_or_default(),
            os_ecosystem,
            kernel: upload.host.kernel.clone(),
            arch: upload.host.arch.clone(),
            host_kind: upload.host.host_kind.clone(),
            agent_version: upload.agent_version.clone(),
            python_version,
        },
        packages,
        runtimes,
        errors,
        digest,
        packages_omitted,
    }
}

fn inventory_package(p: &sentari_proto::agent::Package) -> InventoryPackage {
    let eco = Ecosystem::parse(&p.ecosystem);
    let source = p
        .source_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (match_ecosystem, match_name) = if eco.version_scheme().is_some() {
        (
            eco.without_release().to_string(),
            normalize_package_name(&eco, source.unwrap_or(&p.name)),
        )
    } else {
        (String::new(), p.name.clone())
    };
    InventoryPackage {
        ecosystem: p.ecosystem.clone(),
        name: p.name.clone(),
        version: p.version.clone(),
        source_name: source.unwrap_or_default().to_owned(),
        match_ecosystem,
        match_name,
        install_path: p.install_path.clone(),
        environment: p.environment.clone().unwrap_or_default(),
        arch: p.arch.clone().unwrap_or_default(),
        env_type: p.env_type.clone(),
        source_version: p.source_version.clone(),
        interpreter_version: p.interpreter_version.clone(),
        purl: p.purl.clone(),
        origin: p.origin.clone(),
    }
}

/// The newest Python runtime's version, for the device list's "Python version" column.
fn newest_python(upload: &ScanUpload) -> String {
    let mut best: Option<&str> = None;
    for r in upload.runtimes.iter().filter(|r| r.kind == "python") {
        let newer = match best {
            None => true,
            Some(b) => sentari_core::version::VersionScheme::Pep440
                .compare(&r.version, b)
                .map(|o| o.is_gt())
                .unwrap_or(false),
        };
        if newer {
            best = Some(&r.version);
        }
    }
    best.unwrap_or_default().to_owned()
}

/// A digest of what the package and runtime diff depends on; equal digests mean nothing to
/// diff. The agent sends its lists sorted, and the digest follows their order.
pub fn digest(upload: &ScanUpload) -> String {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, s: &str| {
        h.update(s.as_bytes());
        h.update([0u8]);
    };
    let opt = |h: &mut Sha256, s: &Option<String>| {
        h.update(s.as_deref().unwrap_or("\u{1}").as_bytes());
        h.update([0u8]);
    };
    for p in &upload.packages {
        field(&mut h, &p.ecosystem);
        field(&mut h, &p.name);
        field(&mut h, &p.version);
        opt(&mut h, &p.source_name);
        opt(&mut h, &p.source_version);
        opt(&mut h, &p.arch);
        field(&mut h, &p.install_path);
        field(&mut h, &p.env_type);
        opt(&mut h, &p.environment);
        opt(&mut h, &p.interpreter_version);
        opt(&mut h, &p.purl);
        opt(&mut h, &p.origin);
        h.update([1u8]);
    }
    h.update([2u8]);
    hex::encode(h.finalize())
}

/// A short class for a scan error message, for the Diagnostics counts.
pub fn classify_error(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("permission denied") || m.contains("access is denied") || m.contains("eacces") {
        "permission_denied"
    } else if m.contains("no such file") || m.contains("not found") || m.contains("enoent") {
        "not_found"
    } else if m.contains("timed out") || m.contains("timeout") {
        "timeout"
    } else if m.contains("too large") || m.contains("exceeds") || m.contains("limit") {
        "too_large"
    } else if m.contains("parse")
        || m.contains("invalid")
        || m.contains("malformed")
        || m.contains("unexpected")
        || m.contains("corrupt")
        || m.contains("utf-8")
    {
        "parse_error"
    } else if m.contains("i/o") || m.contains("io error") || m.contains("input/output") {
        "io_error"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes() {
        assert_eq!(
            classify_error("open /var/lib/x: Permission denied (os error 13)"),
            "permission_denied"
        );
        assert_eq!(classify_error("No such file or directory"), "not_found");
        assert_eq!(classify_error("invalid METADATA header"), "parse_error");
        assert_eq!(
            classify_error("jar nesting exceeds the depth limit"),
            "too_large"
        );
        assert_eq!(classify_error("something odd"), "other");
    }

    #[test]
    fn os_packages_match_by_source_name() {
        let p = sentari_proto::agent::Package {
            ecosystem: "Debian:12".into(),
            name: "libssl3".into(),
            version: "3.0.15-1~deb12u1".into(),
            source_name: Some("openssl".into()),
            source_version: None,
            arch: Some("amd64".into()),
            install_path: "/var/lib/dpkg/status".into(),
            env_type: "os".into(),
            environment: None,
            interpreter_version: None,
            purl: None,
            origin: None,
        };
        let i = inventory_package(&p);
        assert_eq!(i.match_ecosystem, "Debian");
        assert_eq!(i.match_name, "openssl");
        assert_eq!(i.source_name, "openssl");
        let py = sentari_proto::agent::Package {
            ecosystem: "PyPI".into(),
            name: "Zope.Interface".into(),
            source_name: None,
            arch: None,
            ..p
        };
        let i = inventory_package(&py);
        assert_eq!(
            (i.match_ecosystem.as_str(), i.match_name.as_str()),
            ("PyPI", "zope-interface")
        );
    }
}
