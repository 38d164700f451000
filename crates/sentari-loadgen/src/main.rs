//! `sentari-loadgen`: load generators and benchmarks. `queue` measures the job queue's
//! throughput and latencies against a real database; `fleet` simulates a fleet of agents
//! against a real server over the real protocol (issue 7).

mod fleet;
mod queue;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sentari-loadgen",
    version,
    about = "Load generators and benchmarks for Sentari"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Job queue throughput: enqueue N no-op jobs, then drain them with W workers.
    Queue(queue::QueueArgs),
    /// Fleet simulator: virtual agents with realistic inventories against a running server.
    #[command(subcommand)]
    Fleet(fleet::FleetCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Queue(args) => queue::run(args).await,
        Command::Fleet(cmd) => fleet::run(cmd).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
