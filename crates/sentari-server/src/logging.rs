//! Split log files with size-based rotation (ARCHITECTURE.md §12, seed `001_…`).
//!
//! Every event goes through `tracing`. Events are routed to files by target: code that writes an
//! access line uses [`ACCESS`], security events [`SECURITY`], and so on, so a SIEM can ingest the
//! security and audit streams apart from application noise. `error.log` receives errors from
//! every target. `SENTARI_LOG_LEVEL` sets the verbosity of the application stream and stdout, and
//! never silences `security.log`: an operator turning logging down must not lose the record of
//! who tried to get in.

use std::io;
use std::path::Path;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing::Level;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets, filter_fn};
use tracing_subscriber::prelude::*;

use crate::config::{Config, Rotation};

/// Target of the one-line-per-request access log.
pub const ACCESS: &str = "sentari::access";
/// Target of authentication and authorization events.
pub const SECURITY: &str = "sentari::security";
/// Target of privileged changes (JSON lines).
pub const AUDIT: &str = "sentari::audit";
/// Target of LDAP operations.
pub const LDAP: &str = "sentari::ldap";
/// Target of slow requests and slow queries (JSON lines).
pub const PERFORMANCE: &str = "sentari::performance";

/// The seven files and what each receives.
pub const FILES: [&str; 7] = [
    "application",
    "error",
    "access",
    "security",
    "audit",
    "ldap",
    "performance",
];

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log directory or a file in it could not be created.
    #[error("log directory {path} is not usable: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A global subscriber was already installed (only possible in tests).
    #[error("logging was already initialised")]
    AlreadySet,
}

/// Keeps the background writer threads alive; dropping it flushes every file.
#[must_use = "dropping the guards stops the log writers"]
pub struct LogGuards {
    _guards: Vec<WorkerGuard>,
}

fn writer(
    dir: &Path,
    name: &str,
    rotation: Rotation,
    guards: &mut Vec<WorkerGuard>,
) -> Result<tracing_appender::non_blocking::NonBlocking, LoggingError> {
    let path = dir.join(format!("{name}.log"));
    // Create the file now so that operators see all seven files from the first start.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| LoggingError::Directory {
            path: path.display().to_string(),
            source,
        })?;
    let file = FileRotate::new(
        &path,
        AppendCount::new(rotation.backups),
        // `BytesSurpassed` rotates after the write that crosses the limit, so lines stay whole.
        ContentLimit::BytesSurpassed(usize::try_from(rotation.max_bytes).unwrap_or(usize::MAX)),
        Compression::None,
        None,
    );
    // Never drop lines: a full buffer slows the caller instead of losing an audit record.
    let (nb, guard) = NonBlockingBuilder::default().lossy(false).finish(file);
    guards.push(guard);
    Ok(nb)
}

/// Installs the global subscriber: stdout plus the seven files under `log_dir`.
pub fn init(config: &Config, log_dir: &Path, stdout: bool) -> Result<LogGuards, LoggingError> {
    std::fs::create_dir_all(log_dir).map_err(|source| LoggingError::Directory {
        path: log_dir.display().to_string(),
        source,
    })?;
    let mut guards = Vec::new();
    let rot = |n: &str| config.log_rotation.for_file(n);
    let level = || EnvFilter::new(&config.log_level);
    let security_always = || Targets::new().with_target(SECURITY, Level::INFO);
    let structured =
        |t: &str| t.starts_with(ACCESS) || t.starts_with(AUDIT) || t.starts_with(PERFORMANCE);

    let application = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer(
            log_dir,
            "application",
            rot("application"),
            &mut guards,
        )?)
        .with_filter(
            level()
                .or(security_always())
                .and(filter_fn(move |m| !structured(m.target()))),
        );
    let error = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer(log_dir, "error", rot("error"), &mut guards)?)
        .with_filter(tracing_subscriber::filter::LevelFilter::ERROR);
    let access = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .with_level(false)
        .with_writer(writer(log_dir, "access", rot("access"), &mut guards)?)
        .with_filter(Targets::new().with_target(ACCESS, Level::INFO));
    let security = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer(log_dir, "security", rot("security"), &mut guards)?)
        .with_filter(security_always());
    // The audit file carries only its own target, and entries have a field named `target`
    // (the changed object) that the tracing target would otherwise shadow.
    let audit = tracing_subscriber::fmt::layer()
        .json()
        .with_target(false)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer(log_dir, "audit", rot("audit"), &mut guards)?)
        .with_filter(Targets::new().with_target(AUDIT, Level::INFO));
    let ldap = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer(log_dir, "ldap", rot("ldap"), &mut guards)?)
        .with_filter(Targets::new().with_target(LDAP, Level::DEBUG));
    let performance = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer(
            log_dir,
            "performance",
            rot("performance"),
            &mut guards,
        )?)
        .with_filter(Targets::new().with_target(PERFORMANCE, Level::INFO));
    let console = stdout.then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(io::IsTerminal::is_terminal(&io::stdout()))
            .with_writer(io::stdout)
            .with_filter(level().or(security_always()))
    });

    tracing_subscriber::registry()
        .with(application)
        .with(error)
        .with(access)
        .with(security)
        .with(audit)
        .with(ldap)
        .with(performance)
        .with(console)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(LogGuards { _guards: guards })
}

/// A console-only subscriber for one-shot operator commands that have no log directory.
pub fn init_console(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(filter)
        .try_init();
}
