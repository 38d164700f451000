//! `sentari audit verify`: walks the hash chain and reports the first broken link.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every entry of the chain; exit 0 when intact, 1 when a link is broken.
    Verify,
}

/// Runs one `audit` subcommand.
pub async fn run(config: &Config, cmd: AuditCommand) -> ExitCode {
    let Some(store) = super::connect(config).await else {
        return ExitCode::from(1);
    };
    let AuditCommand::Verify = cmd;
    let report = store.verify_audit_chain().await;
    store.close().await;
    match report {
        Ok(r) => match r.first_broken {
            None => {
                println!("audit chain intact: {} entries verified", r.checked);
                ExitCode::SUCCESS
            }
            Some(b) => {
                println!(
                    "audit chain BROKEN at entry {}{}: {}",
                    b.seq,
                    b.id.map(|i| format!(" ({i})")).unwrap_or_default(),
                    b.reason
                );
                println!("{} entries verified before the break", r.checked);
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("error: cannot read the audit log: {e}");
            ExitCode::from(1)
        }
    }
}
