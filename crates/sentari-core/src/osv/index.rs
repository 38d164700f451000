//! The in-memory advisory index, keyed by (ecosystem without release, normalised name).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};

use super::cvss::{Rating, cvss3_base_score};
use super::eval::{EventKind, PreparedRange, RangeHit, RangeType};
use super::model::{DatabaseSpecific, OsvAffected, OsvRecord, OsvSeverity};
use crate::ecosystem::{Ecosystem, normalize_package_name};
use crate::version::{Version, VersionError, VersionScheme};

/// A record that could not be used; the index reports it and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", id.as_deref().unwrap_or("<record without id>"))]
pub struct RecordError {
    /// The record id, when it could be read.
    pub id: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// What happened to one inserted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The record is new and indexed.
    Added,
    /// It replaced an older copy of the same id.
    Replaced,
    /// An equal or newer copy of the id is already indexed.
    Stale,
    /// It is withdrawn: it was not indexed, and any older copy was removed.
    Withdrawn,
}

/// Counters describing what an index holds and what it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Advisories currently indexed.
    pub advisories: usize,
    /// `(package, ranges)` entries currently indexed.
    pub entries: usize,
    /// Withdrawn records seen (never indexed).
    pub withdrawn: usize,
    /// Records that replaced or lost to another copy of the same id.
    pub duplicates: usize,
    /// `GIT` ranges skipped (other ranges of the same entry still count).
    pub git_ranges_skipped: usize,
    /// Affected entries in ecosystems Sentari cannot compare.
    pub unsupported_entries: usize,
    /// Ranges dropped because an event did not parse or was malformed.
    pub bad_ranges: usize,
}

/// The severity of an advisory as Sentari reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Severity {
    /// The scoring system: `CVSS_V3`, `CVSS_V4`, `CVSS_V2`, or `database_specific`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// The base score, computed for CVSS v3 vectors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The rating, from the score or from the database's own word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

/// Picks the most useful severity: a scorable CVSS v3 vector first, then a v4 vector (with
/// the database's rating word), then v2, then the database's word alone.
pub fn resolve_severity(list: &[OsvSeverity], db: Option<&DatabaseSpecific>) -> Option<Severity> {
    let word = db
        .and_then(|d| d.severity.as_deref())
        .and_then(Rating::from_word);
    let find = |kind: &str| list.iter().find(|s| s.kind == kind);
    if let Some(s) = find("CVSS_V3")
        && let Ok(score) = cvss3_base_score(&s.score)
    {
        return Some(Severity {
            kind: "CVSS_V3".into(),
            vector: Some(s.score.clone()),
            score: Some(score),
            rating: Some(Rating::from_score(score)),
        });
    }
    for kind in ["CVSS_V4", "CVSS_V3", "CVSS_V2"] {
        if let Some(s) = find(kind) {
            return Some(Severity {
                kind: kind.into(),
                vector: Some(s.score.clone()),
                score: None,
                rating: word,
            });
        }
    }
    word.map(|w| Severity {
        kind: "database_specific".into(),
        vector: None,
        score: None,
        rating: Some(w),
    })
}

#[derive(Debug)]
struct Advisory {
    id: Box<str>,
    modified: Box<str>,
    aliases: Vec<String>,
    summary: Option<String>,
    severity: Option<Severity>,
    /// Where its entries live, so a newer copy can remove them.
    keys: Vec<(Ecosystem, Box<str>)>,
    live: bool,
    /// `"id":…,"aliases":…,"summary":…` as JSON, made on first use: bulk queries write the
    /// same few advisories thousands of times, and copying bytes beats re-escaping strings.
    json_head: OnceLock<Box<str>>,
}

impl Advisory {
    fn json_head(&self) -> &str {
        self.json_head.get_or_init(|| {
            #[derive(Serialize)]
            struct Head<'a> {
                id: &'a str,
                aliases: &'a [String],
                summary: Option<&'a str>,
            }
            let head = Head {
                id: &self.id,
                aliases: &self.aliases,
                summary: self.summary.as_deref(),
            };
            let text = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
            // The object's braces are dropped so the fields can be spliced into a larger one.
            let inner = text
                .strip_prefix('{')
                .and_then(|t| t.strip_suffix('}'))
                .unwrap_or("");
            inner.into()
        })
    }
}

/// A listed version: parsed when it parses, so equal spellings (`1.0` / `1.0.0` in PEP 440)
/// match, and kept raw otherwise for an exact comparison.
#[derive(Debug)]
enum Listed {
    Parsed(Version),
    Raw(Box<str>),
}

