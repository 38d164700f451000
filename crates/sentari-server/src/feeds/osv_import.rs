//! Importing OSV bundles into the database, then re-correlating what changed.
//!
//! A bundle (any format `osv_bundle` reads) is streamed record by record; each record is
//! compared with the stored copy of its id and kept only when it is new, newer, or newly
//! withdrawn. Nothing is written until the whole bundle has been read: a truncated or corrupt
//! bundle fails with a clear error and leaves the stored advisories as they were. The changes
//! are then written in one transaction, and only the package versions whose `(ecosystem,
//! name)` keys were touched are evaluated again (ARCHITECTURE.md §4, §9).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use sentari_core::ecosystem::{Ecosystem, normalize_package_name};
use sentari_core::osv::{OsvRecord, RecordError, resolve_severity};
use sentari_store::{AdvisoryRow, Store, StoredVersion};
use serde::Serialize;

use super::osv_bundle::{BundleError, BundleLimits, LoadReport, RecordSink, read_osv_bundle};
use crate::correlate;

/// What an import did, as `sentari feeds import` prints it and the feed status keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Records read from the bundle.
    pub records: u64,
    /// Advisories new to the database.
    pub added: u64,
    /// Advisories replaced by a newer copy.
    pub updated: u64,
    /// Advisories withdrawn by this import.
    pub withdrawn: u64,
    /// Records identical to (or older than) the stored copy.
    pub unchanged: u64,
    /// Records that could not be used (not OSV JSON, no id).
    pub rejected: u64,
    /// `(ecosystem, name)` keys whose advisories changed.
    pub keys_changed: u64,
    /// Package versions evaluated again.
    pub versions_evaluated: u64,
    /// New findings (or reopened ones).
    pub findings_new: u64,
    /// Findings resolved (withdrawn or no longer affected).
    pub findings_resolved: u64,
    /// Wall time, in milliseconds.
    pub ms: u64,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bundle could not be read; nothing was written.
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] sentari_store::StoreError),
    /// Correlation failed after the advisories were written.
    #[error(transparent)]
    Correlate(#[from] correlate::CorrelateError),
    /// The reading task failed.
    #[error("import task failed: {0}")]
    Task(String),
}

/// Collects the records that differ from the stored copies.
struct Collector {
    stored: HashMap<String, StoredVersion>,
    rows: Vec<AdvisoryRow>,
    /// Index into `rows` by id, so a bundle that repeats an id keeps its newest copy.
    by_id: HashMap<String, usize>,
    source: String,
    unchanged: u64,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
    seen: u64,
}

impl RecordSink for Collector {
    fn record(&mut self, json: &[u8]) -> Result<(), RecordError> {
        self.seen += 1;
        if let Some(p) = self.progress.as_mut()
            && self.seen.is_multiple_of(500)
        {
            p(self.seen);
        }
        let rec: OsvRecord = serde_json::from_slice(json).map_err(|e| RecordError {
            id: None,
            reason: format!("not an OSV record: {e}"),
        })?;
        if rec.id.trim().is_empty() {
            return Err(RecordError {
                id: None,
                reason: "empty id".into(),
            });
        }
        // A later copy in the same bundle wins only when it is newer.
        if let Some(&i) = self.by_id.get(&rec.id)
            && let Some(prev) = self.rows.get(i)
            && prev.modified >= rec.modified
            && !(rec.withdrawn.is_some() && prev.withdrawn.is_none())
        {
            self.unchanged += 1;
            return Ok(());
        }
        if let Some(old) = self.stored.get(&rec.id) {
            let newer = rec.modified > old.modified;
            let newly_withdrawn = rec.withdrawn.is_some() && !old.withdrawn;
            if !newer && !newly_withdrawn {
                self.unchanged += 1;
                return Ok(());
            }
        }
        let row = advisory_row(&rec, json, &self.source);
        match self.by_id.get(&row.id) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.by_id.insert(row.id.clone(), self.rows.len());
                self.rows.push(row);
            }
        }
        Ok(())
    }
}

/// The stored form of a record.
pub fn advisory_row(rec: &OsvRecord, json: &[u8], source: &str) -> AdvisoryRow {
    let severity = resolve_severity(&rec.severity, rec.database_specific.as_ref()).or_else(|| {
        // Some databases put the severity on the affected entries only.
        rec.affected
            .iter()
            .find_map(|a| resolve_severity(&a.severity, a.database_specific.as_ref()))
    });
    let mut keys = Vec::new();
    for a in &rec.affected {
        let Some(p) = &a.package else { continue };
        let eco = Ecosystem::parse(&p.ecosystem);
        if eco.version_scheme().is_none() {
            continue;
        }
        let key = (
            eco.without_release().to_string(),
            normalize_package_name(&eco, &p.name),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let published = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|v| {
            v.get("published")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    AdvisoryRow {
        id: rec.id.clone(),
        modified: rec.modified.clone(),
        published,
        withdrawn: rec.withdrawn.clone(),
        summary: rec.summary.clone(),
        aliases: rec.aliases.clone(),
        severity_type: severity.as_ref().map(|s| s.kind.clone()),
        severity_vector: severity.as_ref().and_then(|s| s.vector.clone()),
        severity_score: severity.as_ref().and_then(|s| s.score),
        severity_rating: severity
            .as_ref()
            .and_then(|s| s.rating)
            .map(|r| r.to_string().to_ascii_lowercase()),
        source: source.to_owned(),
        record: String::from_utf8_lossy(json).into_owned(),
        keys,
    }
}

/// Reads a bundle and writes what changed; then re-correlates the changed keys.
/// `progress` is called with the number of records read so far.
pub async fn import_bundle(
    store: &Store,
    path: &Path,
    source: &str,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let stored = store.advisory_versions().await?;
    let path_owned = path.to_owned();
    let source_owned = source.to_owned();
    let (collector, report): (Collector, LoadReport) = tokio::task::spawn_blocking(move || {
        let mut c = Collector {
            stored,
            rows: Vec::new(),
            by_id: HashMap::new(),
            source: source_owned,
            unchanged: 0,
            progress,
            seen: 0,
        };
        let report = read_osv_bundle(&path_owned, &mut c, &BundleLimits::default())?;
        Ok::<_, BundleError>((c, report))
    })
    .await
    .map_err(|e| ImportError::Task(e.to_string()))??;
    for (location, e) in report.errors.iter().take(20) {
        tracing::warn!(location = %location, error = %e, "OSV record rejected");
    }
    let write = store.import_advisories(&collector.rows).await?;
    let mut summary = ImportSummary {
        records: report.records as u64,
        added: write.added,
        updated: write.updated,
        withdrawn: write.withdrawn,
        unchanged: collector.unchanged,
        rejected: report.error_count as u64,
        keys_changed: write.changed_keys.len() as u64,
        ..ImportSummary::default()
    };
    if !write.changed_keys.is_empty() {
        let versions = store.package_versions_for_keys(&write.changed_keys).await?;
        summary.versions_evaluated = versions.len() as u64;
        let changes = correlate::correlate(store, versions).await?;
        summary.findings_new = changes.new_findings + changes.reopened;
        summary.findings_resolved = changes.resolved;
    }
    summary.ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}
