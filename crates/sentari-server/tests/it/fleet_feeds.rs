//! OSV and EOL feeds: offline bundles in every accepted format, corrupt bundles refused without
//! touching stored data, and the online sync against a local HTTP server that honours ETags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fleet_support::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentari_client::feeds::ProxySettings;
use sentari_server::feeds::osv_import::import_bundle;
use sentari_server::feeds::sync::{FeedSettings, eol_sync, osv_sync};
use sentari_store::testing::TestDb;
use time::OffsetDateTime;

/// The first `n` records of the shared PyPI archive, as `(name, bytes)`.
fn pypi_records(n: usize) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(shared_data().join("osv/PyPI/all.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(f).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        if out.len() == n {
            break;
        }
        let mut e = zip.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.push((name, buf));
    }
    out
}

fn ndjson_bytes(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, r) in records {
        let v: serde_json::Value = serde_json::from_slice(r).unwrap();
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn write_zip(path: &Path, records: &[(String, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (name, bytes) in records {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// The same 150 records in every bundle format the import accepts.
fn every_format(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let recs = pypi_records(150);
    let zip = dir.join("all.zip");
    write_zip(&zip, &recs);
    let json_dir = dir.join("json");
    std::fs::create_dir_all(json_dir.join("nested")).unwrap();
    for (i, (name, bytes)) in recs.iter().enumerate() {
        let sub = if i % 2 == 0 {
            json_dir.clone()
        } else {
            json_dir.join("nested")
        };
        std::fs::write(sub.join(name.replace('/', "_")), bytes).unwrap();
    }
    let nd = dir.join("osv.ndjson");
    std::fs::write(&nd, ndjson_bytes(&recs)).unwrap();
    let gz = dir.join("osv.ndjson.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&ndjson_bytes(&recs)).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let zst = dir.join("osv.ndjson.zst");
    std::fs::write(&zst, zstd::bulk::compress(&ndjson_bytes(&recs), 3).unwrap()).unwrap();
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("PyPI")).unwrap();
    std::fs::copy(&zip, tree.join("PyPI/all.zip")).unwrap();
    vec![
        ("all.zip", zip),
        ("directory of .json", json_dir),
        ("ndjson", nd),
        ("ndjson.gz", gz),
        ("ndjson.zst", zst),
        ("directory of <Ecosystem>/all.zip", tree),
    ]
}

#[tokio::test]
async fn offline_import_reads_every_bundle_format() {
    let dir = tempfile::tempdir().unwrap();
    for (format, path) in every_format(dir.path()) {
        let db = TestDb::from_env().await;
        let s = db.store();
        let summary = import_bundle(s, &path, "test", None).await.unwrap();
        assert_eq!(summary.records, 150, "{format}: {summary:?}");
        assert_eq!(summary.rejected, 0, "{format}");
        assert_eq!(
            summary.added + summary.unchanged,
            150,
            "{format}: {summary:?}"
        );
        let (count, _) = s.advisory_counts().await.unwrap();
        assert_eq!(count as u64, summary.added, "{format}");
    }
}

#[tokio::test]
async fn a_corrupt_or_truncated_bundle_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::from_env().await;
    let s = db.store();
    let recs = pypi_records(100);
    let good = dir.path().join("good.zip");
    write_zip(&good, &recs);
    import_bundle(s, &good, "test", None).await.unwrap();
    let before = s.advisory_counts().await.unwrap();

    // A newer copy of every record, but the archive is cut in half.
    let newer: Vec<(String, Vec<u8>)> = pypi_records(200)
        .into_iter()
        .map(|(n, b)| {
            let mut v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            v["modified"] = serde_json::json!("2099-01-01T00:00:00Z");
            (n, v.to_string().into_bytes())
        })
        .collect();
    let full = dir.path().join("full.zip");
    write_zip(&full, &newer);
    let bytes = std::fs::read(&full).unwrap();
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = import_bundle(s, &truncated, "test", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("truncated.zip")
            && err.to_string().contains("corrupt or truncated"),
        "{err}"
    );
    // A gzip stream cut short fails the same way, after records were already read from it.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&ndjson_bytes(&newer)).unwrap();
    let gz = enc.finish().unwrap();
    let cut = dir.path().join("cut.ndjson.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let err = import_bundle(s, &cut, "test", None).await.unwrap_err();
    assert!(err.to_string().contains("cut.ndjson.gz"), "{err}");
    // Garbage where a zip should be.
    let junk = dir.path().join("junk.zip");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    assert!(import_bundle(s, &junk, "test", None).await.is_err());

    assert_eq!(s.advisory_counts().await.unwrap(), before);
    let first: serde_json::Value = serde_json::from_slice(&recs[0].1).unwrap();
    let a = s
        .get_advisory(first["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.modified, "2099-01-01T00:00:00Z", "no record was replaced");
}

#[derive(Clone)]
struct Mirror {
    root: PathBuf,
    downloads: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

async fn serve_file(
    State(m): State<Mirror>,
    UrlPath((eco, file)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = m.root.join(&eco).join(&file);
    let Ok(bytes) = std::fs::read(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-{}\"", eco, bytes.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        m.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    m.downloads.fetch_add(1, Ordering::SeqCst);
    ([(header::ETAG, etag)], bytes).into_response()
}

async fn serve_eol(State(m): State<Mirror>, UrlPath(file): UrlPath<String>) -> Response {
    match std::fs::read(m.root.join("eol").join(&file)) {
        Ok(b) => b.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn online_sync_downloads_once_and_honours_etags() {
    let db = TestDb::from_env().await;
    let s = db.store();
    let data = shared_data();
    let mirror = Mirror {
        root: data.join("osv"),
        downloads: Arc::new(AtomicUsize::new(0)),
        not_modified: Arc::new(AtomicUsize::new(0)),
    };
    let eol_mirror = Mirror {
        root: data.clone(),
        ..mirror.clone()
    };
    let app = axum::Router::new()
        .route("/osv/{eco}/{file}", axum::routing::get(serve_file))
        .with_state(mirror.clone())
        .merge(
            axum::Router::new()
                .route("/api/{file}", axum::routing::get(serve_eol))
                .with_state(eol_mirror),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A fleet with PyPI and Go packages: those two archives are what the sync fetches.
    let d = device(s, "mixed").await;
    ingest_upload(
        s,
        d,
        &upload(
            "mixed",
            "debian",
            "12",
            OffsetDateTime::now_utc(),
            vec![
                pkg("PyPI", "django", "3.1.5"),
                pkg("Go", "github.com/anchore/syft", "v0.69.1"),
            ],
        ),
    )
    .await;
    let cache = tempfile::tempdir().unwrap();
    let settings = FeedSettings {
        osv_base_url: format!("http://{addr}/osv"),
        eol_base_url: format!("http://{addr}/api"),
        osv_bundle_path: None,
        eol_bundle_path: None,
        cache_dir: cache.path().to_owned(),
        proxy: ProxySettings::default(),
    };
    let first = osv_sync(s, &settings).await.unwrap();
    assert!(first.added > 6000, "{first:?}");
    assert_eq!(mirror.downloads.load(Ordering::SeqCst), 2);
    let findings = s
        .fleet_device(d, OffsetDateTime::now_utc() - time::Duration::days(1))
        .await
        .unwrap()
        .unwrap()
        .0
        .findings;
    assert!(findings.open() >= 2, "{findings:?}");
    let statuses = s.feed_statuses().await.unwrap();
    let sources: Vec<&str> = statuses.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(sources, ["osv:Go", "osv:PyPI"]);
    assert!(
        statuses
            .iter()
            .all(|f| f.last_success.is_some() && f.record_count > 1000)
    );

    // Nothing changed upstream: the second sync downloads nothing.
    let second = osv_sync(s, &settings).await.unwrap();
    assert_eq!(second.added + second.updated, 0);
    assert_eq!(mirror.downloads.load(Ordering::SeqCst), 2);
    assert_eq!(mirror.not_modified.load(Ordering::SeqCst), 2);

    // The EOL sync fetches each tracked product's JSON; Python 3.8 is past its end of life.
    let cycles = eol_sync(s, &settings).await.unwrap();
    assert!(cycles > 100, "{cycles}");
    let overview = s
        .overview(OffsetDateTime::now_utc() - time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(overview.eol_runtimes, 1);

    // A mirror that fails keeps the stored advisories and records the error.
    let broken = FeedSettings {
        osv_base_url: format!("http://{addr}/missing"),
        ..settings.clone()
    };
    assert!(osv_sync(s, &broken).await.is_err());
    let (count, _) = s.advisory_counts().await.unwrap();
    assert!(count > 6000);
    let pypi = s.feed_status("osv:PyPI").await.unwrap().unwrap();
    assert!(pypi.last_error.unwrap().contains("404"));
}
