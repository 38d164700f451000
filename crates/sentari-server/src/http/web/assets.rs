//! The dashboard's static files, compiled into the binary: one stylesheet, one script, an icon.
//!
//! Pages link them as `/static/<name>?v=<content hash>`. A request carrying the current hash is
//! cached by browsers for a year (`immutable`): a new build changes the hash and so the URL.
//! Any other request gets `no-cache` with an `ETag`, so it is revalidated and answered `304`
//! while unchanged.

use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/app.css")),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/app.js")),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/favicon.svg")),
    },
];

/// The first 16 hex digits of each asset's SHA-256, in `ASSETS` order.
fn hashes() -> &'static [String] {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| hex::encode(&Sha256::digest(a.body)[..8]))
            .collect()
    })
}

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    ASSETS
        .iter()
        .zip(hashes())
        .find(|(a, _)| a.name == name)
        .map(|(a, h)| (a, h.as_str()))
}

/// The versioned URL of an asset, for templates.
pub fn href(name: &str) -> String {
    match find(name) {
        Some((a, h)) => format!("/static/{}?v={h}", a.name),
        None => format!("/static/{name}"),
    }
}

/// The query of an asset request.
#[derive(Debug, Deserialize)]
pub struct AssetQuery {
    v: Option<String>,
}

/// `GET /static/{file}`.
pub async fn serve(
    Path(file): Path<String>,
    Query(q): Query<AssetQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((asset, hash)) = find(&file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if q.v.as_deref() == Some(hash) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_versioned_url() {
        for a in ASSETS {
            let url = href(a.name);
            assert!(url.starts_with(&format!("/static/{}?v=", a.name)), "{url}");
            assert_eq!(url.len(), "/static/".len() + a.name.len() + 3 + 16);
            assert!(!a.body.is_empty());
        }
        assert_eq!(href("missing.css"), "/static/missing.css");
    }

    #[test]
    fn the_script_and_stylesheet_need_nothing_from_elsewhere() {
        for a in ASSETS {
            let text = String::from_utf8_lossy(a.body);
            for banned in ["http://", "https://", "@import", "eval(", "innerHTML"] {
                // The SVG namespace URI is an identifier, not a fetch.
                let hits = text
                    .matches(banned)
                    .count()
                    .saturating_sub(text.matches("http://www.w3.org/").count());
                assert_eq!(hits, 0, "{} uses {banned}", a.name);
            }
        }
    }
}
