//! Capped reading and decompression of scan uploads (ARCHITECTURE.md invariant 5).
//!
//! The compressed body is read with a hard byte limit, so a 200 MB upload costs at most the cap
//! in memory. Decompression goes through a counting reader that stops at the decompressed cap,
//! so a gzip bomb costs at most that cap (128 MiB by default) and is answered 413, not with an
//! out-of-memory kill. The decompressed text is then parsed from memory: `serde_json` parses a
//! slice several times faster than a reader (which it consumes byte by byte), and the parse of
//! a 20,000-package upload is most of the gateway's work per scan. Only when that parse fails
//! is the text parsed again, with the path tracking that names the offending field.

use std::io::{self, Read};

use sentari_proto::agent::ScanUpload;

/// How the body is encoded (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value; `None` for unsupported encodings.
    pub fn parse(value: Option<&str>) -> Option<Encoding> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Some(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Some(Encoding::Gzip),
            Some("zstd") => Some(Encoding::Zstd),
            _ => None,
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// More than the decompressed cap.
    #[error("the decompressed body exceeds {0} bytes")]
    TooLarge(u64),
    /// The compression stream is corrupt.
    #[error("the body cannot be decompressed: {0}")]
    Corrupt(String),
    /// The JSON does not match `ScanUpload`; `field` is the path of the offending value.
    #[error("invalid scan upload: {detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
        /// Where (`packages.3.version`).
        field: Option<String>,
    },
}

/// A reader that fails once more than `limit` bytes went through it.
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.exceeded = true;
                return Err(io::Error::other("decompressed size limit exceeded"));
            }
            return Ok(0);
        }
        let max = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Decodes and parses a scan upload; blocking (run it on the blocking pool).
pub fn decode_scan(
    body: &[u8],
    encoding: Encoding,
    max_decompressed: u64,
) -> Result<ScanUpload, DecodeError> {
    let inner: Box<dyn Read + '_> = match encoding {
        Encoding::Identity => {
            if body.len() as u64 > max_decompressed {
                return Err(DecodeError::TooLarge(max_decompressed));
            }
            return parse(body);
        }
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Encoding::Zstd => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?,
        ),
    };
    let mut capped = Capped {
        inner,
        left: max_decompressed,
        exceeded: false,
    };
    // Sized for a typical compression ratio, never beyond the cap.
    let guess =
        (body.len().saturating_mul(8)).min(usize::try_from(max_decompressed).unwrap_or(usize::MAX));
    let mut text = Vec::with_capacity(guess);
    if let Err(e) = capped.read_to_end(&mut text) {
        if capped.exceeded {
            return Err(DecodeError::TooLarge(max_decompressed));
        }
        return Err(DecodeError::Corrupt(e.to_string()));
    }
    parse(&text)
}

/// Parses the decompressed text; on failure, parses it again to name the offending field.
fn parse(text: &[u8]) -> Result<ScanUpload, DecodeError> {
    if let Ok(scan) = serde_json::from_slice::<ScanUpload>(text) {
        return Ok(scan);
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let detail = match serde_path_to_error::deserialize::<_, ScanUpload>(&mut de) {
        // Parsed with the path tracker after all: trailing characters made the first parse fail.
        Ok(_) => match de.end() {
            Ok(()) => "the upload could not be parsed".to_owned(),
            Err(e) => e.to_string(),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(DecodeError::Invalid {
                detail: inner.to_string(),
                field: (path != ".").then_some(path),
            });
        }
    };
    Err(DecodeError::Invalid {
        detail,
        field: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;

    use super::*;

    #[test]
    fn a_gzip_bomb_is_too_large_not_invalid() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..8 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(matches!(
            decode_scan(&bomb, Encoding::Gzip, 1 << 20),
            Err(DecodeError::TooLarge(_))
        ));
        assert!(matches!(
            decode_scan(&bomb, Encoding::Gzip, 16 << 20),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn zstd_uploads_parse_and_truncated_ones_are_corrupt() {
        let json = serde_json::json!({
            "scan_id": "6f1c1d2e-0000-4000-8000-000000000001",
            "scanned_at": "2026-01-01T00:00:00Z",
            "agent_version": "test",
            "duration_ms": 5,
            "host": {"hostname": "h", "machine_id": "m", "os_release": {"id": "debian"}, "kernel": "", "arch": "x86_64", "host_kind": "vm"},
            "packages": [{"ecosystem": "PyPI", "name": "requests", "version": "2.31.0", "install_path": "/x", "env_type": "system"}],
            "runtimes": [],
            "errors": []
        });
        let text = serde_json::to_vec(&json).unwrap();
        let z = zstd::bulk::compress(&text, 3).unwrap();
        let scan = decode_scan(&z, Encoding::Zstd, 1 << 20).unwrap();
        assert_eq!(scan.packages[0].name, "requests");
        assert!(matches!(
            decode_scan(&z[..z.len() / 2], Encoding::Zstd, 1 << 20),
            Err(DecodeError::Corrupt(_))
        ));
        // Over the cap by one byte: too large, whatever the encoding.
        let cap = text.len() as u64 - 1;
        assert!(matches!(
            decode_scan(&z, Encoding::Zstd, cap),
            Err(DecodeError::TooLarge(_))
        ));
        assert!(matches!(
            decode_scan(&text, Encoding::Identity, cap),
            Err(DecodeError::TooLarge(_))
        ));
        // Trailing text after the object is invalid, not silently ignored.
        let mut trailing = text.clone();
        trailing.extend_from_slice(b" x");
        assert!(matches!(
            decode_scan(&trailing, Encoding::Identity, 1 << 20),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn field_paths_are_reported() {
        let body = br#"{"scan_id":"not-a-uuid"}"#;
        match decode_scan(body, Encoding::Identity, 1 << 20) {
            Err(DecodeError::Invalid { field, .. }) => {
                assert_eq!(field.as_deref(), Some("scan_id"))
            }
            other => panic!("{other:?}"),
        }
    }
}
