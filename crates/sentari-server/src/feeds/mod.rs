//! Vulnerability and end-of-life feeds: reading OSV and endoflife.date bundles (ARCHITECTURE.md §9).

mod config;
pub mod eol_bundle;
pub mod osv_bundle;
pub mod osv_import;
pub mod sync;

pub use config::FeedsConfig;
