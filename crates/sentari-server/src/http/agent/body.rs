//! Capped reading and decompression of scan uploads (ARCHITECTURE.md invariant 5).
//!
//! The compressed body is read with a hard byte limit, so a 200 MB upload costs at most the cap
//! in memory. Decompression is streamed straight into the JSON parser through a counting
//! reader: the decompressed text is never held in memory as a whole, and a gzip bomb is
//! recognised by counting, without materialising it, so the answer is 413 and not an
//! out-of-memory kill.

use std::io::{self, BufReader, Read};

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
        Encoding::Identity => Box::new(body),
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
    let parsed: Result<ScanUpload, (String, Option<String>, bool)> = {
        let mut reader = BufReader::with_capacity(64 * 1024, &mut capped);
        let mut de = serde_json::Deserializer::from_reader(&mut reader);
        match serde_path_to_error::deserialize::<_, ScanUpload>(&mut de) {
            Ok(v) => de
                .end()
                .map(|()| v)
                .map_err(|e| (e.to_string(), None, e.is_io())),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                Err((
                    inner.to_string(),
                    (path != ".").then_some(path),
                    inner.is_io(),
                ))
            }
        }
    };
    match parsed {
        Ok(scan) => Ok(scan),
        Err((detail, field, is_io)) => {
            // A bomb often fails to parse long before the cap (a run of zeros is not JSON):
            // drain the rest, counting only, so an oversized body is reported as such.
            if !capped.exceeded {
                let _ = io::copy(&mut capped, &mut io::sink());
            }
            if capped.exceeded {
                return Err(DecodeError::TooLarge(max_decompressed));
            }
            if is_io {
                return Err(DecodeError::Corrupt(detail));
            }
            Err(DecodeError::Invalid { detail, field })
        }
    }
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
