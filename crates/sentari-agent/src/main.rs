//! The `sentari-agent` binary: parses the command line, picks a mode and maps the outcome to
//! an exit code. Everything else lives in the library.
//!
//! Modes: `--scan` prints a local inventory with no server, configuration or root privileges
//! needed. `--enroll-token` (or `--enroll-token-file`) enrolls with the server; `--serve` runs
//! the daemon loop; `--once` does one scan and upload. Enrollment can be combined with
//! `--serve` or `--once` on the first run.
//!
//! Exit codes: 0 success (scan errors are part of the inventory, not a failure), 1 the command
//! could not do its job (unwritable output, invalid configuration, enrollment refused), 2 usage
//! errors (clap), 3 `--once` kept the scan in the spool because the server was unreachable.

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
#[command(group(ArgGroup::new("mode").required(true).multiple(true).args(["scan", "enroll_token", "enroll_token_file", "serve", "once"])))]
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

    /// Server agent gateway, e.g. https://sentari.example:8000 (default `[server] url`).
    #[arg(long, value_name = "URL")]
    server_url: Option<String>,

    /// Enroll with this token (visible in the process list; prefer --enroll-token-file).
    #[arg(long, value_name = "TOKEN", conflicts_with = "enroll_token_file")]
    enroll_token: Option<String>,

    /// Enroll with the token read from FILE.
    #[arg(long, value_name = "FILE")]
    enroll_token_file: Option<PathBuf>,

    /// SHA-256 fingerprint of the server's CA (`sentari ca show`); enrollment refuses any other.
    #[arg(long, value_name = "SHA256")]
    ca_fingerprint: Option<String>,

    /// Where certificates and the spool live.
    #[arg(long, value_name = "DIR", env = "SENTARI_AGENT_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Override the machine id sent at enrollment (cloned VMs sharing /etc/machine-id).
    #[arg(long, value_name = "ID", env = "SENTARI_MACHINE_ID")]
    machine_id: Option<String>,

    /// Run the daemon loop: scan on the interval, upload, spool while offline, renew.
    #[arg(long, conflicts_with_all = ["scan", "once"])]
    serve: bool,

    /// Scan once and upload; exit 0 when delivered, 3 when the scan was spooled.
    #[arg(long, conflicts_with = "scan")]
    once: bool,

    /// Longest wait between two delivery attempts while the server is unreachable, seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        env = "SENTARI_AGENT_RETRY_MAX_S"
    )]
    retry_max: u64,

    /// Most scans kept in the offline spool.
    #[arg(long, value_name = "N", default_value_t = sentari_agent::spool::DEFAULT_MAX_SCANS)]
    spool_max_scans: usize,

    /// Most bytes kept in the offline spool.
    #[arg(long, value_name = "BYTES", default_value_t = sentari_agent::spool::DEFAULT_MAX_BYTES)]
    spool_max_bytes: u64,
}

/// Exit code of `--once` when the scan stayed in the spool.
const EXIT_SPOOLED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (config, warnings) = AgentConfig::load(cli.config.as_deref())?;
    for w in warnings {
        eprintln!("sentari-agent: warning: {w}");
    }
    if cli.scan {
        scan(&cli, &config)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(connected(cli, config))
}

fn default_data_dir() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(r"C:\ProgramData\Sentari")
    } else {
        PathBuf::from("/var/lib/sentari")
    }
}

async fn connected(cli: Cli, config: AgentConfig) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let proxy = sentari_client::agent::ProxySettings {
        https_proxy: config.proxy.https_proxy.clone(),
        no_proxy: config.proxy.no_proxy.clone(),
    };
    let server_url = cli.server_url.clone().or_else(|| config.server.url.clone());
    let token = match (&cli.enroll_token, &cli.enroll_token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .trim()
                .to_owned(),
        ),
        _ => None,
    };
    if let Some(token) = token {
        let url = server_url
            .as_deref()
            .context("--server-url (or [server] url) is required to enroll")?;
        let pin = match &cli.ca_fingerprint {
            Some(f) => Some(normalize_fingerprint(f).context(
                "--ca-fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed)",
            )?),
            None => {
                eprintln!(
                    "sentari-agent: warning: no --ca-fingerprint given; trusting the server's CA on first use"
                );
                None
            }
        };
        let facts = sentari_agent::enroll::machine_facts(&data_dir, cli.machine_id.as_deref());
        let (enrolled, _) =
            sentari_agent::enroll::enroll(url, &token, pin.as_deref(), &data_dir, &facts, &proxy)
                .await?;
        println!(
            "enrolled as device {} with {}; identity in {}",
            enrolled.device_id,
            enrolled.server_url,
            data_dir.join("certs").display()
        );
    }
    let mut scan = config.scan_options();
    if let Some(root) = &cli.scan_root {
        scan.root = root.clone();
    }
    if let Some(d) = cli.max_depth {
        scan.max_depth = d;
    }
    if let Some(n) = cli.threads {
        scan.threads = usize::from(n);
    }
    scan.exclude.extend(cli.exclude.iter().cloned());
    let opts = sentari_agent::daemon::DaemonOptions {
        data_dir,
        server_url: cli.server_url.clone(),
        scan,
        scan_interval: std::time::Duration::from_secs(config.scanner.interval.max(1)),
        poll_interval: std::time::Duration::from_secs(config.server.poll_interval.max(1)),
        proxy,
        spool_max_scans: cli.spool_max_scans,
        spool_max_bytes: cli.spool_max_bytes,
        backoff_base: std::time::Duration::from_secs(1),
        backoff_max: std::time::Duration::from_secs(cli.retry_max.max(1)),
    };
    if cli.once {
        return Ok(match sentari_agent::daemon::run_once(&opts).await? {
            sentari_agent::daemon::OnceOutcome::Delivered => {
                println!("scan delivered");
                ExitCode::SUCCESS
            }
            sentari_agent::daemon::OnceOutcome::Spooled => ExitCode::from(EXIT_SPOOLED),
        });
    }
    if cli.serve {
        sentari_agent::daemon::serve(opts).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `AB:CD:…`, `sha256:abcd…` or plain hex to lowercase hex.
fn normalize_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
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
