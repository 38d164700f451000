//! Server configuration: built-in defaults, then `sentari.toml`, then `SENTARI_*` variables.
//!
//! The layering follows ARCHITECTURE.md §13. Environment values are taken as raw strings and
//! parsed per field, never guessed: figment's own environment provider would read
//! `SENTARI_SECRET_KEY=0123…` as the number 123, silently changing a secret. Every rejected value
//! produces one line naming the variable (or the file key) and the problem, and the caller exits
//! with status 2 before anything is created on disk.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer};

/// Where the configuration came from, for error messages.
const ENV_SOURCE: &str = "environment";

/// Whether the server runs as a development sandbox or a production service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunEnv {
    /// Generated secrets are acceptable.
    Development,
    /// Secrets must be set explicitly and be strong.
    Production,
}

impl FromStr for RunEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(RunEnv::Development),
            "production" | "prod" => Ok(RunEnv::Production),
            _ => Err("expected `development` or `production`".to_owned()),
        }
    }
}

/// Size and count of one rotated log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate when the file reaches this many bytes.
    pub max_bytes: u64,
    /// Keep this many rotated files beside the live one.
    pub backups: usize,
}

/// The whole server configuration after layering and validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `development` (default) or `production`.
    #[serde(deserialize_with = "lenient")]
    pub env: RunEnv,
    /// `STORAGE_ROOT`: when set, `data/`, `logs/` and `backups/` default beneath it.
    pub storage_root: Option<PathBuf>,
    /// Where the database, secrets and CA live (default `./data`).
    pub data_dir: Option<PathBuf>,
    /// Where the log files go (default `<data>/logs`).
    pub log_dir: Option<PathBuf>,
    /// Where `sentari backup` writes by default (default `<data>/backups`).
    pub backup_dir: Option<PathBuf>,
    /// `sqlite://…` (default `<data>/sentari.db`) or `postgres://…`.
    pub database_url: Option<String>,
    /// Verbosity: a level (`info`) or a tracing filter (`info,sentari=debug`).
    pub log_level: String,
    /// Web UI and REST API listener.
    #[serde(deserialize_with = "lenient")]
    pub http_bind: SocketAddr,
    /// Agent gateway listener.
    #[serde(deserialize_with = "lenient")]
    pub agent_bind: SocketAddr,
    /// Prometheus listener; keep it on loopback unless a scraper needs it.
    #[serde(deserialize_with = "lenient")]
    pub metrics_bind: SocketAddr,
    /// Serve Prometheus metrics at all.
    #[serde(deserialize_with = "lenient")]
    pub metrics_enabled: bool,
    /// Master secret; generated and stored in `<data>/secret_key` outside production.
    pub secret_key: Option<String>,
    /// Requests slower than this go to `performance.log`.
    #[serde(deserialize_with = "lenient")]
    pub slow_request_ms: u64,
    /// Database statements slower than this go to `performance.log`.
    #[serde(deserialize_with = "lenient")]
    pub slow_query_ms: u64,
    /// How long a stop waits for in-flight requests and jobs.
    #[serde(deserialize_with = "lenient")]
    pub shutdown_timeout_s: u64,
    /// Lease a worker takes on a job; renewed while the job runs.
    #[serde(deserialize_with = "lenient")]
    pub job_lease_s: u64,
    /// Jobs one worker process runs at once.
    #[serde(deserialize_with = "lenient")]
    pub worker_concurrency: u32,
    /// First retry delay; doubles with every attempt.
    #[serde(deserialize_with = "lenient")]
    pub job_backoff_s: u64,
    /// Finished jobs older than this are pruned by the `retention` schedule.
    #[serde(deserialize_with = "lenient")]
    pub job_retention_hours: u64,
    /// Database connection pool size.
    #[serde(deserialize_with = "lenient")]
    pub db_max_connections: u32,
    /// Log rotation sizes (`SENTARI_LOG_<FILE>_MAX_BYTES`) and counts (`…_BACKUPS`).
    #[serde(flatten)]
    pub log_rotation: LogRotationConfig,
    /// Logins, sessions, lockout and the bootstrap owner (`crate::auth::AuthConfig`).
    #[serde(flatten)]
    pub auth: crate::auth::AuthConfig,
    /// Where the internal CA lives (default `<data>/ca`).
    pub ca_dir: Option<PathBuf>,
    /// Key of a new CA: `rsa-4096` (default) or `ecdsa-p384`.
    #[serde(deserialize_with = "lenient")]
    pub ca_key_type: crate::pki::CaKeyType,
    /// Passphrase of the CA key; falls back to the secret key.
    pub ca_passphrase_key: Option<String>,
    /// A static enrollment token accepted besides the tokens made with `enroll-token create`.
    pub enrollment_token: Option<String>,
    /// Names (DNS or IP, comma-separated) of the certificate the CA issues for the listeners;
    /// default: the host name, `localhost`, `127.0.0.1`.
    pub server_names: Option<String>,
    /// Operator-supplied certificate chain (PEM) for the listeners, instead of the CA's.
    pub tls_cert: Option<PathBuf>,
    /// Key (PEM) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// `on` (default): the web listener speaks HTTPS; `off`: plain HTTP behind a TLS proxy.
    #[serde(deserialize_with = "lenient")]
    pub http_tls: Switch,
    /// Largest scan upload on the wire (compressed), bytes.
    #[serde(deserialize_with = "lenient")]
    pub agent_max_body_bytes: u64,
    /// Largest scan upload after decompression, bytes.
    #[serde(deserialize_with = "lenient")]
    pub agent_max_decompressed_bytes: u64,
    /// Seconds between two agent scans, sent to agents in their configuration.
    #[serde(deserialize_with = "lenient")]
    pub agent_scan_interval_s: u64,
    /// Agent registrations one address may attempt per minute (default 10; raise it only for
    /// mass enrollment behind one NAT or for the fleet simulator).
    #[serde(deserialize_with = "lenient")]
    pub agent_register_rate_per_minute: u32,
    /// OSV and EOL feeds (`crate::feeds::FeedsConfig`).
    #[serde(flatten)]
    pub feeds: crate::feeds::FeedsConfig,
    /// The signed license key (`SENTARI_LICENSE_KEY`); none means community mode
    /// (`crate::license`).
    pub license_key: Option<String>,
}

