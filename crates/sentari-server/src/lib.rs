//! The `sentari` server: web/API, agent gateway, job worker, scheduler and operator CLI.
//!
//! `main.rs` only parses the command line; everything else is here so integration tests can
//! reach it. See ARCHITECTURE.md §3 for the module map.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod feeds;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod license;
pub mod logging;
pub mod pki;
pub mod secrets;
pub mod state;
pub mod tls;

/// The version printed by `--version`, `/api/health` and the start banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
