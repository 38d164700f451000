//! `sentari-loadgen`: load generators and benchmarks. Today it has one subcommand, `queue`,
//! which measures the job queue's throughput and latencies against a real database.

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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Queue(args) => queue::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
