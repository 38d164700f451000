//! CSV and Excel exports of the fleet lists and the audit log.
//!
//! Every list row type says once which columns it exports ([`CsvRow`]); the CSV writer quotes
//! per RFC 4180 and guards against formula injection (a cell starting with `=`, `+`, `-` or
//! `@` is prefixed with `'`, as spreadsheet programs would otherwise evaluate it). The runtime
//! inventory is also available as `.xlsx` with the columns of the admin guide (§8 Runtime).

use axum::response::{IntoResponse, Response};
use sentari_proto::auth::AuditEntryBody;
use sentari_proto::fleet::{
    AdvisoryGroup, DeviceErrors, DevicePackage, DeviceSummary, FindingRow, FleetPackage,
    RuntimeRow, ScanBody, ScanErrorBody, SuppressionBody,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ApiFailure;
use super::fleet::{attachment, typed};

/// A row that can be exported.
pub trait CsvRow {
    /// Column names.
    fn headers() -> &'static [&'static str];
    /// The cells, in header order.
    fn cells(&self) -> Vec<String>;
}

fn ts(t: &Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

fn ts1(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// Neutralises a cell a spreadsheet would evaluate as a formula.
fn safe_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The rows as CSV, with a header line.
pub fn to_csv<T: CsvRow>(rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(T::headers())?;
    for r in rows {
        w.write_record(r.cells().iter().map(|c| safe_cell(c)))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A CSV download named `<name>.csv`.
pub fn csv_response<T: CsvRow>(name: &str, rows: &[T]) -> Response {
    match to_csv(rows) {
        Ok(body) => attachment(
            typed(body, "text/csv; charset=utf-8"),
            &format!("{name}.csv"),
        ),
        Err(e) => ApiFailure::Internal(format!("CSV export failed: {e}")).into_response(),
    }
}

/// The runtime inventory as an Excel workbook.
pub fn xlsx_runtimes(rows: &[RuntimeRow]) -> Result<Response, ApiFailure> {
    let bytes = runtimes_workbook(rows)
        .map_err(|e| ApiFailure::Internal(format!("XLSX export failed: {e}")))?;
    Ok(attachment(
        typed(
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "runtimes.xlsx",
    ))
}

/// Builds the workbook: one sheet, a bold header row, frozen, with column widths set.
pub fn runtimes_workbook(rows: &[RuntimeRow]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name("Runtimes")?;
    let bold = Format::new().set_bold();
    let headers = RuntimeRow::headers();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.cells().iter().enumerate() {
            sheet.write_string((r + 1) as u32, c as u16, cell)?;
        }
    }
    for (c, width) in [24, 28, 10, 48, 14, 14, 12, 14, 26].iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, (headers.len() - 1) as u16)?;
    wb.save_to_buffer()
}

impl CsvRow for RuntimeRow {
    fn headers() -> &'static [&'static str] {
        &[
            "hostname",
            "os",
            "runtime",
            "path",
            "version",
            "eol_cycle",
            "eol_date",
            "eol_status",
            "last_scan",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            self.os.clone(),
            self.kind.clone(),
            self.path.clone(),
            self.version.clone(),
            opt(&self.eol_cycle),
            opt(&self.eol_date),
            self.eol_status.clone(),
            ts(&self.last_scan_at),
        ]
    }
}

impl CsvRow for DeviceSummary {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "hostname",
            "os",
            "python_version",
            "agent_version",
            "tags",
            "last_seen",
            "last_scan_at",
            "scan_status",
            "packages",
            "critical",
            "high",
            "medium",
            "low",
            "unknown",
            "suppressed",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.hostname.clone(),
            self.os.clone(),
            self.python_version.clone(),
            self.agent_version.clone(),
            self.tags.join(" "),
            ts(&self.last_seen),
            ts(&self.last_scan_at),
            self.scan_status.clone(),
            self.package_count.to_string(),
            self.findings.critical.to_string(),
            self.findings.high.to_string(),
            self.findings.medium.to_string(),
            self.findings.low.to_string(),
            self.findings.unknown.to_string(),
            self.findings.suppressed.to_string(),
        ]
    }
}

impl CsvRow for DevicePackage {
    fn headers() -> &'static [&'static str] {
        &[
            "ecosystem",
            "name",
            "version",
            "source_name",
            "arch",
            "env_type",
            "environment",
            "install_path",
            "open_findings",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.ecosystem.clone(),
            self.name.clone(),
            self.version.clone(),
            opt(&self.source_name),
            opt(&self.arch),
            self.env_type.clone(),
            opt(&self.environment),
            self.install_path.clone(),
            self.open_findings.to_string(),
        ]
    }
}

