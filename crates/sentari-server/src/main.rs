//! Entry point of the `sentari` binary: parses the command line and maps outcomes to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sentari_server::cli::Cli::parse();
    sentari_server::cli::run(cli)
}
