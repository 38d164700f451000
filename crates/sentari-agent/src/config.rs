//! `agent.conf`: the agent's INI configuration file (ARCHITECTURE.md §13, admin guide §7),
//! with `SENTARI_*` environment overrides.
//!
//! Sections and keys: `[server] url, poll_interval`; `[scanner] interval, scan_root,
//! max_depth, containers, exclude, threads`; `[metrics] interval, services`; `[proxy]
//! http_proxy, https_proxy, no_proxy`; `[logging] level, file`; `[agent] tags`. Unknown sections
//! and keys are not errors (an older agent must start with a newer file) but are returned as
//! warnings so a typo does not go unnoticed. A value that does not parse is an error.
//!
//! Every key can be overridden by `SENTARI_<SECTION>_<KEY>` (`SENTARI_SCANNER_MAX_DEPTH`); the
//! names the admin guide documents (`SENTARI_SCAN_CONTAINERS`, `SENTARI_HTTPS_PROXY`,
//! `SENTARI_LOG_LEVEL`, …) are accepted too.

use std::path::{Path, PathBuf};

use ini::Ini;

use crate::inventory::ScanOptions;

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The agent gateway, e.g. `https://sentari.example:8000`.
    pub url: Option<String>,
    /// Seconds between configuration polls.
    pub poll_interval: u64,
}

/// `[scanner]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerConfig {
    /// Seconds between scans.
    pub interval: u64,
    /// The filesystem root to scan.
    pub scan_root: PathBuf,
    /// Directory levels the walk descends.
    pub max_depth: usize,
    /// Whether container images and containers are scanned too.
    pub containers: bool,
    /// Glob patterns of paths the walk skips.
    pub exclude: Vec<String>,
    /// Worker threads; `None` means one per core.
    pub threads: Option<usize>,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Seconds between samples.
    pub interval: u64,
    /// systemd services whose state is reported.
    pub services: Vec<String>,
}

/// `[proxy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy for plain-HTTP requests.
    pub http_proxy: Option<String>,
    /// Proxy for HTTPS requests.
    pub https_proxy: Option<String>,
    /// Hosts reached directly.
    pub no_proxy: Option<String>,
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// Log file; standard error when unset.
    pub file: Option<PathBuf>,
}

/// `[agent]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSection {
    /// Free-form tags the server can group devices by.
    pub tags: Vec<String>,
}

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[scanner]`.
    pub scanner: ScannerConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[proxy]`.
    pub proxy: ProxyConfig,
    /// `[logging]`.
    pub logging: LoggingConfig,
    /// `[agent]`.
    pub agent: AgentSection,
}