#[derive(Debug)]
struct Entry {
    advisory: u32,
    ecosystem: Ecosystem,
    name: Box<str>,
    ranges: Vec<PreparedRange>,
    listed: Vec<Listed>,
    severity: Option<Severity>,
    /// `"severity":…,"matched":{"ecosystem":…,"package":…` as JSON, made on first use (see
    /// [`Advisory::json_head`]); the rest of the reason depends on the queried version.
    json_head: OnceLock<Box<str>>,
}

/// Why a query could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Sentari has no comparator for this ecosystem.
    #[error("unsupported ecosystem {0:?}")]
    UnsupportedEcosystem(String),
    /// The version does not parse under the ecosystem's comparator.
    #[error(transparent)]
    UnparsableVersion(#[from] VersionError),
}

/// Why one advisory matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchReason {
    /// The record's ecosystem string (`AlmaLinux:9`).
    pub ecosystem: String,
    /// The record's package name.
    pub package: String,
    /// The comparator used (`rpm`, `pep440`, …).
    pub comparator: &'static str,
    /// `range` or `versions` (listed in `affected[].versions`).
    pub via: &'static str,
    /// `ECOSYSTEM` or `SEMVER` for range matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_type: Option<&'static str>,
    /// The `introduced` event that opened the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// The next `fixed` event above the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The next `last_affected` event at or above the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// The `limit` event that bounds the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The listed version that equals the queried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed_version: Option<String>,
}

/// One advisory affecting the queried version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnMatch {
    /// The advisory id.
    pub id: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// Its summary.
    pub summary: Option<String>,
    /// Its severity, when known.
    pub severity: Option<Severity>,
    /// Why it matched.
    pub matched: MatchReason,
}

fn display<S: Serializer>(value: &&Ecosystem, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// [`MatchReason`] borrowed from the index, serialised with the same fields.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MatchReasonRef<'a> {
    /// The record's ecosystem string.
    #[serde(serialize_with = "display")]
    pub ecosystem: &'a Ecosystem,
    /// The record's package name.
    pub package: &'a str,
    /// The comparator used.
    pub comparator: &'static str,
    /// `range` or `versions`.
    pub via: &'static str,
    /// `ECOSYSTEM` or `SEMVER` for range matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_type: Option<&'static str>,
    /// The `introduced` event that opened the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<&'a str>,
    /// The next `fixed` event above the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<&'a str>,
    /// The next `last_affected` event at or above the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<&'a str>,
    /// The `limit` event that bounds the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'a str>,
    /// The listed version that equals the queried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed_version: Option<&'a str>,
}

impl From<MatchReasonRef<'_>> for MatchReason {
    fn from(r: MatchReasonRef<'_>) -> MatchReason {
        MatchReason {
            ecosystem: r.ecosystem.to_string(),
            package: r.package.to_owned(),
            comparator: r.comparator,
            via: r.via,
            range_type: r.range_type,
            introduced: r.introduced.map(str::to_owned),
            fixed: r.fixed.map(str::to_owned),
            last_affected: r.last_affected.map(str::to_owned),
            limit: r.limit.map(str::to_owned),
            listed_version: r.listed_version.map(str::to_owned),
        }
    }
}

/// How a borrowed match was found.
#[derive(Debug, Clone, Copy)]
enum How<'a> {
    Range {
        range: &'a PreparedRange,
        hit: RangeHit<'a>,
    },
    Listed {
        scheme: VersionScheme,
        listed: &'a Listed,
    },
}

/// One advisory affecting the queried version, borrowed from the index. Producing it costs
/// no allocation; it becomes a [`VulnMatch`] or JSON only when the caller asks.
#[derive(Debug, Clone, Copy)]
pub struct MatchRef<'a> {
    advisory: &'a Advisory,
    entry: &'a Entry,
    how: How<'a>,
}

