//! End-of-life cycles (endoflife.date) and the status of an installed runtime or OS.
//!
//! Cycles come from endoflife.date's per-product JSON (`[{cycle, releaseDate, eol, …}]`) or
//! from the offline NDJSON bundle (the same objects with a `product` key). An installed
//! version is mapped to its cycle by product-specific rules (Python `X.Y`, Node.js major,
//! JDK major with `1.8` → `8`) and otherwise by the longest cycle that prefixes it, then
//! judged against a date the caller supplies: this module never reads the clock.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::Date;

/// Within this many days of its EOL date a cycle is reported as [`EolStatus::EolSoon`].
pub const EOL_SOON_DAYS: i64 = 90;

/// An EOL or support field: a date, a yes/no, or nothing known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Ends (or ended) on this date.
    Date(Date),
    /// `true`: already ended, date unknown; `false`: not ended, no date announced.
    Flag(bool),
    /// Null or absent.
    Unknown,
}

impl Serialize for Lifecycle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lifecycle::Date(d) => s.collect_str(&format_date(*d)),
            Lifecycle::Flag(b) => s.serialize_bool(*b),
            Lifecycle::Unknown => s.serialize_none(),
        }
    }
}

fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.get(..2)?.parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_iso_date(s: &str) -> Result<Date, EolError> {
    parse_date(s).ok_or_else(|| EolError::BadDate(s.to_owned()))
}

fn lifecycle(v: &serde_json::Value) -> Lifecycle {
    match v {
        serde_json::Value::Bool(b) => Lifecycle::Flag(*b),
        serde_json::Value::String(s) => parse_date(s).map_or(Lifecycle::Unknown, Lifecycle::Date),
        _ => Lifecycle::Unknown,
    }
}

/// One release cycle of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EolCycle {
    /// The product (`python`, `nodejs`, `debian`, …).
    pub product: String,
    /// The cycle (`3.12`, `20`, `12`, `22.04`).
    pub cycle: String,
    /// When the cycle was first released.
    pub release_date: Option<String>,
    /// When (or whether) it stops getting security fixes.
    pub eol: Lifecycle,
    /// When (or whether) active support ends.
    pub support: Lifecycle,
    /// The latest release in the cycle.
    pub latest: Option<String>,
    /// Whether it is a long-term-support cycle.
    pub lts: bool,
}

/// The EOL status of an installed version on a given date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EolStatus {
    /// Past its EOL date (or marked EOL without a date).
    EolPast,
    /// EOL within [`EOL_SOON_DAYS`] days.
    EolSoon,
    /// Supported beyond that.
    Supported,
    /// No cycle matched, or the cycle has no EOL information.
    Unknown,
}

impl EolCycle {
    /// The status of this cycle on `today`.
    pub fn status(&self, today: Date) -> EolStatus {
        match self.eol {
            Lifecycle::Date(d) if d <= today => EolStatus::EolPast,
            Lifecycle::Date(d) if (d - today).whole_days() <= EOL_SOON_DAYS => EolStatus::EolSoon,
            Lifecycle::Date(_) => EolStatus::Supported,
            Lifecycle::Flag(true) => EolStatus::EolPast,
            Lifecycle::Flag(false) => EolStatus::Supported,
            Lifecycle::Unknown => EolStatus::Unknown,
        }
    }
}

/// EOL data that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EolError {
    /// Not JSON of the expected shape.
    #[error("invalid EOL data: {0}")]
    Invalid(String),
    /// An entry has no `cycle` (or, in a bundle line, no `product`).
    #[error("EOL entry without {0}")]
    Missing(&'static str),
    /// A date that is not `YYYY-MM-DD`.
    #[error("invalid date {0:?} (expected YYYY-MM-DD)")]
    BadDate(String),
}

