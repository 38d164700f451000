//! Hands a scan the gateway has just parsed to the ingest job of the same process, so the job
//! does not decompress and parse the stored upload a second time.
//!
//! The stored upload stays the source of truth: a job that finds nothing here (another
//! process's gateway received the scan, the server restarted, the entry was evicted) decodes
//! the stored body as before. Entries are bounded in number and in packages, so a burst of
//! uploads that the workers cannot keep up with costs a fixed amount of memory, and an entry
//! is taken (removed) by the first job that asks for it. It is switched on only in processes
//! that run workers: an `api`-only process would keep entries nobody takes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sentari_proto::agent::ScanUpload;
use uuid::Uuid;

/// The most uploads kept waiting for their job.
pub const MAX_ENTRIES: usize = 32;

/// The most packages kept over all waiting uploads (about 250 bytes each once parsed, so about
/// 50 MB at most).
pub const MAX_PACKAGES: usize = 200_000;

/// Parsed uploads waiting for their ingest job, oldest first.
pub struct Handoff {
    enabled: AtomicBool,
    max_entries: usize,
    max_packages: usize,
    entries: Mutex<VecDeque<(Uuid, Arc<ScanUpload>)>>,
}

impl Handoff {
    /// A switched-off handoff with these bounds.
    pub fn new(max_entries: usize, max_packages: usize) -> Handoff {
        Handoff {
            enabled: AtomicBool::new(false),
            max_entries: max_entries.max(1),
            max_packages,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Switches the handoff on (done once by a process that runs workers).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Offers a parsed upload; the oldest entries make room when the bounds are reached. An
    /// upload over the package bound on its own is not kept, nor anything while switched off.
    pub fn offer(&self, upload: Arc<ScanUpload>) {
        if !self.enabled.load(Ordering::Relaxed) || upload.packages.len() > self.max_packages {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.retain(|(id, _)| *id != upload.scan_id);
        let mut packages: usize =
            entries.iter().map(|(_, u)| u.packages.len()).sum::<usize>() + upload.packages.len();
        while entries.len() >= self.max_entries
            || (packages > self.max_packages && !entries.is_empty())
        {
            if let Some((_, old)) = entries.pop_front() {
                packages -= old.packages.len();
            }
        }
        entries.push_back((upload.scan_id, upload));
    }

    /// Takes the parsed upload of `scan_id`, if this process still holds it.
    pub fn take(&self, scan_id: Uuid) -> Option<Arc<ScanUpload>> {
        let mut entries = self.entries.lock().ok()?;
        let at = entries.iter().position(|(id, _)| *id == scan_id)?;
        entries.remove(at).map(|(_, u)| u)
    }
}

/// The process's handoff (the gateway and the workers of one `serve` process share it).
pub fn global() -> &'static Handoff {
    static HANDOFF: std::sync::OnceLock<Handoff> = std::sync::OnceLock::new();
    HANDOFF.get_or_init(|| Handoff::new(MAX_ENTRIES, MAX_PACKAGES))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn upload(packages: usize) -> Arc<ScanUpload> {
        let pkgs: Vec<serde_json::Value> = (0..packages)
            .map(|i| serde_json::json!({"ecosystem": "PyPI", "name": format!("p{i}"), "version": "1", "install_path": "/x", "env_type": "system"}))
            .collect();
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "scan_id": Uuid::new_v4(),
                "scanned_at": "2026-01-01T00:00:00Z",
                "agent_version": "t",
                "duration_ms": 1,
                "host": {"hostname": "h", "machine_id": "m", "os_release": {"id": "debian"}, "kernel": "", "arch": "x86_64", "host_kind": "vm"},
                "packages": pkgs,
                "runtimes": [],
                "errors": []
            }))
            .unwrap(),
        )
    }

    #[test]
    fn an_upload_is_taken_once_and_the_bounds_evict_the_oldest() {
        let h = Handoff::new(4, 100);
        let off = upload(1);
        h.offer(off.clone());
        assert!(h.take(off.scan_id).is_none(), "switched off: nothing kept");
        h.enable();
        let a = upload(3);
        h.offer(a.clone());
        assert_eq!(h.take(a.scan_id).unwrap().packages.len(), 3);
        assert!(h.take(a.scan_id).is_none());

        let first = upload(1);
        h.offer(first.clone());
        for _ in 0..4 {
            h.offer(upload(1));
        }
        assert!(h.take(first.scan_id).is_none(), "the oldest was evicted");

        let h = Handoff::new(4, 100);
        h.enable();
        let big = upload(51);
        h.offer(big.clone());
        let other = upload(51);
        h.offer(other.clone());
        assert!(
            h.take(big.scan_id).is_none(),
            "evicted for the package bound"
        );
        assert!(h.take(other.scan_id).is_some());
        h.offer(upload(101));
        assert!(h.entries.lock().unwrap().is_empty(), "too big to keep");
    }
}