/// An on/off setting that accepts `on|off|true|false|1|0|yes|no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Switch(pub bool);

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok(Switch(true)),
            "off" | "false" | "0" | "no" => Ok(Switch(false)),
            _ => Err("expected `on` or `off`".to_owned()),
        }
    }
}

/// Per-file rotation overrides, flattened into [`Config`] so each has its own variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogRotationConfig {
    #[serde(deserialize_with = "lenient_opt")]
    log_application_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_application_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_error_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_error_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_access_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_access_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_security_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_security_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_audit_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_audit_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_ldap_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_ldap_backups: Option<usize>,
    #[serde(deserialize_with = "lenient_opt")]
    log_performance_max_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_opt")]
    log_performance_backups: Option<usize>,
}

const MB: u64 = 1024 * 1024;

impl LogRotationConfig {
    /// Rotation for one of the seven log files; defaults are the seed's (`001_…`).
    pub fn for_file(&self, name: &str) -> Rotation {
        let (default_bytes, default_backups, bytes, backups) = match name {
            "application" => (
                10 * MB,
                10,
                self.log_application_max_bytes,
                self.log_application_backups,
            ),
            "error" => (
                10 * MB,
                10,
                self.log_error_max_bytes,
                self.log_error_backups,
            ),
            "access" => (
                20 * MB,
                10,
                self.log_access_max_bytes,
                self.log_access_backups,
            ),
            "security" => (
                10 * MB,
                20,
                self.log_security_max_bytes,
                self.log_security_backups,
            ),
            "audit" => (
                20 * MB,
                50,
                self.log_audit_max_bytes,
                self.log_audit_backups,
            ),
            "ldap" => (10 * MB, 10, self.log_ldap_max_bytes, self.log_ldap_backups),
            "performance" => (
                20 * MB,
                10,
                self.log_performance_max_bytes,
                self.log_performance_backups,
            ),
            _ => (10 * MB, 10, None, None),
        };
        Rotation {
            max_bytes: bytes.unwrap_or(default_bytes).max(1024),
            backups: backups.unwrap_or(default_backups),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            env: RunEnv::Development,
            storage_root: None,
            data_dir: None,
            log_dir: None,
            backup_dir: None,
            database_url: None,
            log_level: "info".to_owned(),
            http_bind: SocketAddr::from(([0, 0, 0, 0], 8443)),
            agent_bind: SocketAddr::from(([0, 0, 0, 0], 8000)),
            metrics_bind: SocketAddr::from(([127, 0, 0, 1], 9464)),
            metrics_enabled: true,
            secret_key: None,
            slow_request_ms: 200,
            slow_query_ms: 200,
            shutdown_timeout_s: 30,
            job_lease_s: 60,
            worker_concurrency: 4,
            job_backoff_s: 10,
            job_retention_hours: 24 * 7,
            db_max_connections: 10,
            log_rotation: LogRotationConfig::default(),
            auth: crate::auth::AuthConfig::default(),
            ca_dir: None,
            ca_key_type: crate::pki::CaKeyType::Rsa4096,
            ca_passphrase_key: None,
            enrollment_token: None,
            server_names: None,
            tls_cert: None,
            tls_key: None,
            http_tls: Switch(true),
            agent_max_body_bytes: 16 * MB,
            agent_max_decompressed_bytes: 128 * MB,
            agent_scan_interval_s: 3600,
            agent_register_rate_per_minute: crate::http::agent::REGISTER_ATTEMPTS_PER_MINUTE,
            feeds: crate::feeds::FeedsConfig::default(),
            license_key: None,
        }
    }
}