#[derive(Deserialize)]
struct RawCycle {
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    cycle: serde_json::Value,
    #[serde(default, rename = "releaseDate")]
    release_date: Option<String>,
    #[serde(default)]
    eol: serde_json::Value,
    #[serde(default)]
    support: serde_json::Value,
    #[serde(default)]
    latest: serde_json::Value,
    #[serde(default)]
    lts: serde_json::Value,
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn convert(raw: RawCycle, product: Option<&str>) -> Result<EolCycle, EolError> {
    let product = product
        .map(str::to_owned)
        .or(raw.product)
        .ok_or(EolError::Missing("product"))?;
    let cycle = scalar(&raw.cycle).ok_or(EolError::Missing("cycle"))?;
    Ok(EolCycle {
        product,
        cycle,
        release_date: raw.release_date,
        eol: lifecycle(&raw.eol),
        support: lifecycle(&raw.support),
        latest: scalar(&raw.latest),
        // `lts` is `true`/`false`, or the date the cycle became LTS.
        lts: matches!(
            raw.lts,
            serde_json::Value::Bool(true) | serde_json::Value::String(_)
        ),
    })
}

/// Parses one product's endoflife.date JSON array.
pub fn parse_product_json(product: &str, json: &[u8]) -> Result<Vec<EolCycle>, EolError> {
    let raw: Vec<RawCycle> =
        serde_json::from_slice(json).map_err(|e| EolError::Invalid(e.to_string()))?;
    raw.into_iter().map(|r| convert(r, Some(product))).collect()
}

/// Parses one line of the NDJSON bundle (`{product, cycle, …}`).
pub fn parse_bundle_line(line: &[u8]) -> Result<EolCycle, EolError> {
    let raw: RawCycle =
        serde_json::from_slice(line).map_err(|e| EolError::Invalid(e.to_string()))?;
    convert(raw, None)
}

/// The products whose cycles are JDK feature releases.
const JDK_PRODUCTS: [&str; 7] = [
    "eclipse-temurin",
    "oracle-jdk",
    "amazon-corretto",
    "openjdk-builds-from-oracle",
    "azul-zulu",
    "microsoft-build-of-openjdk",
    "java",
];

/// Rewrites an installed version into the form cycles are named in: Python `X.Y`, Node.js
/// major (without `v`), JDK major (`1.8.0_392` → `8`, `17.0.9+9` → `17`).
pub fn cycle_key(product: &str, version: &str) -> String {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let parts: Vec<&str> = v.split(|c: char| !c.is_ascii_digit()).collect();
    match product {
        "python" => match (parts.first(), parts.get(1)) {
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => format!("{a}.{b}"),
            _ => v.to_owned(),
        },
        "nodejs" | "node" => parts.first().map_or(v, |p| *p).to_owned(),
        p if JDK_PRODUCTS.contains(&p) => match (parts.first(), parts.get(1)) {
            (Some(&"1"), Some(minor)) if !minor.is_empty() => (*minor).to_owned(),
            (Some(major), _) => (*major).to_owned(),
            _ => v.to_owned(),
        },
        _ => v.to_owned(),
    }
}

/// EOL cycles of many products, for lookups.
#[derive(Debug, Clone, Default)]
pub struct EolDb {
    products: HashMap<String, Vec<EolCycle>>,
}

impl EolDb {
    /// An empty database.
    pub fn new() -> EolDb {
        EolDb::default()
    }

    /// Adds a cycle; a later cycle with the same product and name replaces the earlier one.
    pub fn insert(&mut self, cycle: EolCycle) {
        let list = self.products.entry(cycle.product.clone()).or_default();
        list.retain(|c| c.cycle != cycle.cycle);
        list.push(cycle);
    }

    /// The number of products.
    pub fn products(&self) -> usize {
        self.products.len()
    }

    /// Every cycle, by product then in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &EolCycle> {
        let mut products: Vec<&String> = self.products.keys().collect();
        products.sort();
        products
            .into_iter()
            .flat_map(move |p| self.products.get(p).into_iter().flatten())
    }

    /// The number of cycles.
    pub fn cycles(&self) -> usize {
        self.products.values().map(Vec::len).sum()
    }

