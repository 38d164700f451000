//! The dpkg version order (Debian, Ubuntu), as `dpkg --compare-versions` applies it.
//!
//! A version is `[epoch:]upstream[-revision]`. Epochs compare as integers; upstream and
//! revision compare with dpkg's `verrevcmp`: alternating runs of non-digits (compared
//! character by character, with `~` before the end of the string, the end before letters and
//! letters before every other character) and runs of digits (compared numerically). dpkg
//! only *warns* about odd characters and a non-digit start, and still compares such versions,
//! so they are accepted here too; what dpkg rejects as an error is a [`ParseError`].

use std::cmp::Ordering;

use super::ParseError;

/// A parsed dpkg version. Equality is dpkg's (`1.0` = `1.00` = `0:1.0-0`).
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    raw: Box<str>,
    epoch: u32,
    upstream: (usize, usize),
    revision: (usize, usize),
}

/// The three parts of a version, borrowed from the input so that comparing two strings
/// never allocates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    epoch: u32,
    upstream: &'a str,
    revision: &'a str,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits a version the way dpkg's `parseversion` does and reports the same errors.
pub(crate) fn parse_parts(input: &str) -> Result<Parts<'_>, ParseError> {
    let s = input.trim_matches(|c| c == ' ' || c == '\t');
    if s.is_empty() {
        return Err(ParseError::new("version string is empty"));
    }
    if s.bytes().any(is_blank) {
        return Err(ParseError::new("version string has embedded spaces"));
    }
    let (epoch, rest) = match s.find(':') {
        Some(colon) => (parse_epoch(&s[..colon])?, &s[colon + 1..]),
        None => (0, s),
    };
    if rest.is_empty() {
        return Err(ParseError::new("nothing after colon in version number"));
    }
    let (upstream, revision) = match rest.rfind('-') {
        Some(h) => {
            if h + 1 == rest.len() {
                return Err(ParseError::new("revision number is empty"));
            }
            (&rest[..h], &rest[h + 1..])
        }
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(ParseError::new("version number is empty"));
    }
    Ok(Parts {
        epoch,
        upstream,
        revision,
    })
}

/// dpkg reads the epoch with `strtol`, so an optional sign is accepted, `-0` is zero, and
/// anything but digits before the colon is an error.
fn parse_epoch(e: &str) -> Result<u32, ParseError> {
    let (negative, digits) = match e.as_bytes().first() {
        Some(b'+') => (false, &e[1..]),
        Some(b'-') => (true, &e[1..]),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return Err(ParseError::new("epoch in version is empty"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new("epoch in version is not number"));
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return Err(ParseError::new("epoch in version is too big"));
    }
    let value: u64 = if trimmed.is_empty() {
        0
    } else {
        trimmed
            .parse()
            .map_err(|_| ParseError::new("epoch in version is too big"))?
    };
    if negative && value > 0 {
        return Err(ParseError::new("epoch in version is negative"));
    }
    if value > i32::MAX as u64 {
        return Err(ParseError::new("epoch in version is too big"));
    }
    Ok(value as u32)
}

impl DpkgVersion {
    /// Parses a dpkg version.
    pub fn parse(input: &str) -> Result<DpkgVersion, ParseError> {
        let p = parse_parts(input)?;
        let raw: Box<str> = input.trim_matches(|c| c == ' ' || c == '\t').into();
        // `parse_parts` works on the same trimmed text, so the upstream part ends where the
        // revision (and its hyphen) begins, and starts after the epoch colon if any.
        let up_end = if p.revision.is_empty() {
            raw.len()
        } else {
            raw.len() - p.revision.len() - 1
        };
        let up_start = up_end - p.upstream.len();
        Ok(DpkgVersion {
            epoch: p.epoch,
            upstream: (up_start, up_end),
            revision: (raw.len() - p.revision.len(), raw.len()),
            raw,
        })
    }

    /// The version as given (without surrounding blanks).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    fn parts(&self) -> Parts<'_> {
        Parts {
            epoch: self.epoch,
            upstream: self.raw.get(self.upstream.0..self.upstream.1).unwrap_or(""),
            revision: self.raw.get(self.revision.0..self.revision.1).unwrap_or(""),
        }
    }
}

/// Compares two parsed versions: epoch, then upstream, then revision.
pub(crate) fn compare_parts(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream.as_bytes(), b.upstream.as_bytes()))
        .then_with(|| verrevcmp(a.revision.as_bytes(), b.revision.as_bytes()))
}

/// The weight of one non-digit position. dpkg reads characters as C `char`, signed on the
/// platforms Debian ships, so a byte above 0x7f weighs its own value (it is negative, plus
/// 256): after letters but before ASCII punctuation, which weighs its value plus 256.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's comparison of one upstream version or revision string.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let at = |k: usize, s: &[u8]| s.get(k).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while (i < a.len() && !is_digit(at(i, a))) || (j < b.len() && !is_digit(at(j, b))) {
            let (ac, bc) = (order(at(i, a)), order(at(j, b)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(i, a) == Some(b'0') {
            i += 1;
        }
        while at(j, b) == Some(b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(at(i, a)) && is_digit(at(j, b)) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(at(i, a)) {
            return Ordering::Greater;
        }
        if is_digit(at(j, b)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_parts(&self.parts(), &other.parts())
    }
}

/// Compares two version strings without allocating.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    Ok(compare_parts(&parse_parts(a)?, &parse_parts(b)?))
}
