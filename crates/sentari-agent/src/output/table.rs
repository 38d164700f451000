//! The `table` format: what a person at a terminal wants to see — the host, one summary line
//! per source, then packages, runtimes and scan errors in aligned columns.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use sentari_proto::agent::{Package, ScanUpload};

use super::OutputError;

/// The source that reported a package, for the summary.
pub fn source_of(p: &Package) -> &'static str {
    match (p.env_type.as_str(), p.ecosystem.as_str()) {
        ("os", _) if p.install_path.contains("/dpkg/") => "dpkg",
        ("os", _) if p.install_path.contains("/rpm") => "rpm",
        ("os", _) if p.install_path.contains("/apk/") => "apk",
        ("os", _) => "os",
        (_, "PyPI") => "python",
        (_, "Maven") => "jvm",
        (_, "npm") => "npm",
        _ => "other",
    }
}

/// Writes the human-readable report.
pub fn write(scan: &ScanUpload, w: &mut dyn Write) -> Result<(), OutputError> {
    let h = &scan.host;
    let os = h
        .os_release
        .pretty_name
        .clone()
        .unwrap_or_else(|| h.os_release.id.clone());
    writeln!(
        w,
        "Host {} ({os}; kernel {}; {}; {})",
        if h.hostname.is_empty() {
            "?"
        } else {
            &h.hostname
        },
        if h.kernel.is_empty() { "?" } else { &h.kernel },
        h.arch,
        h.host_kind
    )?;
    writeln!(
        w,
        "Scanned in {} ms by sentari-agent {}",
        scan.duration_ms, scan.agent_version
    )?;
    writeln!(w)?;

    // Summary: per source, package count and where they were found.
    let mut per_source: BTreeMap<&str, (usize, BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for p in &scan.packages {
        let e = per_source.entry(source_of(p)).or_default();
        e.0 += 1;
        e.1.insert(p.environment.as_deref().unwrap_or(p.install_path.as_str()));
        e.2.insert(p.ecosystem.as_str());
    }
    for source in ["dpkg", "rpm", "apk", "os", "python", "jvm", "npm", "other"] {
        let Some((count, places, ecos)) = per_source.get(source) else {
            continue;
        };
        let detail = match source {
            "dpkg" | "rpm" | "apk" | "os" => {
                format!("({})", ecos.iter().copied().collect::<Vec<_>>().join(", "))
            }
            "python" => format!("in {} environments", places.len()),
            "jvm" => format!("in {} archives", places.len()),
            "npm" => format!("in {} install locations", places.len()),
            _ => String::new(),
        };
        writeln!(w, "{source:<9}{count:>7} packages {detail}")?;
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &scan.runtimes {
        *kinds.entry(r.kind.as_str()).or_default() += 1;
    }
    let kinds = kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(w, "{:<9}{:>7} ({kinds})", "runtimes", scan.runtimes.len())?;
    writeln!(w, "{:<9}{:>7}", "errors", scan.errors.len())?;

    if !scan.packages.is_empty() {
        writeln!(w)?;
        let rows: Vec<[String; 5]> = scan
            .packages
            .iter()
            .map(|p| {
                [
                    p.ecosystem.clone(),
                    p.name.clone(),
                    p.version.clone(),
                    p.env_type.clone(),
                    p.install_path.clone(),
                ]
            })
            .collect();
        columns(w, ["ECOSYSTEM", "NAME", "VERSION", "TYPE", "PATH"], &rows)?;
    }
    if !scan.runtimes.is_empty() {
        writeln!(w)?;
        let rows: Vec<[String; 4]> = scan
            .runtimes
            .iter()
            .map(|r| {
                [
                    r.kind.clone(),
                    r.version.clone(),
                    r.vendor.clone().unwrap_or_default(),
                    r.path.clone(),
                ]
            })
            .collect();
        columns(w, ["RUNTIME", "VERSION", "VENDOR", "PATH"], &rows)?;
    }
    if !scan.errors.is_empty() {
        writeln!(w)?;
        let rows: Vec<[String; 3]> = scan
            .errors
            .iter()
            .map(|e| [e.scanner.clone(), e.path.clone(), e.error.clone()])
            .collect();
        columns(w, ["SCANNER", "PATH", "ERROR"], &rows)?;
    }
    Ok(())
}

/// Prints rows under a header, each column as wide as its widest cell (the last one unpadded).
fn columns<const N: usize>(
    w: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> Result<(), OutputError> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s
    };
    writeln!(w, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(w, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
