//! OSV advisories: the record model, range evaluation, CVSS, and an in-memory index that
//! answers "which advisories affect this package version, and why".
//!
//! The index is fed record by record (`insert_json`) by whatever reads the bundle, so the
//! caller decides how bytes arrive (zip, directory, NDJSON) and this crate stays free of
//! I/O. Records are reduced on the way in to what matching needs, which keeps memory
//! proportional to the advisories kept rather than to the size of the feed.

pub mod cvss;
pub mod eval;
pub mod index;
pub mod model;

pub use cvss::{Rating, cvss3_base_score};
pub use eval::{Event, EventKind, PreparedRange, RangeHit, RangeType};
pub use index::{
    Indeterminate, IndexStats, InsertOutcome, MatchReason, MatchReasonRef, MatchRef, OsvIndex,
    QueryError, QueryOutcome, QueryRefs, RecordError, Severity, VulnMatch, resolve_severity,
};
pub use model::OsvRecord;

#[cfg(test)]
mod tests;
