//! Correlation: package versions × OSV advisories, evaluated once per distinct version.
//!
//! The correlator loads, for a batch of `(ecosystem, name)` keys, every live advisory that names
//! one of them, builds a small [`OsvIndex`] from those records with `sentari-core`, and judges
//! each package version of the batch against it. The results go to the store, which turns them
//! into new, updated, reopened and resolved findings and propagates them to devices. A scan
//! triggers this only for versions never seen before; a feed import only for the keys whose
//! advisories changed (ARCHITECTURE.md §4).

use std::collections::BTreeMap;

use sentari_core::ecosystem::Ecosystem;
use sentari_core::osv::{MatchRef, OsvIndex, QueryError};
use sentari_store::{
    Evaluation, EvaluationChanges, NewFinding, PackageVersionKey, Store, StoreError,
};
use serde_json::json;

/// Keys per batch: bounds the advisories held in memory at once.
const KEYS_PER_BATCH: usize = 2_000;

/// Why a correlation run failed.
#[derive(Debug, thiserror::Error)]
pub enum CorrelateError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The evaluation task panicked or was cancelled.
    #[error("evaluation task failed: {0}")]
    Task(String),
}

/// The name a package is matched under: the source package for OS packages.
pub fn match_name_of(pv: &PackageVersionKey) -> &str {
    if pv.source_name.is_empty() {
        &pv.name
    } else {
        &pv.source_name
    }
}

/// Evaluates `versions` against the stored advisories and records the results.
pub async fn correlate(
    store: &Store,
    versions: Vec<PackageVersionKey>,
) -> Result<EvaluationChanges, CorrelateError> {
    let mut total = EvaluationChanges::default();
    if versions.is_empty() {
        return Ok(total);
    }
    let mut by_key: BTreeMap<(String, String), Vec<PackageVersionKey>> = BTreeMap::new();
    for pv in versions {
        by_key
            .entry((pv.match_ecosystem.clone(), pv.match_name.clone()))
            .or_default()
            .push(pv);
    }
    let keys: Vec<(String, String)> = by_key.keys().cloned().collect();
    let mut batches = keys.chunks(KEYS_PER_BATCH).map(|batch| {
        let supported: Vec<(String, String)> = batch
            .iter()
            .filter(|(e, _)| !e.is_empty())
            .cloned()
            .collect();
        let versions: Vec<PackageVersionKey> = batch
            .iter()
            .filter_map(|k| by_key.remove(k))
            .flatten()
            .collect();
        (supported, versions)
    });
    // Batches are pipelined: the next batch's advisories are read and its versions evaluated
    // (on another core) while this batch's results are written, since the writer is the
    // bottleneck and the evaluation of a batch takes about as long as recording it.
    let spawn = |(supported, versions): (Vec<(String, String)>, Vec<PackageVersionKey>)| {
        let store = store.clone();
        tokio::spawn(async move { evaluate_batch(&store, supported, versions).await })
    };
    let mut next = batches.next().map(spawn);
    while let Some(handle) = next.take() {
        let evals = handle
            .await
            .map_err(|e| CorrelateError::Task(e.to_string()))??;
        next = batches.next().map(spawn);
        let changes = match store.record_evaluations(&evals).await {
            Ok(c) => c,
            Err(e) => {
                if let Some(h) = next {
                    h.abort();
                }
                return Err(e.into());
            }
        };
        add(&mut total, &changes);
    }
    Ok(total)
}

fn add(total: &mut EvaluationChanges, c: &EvaluationChanges) {
    total.new_findings += c.new_findings;
    total.reopened += c.reopened;
    total.updated += c.updated;
    total.resolved += c.resolved;
    total.devices += c.devices;
}

/// Reads the advisories naming the `supported` keys and judges `versions` against them.
async fn evaluate_batch(
    store: &Store,
    supported: Vec<(String, String)>,
    versions: Vec<PackageVersionKey>,
) -> Result<Vec<Evaluation>, CorrelateError> {
    let records = if supported.is_empty() {
        Vec::new()
    } else {
        store.advisory_records_for_keys(&supported).await?
    };
    tokio::task::spawn_blocking(move || evaluate(&records, &versions))
        .await
        .map_err(|e| CorrelateError::Task(e.to_string()))
}

/// Judges each version against the given advisory records (pure, CPU-bound).
pub fn evaluate(records: &[String], versions: &[PackageVersionKey]) -> Vec<Evaluation> {
    let mut index = OsvIndex::new();
    for r in records {
        if let Err(e) = index.insert_json(r.as_bytes()) {
            tracing::warn!(error = %e, "stored advisory could not be indexed; skipped");
        }
    }
    versions
        .iter()
        .map(|pv| {
            let eco = Ecosystem::parse(&pv.ecosystem);
            match index.query_refs(&eco, match_name_of(pv), &pv.version) {
                Ok(outcome) => Evaluation {
                    package_version_id: pv.id,
                    status: "evaluated".into(),
                    findings: outcome.matches.iter().map(|m| finding_of(m, pv)).collect(),
                },
                Err(QueryError::UnsupportedEcosystem(_)) => Evaluation {
                    package_version_id: pv.id,
                    status: "unsupported_ecosystem".into(),
                    findings: Vec::new(),
                },
                Err(QueryError::UnparsableVersion(_)) => Evaluation {
                    package_version_id: pv.id,
                    status: "unparsable_version".into(),
                    findings: Vec::new(),
                },
            }
        })
        .collect()
}

/// A match as a stored finding, with the full explanation of why it matched. It is built from
/// the match borrowed from the index, so nothing is copied out of the index only to be
/// serialised again here.
fn finding_of(m: &MatchRef<'_>, pv: &PackageVersionKey) -> NewFinding {
    let severity = m.severity();
    let matched = m.reason();
    let rating = severity
        .and_then(|s| s.rating)
        .map(|r| r.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "unknown".into());
    let mut reason = json!({
        "advisory_id": m.id(),
        "aliases": m.aliases(),
        "installed": {
            "ecosystem": pv.ecosystem,
            "name": match_name_of(pv),
            "version": pv.version,
        },
    });
    if let (Some(obj), Ok(serde_json::Value::Object(matched))) =
        (reason.as_object_mut(), serde_json::to_value(matched))
    {
        obj.extend(matched);
    }
    NewFinding {
        advisory_id: m.id().to_owned(),
        severity_rating: rating,
        severity_score: severity.and_then(|s| s.score),
        severity_type: severity.map(|s| s.kind.clone()),
        severity_vector: severity.and_then(|s| s.vector.clone()),
        fixed_version: matched.fixed.map(str::to_owned),
        reason,
    }
}