impl<'a> MatchRef<'a> {
    /// The advisory id.
    pub fn id(&self) -> &'a str {
        &self.advisory.id
    }

    /// The advisory's aliases.
    pub fn aliases(&self) -> &'a [String] {
        &self.advisory.aliases
    }

    /// The entry's severity, else the record's.
    pub fn severity(&self) -> Option<&'a Severity> {
        self.entry
            .severity
            .as_ref()
            .or(self.advisory.severity.as_ref())
    }

    /// Why it matched.
    pub fn reason(&self) -> MatchReasonRef<'a> {
        let base = MatchReasonRef {
            ecosystem: &self.entry.ecosystem,
            package: &self.entry.name,
            comparator: "",
            via: "",
            range_type: None,
            introduced: None,
            fixed: None,
            last_affected: None,
            limit: None,
            listed_version: None,
        };
        match self.how {
            How::Range { range, hit } => {
                let closing = |k: EventKind| hit.closing.filter(|e| e.kind == k).map(|e| &*e.raw);
                MatchReasonRef {
                    comparator: range.scheme.name(),
                    via: "range",
                    range_type: Some(range.kind.as_str()),
                    introduced: hit.introduced.map(|e| &*e.raw),
                    fixed: closing(EventKind::Fixed),
                    last_affected: closing(EventKind::LastAffected),
                    limit: hit.limit.map(|e| &*e.raw),
                    ..base
                }
            }
            How::Listed { scheme, listed } => MatchReasonRef {
                comparator: scheme.name(),
                via: "versions",
                listed_version: Some(match listed {
                    Listed::Parsed(p) => p.as_str(),
                    Listed::Raw(r) => r,
                }),
                ..base
            },
        }
    }

    /// The owned form, as [`OsvIndex::query`] returns it.
    pub fn to_match(&self) -> VulnMatch {
        VulnMatch {
            id: self.advisory.id.to_string(),
            aliases: self.advisory.aliases.clone(),
            summary: self.advisory.summary.clone(),
            severity: self.severity().cloned(),
            matched: self.reason().into(),
        }
    }

    /// The constant part of this match's JSON after the advisory's fields.
    fn entry_head(&self) -> &'a str {
        self.entry.json_head.get_or_init(|| {
            let mut out = String::from("\"severity\":");
            out.push_str(
                &serde_json::to_string(&self.severity()).unwrap_or_else(|_| "null".into()),
            );
            out.push_str(",\"matched\":{\"ecosystem\":");
            out.push_str(&json_string(&self.entry.ecosystem.to_string()));
            out.push_str(",\"package\":");
            out.push_str(&json_string(&self.entry.name));
            out.into()
        })
    }

    /// Appends this match as a JSON object with the fields of [`VulnMatch`] (`id`, `aliases`,
    /// `summary`, `severity`, `matched`), without building the owned form first. What does
    /// not depend on the queried version is serialised once per advisory and entry and then
    /// copied, which is most of the bytes.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        out.extend_from_slice(self.advisory.json_head().as_bytes());
        out.push(b',');
        out.extend_from_slice(self.entry_head().as_bytes());
        let r = self.reason();
        // These three are fixed ASCII words that need no escaping.
        out.extend_from_slice(b",\"comparator\":\"");
        out.extend_from_slice(r.comparator.as_bytes());
        out.extend_from_slice(b"\",\"via\":\"");
        out.extend_from_slice(r.via.as_bytes());
        out.push(b'"');
        if let Some(t) = r.range_type {
            out.extend_from_slice(b",\"range_type\":\"");
            out.extend_from_slice(t.as_bytes());
            out.push(b'"');
        }
        for (key, value) in [
            ("introduced", r.introduced),
            ("fixed", r.fixed),
            ("last_affected", r.last_affected),
            ("limit", r.limit),
            ("listed_version", r.listed_version),
        ] {
            if let Some(v) = value {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                // Writing into a `Vec` cannot fail; the fallback keeps the output well-formed.
                if serde_json::to_writer(&mut *out, v).is_err() {
                    out.extend_from_slice(b"\"\"");
                }
            }
        }
        out.extend_from_slice(b"}}");
    }
}

/// A string as a JSON string literal.
fn json_string(s: &str) -> String {
    // Serialising a `str` cannot fail; the fallback only keeps the output well-formed.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A hasher for advisory numbers, which are already well spread: the default SipHash costs
/// more than the rest of a query's bookkeeping.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The answer to one query, borrowed from the index.
#[derive(Debug, Clone, Default)]
pub struct QueryRefs<'a> {
    /// Matching advisories, one per id, sorted by id.
    pub matches: Vec<MatchRef<'a>>,
    /// Advisories that could not be judged.
    pub indeterminate: Vec<Indeterminate>,
}

/// An advisory whose ranges could not be judged for this version (it was malformed, or
/// needed a SemVer reading that the version does not have). Reported, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indeterminate {
    /// The advisory id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// The answer to one query.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryOutcome {
    /// Matching advisories, one per id, sorted by id.
    pub matches: Vec<VulnMatch>,
    /// Advisories that could not be judged.
    pub indeterminate: Vec<Indeterminate>,
}

/// Advisories by package, built record by record.
#[derive(Debug, Default)]
pub struct OsvIndex {
    advisories: Vec<Advisory>,
    by_id: HashMap<Box<str>, u32>,
    packages: HashMap<Ecosystem, HashMap<Box<str>, Vec<Entry>>>,
    stats: IndexStats,
}

