//! The feed jobs: `osv_sync` (daily 02:00 UTC) and `eol_sync` (daily 03:00 UTC), also run on
//! demand from the API, the dashboard and `sentari feeds sync`.
//!
//! Each reads its offline bundle when one is configured (air-gapped deployments) and the
//! network otherwise: per ecosystem present in the fleet, `<base>/<Ecosystem>/all.zip` for OSV
//! (conditional on the ETag and Last-Modified of the copy kept under `<data>/feeds/osv`), and
//! `<base>/<product>.json` for endoflife.date. Every run records its outcome in the feed status;
//! a failure never deletes the data a previous run stored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sentari_client::feeds::{FeedClient, Fetched, ProxySettings};
use sentari_core::eol::{EolCycle, EolDb, Lifecycle, format_date, parse_product_json};
use sentari_store::{EolCycleRow, Store, StoreError};
use serde_json::{Value, json};

use super::eol_bundle::load_eol_bundle;
use super::osv_import::{ImportError, ImportSummary, import_bundle};
use crate::ingest::eol::refresh_runtime_status;
use crate::jobs::handlers::{JobContext, JobError};

/// The OSV sync job kind.
pub const OSV_SYNC: &str = "osv_sync";
/// The EOL sync job kind.
pub const EOL_SYNC: &str = "eol_sync";

/// Setting (`system_config`) naming the offline OSV bundle.
pub const OSV_BUNDLE_SETTING: &str = "cve.osv_bundle_path";
/// Setting naming the offline EOL bundle.
pub const EOL_BUNDLE_SETTING: &str = "runtime_eol.bundle_path";

/// The products the online EOL sync fetches.
pub const EOL_PRODUCTS: &[&str] = &[
    "python",
    "nodejs",
    "eclipse-temurin",
    "amazon-corretto",
    "azul-zulu",
    "microsoft-build-of-openjdk",
    "oracle-jdk",
    "openjdk-builds-from-oracle",
    "tomcat",
    "debian",
    "ubuntu",
    "almalinux",
    "rocky-linux",
    "rhel",
    "alpine-linux",
];

/// The largest OSV archive a sync downloads.
const MAX_ARCHIVE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Where feeds come from; built from the configuration.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// `SENTARI_OSV_BASE_URL`.
    pub osv_base_url: String,
    /// `SENTARI_EOL_BASE_URL`.
    pub eol_base_url: String,
    /// Offline OSV bundle from the configuration (a database setting overrides it).
    pub osv_bundle_path: Option<PathBuf>,
    /// Offline EOL bundle from the configuration (a database setting overrides it).
    pub eol_bundle_path: Option<PathBuf>,
    /// Where downloaded archives are kept (`<data>/feeds`).
    pub cache_dir: PathBuf,
    /// Outbound proxies.
    pub proxy: ProxySettings,
}

impl FeedSettings {
    /// The feed settings of a configuration.
    pub fn from_config(config: &crate::config::Config) -> FeedSettings {
        let f = &config.feeds;
        FeedSettings {
            osv_base_url: f.osv_base_url.clone(),
            eol_base_url: f.eol_base_url.clone(),
            osv_bundle_path: f.osv_bundle_path.clone(),
            eol_bundle_path: f.eol_bundle_path.clone(),
            cache_dir: config.paths().data_dir.join("feeds"),
            proxy: ProxySettings {
                http: f.http_proxy.clone(),
                https: f.https_proxy.clone(),
                no_proxy: f.no_proxy.clone(),
            },
        }
    }
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today_string() -> String {
    format_date(time::OffsetDateTime::now_utc().date())
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Eol(String),
}

/// The bundle path in effect: the database setting, else the configured one.
pub async fn bundle_path(
    store: &Store,
    setting: &str,
    configured: Option<&Path>,
) -> Result<Option<PathBuf>, StoreError> {
    let from_db = store
        .get_setting(setting)
        .await?
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from);
    Ok(from_db.or_else(|| configured.map(Path::to_owned)))
}

/// The `osv_sync` job.
pub async fn osv_sync_job(ctx: JobContext) -> Result<(), JobError> {
    let settings = ctx.settings.feeds.clone();
    match osv_sync(&ctx.store, &settings).await {
        Ok(summary) => {
            tracing::info!(
                added = summary.added,
                updated = summary.updated,
                withdrawn = summary.withdrawn,
                versions = summary.versions_evaluated,
                "CVE feed sync completed: {} packages correlated",
                summary.versions_evaluated
            );
            Ok(())
        }
        Err(e) => Err(JobError::Failed(e.to_string())),
    }
}

