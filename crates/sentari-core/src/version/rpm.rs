//! The rpm version order (AlmaLinux, Rocky Linux, Red Hat, SUSE, openSUSE, Fedora).
//!
//! A label is `[epoch:]version[-release]`, split the way rpm's `parseEVR` splits it: the
//! epoch is the leading digits when a `:` follows them, the release is whatever follows the
//! last `-`. Labels compare as `rpm.labelCompare` does: epoch (missing = 0), then version,
//! then release (a missing release sorts before any release), each with `rpmvercmp`, which
//! walks alternating alphabetic and numeric segments, treats every other character as a
//! separator, sorts `~` before everything (pre-releases) and `^` after the base version but
//! before any further segment (post-release snapshots). rpm accepts any string with a non-empty version part.

use std::cmp::Ordering;

use super::ParseError;

/// A parsed rpm `E:V-R` label. Equality is rpm's (`1.0` = `1.00`, `0:1-1` = `1-1`).
#[derive(Debug, Clone)]
pub struct RpmVersion {
    raw: Box<str>,
    /// Where `parseEVR` split the label, kept so a comparison does not split it again: the
    /// epoch is `raw[..epoch_len]`, the version `raw[version_start..version_end]`, and the
    /// release, when there is one, everything after the `-` at `version_end`.
    epoch_len: u32,
    version_start: u32,
    version_end: u32,
    has_release: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Evr<'a> {
    epoch: &'a str,
    version: &'a str,
    release: Option<&'a str>,
}

/// rpm's `parseEVR`, returning borrowed parts.
pub(crate) fn parse_evr(s: &str) -> Result<Evr<'_>, ParseError> {
    if s.is_empty() {
        return Err(ParseError::new("version string is empty"));
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if s.as_bytes().get(digits) == Some(&b':') {
        (&s[..digits], &s[digits + 1..])
    } else {
        ("", s)
    };
    let (version, release) = match rest.rfind('-') {
        Some(h) => (&rest[..h], Some(&rest[h + 1..])),
        None => (rest, None),
    };
    // rpm's comparison would accept it, but `rpm.labelCompare` rejects an empty version
    // ("invalid version"), and a label without a version names nothing.
    if version.is_empty() {
        return Err(ParseError::new("version is empty"));
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

pub(crate) fn compare_evr(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    let ea = if a.epoch.is_empty() { "0" } else { a.epoch };
    let eb = if b.epoch.is_empty() { "0" } else { b.epoch };
    rpmvercmp(ea.as_bytes(), eb.as_bytes())
        .then_with(|| rpmvercmp(a.version.as_bytes(), b.version.as_bytes()))
        .then_with(|| match (a.release, b.release) {
            (None, None) => Ordering::Equal,
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (Some(x), Some(y)) => rpmvercmp(x.as_bytes(), y.as_bytes()),
        })
}

/// rpm's segment-wise comparison of one version or release string.
pub fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let is_sep = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0usize, 0usize);
    while at(a, i) != 0 || at(b, j) != 0 {
        while is_sep(at(a, i)) {
            i += 1;
        }
        while is_sep(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        // A tilde sorts before everything, even the end of the string.
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // A caret sorts after the end of the string but before any other segment.
        if ca == b'^' || cb == b'^' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == 0 || cb == 0 {
            break;
        }
        let numeric = ca.is_ascii_digit();
        let class = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while class(at(a, i)) {
            i += 1;
        }
        while class(at(b, j)) {
            j += 1;
        }
        // Segments of different kinds: the numeric one is newer.
        if sj == j {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (at(a, i) == 0, at(b, j) == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

impl RpmVersion {
    /// Parses an rpm label; only an empty version part is rejected, as `labelCompare` does.
    pub fn parse(input: &str) -> Result<RpmVersion, ParseError> {
        let evr = parse_evr(input)?;
        let offset = |part: &str| part.as_ptr() as usize - input.as_ptr() as usize;
        let small = |n: usize| u32::try_from(n).map_err(|_| ParseError::new("label too long"));
        Ok(RpmVersion {
            raw: input.into(),
            epoch_len: small(evr.epoch.len())?,
            version_start: small(offset(evr.version))?,
            version_end: small(offset(evr.version) + evr.version.len())?,
            has_release: evr.release.is_some(),
        })
    }

    /// The label as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    fn evr(&self) -> Evr<'_> {
        let r = &*self.raw;
        let (vs, ve) = (self.version_start as usize, self.version_end as usize);
        Evr {
            epoch: r.get(..self.epoch_len as usize).unwrap_or(""),
            version: r.get(vs..ve).unwrap_or(""),
            release: if self.has_release {
                Some(r.get(ve + 1..).unwrap_or(""))
            } else {
                None
            },
        }
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_evr(&self.evr(), &other.evr())
    }
}

/// Compares two labels without allocating.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    Ok(compare_evr(&parse_evr(a)?, &parse_evr(b)?))
}