impl OsvIndex {
    /// An empty index.
    pub fn new() -> OsvIndex {
        OsvIndex::default()
    }

    /// What the index holds and skipped so far.
    pub fn stats(&self) -> &IndexStats {
        &self.stats
    }

    /// Parses one OSV JSON record and indexes it.
    pub fn insert_json(&mut self, bytes: &[u8]) -> Result<InsertOutcome, RecordError> {
        let record: OsvRecord = serde_json::from_slice(bytes).map_err(|e| RecordError {
            id: id_hint(bytes),
            reason: format!("not an OSV record: {e}"),
        })?;
        self.insert(record)
    }

    /// Indexes one record, keeping only the newest copy of each id (by `modified`).
    pub fn insert(&mut self, record: OsvRecord) -> Result<InsertOutcome, RecordError> {
        if record.id.trim().is_empty() {
            return Err(RecordError {
                id: None,
                reason: "empty id".into(),
            });
        }
        let existing = self.by_id.get(record.id.as_str()).copied();
        if let Some(old) = existing
            && let Some(a) = self.advisories.get(old as usize)
        {
            self.stats.duplicates += 1;
            if *a.modified >= *record.modified && record.withdrawn.is_none() {
                return Ok(InsertOutcome::Stale);
            }
            self.remove(old);
        }
        if record.withdrawn.is_some() {
            self.stats.withdrawn += 1;
            return Ok(InsertOutcome::Withdrawn);
        }
        let idx = u32::try_from(self.advisories.len()).map_err(|_| RecordError {
            id: Some(record.id.clone()),
            reason: "index full".into(),
        })?;
        let record_severity = resolve_severity(&record.severity, record.database_specific.as_ref());
        let mut keys = Vec::new();
        for affected in record.affected {
            if let Some((key, entry)) = self.prepare_entry(idx, affected) {
                keys.push(key.clone());
                self.packages
                    .entry(key.0)
                    .or_default()
                    .entry(key.1)
                    .or_default()
                    .push(entry);
                self.stats.entries += 1;
            }
        }
        self.advisories.push(Advisory {
            id: record.id.as_str().into(),
            modified: record.modified.into_boxed_str(),
            aliases: record.aliases,
            summary: record.summary,
            severity: record_severity,
            keys,
            live: true,
            json_head: OnceLock::new(),
        });
        self.by_id.insert(record.id.into_boxed_str(), idx);
        self.stats.advisories += 1;
        Ok(if existing.is_some() {
            InsertOutcome::Replaced
        } else {
            InsertOutcome::Added
        })
    }

    fn remove(&mut self, idx: u32) {
        let Some(a) = self.advisories.get_mut(idx as usize) else {
            return;
        };
        if !a.live {
            return;
        }
        a.live = false;
        let keys = std::mem::take(&mut a.keys);
        for (eco, name) in keys {
            if let Some(bucket) = self.packages.get_mut(&eco).and_then(|m| m.get_mut(&name)) {
                let before = bucket.len();
                bucket.retain(|e| e.advisory != idx);
                self.stats.entries -= before - bucket.len();
            }
        }
        self.stats.advisories -= 1;
    }