/// Runs one OSV sync; the outcome is also recorded in the feed status.
pub async fn osv_sync(store: &Store, s: &FeedSettings) -> Result<ImportSummary, SyncError> {
    if let Some(path) = bundle_path(store, OSV_BUNDLE_SETTING, s.osv_bundle_path.as_deref()).await?
    {
        let source = "osv:bundle";
        store.feed_attempt(source).await?;
        return match import_bundle(store, &path, source, None).await {
            Ok(summary) => {
                let (count, _) = store.advisory_counts().await?;
                store
                    .feed_success(
                        source,
                        count,
                        &json!({"path": path.display().to_string(), "last_run": summary}),
                    )
                    .await?;
                Ok(summary)
            }
            Err(e) => {
                let msg = format!("{}: {e}", path.display());
                store.feed_failure(source, &msg).await?;
                Err(SyncError::Import(e))
            }
        };
    }
    let client = FeedClient::new(&s.proxy, Duration::from_secs(3600))
        .map_err(|e| SyncError::Fetch(e.to_string()))?;
    let ecosystems = store.fleet_ecosystems().await?;
    let mut total = ImportSummary::default();
    let mut first_error: Option<SyncError> = None;
    for eco in ecosystems {
        let source = format!("osv:{eco}");
        store.feed_attempt(&source).await?;
        match sync_one(store, &client, s, &eco, &source).await {
            Ok(Some(summary)) => {
                total.records += summary.records;
                total.added += summary.added;
                total.updated += summary.updated;
                total.withdrawn += summary.withdrawn;
                total.unchanged += summary.unchanged;
                total.rejected += summary.rejected;
                total.keys_changed += summary.keys_changed;
                total.versions_evaluated += summary.versions_evaluated;
                total.findings_new += summary.findings_new;
                total.findings_resolved += summary.findings_resolved;
            }
            Ok(None) => {}
            Err(e) => {
                let msg = e.to_string();
                tracing::warn!(source = %source, error = %msg, "OSV feed sync failed; the stored advisories are kept");
                store.feed_failure(&source, &msg).await?;
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Downloads and imports one ecosystem; `None` when the archive did not change.
async fn sync_one(
    store: &Store,
    client: &FeedClient,
    s: &FeedSettings,
    eco: &str,
    source: &str,
) -> Result<Option<ImportSummary>, SyncError> {
    let url = format!(
        "{}/{}/all.zip",
        s.osv_base_url.trim_end_matches('/'),
        percent_encode_segment(eco)
    );
    let dest = s
        .cache_dir
        .join("osv")
        .join(eco.replace(['/', ' '], "_"))
        .join("all.zip");
    let previous = store.feed_status(source).await?;
    let detail = previous
        .as_ref()
        .map(|p| p.detail.clone())
        .unwrap_or(Value::Null);
    let etag = detail.get("etag").and_then(Value::as_str);
    let last_modified = detail.get("last_modified").and_then(Value::as_str);
    // Validators only count when the last import of that copy succeeded.
    let imported = detail
        .get("imported")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (etag, last_modified) = if imported {
        (etag, last_modified)
    } else {
        (None, None)
    };
    let fetched = client
        .fetch_if_changed(&url, &dest, etag, last_modified, MAX_ARCHIVE_BYTES)
        .await
        .map_err(|e| SyncError::Fetch(e.to_string()))?;
    let (etag, last_modified, bytes) = match fetched {
        Fetched::NotModified => {
            let count = previous.as_ref().map(|p| p.record_count).unwrap_or(0);
            let mut d = detail.clone();
            if let Some(o) = d.as_object_mut() {
                o.insert("last_check".into(), json!("not_modified"));
            }
            store.feed_success(source, count, &d).await?;
            tracing::info!(source, "OSV archive unchanged; nothing downloaded");
            return Ok(None);
        }
        Fetched::Downloaded {
            bytes,
            etag,
            last_modified,
        } => (etag, last_modified, bytes),
    };
    let summary = import_bundle(store, &dest, source, None).await?;
    store
        .feed_success(
            source,
            summary.records as i64,
            &json!({
                "url": url,
                "etag": etag,
                "last_modified": last_modified,
                "bytes": bytes,
                "imported": true,
                "last_check": "downloaded",
                "last_run": summary,
            }),
        )
        .await?;
    Ok(Some(summary))
}

/// Percent-encodes one URL path segment (`Rocky Linux` → `Rocky%20Linux`).
fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `eol_sync` job.
pub async fn eol_sync_job(ctx: JobContext) -> Result<(), JobError> {
    let settings = ctx.settings.feeds.clone();
    match eol_sync(&ctx.store, &settings).await {
        Ok(n) => {
            tracing::info!(cycles = n, "EOL feed sync completed");
            Ok(())
        }
        Err(e) => Err(JobError::Failed(e.to_string())),
    }
}

/// A cycle as one bundle line, the form the database keeps.
pub fn cycle_row(c: &EolCycle) -> EolCycleRow {
    let life = |l: &Lifecycle| match l {
        Lifecycle::Date(d) => Value::String(format_date(*d)),
        Lifecycle::Flag(b) => Value::Bool(*b),
        Lifecycle::Unknown => Value::Null,
    };
    let text = |l: &Lifecycle| match l {
        Lifecycle::Date(d) => Some(format_date(*d)),
        Lifecycle::Flag(b) => Some(b.to_string()),
        Lifecycle::Unknown => None,
    };
    EolCycleRow {
        product: c.product.clone(),
        cycle: c.cycle.clone(),
        release_date: c.release_date.clone(),
        eol: text(&c.eol),
        support: text(&c.support),
        latest: c.latest.clone(),
        lts: Some(c.lts.to_string()),
        record: json!({
            "product": c.product,
            "cycle": c.cycle,
            "releaseDate": c.release_date,
            "eol": life(&c.eol),
            "support": life(&c.support),
            "latest": c.latest,
            "lts": c.lts,
        }),
    }
}

/// Imports EOL cycles from a bundle file or directory; returns the cycles stored.
pub async fn import_eol_bundle(store: &Store, path: &Path) -> Result<u64, SyncError> {
    let p = path.to_owned();
    let db = tokio::task::spawn_blocking(move || {
        let mut db = EolDb::new();
        load_eol_bundle(&p, &mut db).map(|r| (db, r))
    })
    .await
    .map_err(|e| SyncError::Eol(e.to_string()))?
    .map_err(|e| SyncError::Eol(e.to_string()))?;
    let (db, report) = db;
    for e in report.errors.iter().take(20) {
        tracing::warn!(error = %e, "EOL bundle line rejected");
    }
    let rows: Vec<EolCycleRow> = db.iter().map(cycle_row).collect();
    store.import_eol_cycles(&rows).await?;
    refresh_runtime_status(store).await?;
    Ok(rows.len() as u64)
}

/// Runs one EOL sync; the outcome is recorded in the feed status (`eol`).
pub async fn eol_sync(store: &Store, s: &FeedSettings) -> Result<u64, SyncError> {
    let source = "eol";
    store.feed_attempt(source).await?;
    let result = match bundle_path(store, EOL_BUNDLE_SETTING, s.eol_bundle_path.as_deref()).await? {
        Some(path) => import_eol_bundle(store, &path)
            .await
            .map(|n| (n, json!({"path": path.display().to_string()})))
            .map_err(|e| SyncError::Eol(format!("{}: {e}", path.display()))),
        None => eol_online(store, s).await,
    };
    match result {
        Ok((n, detail)) => {
            store.feed_success(source, n as i64, &detail).await?;
            Ok(n)
        }
        Err(e) => {
            store.feed_failure(source, &e.to_string()).await?;
            Err(e)
        }
    }
}

async fn eol_online(store: &Store, s: &FeedSettings) -> Result<(u64, Value), SyncError> {
    let client = FeedClient::new(&s.proxy, Duration::from_secs(120))
        .map_err(|e| SyncError::Fetch(e.to_string()))?;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for product in EOL_PRODUCTS {
        let url = format!("{}/{product}.json", s.eol_base_url.trim_end_matches('/'));
        match client.get_bytes(&url, 16 * 1024 * 1024).await {
            Ok(bytes) => match parse_product_json(product, &bytes) {
                Ok(cycles) => rows.extend(cycles.iter().map(cycle_row)),
                Err(e) => failed.push(format!("{product}: {e}")),
            },
            Err(e) => failed.push(e.to_string()),
        }
    }
    if rows.is_empty() {
        return Err(SyncError::Fetch(format!(
            "no EOL data could be fetched: {}",
            failed.join("; ")
        )));
    }
    store.import_eol_cycles(&rows).await?;
    refresh_runtime_status(store).await?;
    if !failed.is_empty() {
        tracing::warn!(failed = ?failed, "some EOL products could not be fetched");
    }
    Ok((
        rows.len() as u64,
        json!({"base_url": s.eol_base_url, "failed": failed}),
    ))
}