/// One configuration value that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    /// The variable or file key, as the operator would write it (`SENTARI_HTTP_BIND`).
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Accepts either the native TOML type or a string parsed with `FromStr`, so that
/// `http_bind = "0.0.0.0:1"` in TOML and `SENTARI_SLOW_REQUEST_MS=300` in the environment work.
pub(crate) fn lenient<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        Text(String),
        Native(T),
    }
    match Either::<T>::deserialize(de)? {
        Either::Native(v) => Ok(v),
        Either::Text(s) => s
            .trim()
            .parse::<T>()
            .map_err(|e| serde::de::Error::custom(format!("invalid value {s:?}: {e}"))),
    }
}

pub(crate) fn lenient_opt<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
{
    lenient::<D, T>(de).map(Some)
}

/// A figment provider over `SENTARI_*` variables that keeps every value a string.
struct RawEnv {
    vars: Vec<(String, String)>,
}

impl Provider for RawEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value) in &self.vars {
            if let Some(name) = key.strip_prefix("SENTARI_") {
                // Empty values count as unset, as shells and compose files often export them.
                if !value.is_empty() {
                    dict.insert(name.to_ascii_lowercase(), Value::from(value.clone()));
                }
            }
        }
        if let Some((_, root)) = self.vars.iter().find(|(k, _)| k == "STORAGE_ROOT")
            && !root.is_empty()
            && !dict.contains_key("storage_root")
        {
            dict.insert("storage_root".to_owned(), Value::from(root.clone()));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Paths derived from the configuration, fixed once at start.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The log directory.
    pub log_dir: PathBuf,
    /// The default backup directory.
    pub backup_dir: PathBuf,
    /// The database URL after defaulting.
    pub database_url: String,
}

impl Config {
    /// Loads the configuration from the process environment.
    pub fn load() -> Result<Config, ConfigError> {
        Self::load_from(std::env::vars().collect())
    }

