//! Vulnerability and end-of-life feeds: reading OSV and endoflife.date bundles (ARCHITECTURE.md §9).