impl Default for AgentConfig {
    fn default() -> Self {
        let scan = ScanOptions::default();
        AgentConfig {
            server: ServerConfig {
                url: None,
                poll_interval: 900,
            },
            scanner: ScannerConfig {
                interval: 3600,
                scan_root: scan.root,
                max_depth: scan.max_depth,
                containers: false,
                exclude: Vec::new(),
                threads: None,
            },
            metrics: MetricsConfig {
                interval: 60,
                services: Vec::new(),
            },
            proxy: ProxyConfig::default(),
            logging: LoggingConfig {
                level: "info".to_owned(),
                file: None,
            },
            agent: AgentSection::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// The file is not valid INI.
    #[error("{path}: not a valid INI file: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// A value does not parse.
    #[error("{origin}: invalid value {value:?} for {section}.{key}: {why}")]
    Value {
        /// The file or environment variable it came from.
        origin: String,
        /// Section.
        section: String,
        /// Key.
        key: String,
        /// The value.
        value: String,
        /// What was expected.
        why: &'static str,
    },
}

/// Every known `(section, key)` with the extra environment names documented for it.
const KEYS: &[(&str, &str, &[&str])] = &[
    ("server", "url", &["SENTARI_SERVER_URL"]),
    ("server", "poll_interval", &["SENTARI_POLL_INTERVAL"]),
    ("scanner", "interval", &["SENTARI_SCAN_INTERVAL"]),
    ("scanner", "scan_root", &["SENTARI_SCAN_ROOT"]),
    ("scanner", "max_depth", &["SENTARI_SCAN_MAX_DEPTH"]),
    ("scanner", "containers", &["SENTARI_SCAN_CONTAINERS"]),
    ("scanner", "exclude", &["SENTARI_SCAN_EXCLUDE"]),
    ("scanner", "threads", &["SENTARI_SCAN_THREADS"]),
    ("metrics", "interval", &["SENTARI_METRICS_INTERVAL"]),
    ("metrics", "services", &["SENTARI_METRICS_SERVICES"]),
    ("proxy", "http_proxy", &["SENTARI_HTTP_PROXY"]),
    ("proxy", "https_proxy", &["SENTARI_HTTPS_PROXY"]),
    ("proxy", "no_proxy", &["SENTARI_NO_PROXY"]),
    ("logging", "level", &["SENTARI_LOG_LEVEL"]),
    ("logging", "file", &["SENTARI_LOG_FILE"]),
    ("agent", "tags", &["SENTARI_AGENT_TAGS", "SENTARI_TAGS"]),
];

/// The largest `agent.conf` accepted; real ones are a few hundred bytes.
const CONFIG_CAP: u64 = 1024 * 1024;

impl AgentConfig {
    /// Loads the file (if given) over the defaults, then applies the process environment.
    /// Returns the configuration and the warnings to log.
    pub fn load(path: Option<&Path>) -> Result<(AgentConfig, Vec<String>), ConfigError> {
        let mut config = AgentConfig::default();
        let mut warnings = Vec::new();
        if let Some(path) = path {
            let text = crate::inventory::read_text_capped(path, CONFIG_CAP).map_err(|e| {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
            warnings.extend(config.apply_ini(&text, &path.display().to_string())?);
        }
        config.apply_env(std::env::vars())?;
        Ok((config, warnings))
    }

    /// Applies the settings of INI text; `origin` names it in messages. Returns warnings for
    /// unknown sections and keys.
    pub fn apply_ini(&mut self, text: &str, origin: &str) -> Result<Vec<String>, ConfigError> {
        // Without escapes, Windows paths such as `C:\ProgramData\Sentari` stay intact.
        let ini = Ini::load_from_str_noescape(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut warnings = Vec::new();
        for (section, props) in ini.iter() {
            let section_name = section.unwrap_or("").trim().to_ascii_lowercase();
            for (key, value) in props.iter() {
                let key = key.trim().to_ascii_lowercase();
                if section_name.is_empty() {
                    warnings.push(format!(
                        "{origin}: key {key:?} outside any section is ignored"
                    ));
                    continue;
                }
                if !KEYS.iter().any(|(s, k, _)| *s == section_name && *k == key) {
                    warnings.push(format!(
                        "{origin}: unknown key {key:?} in [{section_name}] is ignored"
                    ));
                    continue;
                }
                self.set(&section_name, &key, strip_inline_comment(value), origin)?;
            }
        }
        Ok(warnings)
    }

    /// Applies `SENTARI_*` overrides from `vars`.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("SENTARI_"))
            .collect();
        for (section, key, aliases) in KEYS {
            let generic = format!(
                "SENTARI_{}_{}",
                section.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            );
            let names = std::iter::once(generic.as_str()).chain(aliases.iter().copied());
            // The first name present wins: the generic one, then the documented aliases.
            if let Some((name, value)) = names
                .filter_map(|n| vars.iter().find(|(k, _)| k == n))
                .next()
            {
                self.set(section, key, value.trim(), name)?;
            }
        }
        Ok(())
    }

    fn set(
        &mut self,
        section: &str,
        key: &str,
        value: &str,
        origin: &str,
    ) -> Result<(), ConfigError> {
        let invalid = |why: &'static str| ConfigError::Value {
            origin: origin.to_owned(),
            section: section.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            why,
        };
        let opt = || Some(value.to_owned()).filter(|v| !v.is_empty());
        match (section, key) {
            ("server", "url") => self.server.url = opt(),
            ("server", "poll_interval") => {
                self.server.poll_interval = parse_seconds(value).ok_or_else(|| invalid(SECONDS))?;
            }
            ("scanner", "interval") => {
                self.scanner.interval = parse_seconds(value).ok_or_else(|| invalid(SECONDS))?;
            }
            ("scanner", "scan_root") => {
                if !value.starts_with('/') {
                    return Err(invalid("an absolute path"));
                }
                self.scanner.scan_root = PathBuf::from(value);
            }
            ("scanner", "max_depth") => {
                self.scanner.max_depth = value
                    .parse()
                    .map_err(|_| invalid("a non-negative integer"))?;
            }
            ("scanner", "containers") => {
                self.scanner.containers = parse_bool(value).ok_or_else(|| invalid(BOOL))?;
            }
            ("scanner", "exclude") => self.scanner.exclude = parse_list(value),
            ("scanner", "threads") => {
                let n: usize = value.parse().map_err(|_| invalid("a positive integer"))?;
                if n == 0 {
                    return Err(invalid("a positive integer"));
                }
                self.scanner.threads = Some(n);
            }
            ("metrics", "interval") => {
                self.metrics.interval = parse_seconds(value).ok_or_else(|| invalid(SECONDS))?;
            }
            ("metrics", "services") => self.metrics.services = parse_list(value),
            ("proxy", "http_proxy") => self.proxy.http_proxy = opt(),
            ("proxy", "https_proxy") => self.proxy.https_proxy = opt(),
            ("proxy", "no_proxy") => self.proxy.no_proxy = opt(),
            ("logging", "level") => {
                let level = value.to_ascii_lowercase();
                if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
                    return Err(invalid("one of error, warn, info, debug, trace"));
                }
                self.logging.level = level;
            }
            ("logging", "file") => self.logging.file = opt().map(PathBuf::from),
            ("agent", "tags") => self.agent.tags = parse_list(value),
            _ => {}
        }
        Ok(())
    }

    /// The scan options this configuration asks for.
    pub fn scan_options(&self) -> ScanOptions {
        let mut opts = ScanOptions {
            root: self.scanner.scan_root.clone(),
            max_depth: self.scanner.max_depth,
            exclude: self.scanner.exclude.clone(),
            ..ScanOptions::default()
        };
        if let Some(n) = self.scanner.threads {
            opts.threads = n;
        }
        opts
    }
}

/// The admin guide writes `poll_interval = 900 ; seconds between polls`: a `;` or `#` after
/// whitespace starts a comment.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    let cut = (1..bytes.len())
        .find(|&i| matches!(bytes[i], b';' | b'#') && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    value[..cut].trim()
}

const SECONDS: &str = "a number of seconds (optionally with s, m, h or d)";
const BOOL: &str = "true or false";

/// `3600`, `60s`, `15m`, `1h`, `1d`.
fn parse_seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        (i, 'd') => (&v[..i], 86400),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Comma-separated (or whitespace-separated) lists.
fn parse_list(v: &str) -> Vec<String> {
    v.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_guide_example_parses() {
        let text = "[server]\nurl = https://sentari.example:8000\npoll_interval = 900 ; seconds between policy/config polls\n[scanner]\ninterval = 3600 ; seconds between scans\nscan_root = /mnt/image\nmax_depth = 12\ncontainers = true\nexclude = /srv/cache, /home/*/tmp\n[proxy]\nhttps_proxy = http://proxy.example:3128\nno_proxy = localhost,127.0.0.1\n[agent]\ntags = prod, web\n";
        let mut c = AgentConfig::default();
        let warnings = c.apply_ini(text, "agent.conf").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            c.server.url.as_deref(),
            Some("https://sentari.example:8000")
        );
        assert_eq!(c.server.poll_interval, 900);
        assert_eq!(c.scanner.interval, 3600);
        assert_eq!(c.scanner.scan_root, PathBuf::from("/mnt/image"));
        assert_eq!(c.scanner.max_depth, 12);
        assert!(c.scanner.containers);
        assert_eq!(c.scanner.exclude, vec!["/srv/cache", "/home/*/tmp"]);
        assert_eq!(c.proxy.no_proxy.as_deref(), Some("localhost,127.0.0.1"));
        assert_eq!(c.agent.tags, vec!["prod", "web"]);
        let opts = c.scan_options();
        assert_eq!(opts.max_depth, 12);
    }

    #[test]
    fn unknown_keys_warn_and_bad_values_fail() {
        let mut c = AgentConfig::default();
        let w = c
            .apply_ini(
                "[scanner]\nintervall = 5\n[nonsense]\nx = 1\n",
                "agent.conf",
            )
            .unwrap();
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("intervall"));
        let err = c
            .apply_ini("[scanner]\nmax_depth = deep\n", "agent.conf")
            .unwrap_err();
        assert!(err.to_string().contains("scanner.max_depth"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c = AgentConfig::default();
        c.apply_ini("[scanner]\ncontainers = false\ninterval = 1h\n", "f")
            .unwrap();
        c.apply_env([
            ("SENTARI_SCAN_CONTAINERS".to_owned(), "true".to_owned()),
            ("SENTARI_SCANNER_MAX_DEPTH".to_owned(), "7".to_owned()),
            ("SENTARI_LOG_LEVEL".to_owned(), "debug".to_owned()),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ])
        .unwrap();
        assert!(c.scanner.containers);
        assert_eq!(c.scanner.interval, 3600);
        assert_eq!(c.scanner.max_depth, 7);
        assert_eq!(c.logging.level, "debug");
        assert!(
            c.apply_env([("SENTARI_SCAN_INTERVAL".to_owned(), "soon".to_owned())])
                .is_err()
        );
    }
}
