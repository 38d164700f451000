//! Feed settings, flattened into the server configuration so each has its own `SENTARI_*`
//! variable (ARCHITECTURE.md §9, §13).

use std::path::PathBuf;

use serde::Deserialize;

/// Where the OSV and endoflife.date data come from, and the outbound proxies.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FeedsConfig {
    /// `SENTARI_OSV_BASE_URL`: the base of the per-ecosystem `all.zip` archives (a mirror, or a
    /// local server in tests).
    pub osv_base_url: String,
    /// `SENTARI_EOL_BASE_URL`: the endoflife.date API base.
    pub eol_base_url: String,
    /// `SENTARI_OSV_BUNDLE_PATH`: an offline OSV bundle read instead of the network (the
    /// dashboard setting `cve.osv_bundle_path` overrides it).
    pub osv_bundle_path: Option<PathBuf>,
    /// `SENTARI_EOL_BUNDLE_PATH`: an offline EOL bundle (the setting `runtime_eol.bundle_path`
    /// overrides it).
    pub eol_bundle_path: Option<PathBuf>,
    /// `SENTARI_HTTP_PROXY`.
    pub http_proxy: Option<String>,
    /// `SENTARI_HTTPS_PROXY`.
    pub https_proxy: Option<String>,
    /// `SENTARI_NO_PROXY`.
    pub no_proxy: Option<String>,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            osv_base_url: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            eol_base_url: "https://endoflife.date/api".into(),
            osv_bundle_path: None,
            eol_bundle_path: None,
            http_proxy: None,
            https_proxy: None,
            no_proxy: None,
        }
    }
}
