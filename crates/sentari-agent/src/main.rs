//! The `sentari-agent` binary: parses the command line, picks a mode and maps the outcome to
//! an exit code. Everything else lives in the library.
//!
//! Modes: `--scan` prints a local inventory with no server, configuration or root privileges
//! needed. Enrollment (`--enroll-token`), the daemon loop (`--serve`) and one-shot uploads
//! (`--once`) arrive as further modes beside it.
//!
//! Exit codes: 0 success (scan errors are part of the inventory, not a failure), 1 the command
//! could not do its job (unwritable output, invalid configuration), 2 usage errors (clap).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Parser, ValueEnum};
use sentari_agent::config::AgentConfig;
use sentari_agent::output::{self, Format};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Cyclonedx,
}

/// Sentari agent: software inventory and host monitoring.
#[derive(Debug, Parser)]
#[command(name = "sentari-agent", version, about)]
#[command(group(ArgGroup::new("mode").required(true).args(["scan"])))]
struct Cli {
    /// Inventory this machine (or --scan-root) and print the result; needs no server.
    #[arg(long)]
    scan: bool,

    /// Directory to treat as the root of the scanned filesystem (a mounted image, an
    /// unpacked container); default `/` or `[scanner] scan_root`.
    #[arg(long, value_name = "DIR")]
    scan_root: Option<PathBuf>,

    /// Output format of --scan.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,

    /// Write the output to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// agent.conf to read (INI); without it only defaults and SENTARI_* variables apply.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Worker threads for the scan (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,

    /// Directory levels the walk descends below the root.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,

    /// Glob of paths to skip (repeatable), matched against paths inside the scan root.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `sentari-agent --scan | head` closing the pipe early is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sentari-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, warnings) = AgentConfig::load(cli.config.as_deref())?;
    for w in warnings {
        eprintln!("sentari-agent: warning: {w}");
    }
    if cli.scan {
        return scan(&cli, &config);
    }
    Ok(())
}

fn scan(cli: &Cli, config: &AgentConfig) -> anyhow::Result<()> {
    let mut opts = config.scan_options();
    if let Some(root) = &cli.scan_root {
        opts.root = root.clone();
    }
    if !opts.root.is_dir() {
        anyhow::bail!("scan root {} is not a directory", opts.root.display());
    }
    if let Some(n) = cli.threads {
        opts.threads = usize::from(n);
    }
    if let Some(d) = cli.max_depth {
        opts.max_depth = d;
    }
    opts.exclude.extend(cli.exclude.iter().cloned());
    // The output file is created first, so that a wrong path fails before a long scan.
    let file = match &cli.output {
        Some(path) => {
            Some(File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => None,
    };
    let result = sentari_agent::scan(&opts);
    let format = match cli.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Cyclonedx => Format::CycloneDx,
    };
    match (file, &cli.output) {
        (Some(file), Some(path)) => {
            let mut w = BufWriter::new(file);
            output::write(&result, format, &mut w)?;
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            output::write(&result, format, &mut w)?;
            w.flush().context("cannot write to standard output")?;
        }
    }
    Ok(())
}
