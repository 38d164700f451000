//! Outbound feed downloads for the server (OSV `all.zip` archives, endoflife.date JSON).
//!
//! Downloads are conditional (`If-None-Match` / `If-Modified-Since`), streamed to a temporary
//! file beside the destination and renamed into place only when complete, so a broken
//! transfer never replaces a good file and a large archive never sits in memory. They go
//! through the configured proxy, honour `no_proxy`, and are capped in size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Proxy settings for outbound calls (`SENTARI_HTTP_PROXY`, `SENTARI_HTTPS_PROXY`,
/// `SENTARI_NO_PROXY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub http: Option<String>,
    pub https: Option<String>,
    /// Comma-separated hosts (and `.domain` suffixes) reached directly.
    pub no_proxy: Option<String>,
}

/// What a conditional download found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The server said the file did not change; nothing was written.
    NotModified,
    /// A new copy was written to the destination.
    Downloaded {
        /// Bytes written.
        bytes: u64,
        /// The new `ETag`, when the server sent one.
        etag: Option<String>,
        /// The new `Last-Modified`, when the server sent one.
        last_modified: Option<String>,
    },
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The client could not be built (bad proxy URL).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    /// The request failed before or during the transfer.
    #[error("cannot download {url}: {detail}")]
    Transport { url: String, detail: String },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The body was larger than allowed.
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A client for feed downloads.
#[derive(Debug, Clone)]
pub struct FeedClient {
    http: reqwest::Client,
}

impl FeedClient {
    /// A client with the given proxies and a generous overall timeout (feed archives are
    /// hundreds of megabytes on slow links).
    pub fn new(proxy: &ProxySettings, timeout: Duration) -> Result<FeedClient, FetchError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(timeout)
            .user_agent(concat!("sentari/", env!("CARGO_PKG_VERSION")));
        let no_proxy = proxy
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        if let Some(p) = proxy.https.as_deref().filter(|s| !s.is_empty()) {
            let p = reqwest::Proxy::https(p)
                .map_err(|e| FetchError::Build(format!("invalid HTTPS proxy: {e}")))?
                .no_proxy(no_proxy.clone());
            b = b.proxy(p);
        }
        if let Some(p) = proxy.http.as_deref().filter(|s| !s.is_empty()) {
            let p = reqwest::Proxy::http(p)
                .map_err(|e| FetchError::Build(format!("invalid HTTP proxy: {e}")))?
                .no_proxy(no_proxy);
            b = b.proxy(p);
        }
        let http = b.build().map_err(|e| FetchError::Build(e.to_string()))?;
        Ok(FeedClient { http })
    }

    /// Downloads `url` to `dest` unless the server says it is unchanged since the copy
    /// described by `etag` / `last_modified`.
    pub async fn fetch_if_changed(
        &self,
        url: &str,
        dest: &Path,
        etag: Option<&str>,
        last_modified: Option<&str>,
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let transport = |e: reqwest::Error| FetchError::Transport {
            url: url.to_owned(),
            detail: error_chain(&e),
        };
        let mut req = self.http.get(url);
        // Only sent when the destination still holds the copy the validators describe.
        if dest.exists() {
            if let Some(e) = etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(Fetched::NotModified);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit: max_bytes,
            });
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let new_etag = header(reqwest::header::ETAG);
        let new_lm = header(reqwest::header::LAST_MODIFIED);
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| FetchError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let io = |source| FetchError::Io {
            path: dest.to_owned(),
            source,
        };
        let mut tmp = tempfile_in(dir).map_err(io)?;
        let mut written: u64 = 0;
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            written += chunk.len() as u64;
            if written > max_bytes {
                let _ = std::fs::remove_file(&tmp.1);
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit: max_bytes,
                });
            }
            if let Err(e) = tmp.0.write_all(&chunk) {
                let _ = std::fs::remove_file(&tmp.1);
                return Err(io(e));
            }
        }
        let finish = tmp.0.sync_all().and_then(|_| std::fs::rename(&tmp.1, dest));
        if let Err(e) = finish {
            let _ = std::fs::remove_file(&tmp.1);
            return Err(io(e));
        }
        Ok(Fetched::Downloaded {
            bytes: written,
            etag: new_etag,
            last_modified: new_lm,
        })
    }

    /// Fetches a small JSON document (endoflife.date), capped at `max_bytes`.
    pub async fn get_bytes(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let transport = |e: reqwest::Error| FetchError::Transport {
            url: url.to_owned(),
            detail: error_chain(&e),
        };
        let mut resp = self.http.get(url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if (out.len() + chunk.len()) as u64 > max_bytes {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit: max_bytes,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// A uniquely named temporary file in `dir`, removed by the caller on failure.
fn tempfile_in(dir: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    for attempt in 0..100u32 {
        let name = format!(
            ".download-{}-{}-{attempt}.part",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

/// The error and its sources in one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
