//! The apk-tools version order (Alpine, Wolfi, Chainguard).
//!
//! Versions follow `digits{.digits}…{letter}{_suffix{digits}}…{~hash}{-rN}` and compare
//! token by token as current apk-tools does: numbers numerically (but a component after a
//! dot that has a leading zero compares as text, so `1.01 < 1.1` and `1.0 < 1.00`), then a
//! single lower-case letter, then suffixes in the order `_alpha < _beta < _pre < _rc <
//! (none) < _cvs < _svn < _git < _hg < _p`, then an apk 3 `~commit` hash (as text), then the
//! `-rN` package revision. When one version runs out of tokens first, the longer one is newer
//! unless what follows is a pre-release suffix (`1.0_rc1 < 1.0 < 1.0.1`, `1.0 < 1.0-r0`).

use std::cmp::Ordering;

use super::ParseError;

/// Token kinds in apk-tools' order. When two versions differ in the kind of the token at
/// the same position, the one with the *smaller* kind is the newer version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `NONE` is the position of "no suffix" in the order.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
const SUFFIX_NONE: usize = 4;

/// Numbers longer than this would overflow apk-tools' 64-bit integers; such versions are
/// rejected rather than compared on wrapped values.
const MAX_DIGITS: usize = 19;

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    /// Rank of a suffix; the "no suffix" rank sits between `rc` and `cvs`.
    suffix: usize,
}

#[derive(Debug, Clone)]
struct Lexer<'a> {
    rest: &'a [u8],
}

impl<'a> Lexer<'a> {
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|&&c| f(c)).count();
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }

    fn digits(&mut self) -> Option<&'a [u8]> {
        let d = self.take_while(|c| c.is_ascii_digit());
        (!d.is_empty() && d.len() <= MAX_DIGITS).then_some(d)
    }

    fn first(&mut self) -> Token<'a> {
        match self.digits() {
            Some(text) => Token {
                kind: Kind::InitialDigit,
                text,
                suffix: 0,
            },
            None => invalid(),
        }
    }

    /// Reads the token after `prev`, enforcing which token may follow which.
    fn next(&mut self, prev: Kind) -> Token<'a> {
        let Some(&c) = self.rest.first() else {
            return Token {
                kind: Kind::End,
                text: &[],
                suffix: 0,
            };
        };
        let tok = |kind, text| Token {
            kind,
            text,
            suffix: 0,
        };
        match c {
            b'a'..=b'z' if prev <= Kind::Digit => {
                let (head, tail) = self.rest.split_at(1);
                self.rest = tail;
                tok(Kind::Letter, head)
            }
            b'.' if prev <= Kind::Digit => {
                self.rest = &self.rest[1..];
                self.digits().map_or_else(invalid, |d| tok(Kind::Digit, d))
            }
            b'0'..=b'9' if prev == Kind::Suffix => self
                .digits()
                .map_or_else(invalid, |d| tok(Kind::SuffixNo, d)),
            b'_' if prev <= Kind::SuffixNo => {
                self.rest = &self.rest[1..];
                let name = self.take_while(|c| c.is_ascii_lowercase());
                match SUFFIXES.iter().position(|s| s.as_bytes() == name) {
                    Some(rank) => Token {
                        kind: Kind::Suffix,
                        text: name,
                        suffix: if rank < SUFFIX_NONE { rank } else { rank + 1 },
                    },
                    None => invalid(),
                }
            }
            b'~' if prev < Kind::CommitHash => {
                self.rest = &self.rest[1..];
                let hash = self.take_while(|c| c.is_ascii_hexdigit());
                if hash.is_empty() {
                    invalid()
                } else {
                    tok(Kind::CommitHash, hash)
                }
            }
            b'-' if prev < Kind::RevisionNo && self.rest.get(1) == Some(&b'r') => {
                self.rest = &self.rest[2..];
                self.digits()
                    .map_or_else(invalid, |d| tok(Kind::RevisionNo, d))
            }
            _ => invalid(),
        }
    }
}

fn invalid<'a>() -> Token<'a> {
    Token {
        kind: Kind::Invalid,
        text: &[],
        suffix: 0,
    }
}

fn numeric(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |n, &c| {
        n.saturating_mul(10).saturating_add(u64::from(c - b'0'))
    })
}

fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        // A leading zero turns the component into text, as in Gentoo's rules.
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
            numeric(a.text).cmp(&numeric(b.text))
        }
        Kind::Letter => a.text.cmp(b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        Kind::CommitHash | Kind::End | Kind::Invalid => a.text.cmp(b.text),
    }
}

fn validate(s: &str) -> Result<(), ParseError> {
    let mut lx = Lexer { rest: s.as_bytes() };
    let mut t = lx.first();
    while t.kind < Kind::End {
        t = lx.next(t.kind);
    }
    if t.kind == Kind::End {
        Ok(())
    } else {
        Err(ParseError::new("invalid apk version"))
    }
}

fn compare_valid(a: &str, b: &str) -> Ordering {
    let (mut la, mut lb) = (Lexer { rest: a.as_bytes() }, Lexer { rest: b.as_bytes() });
    let (mut ta, mut tb) = (la.first(), lb.first());
    while ta.kind == tb.kind && ta.kind < Kind::End {
        match token_cmp(&ta, &tb) {
            Ordering::Equal => {}
            other => return other,
        }
        ta = la.next(ta.kind);
        tb = lb.next(tb.kind);
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // Equal so far: a pre-release suffix makes its side older, anything else newer.
    if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.kind.cmp(&ta.kind)
}

/// A validated apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    raw: Box<str>,
}

impl ApkVersion {
    /// Parses and validates an apk version.
    pub fn parse(input: &str) -> Result<ApkVersion, ParseError> {
        validate(input)?;
        Ok(ApkVersion { raw: input.into() })
    }

    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_valid(&self.raw, &other.raw)
    }
}

/// Validates and compares two version strings without allocating.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    validate(a)?;
    validate(b)?;
    Ok(compare_valid(a, b))
}