    fn prepare_entry(
        &mut self,
        idx: u32,
        affected: OsvAffected,
    ) -> Option<((Ecosystem, Box<str>), Entry)> {
        let package = affected.package?;
        let ecosystem = Ecosystem::parse(&package.ecosystem);
        let Some(scheme) = ecosystem.version_scheme() else {
            self.stats.unsupported_entries += 1;
            return None;
        };
        let mut ranges = Vec::new();
        for range in affected.ranges {
            let kind = match range.kind.as_str() {
                "ECOSYSTEM" => RangeType::Ecosystem,
                "SEMVER" => RangeType::Semver,
                _ => {
                    self.stats.git_ranges_skipped += 1;
                    continue;
                }
            };
            let range_scheme = match kind {
                RangeType::Semver => VersionScheme::Semver,
                RangeType::Ecosystem => scheme,
            };
            let mut events = Vec::with_capacity(range.events.len());
            let mut malformed = false;
            for e in range.events {
                let mut present = [
                    (EventKind::Introduced, e.introduced),
                    (EventKind::Fixed, e.fixed),
                    (EventKind::LastAffected, e.last_affected),
                    (EventKind::Limit, e.limit),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)));
                match (present.next(), present.next()) {
                    (Some(one), None) => events.push(one),
                    _ => malformed = true,
                }
            }
            if malformed {
                self.stats.bad_ranges += 1;
                continue;
            }
            match PreparedRange::new(kind, range_scheme, events) {
                Ok(r) => ranges.push(r),
                Err(_) => self.stats.bad_ranges += 1,
            }
        }
        let listed = affected
            .versions
            .into_iter()
            .map(|v| match scheme.parse(&v) {
                Ok(p) => Listed::Parsed(p),
                Err(_) => Listed::Raw(v.into_boxed_str()),
            })
            .collect();
        // Only an entry-specific severity is stored here; the record's is looked up at query
        // time so records with many entries do not hold many copies of it.
        let severity = resolve_severity(&affected.severity, affected.database_specific.as_ref());
        let name = normalize_package_name(&ecosystem, &package.name);
        let key = (ecosystem.without_release(), name.into_boxed_str());
        Some((
            key,
            Entry {
                advisory: idx,
                ecosystem,
                name: package.name.into_boxed_str(),
                ranges,
                listed,
                severity,
                json_head: OnceLock::new(),
            },
        ))
    }

    /// The advisories affecting `version` of package `name` installed under `ecosystem`
    /// (release-scoped for OS packages, e.g. `Debian:12`), each with the reason it matched.
    pub fn query(
        &self,
        ecosystem: &Ecosystem,
        name: &str,
        version: &str,
    ) -> Result<QueryOutcome, QueryError> {
        let refs = self.query_refs(ecosystem, name, version)?;
        Ok(QueryOutcome {
            matches: refs.matches.iter().map(MatchRef::to_match).collect(),
            indeterminate: refs.indeterminate,
        })
    }

    /// [`OsvIndex::query`] without copying anything out of the index, for callers that
    /// answer many queries and only need to serialise or inspect the matches.
    pub fn query_refs(
        &self,
        ecosystem: &Ecosystem,
        name: &str,
        version: &str,
    ) -> Result<QueryRefs<'_>, QueryError> {
        let scheme = ecosystem
            .version_scheme()
            .ok_or_else(|| QueryError::UnsupportedEcosystem(ecosystem.to_string()))?;
        let parsed = scheme.parse(version)?;
        let mut out = QueryRefs::default();
        let key_name = normalize_package_name(ecosystem, name);
        let Some(bucket) = self
            .packages
            .get(&ecosystem.without_release())
            .and_then(|m| m.get(key_name.as_str()))
        else {
            return Ok(out);
        };
        // Parsed lazily: only needed when a SEMVER range appears outside a SemVer ecosystem.
        let mut as_semver: Option<Result<Version, VersionError>> = None;
        // An advisory can list the same package in several entries (one per release, say);
        // the first entry that matches explains the match, later ones are skipped.
        let mut matched: HashSet<u32, BuildHasherDefault<IdHasher>> = HashSet::default();
        for entry in bucket {
            if matched.contains(&entry.advisory) || !entry.ecosystem.applies_to(ecosystem) {
                continue;
            }
            let Some(adv) = self.advisories.get(entry.advisory as usize) else {
                continue;
            };
            let mut how = None;
            for range in &entry.ranges {
                let v = if range.scheme == scheme {
                    &parsed
                } else {
                    let r = as_semver.get_or_insert_with(|| VersionScheme::Semver.parse(version));
                    match r {
                        Ok(v) => &*v,
                        Err(e) => {
                            out.indeterminate.push(Indeterminate {
                                id: adv.id.to_string(),
                                reason: format!("SEMVER range, but {e}"),
                            });
                            continue;
                        }
                    }
                };
                if let Some(hit) = range.evaluate(v) {
                    how = Some(How::Range { range, hit });
                    break;
                }
            }
            if how.is_none() {
                how = entry
                    .listed
                    .iter()
                    .find(|l| match l {
                        Listed::Parsed(p) => *p == parsed,
                        Listed::Raw(r) => **r == *version,
                    })
                    .map(|listed| How::Listed { scheme, listed });
            }
            if let Some(how) = how {
                matched.insert(entry.advisory);
                out.matches.push(MatchRef {
                    advisory: adv,
                    entry,
                    how,
                });
            }
        }
        if !out.indeterminate.is_empty() {
            out.indeterminate
                .retain(|i| !out.matches.iter().any(|m| *m.advisory.id == *i.id));
            out.indeterminate.dedup();
        }
        out.matches
            .sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        Ok(out)
    }

    /// The number of advisories indexed.
    pub fn len(&self) -> usize {
        self.stats.advisories
    }

    /// True when no advisory is indexed.
    pub fn is_empty(&self) -> bool {
        self.stats.advisories == 0
    }
}

/// Best-effort id of a record that failed to parse, for the error report.
fn id_hint(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(bytes).ok().map(|r| r.id)
}
