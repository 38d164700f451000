//! CVSS severity: v3.0/v3.1 base scores computed from the vector, v4 vectors kept as given.
//!
//! OSV records carry severity as vectors, not numbers, so the base score and its rating are
//! computed here with the formulas of the CVSS v3.1 specification (§7.1, with its `Roundup`
//! from Appendix A). CVSS v4 scoring needs the specification's large lookup tables; Sentari
//! keeps v4 vectors verbatim and relies on a rating the database states, when it states one.

use std::fmt;

/// A qualitative severity rating (CVSS v3.1 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rating {
    /// Score 0.0.
    None,
    /// 0.1–3.9.
    Low,
    /// 4.0–6.9.
    Medium,
    /// 7.0–8.9.
    High,
    /// 9.0–10.0.
    Critical,
}

impl Rating {
    /// The rating of a base score.
    pub fn from_score(score: f64) -> Rating {
        if score <= 0.0 {
            Rating::None
        } else if score < 4.0 {
            Rating::Low
        } else if score < 7.0 {
            Rating::Medium
        } else if score < 9.0 {
            Rating::High
        } else {
            Rating::Critical
        }
    }

    /// Reads a rating word as databases write it: `HIGH`, `Moderate` (GitHub, Red Hat's
    /// `Important` counts as high), case-insensitively.
    pub fn from_word(word: &str) -> Option<Rating> {
        match word.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Rating::None),
            "low" => Some(Rating::Low),
            "medium" | "moderate" => Some(Rating::Medium),
            "high" | "important" => Some(Rating::High),
            "critical" => Some(Rating::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rating::None => "NONE",
            Rating::Low => "LOW",
            Rating::Medium => "MEDIUM",
            Rating::High => "HIGH",
            Rating::Critical => "CRITICAL",
        })
    }
}

/// A CVSS v3 vector that cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// The vector does not start with `CVSS:3.0/` or `CVSS:3.1/`.
    #[error("not a CVSS v3 vector")]
    NotV3,
    /// A metric is malformed, repeated, or has an unknown value.
    #[error("bad metric {0:?}")]
    BadMetric(String),
    /// A base metric is missing.
    #[error("missing base metric {0}")]
    Missing(&'static str),
}

/// The CVSS v3.1 `Roundup`: the smallest one-decimal number not below `x`, computed on
/// integers so that floating-point noise (`4.000000000000001`) does not round up.
fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// Computes the base score of a CVSS v3.0 or v3.1 vector.
pub fn cvss3_base_score(vector: &str) -> Result<f64, CvssError> {
    let rest = vector
        .trim()
        .strip_prefix("CVSS:3.1/")
        .or_else(|| vector.trim().strip_prefix("CVSS:3.0/"))
        .ok_or(CvssError::NotV3)?;
    let mut m: [Option<u8>; 8] = [None; 8];
    const KEYS: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
    for part in rest.split('/') {
        let (k, v) = part
            .split_once(':')
            .ok_or_else(|| CvssError::BadMetric(part.to_owned()))?;
        let Some(slot) = KEYS.iter().position(|key| *key == k) else {
            // Temporal and environmental metrics do not change the base score.
            continue;
        };
        let value = match v.as_bytes() {
            [c] => *c,
            _ => return Err(CvssError::BadMetric(part.to_owned())),
        };
        if m[slot].replace(value).is_some() {
            return Err(CvssError::BadMetric(part.to_owned()));
        }
    }
    let get = |i: usize| m[i].ok_or(CvssError::Missing(KEYS[i]));
    let bad = |k: &str, v: u8| CvssError::BadMetric(format!("{k}:{}", v as char));
    let scope_changed = match get(4)? {
        b'U' => false,
        b'C' => true,
        v => return Err(bad("S", v)),
    };
    let av = match get(0)? {
        b'N' => 0.85,
        b'A' => 0.62,
        b'L' => 0.55,
        b'P' => 0.2,
        v => return Err(bad("AV", v)),
    };
    let ac = match get(1)? {
        b'L' => 0.77,
        b'H' => 0.44,
        v => return Err(bad("AC", v)),
    };
    let pr = match (get(2)?, scope_changed) {
        (b'N', _) => 0.85,
        (b'L', false) => 0.62,
        (b'L', true) => 0.68,
        (b'H', false) => 0.27,
        (b'H', true) => 0.5,
        (v, _) => return Err(bad("PR", v)),
    };
    let ui = match get(3)? {
        b'N' => 0.85,
        b'R' => 0.62,
        v => return Err(bad("UI", v)),
    };
    let cia = |i: usize| -> Result<f64, CvssError> {
        match get(i)? {
            b'H' => Ok(0.56),
            b'L' => Ok(0.22),
            b'N' => Ok(0.0),
            v => Err(bad(KEYS[i], v)),
        }
    };
    let iss = 1.0 - (1.0 - cia(5)?) * (1.0 - cia(6)?) * (1.0 - cia(7)?);
    let impact = if scope_changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    Ok(if scope_changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_scores() {
        // Scores as published by NVD for these vectors.
        for (v, s) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:L/I:L/A:N", 4.8),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:L/I:L/A:N", 5.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8),
        ] {
            assert_eq!(cvss3_base_score(v).unwrap(), s, "{v}");
        }
        assert_eq!(Rating::from_score(9.8), Rating::Critical);
        assert_eq!(Rating::from_score(7.0), Rating::High);
        assert_eq!(Rating::from_score(6.9), Rating::Medium);
        assert_eq!(Rating::from_score(0.1), Rating::Low);
        assert_eq!(Rating::from_score(0.0), Rating::None);
        assert_eq!(Rating::from_word("Moderate"), Some(Rating::Medium));
    }

    #[test]
    fn bad_vectors() {
        assert_eq!(cvss3_base_score("AV:N"), Err(CvssError::NotV3));
        assert!(
            cvss3_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
                .is_err()
        );
        assert!(matches!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L"),
            Err(CvssError::Missing(_))
        ));
        assert!(cvss3_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
        assert!(cvss3_base_score("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
        assert!(cvss3_base_score("CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
    }
}
