//! Output formats of `sentari-agent --scan`: a human-readable table, the `ScanUpload` JSON the
//! agent uploads, and a CycloneDX 1.6 SBOM.

pub mod cyclonedx;
pub mod json;
pub mod table;

use std::io::{self, Write};

use sentari_proto::agent::ScanUpload;

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A summary line per source, then packages, runtimes and errors as aligned columns.
    Table,
    /// Exactly the `ScanUpload` body of the agent protocol (ARCHITECTURE.md §5).
    Json,
    /// A CycloneDX 1.6 JSON SBOM with purls.
    CycloneDx,
}

/// Why the inventory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing failed (closed pipe, full disk).
    #[error("cannot write the output")]
    Io(#[from] io::Error),
    /// Serialization failed.
    #[error("cannot serialize the output")]
    Json(#[from] serde_json::Error),
}

/// Writes `scan` to `w` in `format`.
pub fn write(scan: &ScanUpload, format: Format, w: &mut dyn Write) -> Result<(), OutputError> {
    match format {
        Format::Table => table::write(scan, w),
        Format::Json => json::write(scan, w),
        Format::CycloneDx => cyclonedx::write(scan, w),
    }
}
