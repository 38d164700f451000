//! The fleet simulator: virtual agents with realistic inventories driving a real server over
//! the real protocol (issue 7), and the measurements taken with it.
//!
//! Every virtual agent makes its own ECDSA P-256 key and CSR, registers with the enrollment
//! token over the TLS agent gateway, and uploads zstd-compressed `ScanUpload`s with its device
//! certificate, exactly as `sentari-agent` does. Operators' views are read through the REST API
//! with the bootstrap owner's session, and the server's progress through its Prometheus
//! endpoint, so nothing here reads the database behind the server's back.
//!
//! Subcommands: `catalog` (what the fleet is drawn from), `scan` (enroll N devices and upload
//! first scans and churned re-scans: throughput), `latency` (one large scan of a new device
//! until its findings are queryable, and an unchanged re-scan), `api` (list endpoints and
//! dashboard pages under a loaded fleet).

pub mod catalog;
pub mod generate;
mod run;

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `sentari-loadgen fleet …`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Print what the package catalog holds and what a few generated devices look like.
    Catalog(CatalogArgs),
    /// Enroll N virtual agents, upload their first scans (and churned re-scans); throughput.
    Scan(run::ScanArgs),
    /// New devices with one large scan each, until their findings are queryable; then an
    /// unchanged re-scan of each.
    Latency(run::LatencyArgs),
    /// Latency of the REST list endpoints and dashboard pages.
    Api(run::ApiArgs),
}

/// Where the catalog comes from and how devices are drawn.
#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    /// Directory of `<Ecosystem>/all.zip` OSV archives whose package names and versions join
    /// the catalog (so that findings occur).
    #[arg(long, default_value = "../shared/data/osv")]
    pub osv: PathBuf,
    /// Seed of every random choice: the same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Host name prefix; runs with different prefixes make different devices.
    #[arg(long, default_value = "sim")]
    pub prefix: String,
    /// Packages per device (the `catalog` subcommand's sample devices).
    #[arg(long, default_value_t = 2000)]
    pub packages: usize,
}

/// Runs a `fleet` subcommand.
pub async fn run(cmd: FleetCommand) -> anyhow::Result<()> {
    match cmd {
        FleetCommand::Catalog(a) => run::catalog(a).await,
        FleetCommand::Scan(a) => run::scan(a).await,
        FleetCommand::Latency(a) => run::latency(a).await,
        FleetCommand::Api(a) => run::api(a).await,
    }
}
