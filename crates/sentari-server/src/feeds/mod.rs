//! Vulnerability and end-of-life feeds: reading OSV and endoflife.date bundles (ARCHITECTURE.md §9).

pub mod eol_bundle;
pub mod osv_bundle;