    /// The cycle an installed `version` of `product` belongs to: the longest cycle name
    /// equal to the (product-normalised) version or prefixing it at a separator, so `3.20`
    /// matches `3.20.3` but `3.2` does not, and `10.1` beats `10` for `10.1.20`.
    pub fn find(&self, product: &str, version: &str) -> Option<&EolCycle> {
        let key = cycle_key(product, version);
        self.products
            .get(product)?
            .iter()
            .filter(|c| {
                key == c.cycle
                    || key.strip_prefix(c.cycle.as_str()).is_some_and(|rest| {
                        rest.starts_with(|ch: char| !ch.is_ascii_alphanumeric())
                    })
            })
            .max_by_key(|c| c.cycle.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(s: &str) -> Date {
        parse_iso_date(s).unwrap()
    }

    fn db() -> EolDb {
        let mut db = EolDb::new();
        let python = br#"[{"cycle":"3.12","releaseDate":"2023-10-02","eol":"2028-10-31","latest":"3.12.5","lts":false,"support":"2025-04-02"},
            {"cycle":"3.8","releaseDate":"2019-10-14","eol":"2024-10-07","latest":"3.8.20","lts":false,"support":"2021-05-03"},
            {"cycle":"3.9","eol":"2025-10-31","lts":false,"support":true}]"#;
        for c in parse_product_json("python", python).unwrap() {
            db.insert(c);
        }
        for line in [
            br#"{"product":"nodejs","cycle":"20","eol":"2026-04-30","lts":"2023-10-24"}"#
                .as_slice(),
            br#"{"product":"nodejs","cycle":"21","eol":true,"lts":false}"#,
            br#"{"product":"eclipse-temurin","cycle":"8","eol":"2030-12-31"}"#,
            br#"{"product":"eclipse-temurin","cycle":"17","eol":"2027-10-31"}"#,
            br#"{"product":"tomcat","cycle":"10.1","eol":false}"#,
            br#"{"product":"tomcat","cycle":"10","eol":null}"#,
            br#"{"product":"debian","cycle":12,"eol":"2026-06-10"}"#,
            br#"{"product":"alpine-linux","cycle":"3.2","eol":"2017-05-01"}"#,
            br#"{"product":"alpine-linux","cycle":"3.20","eol":"2026-04-01"}"#,
        ] {
            db.insert(parse_bundle_line(line).unwrap());
        }
        db
    }

    #[test]
    fn cycle_mapping() {
        let db = db();
        let f = |p, v| db.find(p, v).map(|c| c.cycle.as_str());
        assert_eq!(f("python", "3.12.4"), Some("3.12"));
        assert_eq!(f("python", "3.8"), Some("3.8"));
        assert_eq!(f("python", "3.1"), None);
        assert_eq!(f("nodejs", "v20.11.1"), Some("20"));
        assert_eq!(f("eclipse-temurin", "1.8.0_392"), Some("8"));
        assert_eq!(f("eclipse-temurin", "17.0.9+9"), Some("17"));
        assert_eq!(f("tomcat", "10.1.20"), Some("10.1"));
        assert_eq!(f("tomcat", "10.0.27"), Some("10"));
        assert_eq!(f("debian", "12.5"), Some("12"));
        assert_eq!(f("alpine-linux", "3.20.3"), Some("3.20"));
        assert_eq!(f("alpine-linux", "3.2.1"), Some("3.2"));
        assert_eq!(f("nope", "1"), None);
        assert_eq!(cycle_key("oracle-jdk", "21"), "21");
    }

    #[test]
    fn statuses() {
        let db = db();
        let today = d("2024-10-01");
        let st = |p, v| {
            db.find(p, v)
                .map_or(EolStatus::Unknown, |c| c.status(today))
        };
        assert_eq!(st("python", "3.8.20"), EolStatus::EolSoon);
        assert_eq!(st("python", "3.12.1"), EolStatus::Supported);
        assert_eq!(st("nodejs", "21.0.0"), EolStatus::EolPast);
        assert_eq!(st("tomcat", "10.1.1"), EolStatus::Supported);
        assert_eq!(st("tomcat", "10.0.1"), EolStatus::Unknown);
        assert_eq!(st("alpine-linux", "3.2.0"), EolStatus::EolPast);
        assert_eq!(st("python", "2.7"), EolStatus::Unknown);
        let c = db.find("python", "3.8").unwrap();
        assert_eq!(c.status(d("2024-10-07")), EolStatus::EolPast);
        assert_eq!(c.status(d("2024-07-09")), EolStatus::EolSoon);
        assert_eq!(c.status(d("2024-07-08")), EolStatus::Supported);
        assert_eq!(
            serde_json::to_value(c).unwrap()["eol"],
            serde_json::json!("2024-10-07")
        );
        assert!(db.find("nodejs", "20").unwrap().lts);
    }

    #[test]
    fn bad_input() {
        assert!(parse_product_json("x", b"{}").is_err());
        assert!(parse_bundle_line(br#"{"cycle":"1"}"#).is_err());
        assert!(parse_bundle_line(br#"{"product":"x"}"#).is_err());
        assert!(parse_iso_date("2024-13-01").is_err());
        assert!(parse_iso_date("yesterday").is_err());
        let c = parse_bundle_line(br#"{"product":"x","cycle":"1","eol":"garbage"}"#).unwrap();
        assert_eq!(c.eol, Lifecycle::Unknown);
    }
}
