//! The `json` format: the scan exactly as uploaded (`ScanUpload`, ARCHITECTURE.md §5), pretty
//! printed so that two scans of an unchanged host diff cleanly.

use std::io::Write;

use sentari_proto::agent::ScanUpload;

use super::OutputError;

/// Writes the scan as pretty-printed `ScanUpload` JSON with a final newline.
pub fn write(scan: &ScanUpload, w: &mut dyn Write) -> Result<(), OutputError> {
    serde_json::to_writer_pretty(&mut *w, scan)?;
    w.write_all(b"\n")?;
    Ok(())
}
