//! The OSV record as published (schema 1.x), read tolerantly.
//!
//! Only the fields matching needs are declared; everything else (`details`, `references`,
//! `credits`, …) is skipped while parsing so it costs no memory. Lists that are absent or
//! `null` read as empty, because real feeds write both.

use serde::{Deserialize, Deserializer};

/// Reads `null` or an absent field as the type's default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One OSV advisory.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvRecord {
    /// The advisory id (`PYSEC-2021-9`, `GO-2022-0001`, `ALSA-2024:5363`).
    pub id: String,
    /// When the record last changed (RFC 3339), used to keep the newest copy of an id.
    #[serde(default, deserialize_with = "null_default")]
    pub modified: String,
    /// When the record was withdrawn; withdrawn records never match.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// Other ids of the same vulnerability (CVE, GHSA, …).
    #[serde(default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    /// A one-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Record-level severity vectors.
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<OsvSeverity>,
    /// The affected packages.
    #[serde(default, deserialize_with = "null_default")]
    pub affected: Vec<OsvAffected>,
    /// Database-specific extras; only `severity` is read.
    #[serde(default)]
    pub database_specific: Option<DatabaseSpecific>,
}

/// A `severity` entry: a scoring system and its vector or score.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvSeverity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector (or, for some types, a word).
    pub score: String,
}

/// The `database_specific` object; anything but a `severity` word is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DatabaseSpecific {
    /// A severity word such as `HIGH` or `Moderate`, when the database gives one.
    #[serde(default, deserialize_with = "severity_word")]
    pub severity: Option<String>,
}

/// Keeps `database_specific.severity` only when it is a string; some databases put objects
/// there, which must not make the whole record unreadable.
fn severity_word<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_str().map(str::to_owned))
}

/// One `affected[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvAffected {
    /// The package; entries without one (pure `GIT` ranges) are skipped.
    #[serde(default)]
    pub package: Option<OsvPackage>,
    /// Entry-level severity vectors.
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<OsvSeverity>,
    /// Version ranges.
    #[serde(default, deserialize_with = "null_default")]
    pub ranges: Vec<OsvRange>,
    /// Explicitly listed affected versions.
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Vec<String>,
    /// Database-specific extras; only `severity` is read.
    #[serde(default)]
    pub database_specific: Option<DatabaseSpecific>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvPackage {
    /// The ecosystem string (`PyPI`, `AlmaLinux:9`).
    pub ecosystem: String,
    /// The package name in that ecosystem.
    pub name: String,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvRange {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The events, each with exactly one of the four keys.
    #[serde(default, deserialize_with = "null_default")]
    pub events: Vec<OsvEvent>,
}

/// One range event. The schema allows exactly one key per event; events with none or
/// several are reported as malformed by the index.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OsvEvent {
    /// The first affected version (`"0"`: from the beginning).
    #[serde(default)]
    pub introduced: Option<String>,
    /// The first version no longer affected.
    #[serde(default)]
    pub fixed: Option<String>,
    /// The last version still affected.
    #[serde(default)]
    pub last_affected: Option<String>,
    /// An upper bound on the range (`"*"`: none).
    #[serde(default)]
    pub limit: Option<String>,
}