impl CsvRow for FleetPackage {
    fn headers() -> &'static [&'static str] {
        &[
            "ecosystem",
            "name",
            "version",
            "source_name",
            "devices",
            "advisories",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.ecosystem.clone(),
            self.name.clone(),
            self.version.clone(),
            opt(&self.source_name),
            self.devices.to_string(),
            self.advisories.to_string(),
        ]
    }
}

impl CsvRow for ScanBody {
    fn headers() -> &'static [&'static str] {
        &[
            "scan_id",
            "hostname",
            "scanned_at",
            "received_at",
            "status",
            "packages",
            "added",
            "removed",
            "changed",
            "errors",
            "duration_ms",
            "agent_version",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.scan_id.to_string(),
            self.hostname.clone(),
            ts1(&self.scanned_at),
            ts1(&self.received_at),
            self.status.clone(),
            self.packages.to_string(),
            self.packages_added.to_string(),
            self.packages_removed.to_string(),
            self.packages_changed.to_string(),
            self.errors.to_string(),
            self.duration_ms.to_string(),
            self.agent_version.clone(),
        ]
    }
}

impl CsvRow for ScanErrorBody {
    fn headers() -> &'static [&'static str] {
        &[
            "hostname",
            "scanner",
            "kind",
            "path",
            "message",
            "scanned_at",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            self.scanner.clone(),
            self.kind.clone(),
            self.path.clone(),
            self.message.clone(),
            ts1(&self.scanned_at),
        ]
    }
}

impl CsvRow for DeviceErrors {
    fn headers() -> &'static [&'static str] {
        &["device_id", "hostname", "last_scan_at", "errors", "kinds"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.device_id.to_string(),
            self.hostname.clone(),
            ts(&self.last_scan_at),
            self.errors.to_string(),
            self.kinds.join(" "),
        ]
    }
}

impl CsvRow for FindingRow {
    fn headers() -> &'static [&'static str] {
        &[
            "hostname",
            "ecosystem",
            "package",
            "version",
            "advisory",
            "aliases",
            "severity",
            "score",
            "fixed_version",
            "detected_at",
            "resolved_at",
            "suppressed",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            self.ecosystem.clone(),
            self.name.clone(),
            self.version.clone(),
            self.advisory_id.clone(),
            self.aliases.join(" "),
            self.severity.rating.clone(),
            self.severity
                .score
                .map(|s| s.to_string())
                .unwrap_or_default(),
            opt(&self.fixed_version),
            ts1(&self.detected_at),
            ts(&self.resolved_at),
            self.suppressed.to_string(),
        ]
    }
}

impl CsvRow for AdvisoryGroup {
    fn headers() -> &'static [&'static str] {
        &[
            "advisory",
            "aliases",
            "severity",
            "score",
            "devices",
            "packages",
            "package_names",
            "fixed_versions",
            "summary",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.advisory_id.clone(),
            self.aliases.join(" "),
            self.severity.rating.clone(),
            self.severity
                .score
                .map(|s| s.to_string())
                .unwrap_or_default(),
            self.devices.to_string(),
            self.packages.to_string(),
            self.package_names.join(" "),
            self.fixed_versions.join(" "),
            opt(&self.summary),
        ]
    }
}

impl CsvRow for SuppressionBody {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "scope",
            "advisory",
            "package",
            "device_id",
            "tag",
            "reason",
            "created_by",
            "created_at",
            "expires_at",
            "active",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.scope.clone(),
            opt(&self.advisory_id),
            match (&self.ecosystem, &self.package) {
                (Some(e), Some(p)) => format!("{e}/{p}"),
                _ => String::new(),
            },
            self.device_id.map(|d| d.to_string()).unwrap_or_default(),
            opt(&self.tag),
            self.reason.clone(),
            self.created_by.clone(),
            ts1(&self.created_at),
            ts(&self.expires_at),
            self.active.to_string(),
        ]
    }
}

impl CsvRow for AuditEntryBody {
    fn headers() -> &'static [&'static str] {
        &[
            "seq", "at", "actor", "actor_ip", "action", "target", "before", "after", "hash", "id",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let json =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        vec![
            self.seq.to_string(),
            ts1(&self.at),
            self.actor.clone(),
            opt(&self.actor_ip),
            self.action.clone(),
            opt(&self.target),
            json(&self.before),
            json(&self.after),
            self.hash.clone(),
            self.id.to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        let row = FleetPackage {
            package_version_id: 1,
            ecosystem: "PyPI".into(),
            name: "=cmd|' /C calc'!A0".into(),
            version: "1,0".into(),
            source_name: None,
            devices: 2,
            advisories: 0,
            match_status: "evaluated".into(),
        };
        let out = String::from_utf8(to_csv(&[row]).unwrap_or_default()).unwrap_or_default();
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("ecosystem,name,version,source_name,devices,advisories")
        );
        assert_eq!(lines.next(), Some("PyPI,'=cmd|' /C calc'!A0,\"1,0\",,2,0"));
    }
}
