//! The operator command line (ARCHITECTURE.md §2, the runbook of seed `003_…`).
//!
//! Long-running roles (`serve`, `api`, `worker`, `beat`) and one-shot operator commands share
//! the same configuration. Exit codes: 0 success, 1 failure at run time, 2 bad configuration or
//! usage (clap's own usage errors are 2 as well).

pub mod audit;
pub mod backup;
pub mod ca;
pub mod enroll_token;
pub mod eol_query;
pub mod feeds;
pub mod license;
pub mod osv_query;
pub mod queues;
pub mod status;
pub mod users;
pub mod vercmp;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, Role};
use crate::config::Config;

/// Sentari: fleet security server.
#[derive(Debug, Parser)]
#[command(name = "sentari", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything in one process: web/API, worker and scheduler (the default deployment).
    Serve,
    /// Run the web/API listener only.
    Api,
    /// Run a job worker only.
    Worker,
    /// Run the scheduler only (safe to run several).
    Beat,
    /// Apply database migrations and exit.
    Migrate,
    /// Database, migrations, queues and the processes seen in the last minute.
    Status,
    /// Inspect and manage the job queues.
    #[command(subcommand)]
    Queues(queues::QueuesCommand),
    /// Write a consistent backup of the database to a file.
    Backup(backup::BackupArgs),
    /// Replace the database with a backup.
    Restore(backup::RestoreArgs),
    /// Manage operator accounts (passwords are read from stdin, never from flags).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Inspect the hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Inspect the internal CA or re-encrypt its key under a new passphrase.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Create, list and revoke agent enrollment tokens.
    #[command(subcommand)]
    EnrollToken(enroll_token::EnrollTokenCommand),
    /// Vulnerability and end-of-life feeds: import offline bundles, sync now, status.
    #[command(subcommand)]
    Feeds(feeds::FeedsCommand),
    /// Check the license key; vendor tools to make signing keys and issue license keys.
    #[command(subcommand)]
    License(license::LicenseCommand),
    /// Compare two versions in an ecosystem's order (or `A<TAB>B` lines from stdin).
    Vercmp(vercmp::VercmpArgs),
    /// Query OSV bundles for package versions read as JSON lines from stdin.
    #[command(subcommand)]
    Osv(osv_query::OsvCommand),
    /// Query endoflife.date cycles for runtime versions read as JSON lines from stdin.
    #[command(subcommand)]
    Eol(eol_query::EolCommand),
}

/// Loads the configuration or prints the one-line error; `None` means exit 2.
pub fn load_config() -> Option<Config> {
    match Config::load() {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // The matching tools work offline on files: no configuration, database or data directory.
    let cli = match matching_tool(cli) {
        Ok(code) => return code,
        Err(cli) => cli,
    };
    let Some(config) = load_config() else {
        return ExitCode::from(2);
    };
    let Some(rt) = runtime() else {
        return ExitCode::from(1);
    };
    let role = match cli.command {
        Command::Serve => Role::Serve,
        Command::Api => Role::Api,
        Command::Worker => Role::Worker,
        Command::Beat => Role::Beat,
        other => {
            crate::logging::init_console(
                &std::env::var("SENTARI_LOG_LEVEL").unwrap_or_else(|_| "warn".into()),
            );
            return rt.block_on(operator(other, config));
        }
    };
    let prepared = match app::prepare(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(e.exit_code());
        }
    };
    match rt.block_on(app::run(role, prepared)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Sentari failed");
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs `vercmp`, `osv` and `eol`; hands every other command back.
fn matching_tool(cli: Cli) -> Result<ExitCode, Cli> {
    fn report<E: std::error::Error>(r: Result<ExitCode, E>) -> ExitCode {
        r.unwrap_or_else(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        })
    }
    match cli.command {
        Command::Vercmp(a) => Ok(report(vercmp::run(a))),
        Command::Osv(c) => Ok(report(osv_query::run_command(c))),
        Command::Eol(c) => Ok(report(eol_query::run_command(c))),
        // `verify` reads the configuration itself, and only when no key is given, so the
        // vendor tools work on a machine with no server configuration at all.
        Command::License(c) => Ok(license::run(c)),
        command => Err(Cli { command }),
    }
}

async fn operator(command: Command, config: Config) -> ExitCode {
    match command {
        Command::Migrate => match app::migrate(&config).await {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: migration failed: {e}");
                ExitCode::from(1)
            }
        },
        Command::Status => status::run(&config).await,
        Command::Queues(q) => queues::run(&config, q).await,
        Command::Backup(a) => backup::backup(&config, a).await,
        Command::Restore(a) => backup::restore(&config, a).await,
        Command::Users(c) => users::run(&config, c).await,
        Command::Audit(c) => audit::run(&config, c).await,
        Command::Ca(c) => ca::run(&config, c),
        Command::EnrollToken(c) => enroll_token::run(&config, c).await,
        Command::Feeds(c) => feeds::run(&config, c).await,
        Command::Serve
        | Command::Api
        | Command::Worker
        | Command::Beat
        | Command::Vercmp(_)
        | Command::License(_)
        | Command::Osv(_)
        | Command::Eol(_) => ExitCode::from(2),
    }
}

/// Connects to the configured database for a one-shot command, printing a clear error.
pub async fn connect(config: &Config) -> Option<sentari_store::Store> {
    let url = config.paths().database_url;
    match sentari_store::Store::connect(&url, &sentari_store::StoreOptions::default()).await {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("error: database {} unreachable: {e}", app::redact_url(&url));
            None
        }
    }
}

/// Formats a duration as `1d 02:03:04` / `0:05:12` like supervisorctl's uptime.
pub fn format_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if days > 0 {
        format!("{days}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h}:{m:02}:{sec:02}")
    }
}
