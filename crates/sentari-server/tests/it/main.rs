//! The server's integration tests, in one binary: linking each file as its own test binary
//! cost minutes and gigabytes per file, since each links the whole server. Every file is a
//! module; the `*_support` and `common` modules are the shared helpers. cargo-nextest still runs
//! every test in its own process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_transport;
mod auth_api;
mod auth_ldap;
mod auth_matrix;
mod auth_mfa;
mod auth_oidc;
mod auth_support;
mod backup_restore;
mod browser;
mod common;
mod config_errors;
mod dashboard_pages;
mod dashboard_security;
mod fleet_api;
mod fleet_feeds;
mod fleet_findings_lists;
mod fleet_ingest;
mod fleet_support;
mod health_outage;
mod jobs_process;
mod license_mode;
mod log_files;
mod matching_cli;
mod scheduler_ticks;
mod startup;
mod web_support;
