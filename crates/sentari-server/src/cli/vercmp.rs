//! `sentari vercmp ECOSYSTEM [A B]`: compare versions with Sentari's comparators.
//!
//! With two versions it prints `<`, `=` or `>`. Without them it reads `A<TAB>B` lines on
//! stdin and prints one symbol per line, or `error: …` for a line that cannot be compared,
//! and carries on. The stream path reuses one line buffer, parses in place and writes
//! through a large buffer, because operators use it to check millions of pairs.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::Args;
use sentari_core::ecosystem::Ecosystem;
use sentari_core::version::VersionScheme;

/// Arguments of `sentari vercmp`.
#[derive(Debug, Clone, Args)]
pub struct VercmpArgs {
    /// An OSV ecosystem (`PyPI`, `Debian:12`, `AlmaLinux`, `npm`, `Go`, `Maven`, `Alpine`, …),
    /// any casing, or a comparator name (`dpkg`, `rpm`, `apk`, `pep440`, `semver`, `maven`).
    pub ecosystem: String,
    /// The first version; with `B`, compare just this pair.
    pub a: Option<String>,
    /// The second version.
    pub b: Option<String>,
}

/// Why `vercmp` could not run.
#[derive(Debug, thiserror::Error)]
pub enum VercmpError {
    /// The ecosystem names no comparator.
    #[error(
        "unknown ecosystem or comparator {0:?} (try PyPI, npm, Go, Maven, Debian, Ubuntu, Alpine, AlmaLinux, Rocky Linux, Red Hat, SUSE, or dpkg, rpm, apk, pep440, semver, maven)"
    )]
    UnknownEcosystem(String),
    /// `A` was given without `B`.
    #[error("give two versions, or none to read A<TAB>B lines from stdin")]
    MissingVersion,
    /// Reading stdin or writing stdout failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Resolves what the operator typed to a comparator: a comparator name, an exact OSV
/// ecosystem, or an ecosystem name in any casing (Fedora too, which OSV does not cover but
/// whose packages are rpm).
pub fn resolve_scheme(input: &str) -> Option<VersionScheme> {
    let t = input.trim();
    if let Ok(s) = t.to_ascii_lowercase().parse::<VersionScheme>() {
        return Some(s);
    }
    if let Some(s) = Ecosystem::parse(t).version_scheme() {
        return Some(s);
    }
    let base = t.split(':').next().unwrap_or(t).to_ascii_lowercase();
    Some(match base.as_str() {
        "pypi" | "python" | "pip" => VersionScheme::Pep440,
        "npm" | "go" | "golang" | "crates.io" | "cargo" => VersionScheme::Semver,
        "maven" => VersionScheme::Maven,
        "debian" | "ubuntu" => VersionScheme::Dpkg,
        "alpine" | "wolfi" | "chainguard" => VersionScheme::Apk,
        "almalinux" | "rocky linux" | "rocky" | "red hat" | "rhel" | "suse" | "opensuse"
        | "fedora" => VersionScheme::Rpm,
        _ => return None,
    })
}

fn symbol(o: std::cmp::Ordering) -> &'static [u8] {
    match o {
        std::cmp::Ordering::Less => b"<\n",
        std::cmp::Ordering::Equal => b"=\n",
        std::cmp::Ordering::Greater => b">\n",
    }
}

/// Runs `sentari vercmp`. Exit code 0 when the pair (or every line) compared, 1 when the
/// pair could not be compared; in stream mode bad lines are reported inline and the exit
/// code is 0.
pub fn run(args: VercmpArgs) -> Result<ExitCode, VercmpError> {
    let scheme =
        resolve_scheme(&args.ecosystem).ok_or(VercmpError::UnknownEcosystem(args.ecosystem))?;
    let stdout = io::stdout();
    match (args.a, args.b) {
        (Some(a), Some(b)) => {
            let mut out = stdout.lock();
            match scheme.compare(&a, &b) {
                Ok(o) => {
                    out.write_all(symbol(o))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    writeln!(out, "error: {e}")?;
                    Ok(ExitCode::from(1))
                }
            }
        }
        (None, None) => {
            let stdin = io::stdin();
            let mut input = io::BufReader::with_capacity(1 << 16, stdin.lock());
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            stream(scheme, &mut input, &mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(VercmpError::MissingVersion),
    }
}

/// Compares every `A<TAB>B` line of `input`, writing one answer per line to `out`.
pub fn stream(
    scheme: VersionScheme,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let mut l = line.as_slice();
        while let [rest @ .., b'\n' | b'\r'] = l {
            l = rest;
        }
        let Ok(text) = std::str::from_utf8(l) else {
            out.write_all(b"error: line is not UTF-8\n")?;
            continue;
        };
        let Some((a, b)) = text.split_once('\t') else {
            out.write_all(b"error: expected A<TAB>B\n")?;
            continue;
        };
        match scheme.compare(a, b) {
            Ok(o) => out.write_all(symbol(o))?,
            Err(e) => writeln!(out, "error: {e}")?,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn schemes_resolve() {
        assert_eq!(resolve_scheme("Debian:12"), Some(VersionScheme::Dpkg));
        assert_eq!(resolve_scheme("debian"), Some(VersionScheme::Dpkg));
        assert_eq!(resolve_scheme("Rocky Linux"), Some(VersionScheme::Rpm));
        assert_eq!(resolve_scheme("Fedora"), Some(VersionScheme::Rpm));
        assert_eq!(resolve_scheme("pypi"), Some(VersionScheme::Pep440));
        assert_eq!(resolve_scheme("Go"), Some(VersionScheme::Semver));
        assert_eq!(resolve_scheme("apk"), Some(VersionScheme::Apk));
        assert_eq!(resolve_scheme("Alpine:v3.20"), Some(VersionScheme::Apk));
        assert_eq!(resolve_scheme("Hackage"), None);
    }

    #[test]
    fn stream_answers_every_line() {
        let input = b"1.0\t1.0~rc1\n1.0\t1.00\r\nbad\n1:\t1\n\xff\t1\n0.9\t1.0";
        let mut out = Vec::new();
        stream(VersionScheme::Dpkg, &mut &input[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], ">");
        assert_eq!(lines[1], "=");
        assert!(lines[2].starts_with("error: expected"));
        assert!(lines[3].starts_with("error: invalid dpkg version"));
        assert!(lines[4].starts_with("error: line is not UTF-8"));
        assert_eq!(lines[5], "<");
        assert_eq!(lines.len(), 6);
    }
}
