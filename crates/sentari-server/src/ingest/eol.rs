//! End-of-life status of installed runtimes, from the EOL cycles stored in the database.
//!
//! The cycles are loaded once per process and reloaded only when the stored set changes (its
//! row count or newest update differ), so an ingest pays one tiny query for them.

use std::sync::{Arc, Mutex};

use sentari_core::eol::Lifecycle;
use sentari_core::eol::{EolDb, EolStatus, format_date, parse_bundle_line};
use sentari_proto::agent::Runtime;
use sentari_store::{InventoryRuntime, Store, StoreError};

type Cached = ((i64, Option<i64>), Arc<EolDb>);

static CACHE: Mutex<Option<Cached>> = Mutex::new(None);

/// The stored EOL cycles as a lookup table, cached while they do not change.
pub async fn current(store: &Store) -> Result<Arc<EolDb>, StoreError> {
    let fp = store.eol_fingerprint().await?;
    if let Ok(guard) = CACHE.lock()
        && let Some((cached_fp, db)) = guard.as_ref()
        && *cached_fp == fp
    {
        return Ok(db.clone());
    }
    let records = store.eol_records().await?;
    let mut db = EolDb::new();
    for r in records {
        match parse_bundle_line(r.to_string().as_bytes()) {
            Ok(c) => db.insert(c),
            Err(e) => tracing::warn!(error = %e, "stored EOL cycle could not be read; skipped"),
        }
    }
    let db = Arc::new(db);
    if let Ok(mut guard) = CACHE.lock() {
        *guard = Some((fp, db.clone()));
    }
    Ok(db)
}

/// The endoflife.date product a runtime is judged by. JDKs follow their vendor; a JDK of
/// unknown vendor is judged by Eclipse Temurin's cycles, the most widely used OpenJDK build,
/// whose support windows match the upstream OpenJDK LTS releases.
pub fn product_for(kind: &str, vendor: Option<&str>) -> Option<&'static str> {
    match kind.to_ascii_lowercase().as_str() {
        "python" | "cpython" => Some("python"),
        "node" | "nodejs" => Some("nodejs"),
        "jdk" | "jre" | "java" => {
            let v = vendor.unwrap_or("").to_ascii_lowercase();
            Some(if v.contains("corretto") || v.contains("amazon") {
                "amazon-corretto"
            } else if v.contains("azul") || v.contains("zulu") {
                "azul-zulu"
            } else if v.contains("microsoft") {
                "microsoft-build-of-openjdk"
            } else if v.contains("oracle") && !v.contains("openjdk") {
                "oracle-jdk"
            } else {
                "eclipse-temurin"
            })
        }
        "tomcat" => Some("tomcat"),
        _ => None,
    }
}

/// A status word as stored.
pub fn status_word(s: EolStatus) -> &'static str {
    match s {
        EolStatus::EolPast => "eol_past",
        EolStatus::EolSoon => "eol_soon",
        EolStatus::Supported => "supported",
        EolStatus::Unknown => "unknown",
    }
}

/// The EOL fields of one installed runtime on `today`.
pub fn eol_fields(
    db: &EolDb,
    kind: &str,
    vendor: Option<&str>,
    version: &str,
    today: time::Date,
) -> (Option<String>, Option<String>, Option<String>, String) {
    let Some(product) = product_for(kind, vendor) else {
        return (None, None, None, "unknown".into());
    };
    match db.find(product, version) {
        None => (Some(product.to_owned()), None, None, "unknown".into()),
        Some(c) => {
            let date = match c.eol {
                Lifecycle::Date(d) => Some(format_date(d)),
                _ => None,
            };
            (
                Some(product.to_owned()),
                Some(c.cycle.clone()),
                date,
                status_word(c.status(today)).to_owned(),
            )
        }
    }
}

/// A scanned runtime with its EOL status.
pub fn runtime_status(db: &EolDb, r: &Runtime, today: time::Date) -> InventoryRuntime {
    let (eol_product, eol_cycle, eol_date, eol_status) =
        eol_fields(db, &r.kind, r.vendor.as_deref(), &r.version, today);
    InventoryRuntime {
        kind: r.kind.clone(),
        path: r.path.clone(),
        version: r.version.clone(),
        vendor: r.vendor.clone(),
        eol_product,
        eol_cycle,
        eol_date,
        eol_status,
    }
}

/// Recomputes the EOL status of every installed runtime (after an EOL sync, and daily since
/// `eol_soon` depends on the date). Returns the installations updated.
pub async fn refresh_runtime_status(store: &Store) -> Result<u64, StoreError> {
    let db = current(store).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let distinct = store.distinct_runtimes().await?;
    let updates: Vec<_> = distinct
        .into_iter()
        .map(|(kind, version, vendor)| {
            let (p, c, d, s) = eol_fields(&db, &kind, vendor.as_deref(), &version, today);
            (kind, version, vendor, p, c, d, s)
        })
        .collect();
    store.set_runtime_eol(&updates).await
}