    /// Loads the configuration from the given variables (tests pass their own).
    pub fn load_from(vars: Vec<(String, String)>) -> Result<Config, ConfigError> {
        let env = RawEnv { vars };
        let lookup = |k: &str| {
            env.vars
                .iter()
                .find(|(n, v)| n == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        // The file location cannot come from the file itself: find the data directory first.
        let explicit_file = lookup("SENTARI_CONFIG").map(PathBuf::from);
        let data_guess = lookup("SENTARI_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                lookup("SENTARI_STORAGE_ROOT")
                    .or_else(|| lookup("STORAGE_ROOT"))
                    .map(|r| PathBuf::from(r).join("data"))
            })
            .unwrap_or_else(|| PathBuf::from("data"));
        let file = match explicit_file {
            Some(f) => {
                if !f.is_file() {
                    return Err(ConfigError::new(
                        "SENTARI_CONFIG",
                        format!("{} does not exist or is not a file", f.display()),
                    ));
                }
                Some(f)
            }
            None => Some(data_guess.join("sentari.toml")).filter(|p| p.is_file()),
        };
        // Fields missing from every layer take `Config::default()` through `#[serde(default)]`.
        let mut figment = Figment::new();
        if let Some(f) = &file {
            let text = std::fs::read_to_string(f).map_err(|e| {
                ConfigError::new(f.display().to_string(), format!("cannot be read: {e}"))
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        figment = figment.merge(env);
        let cfg: Config = figment
            .extract()
            .map_err(|e| describe(e, file.as_deref()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            ConfigError::new(
                "SENTARI_LOG_LEVEL",
                format!("invalid value {:?}: {e}", self.log_level),
            )
        })?;
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "SENTARI_DATABASE_URL",
                format!("invalid value {url:?}: expected sqlite://PATH or postgres://USER@HOST/DB"),
            ));
        }
        for (key, value) in [
            ("SENTARI_SHUTDOWN_TIMEOUT_S", self.shutdown_timeout_s),
            ("SENTARI_JOB_LEASE_S", self.job_lease_s),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.worker_concurrency == 0 || self.worker_concurrency > 256 {
            return Err(ConfigError::new(
                "SENTARI_WORKER_CONCURRENCY",
                "must be between 1 and 256",
            ));
        }
        if self.db_max_connections == 0 {
            return Err(ConfigError::new(
                "SENTARI_DB_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::new(
                "SENTARI_TLS_CERT",
                "SENTARI_TLS_CERT and SENTARI_TLS_KEY must be set together",
            ));
        }
        if self.agent_max_body_bytes < 1024 || self.agent_max_decompressed_bytes < 1024 {
            return Err(ConfigError::new(
                "SENTARI_AGENT_MAX_BODY_BYTES",
                "the agent body limits must be at least 1024 bytes",
            ));
        }
        self.auth.validate()?;
        if self.agent_scan_interval_s == 0 {
            return Err(ConfigError::new(
                "SENTARI_AGENT_SCAN_INTERVAL_S",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The CA directory: `SENTARI_CA_DIR`, or `<data>/ca`.
    pub fn ca_dir(&self, paths: &Paths) -> PathBuf {
        self.ca_dir
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| paths.data_dir.join("ca"))
    }

    /// Names for the listeners' certificate.
    pub fn server_names(&self) -> Vec<String> {
        match &self.server_names {
            Some(list) => list
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            None => {
                let mut names = vec![
                    crate::jobs::hostname(),
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                ];
                names.dedup();
                names.retain(|n| !n.is_empty());
                names
            }
        }
    }

    /// Resolves the data, log and backup directories and the database URL.
    pub fn paths(&self) -> Paths {
        let root = self.storage_root.clone();
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| root.as_ref().map(|r| r.join("data")))
            .unwrap_or_else(|| PathBuf::from("data"));
        let data_dir = absolute(&data_dir);
        let log_dir = self
            .log_dir
            .clone()
            .or_else(|| root.as_ref().map(|r| r.join("logs")))
            .map(|p| absolute(&p))
            .unwrap_or_else(|| data_dir.join("logs"));
        let backup_dir = self
            .backup_dir
            .clone()
            .or_else(|| root.as_ref().map(|r| r.join("backups")))
            .map(|p| absolute(&p))
            .unwrap_or_else(|| data_dir.join("backups"));
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("sentari.db").display()));
        Paths {
            data_dir,
            log_dir,
            backup_dir,
            database_url,
        }
    }

    /// Graceful stop bound.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_s)
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Turns figment's error into one line naming the key the operator wrote.
fn describe(err: figment::Error, file: Option<&Path>) -> ConfigError {
    let first = err.into_iter().next();
    let Some(e) = first else {
        return ConfigError::new("configuration", "could not be read");
    };
    let path = e.path.join(".");
    let from_env = e
        .metadata
        .as_ref()
        .map(|m| m.name == ENV_SOURCE)
        .unwrap_or(false);
    let key = if from_env {
        format!("SENTARI_{}", path.to_ascii_uppercase())
    } else if let Some(f) = file {
        if path.is_empty() {
            f.display().to_string()
        } else {
            format!("{}: {path}", f.display())
        }
    } else {
        path
    };
    ConfigError::new(key, e.kind.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_from(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_apply_with_no_configuration() {
        let c = load(&[("SENTARI_DATA_DIR", "/nonexistent-sentari")]).unwrap();
        assert_eq!(c.http_bind.port(), 8443);
        assert_eq!(c.agent_bind.port(), 8000);
        assert_eq!(c.metrics_bind.to_string(), "127.0.0.1:9464");
        assert_eq!(c.env, RunEnv::Development);
        let p = c.paths();
        assert_eq!(p.log_dir, PathBuf::from("/nonexistent-sentari/logs"));
        assert_eq!(p.database_url, "sqlite:///nonexistent-sentari/sentari.db");
    }

    #[test]
    fn environment_values_stay_strings() {
        let c = load(&[
            ("SENTARI_SECRET_KEY", "0123"),
            ("SENTARI_SLOW_REQUEST_MS", "350"),
        ])
        .unwrap();
        assert_eq!(c.secret_key.as_deref(), Some("0123"));
        assert_eq!(c.slow_request_ms, 350);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = load(&[("SENTARI_HTTP_BIND", "nope")]).unwrap_err();
        assert_eq!(e.key, "SENTARI_HTTP_BIND");
        assert!(e.problem.contains("nope"), "{e}");
        let e = load(&[("SENTARI_SLOW_REQUEST_MS", "-3")]).unwrap_err();
        assert_eq!(e.key, "SENTARI_SLOW_REQUEST_MS");
        let e = load(&[("SENTARI_ENV", "staging")]).unwrap_err();
        assert_eq!(e.key, "SENTARI_ENV");
        let e = load(&[("SENTARI_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.key, "SENTARI_DATABASE_URL");
        let e = load(&[("SENTARI_LOG_LEVEL", "info,[")]).unwrap_err();
        assert_eq!(e.key, "SENTARI_LOG_LEVEL");
    }

    #[test]
    fn storage_root_derives_directories() {
        let c = load(&[("STORAGE_ROOT", "/srv/sentari")]).unwrap();
        let p = c.paths();
        assert_eq!(p.data_dir, PathBuf::from("/srv/sentari/data"));
        assert_eq!(p.log_dir, PathBuf::from("/srv/sentari/logs"));
        assert_eq!(p.backup_dir, PathBuf::from("/srv/sentari/backups"));
    }

    #[test]
    fn file_layer_sits_between_defaults_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sentari.toml");
        std::fs::write(
            &f,
            "http_bind = \"127.0.0.1:9000\"\nslow_request_ms = 500\n",
        )
        .unwrap();
        let fs = f.to_str().unwrap();
        let c = load(&[("SENTARI_CONFIG", fs)]).unwrap();
        assert_eq!(c.http_bind.port(), 9000);
        assert_eq!(c.slow_request_ms, 500);
        let c = load(&[("SENTARI_CONFIG", fs), ("SENTARI_SLOW_REQUEST_MS", "100")]).unwrap();
        assert_eq!(c.slow_request_ms, 100);
        std::fs::write(&f, "slow_request_ms = \"fast\"\n").unwrap();
        let e = load(&[("SENTARI_CONFIG", fs)]).unwrap_err();
        assert!(e.key.ends_with("sentari.toml: slow_request_ms"), "{e}");
    }

    #[test]
    fn rotation_defaults_follow_the_seed() {
        let c = Config::default();
        assert_eq!(
            c.log_rotation.for_file("audit"),
            Rotation {
                max_bytes: 20 * MB,
                backups: 50
            }
        );
        assert_eq!(
            c.log_rotation.for_file("security"),
            Rotation {
                max_bytes: 10 * MB,
                backups: 20
            }
        );
        let c = load(&[
            ("SENTARI_LOG_ACCESS_MAX_BYTES", "4096"),
            ("SENTARI_LOG_ACCESS_BACKUPS", "2"),
        ])
        .unwrap();
        assert_eq!(
            c.log_rotation.for_file("access"),
            Rotation {
                max_bytes: 4096,
                backups: 2
            }
        );
    }
}
