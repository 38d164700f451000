//! The offline spool: scans that could not be delivered, kept on disk until the server is back.
//!
//! One gzip file per scan under `<data>/spool`, named by a sequence number so that a directory
//! listing sorted by name is the delivery order. The spool is bounded by a count and a byte
//! size; when a new scan would exceed either, the oldest scans are dropped with a warning. A
//! scan leaves the spool only after the server acknowledged it, and the server deduplicates by
//! `scan_id`, so a crash between the two delivers it again without storing it twice.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::files::{make_private_dir, write_private_atomic};

/// Default bound on the number of spooled scans.
pub const DEFAULT_MAX_SCANS: usize = 500;
/// Default bound on the spool's size in bytes.
pub const DEFAULT_MAX_BYTES: u64 = 500 * 1024 * 1024;

/// One spooled scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The scan's id (from the file name).
    pub scan_id: Option<Uuid>,
}

/// The spool directory and its bounds.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    max_scans: usize,
    max_bytes: u64,
}

impl Spool {
    /// Opens (creating) the spool under `data_dir/spool`.
    pub fn open(data_dir: &Path, max_scans: usize, max_bytes: u64) -> std::io::Result<Spool> {
        let dir = data_dir.join("spool");
        make_private_dir(&dir)?;
        Ok(Spool {
            dir,
            max_scans: max_scans.max(1),
            max_bytes: max_bytes.max(1),
        })
    }

    /// Spooled scans, oldest first.
    pub fn entries(&self) -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json.gz") else {
                continue;
            };
            let scan_id = stem
                .split_once('-')
                .and_then(|(_, id)| Uuid::parse_str(id).ok());
            out.push(Entry {
                path: e.path(),
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                scan_id,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries().map(|e| e.is_empty()).unwrap_or(true)
    }

    /// Adds a gzip-compressed scan, dropping the oldest ones when a bound would be exceeded;
    /// returns the dropped entries.
    pub fn push(&self, scan_id: Uuid, gz: &[u8]) -> std::io::Result<Vec<Entry>> {
        let mut entries = self.entries()?;
        let mut dropped = Vec::new();
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        while !entries.is_empty()
            && (entries.len() + 1 > self.max_scans || total + gz.len() as u64 > self.max_bytes)
        {
            let old = entries.remove(0);
            total = total.saturating_sub(old.bytes);
            std::fs::remove_file(&old.path)?;
            dropped.push(old);
        }
        // The sequence is the next after the newest file, so names sort in arrival order even
        // when the clock steps backwards.
        let next = entries
            .last()
            .and_then(|e| e.path.file_name())
            .and_then(|n| {
                n.to_string_lossy()
                    .split('-')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .map(|n| n + 1)
            .unwrap_or(1);
        let path = self.dir.join(format!("{next:020}-{scan_id}.json.gz"));
        write_private_atomic(&path, gz)?;
        Ok(dropped)
    }

    /// Reads a spooled scan.
    pub fn read(&self, e: &Entry) -> std::io::Result<Vec<u8>> {
        std::fs::read(&e.path)
    }

    /// Removes a delivered scan.
    pub fn remove(&self, e: &Entry) -> std::io::Result<()> {
        match std::fs::remove_file(&e.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_order_and_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 3, 1_000_000).unwrap();
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            s.push(*id, b"x").unwrap();
        }
        let e = s.entries().unwrap();
        assert_eq!(
            e.iter().map(|e| e.scan_id.unwrap()).collect::<Vec<_>>(),
            ids[2..].to_vec()
        );
        let s = Spool::open(dir.path(), 100, 10).unwrap();
        let dropped = s.push(Uuid::new_v4(), b"0123456789").unwrap();
        assert_eq!(dropped.len(), 3);
    }
}
