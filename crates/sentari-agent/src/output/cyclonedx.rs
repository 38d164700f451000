//! The `cyclonedx` format: a CycloneDX 1.6 JSON SBOM of the scan.
//!
//! The published Rust CycloneDX crate (`cyclonedx-bom` 0.8) models specification versions up
//! to 1.5 only, so the few objects needed are written here as serde structs following the 1.6
//! JSON schema (`bom-1.6.schema.json`). Every package becomes a `library` component with its
//! purl; runtimes are `platform` components and the OS an `operating-system` component; what
//! the schema has no field for (install path, environment, source package) goes into
//! `sentari:`-prefixed properties.

use std::collections::HashSet;
use std::io::Write;

use sentari_proto::agent::{Package, ScanUpload};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::OutputError;

#[derive(Serialize)]
struct Bom<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    #[serde(rename = "serialNumber")]
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: String,
    tools: Tools<'a>,
    component: Component,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: Vec<Tool<'a>>,
}

#[derive(Serialize)]
struct Tool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

fn prop(name: &str, value: &str) -> Property {
    Property {
        name: format!("sentari:{name}"),
        value: value.to_owned(),
    }
}

/// Splits a package name into CycloneDX `group` and `name` (Maven `group:artifact`, npm
/// `@scope/name`).
fn group_and_name(p: &Package) -> (Option<String>, String) {
    match p.ecosystem.as_str() {
        "Maven" => match p.name.split_once(':') {
            Some((g, a)) => (Some(g.to_owned()), a.to_owned()),
            None => (None, p.name.clone()),
        },
        "npm" => match p.name.split_once('/') {
            Some((s, n)) if s.starts_with('@') => (Some(s.to_owned()), n.to_owned()),
            _ => (None, p.name.clone()),
        },
        _ => (None, p.name.clone()),
    }
}

/// Writes the SBOM.
pub fn write(scan: &ScanUpload, w: &mut dyn Write) -> Result<(), OutputError> {
    let mut refs = HashSet::new();
    let mut unique = |base: String| -> String {
        let mut candidate = base.clone();
        let mut n = 1;
        while !refs.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{base}#{n}");
        }
        candidate
    };
    let mut components = Vec::new();
    let os = &scan.host.os_release;
    components.push(Component {
        kind: "operating-system",
        bom_ref: unique(format!("os:{}", os.id)),
        group: None,
        name: os.id.clone(),
        version: os.version_id.clone(),
        description: os.pretty_name.clone(),
        purl: None,
        properties: Vec::new(),
    });
    for p in &scan.packages {
        let (group, name) = group_and_name(p);
        let mut properties = vec![
            prop("ecosystem", &p.ecosystem),
            prop("install_path", &p.install_path),
            prop("env_type", &p.env_type),
        ];
        let optional = [
            ("environment", &p.environment),
            ("interpreter_version", &p.interpreter_version),
            ("source_name", &p.source_name),
            ("source_version", &p.source_version),
            ("arch", &p.arch),
            ("origin", &p.origin),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                properties.push(prop(k, v));
            }
        }
        let base = format!(
            "{}|{}",
            p.purl
                .clone()
                .unwrap_or_else(|| format!("{}/{}@{}", p.ecosystem, p.name, p.version)),
            p.install_path
        );
        components.push(Component {
            kind: "library",
            bom_ref: unique(base),
            group,
            name,
            version: Some(p.version.clone()),
            description: None,
            purl: p.purl.clone(),
            properties,
        });
    }
    for r in &scan.runtimes {
        let mut properties = vec![prop("runtime_path", &r.path)];
        if let Some(v) = &r.vendor {
            properties.push(prop("vendor", v));
        }
        components.push(Component {
            kind: "platform",
            bom_ref: unique(format!("runtime:{}@{}|{}", r.kind, r.version, r.path)),
            group: None,
            name: r.kind.clone(),
            version: Some(r.version.clone()),
            description: None,
            purl: None,
            properties,
        });
    }
    let host = &scan.host;
    let mut host_props = vec![prop("arch", &host.arch), prop("host_kind", &host.host_kind)];
    if !host.kernel.is_empty() {
        host_props.push(prop("kernel", &host.kernel));
    }
    if !host.machine_id.is_empty() {
        host_props.push(prop("machine_id", &host.machine_id));
    }
    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", scan.scan_id),
        version: 1,
        metadata: Metadata {
            timestamp: scan
                .scanned_at
                .format(&Rfc3339)
                .unwrap_or_else(|_| String::new()),
            tools: Tools {
                components: vec![Tool {
                    kind: "application",
                    name: "sentari-agent",
                    version: &scan.agent_version,
                }],
            },
            component: Component {
                kind: "device",
                bom_ref: "host".to_owned(),
                group: None,
                name: if host.hostname.is_empty() {
                    "unknown".to_owned()
                } else {
                    host.hostname.clone()
                },
                version: None,
                description: host.os_release.pretty_name.clone(),
                purl: None,
                properties: host_props,
            },
        },
        components,
    };
    serde_json::to_writer_pretty(&mut *w, &bom)?;
    w.write_all(b"\n")?;
    Ok(())
}
