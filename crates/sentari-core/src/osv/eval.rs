//! Range evaluation per the OSV schema: is one version inside one `ECOSYSTEM`/`SEMVER` range?
//!
//! Events are parsed and sorted once when the index is built (by the ecosystem's order, with
//! `introduced: "0"` lowest and, at equal versions, `introduced` before `last_affected`
//! before `fixed`). A query then walks them as the schema's algorithm does: an `introduced`
//! at or below the version opens the range, a `fixed` at or below it closes it, a
//! `last_affected` strictly below it closes it; `limit` events, when present, cap the range
//! (the version must be below one of them, `"*"` meaning no cap).

use std::cmp::Ordering;

use crate::version::{Version, VersionScheme};

/// The kind of one range event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// `introduced`.
    Introduced,
    /// `last_affected`.
    LastAffected,
    /// `fixed`.
    Fixed,
    /// `limit`.
    Limit,
}

impl EventKind {
    /// The OSV key of this event.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Introduced => "introduced",
            EventKind::LastAffected => "last_affected",
            EventKind::Fixed => "fixed",
            EventKind::Limit => "limit",
        }
    }
}

/// One event with its version parsed by the range's comparator.
#[derive(Debug, Clone)]
pub struct Event {
    /// What the event says.
    pub kind: EventKind,
    /// The version as written in the record.
    pub raw: Box<str>,
    /// The parsed version; `None` for `introduced: "0"` and `limit: "*"`.
    pub parsed: Option<Version>,
}

/// The type of a range Sentari evaluates (`GIT` ranges are skipped before this point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// `ECOSYSTEM`: the ecosystem's own order.
    Ecosystem,
    /// `SEMVER`: SemVer 2.0 whatever the ecosystem.
    Semver,
}

impl RangeType {
    /// The OSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeType::Ecosystem => "ECOSYSTEM",
            RangeType::Semver => "SEMVER",
        }
    }
}

/// A range ready for evaluation: events sorted, limits apart.
#[derive(Debug, Clone)]
pub struct PreparedRange {
    /// The range type.
    pub kind: RangeType,
    /// The comparator its versions were parsed with.
    pub scheme: VersionScheme,
    /// `introduced`, `fixed` and `last_affected` events in evaluation order.
    pub events: Vec<Event>,
    /// `limit` events.
    pub limits: Vec<Event>,
}

/// Why a range could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// An event version does not parse under the range's comparator.
    #[error("unparsable {kind} version {version:?} in a {range} range")]
    UnparsableEvent {
        /// The event kind.
        kind: &'static str,
        /// The version as written.
        version: String,
        /// The range type.
        range: &'static str,
    },
    /// An event has no key or more than one.
    #[error("an event must have exactly one of introduced, fixed, last_affected, limit")]
    MalformedEvent,
}

/// Orders events for evaluation; `None` (introduced "0") is the lowest version.
fn event_order(a: &Event, b: &Event) -> Ordering {
    let by_version = match (&a.parsed, &b.parsed) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    };
    by_version.then(a.kind.cmp(&b.kind))
}

impl PreparedRange {
    /// Parses and sorts a range's events.
    pub fn new(
        kind: RangeType,
        scheme: VersionScheme,
        events: impl IntoIterator<Item = (EventKind, String)>,
    ) -> Result<PreparedRange, RangeError> {
        let mut sorted: Vec<Event> = Vec::new();
        let mut limits = Vec::new();
        for (ek, raw) in events {
            let special = matches!(
                (ek, raw.as_str()),
                (EventKind::Introduced, "0") | (EventKind::Limit, "*")
            );
            let parsed = if special {
                None
            } else {
                Some(
                    scheme
                        .parse(&raw)
                        .map_err(|_| RangeError::UnparsableEvent {
                            kind: ek.as_str(),
                            version: raw.clone(),
                            range: kind.as_str(),
                        })?,
                )
            };
            let ev = Event {
                kind: ek,
                raw: raw.into_boxed_str(),
                parsed,
            };
            if ek == EventKind::Limit {
                limits.push(ev);
            } else {
                // Insertion sort: the lists are tiny, and unlike the standard sort it cannot
                // panic on an order that is not total (Maven's has cycles).
                let pos = sorted
                    .iter()
                    .position(|e| event_order(e, &ev) == Ordering::Greater)
                    .unwrap_or(sorted.len());
                sorted.insert(pos, ev);
            }
        }
        Ok(PreparedRange {
            kind,
            scheme,
            events: sorted,
            limits,
        })
    }

    /// Evaluates `version` (parsed with [`PreparedRange::scheme`]) against this range.
    pub fn evaluate(&self, version: &Version) -> Option<RangeHit<'_>> {
        let mut affected = false;
        let mut introduced: Option<&Event> = None;
        let mut closing: Option<&Event> = None;
        for e in &self.events {
            let at_or_above = |strict: bool| match &e.parsed {
                None => true,
                Some(p) => {
                    if strict {
                        version > p
                    } else {
                        version >= p
                    }
                }
            };
            match e.kind {
                EventKind::Introduced => {
                    if at_or_above(false) {
                        affected = true;
                        introduced = Some(e);
                        closing = None;
                    }
                }
                EventKind::Fixed | EventKind::LastAffected => {
                    let passed = at_or_above(e.kind == EventKind::LastAffected);
                    if passed {
                        affected = false;
                    } else if affected && closing.is_none() {
                        closing = Some(e);
                    }
                }
                EventKind::Limit => {}
            }
        }
        if !affected {
            return None;
        }
        let mut limit = None;
        if !self.limits.is_empty() {
            limit = self.limits.iter().find(|l| match &l.parsed {
                None => true,
                Some(p) => version < p,
            });
            limit?;
        }
        Some(RangeHit {
            introduced,
            closing,
            limit,
        })
    }
}

/// The events that put a version inside a range.
#[derive(Debug, Clone, Copy)]
pub struct RangeHit<'a> {
    /// The `introduced` event at or below the version that opened the range.
    pub introduced: Option<&'a Event>,
    /// The next `fixed` or `last_affected` event above the version, if any.
    pub closing: Option<&'a Event>,
    /// The `limit` event below which the version lies, when the range has limits.
    pub limit: Option<&'a Event>,
}
