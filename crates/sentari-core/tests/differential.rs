//! Differential tests: every comparator against its reference tool, in bulk.
//!
//! Each test generates a few thousand versions (random strings built from the pieces that
//! make each format tricky, plus a fixed table of known hard cases), compares pairs with
//! Sentari and with the real tool in one process call, and fails listing the disagreements.
//! When a tool is not installed the test prints a note and passes, so a developer machine
//! without them still runs the suite; CI installs them (`.ci/setup.d/matching.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use sentari_core::version::VersionScheme;

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn join(&mut self, pieces: &[&str], min: usize, max: usize) -> String {
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| self.pick(pieces)).collect()
    }
}

fn sym(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

fn ours(scheme: VersionScheme, a: &str, b: &str) -> &'static str {
    match scheme.compare(a, b) {
        Ok(o) => sym(o),
        Err(_) => "error",
    }
}

/// Pairs from a pool: random pairs, plus neighbours after sorting the valid ones with our
/// own order (neighbours are where subtle disagreements hide).
fn pairs(scheme: VersionScheme, pool: &[String], rng: &mut Rng, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let a = pool[rng.below(pool.len())].clone();
        let b = pool[rng.below(pool.len())].clone();
        out.push((a, b));
    }
    let valid = sorted(pool.iter().filter_map(|s| scheme.parse(s).ok()));
    for w in valid.windows(2) {
        out.push((render(&w[0]), render(&w[1])));
    }
    out
}

/// Sorts by binary insertion, which never panics: Maven's order has cycles (see
/// `docs/matching.md`), and the standard sort may panic on an order that is not total.
fn sorted(
    items: impl Iterator<Item = sentari_core::version::Version>,
) -> Vec<sentari_core::version::Version> {
    let mut out: Vec<sentari_core::version::Version> = Vec::new();
    for v in items {
        let pos = out.partition_point(|x| x < &v);
        out.insert(pos, v);
    }
    out
}

fn render(v: &sentari_core::version::Version) -> String {
    v.as_str().to_owned()
}

/// Runs `cmd` with `input` on stdin; `None` (with a note) when it cannot be started or
/// fails, which is how a missing tool shows.
fn run(cmd: &mut Command, input: &str, what: &str) -> Option<String> {
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("note: skipping differential test against {what}: {e}");
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    if !out.status.success() {
        println!(
            "note: skipping differential test against {what}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        );
        return None;
    }
    Some(String::from_utf8(out.stdout).unwrap())
}

fn check(scheme: VersionScheme, pairs: &[(String, String)], theirs: &str, what: &str) {
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(
        theirs.len(),
        pairs.len(),
        "{what} answered a different number of lines"
    );
    let mut bad = Vec::new();
    let mut skipped = 0;
    for ((a, b), t) in pairs.iter().zip(&theirs) {
        // "skip": the reference refused a pair that another test covers (Dpkg::Version is
        // stricter than the dpkg binary about characters dpkg only warns about).
        if *t == "skip" {
            skipped += 1;
            continue;
        }
        let o = ours(scheme, a, b);
        if o != *t {
            bad.push(format!("{a:?} vs {b:?}: sentari {o}, {what} {t}"));
        }
    }
    println!(
        "{what}: {} pairs compared, {skipped} skipped, {} disagreements",
        pairs.len() - skipped,
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements with {what}, first ones:\n{}",
        bad.len(),
        bad.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn tsv(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect()
}

// ---------------------------------------------------------------- dpkg

const DPKG_TRICKY: &[&str] = &[
    "1.0",
    "1.0-1",
    "1.0-0",
    "1.00",
    "01.0",
    "1.0~rc1",
    "1.0~~",
    "1.0~",
    "1.0~~a",
    "1.0a",
    "1.0+",
    "1.0.",
    "1.0-1~bpo1",
    "1:1.0",
    "0:1.0",
    "1:0.9",
    "2:0",
    "1.0+dfsg-1",
    "1.0-1+deb12u1",
    "1.0-1ubuntu0.22.04.1",
    "1.0-1build1",
    "3.0.15-1~deb12u1",
    "3.0.11-1~deb12u2",
    "1.2.3-4",
    "1.2.3-4.1",
    "1.2.3a",
    "1.2.3-a",
    "a",
    "~",
    "~~",
    "1-",
    ":1",
    "1:",
    "-1",
    "1 0",
    "abc:1",
    "1.0-1-1",
    "1:2:3",
    "1.0-1.",
    "9",
    "10",
    "1.0a~b",
    "1.0A",
    "1.0Z",
    "1.0z",
    "1.0+b1",
    "+1:1",
    "1.0-~",
    "0",
    "00",
    "1.0-0.0",
    "1.0_1",
    "1.0!",
];

fn dpkg_pool(rng: &mut Rng, n: usize) -> Vec<String> {
    let up = [
        "0", "1", "2", "9", "10", "01", "00", ".", ".", "a", "b", "z", "A", "+", "~", "~", "rc",
        "dfsg",
    ];
    let rev = [
        "0", "1", "2", "10", ".", "~", "+", "a", "deb12u", "ubuntu", "bpo", "build",
    ];
    let mut pool: Vec<String> = DPKG_TRICKY.iter().map(|s| s.to_string()).collect();
    while pool.len() < n {
        let mut s = String::new();
        if rng.chance(15) {
            s.push_str(rng.pick(&["0:", "1:", "2:", "10:", "01:"]));
        }
        s.push_str(rng.pick(&["0", "1", "2", "10", "1."]));
        s.push_str(&rng.join(&up, 0, 5));
        if rng.chance(50) {
            s.push('-');
            s.push_str(rng.pick(&["0", "1", "2", "1~", "a"]));
            s.push_str(&rng.join(&rev, 0, 4));
        }
        pool.push(s);
    }
    pool
}

#[test]
fn dpkg_matches_dpkg_perl_in_bulk() {
    let mut rng = Rng(1);
    let pool = dpkg_pool(&mut rng, 3000);
    let pairs: Vec<_> = pairs(VersionScheme::Dpkg, &pool, &mut rng, 20000)
        .into_iter()
        .filter(|(a, b)| {
            VersionScheme::Dpkg.parse(a).is_ok() && VersionScheme::Dpkg.parse(b).is_ok()
        })
        .collect();
    // Dpkg::Version is dpkg's own Perl implementation (libdpkg-perl, part of dpkg-dev).
    let script = r#"use Dpkg::Version; $|=0;
        while (<STDIN>) { chomp; my ($a, $b) = split /\t/, $_, 2;
          my $r = eval { version_compare($a, $b) };
          print((!defined $r ? "skip" : $r < 0 ? "<" : $r > 0 ? ">" : "="), "\n"); }"#;
    let Some(out) = run(
        Command::new("perl").args(["-e", script]),
        &tsv(&pairs),
        "Dpkg::Version",
    ) else {
        return;
    };
    check(VersionScheme::Dpkg, &pairs, &out, "Dpkg::Version");
}

#[test]
fn dpkg_matches_dpkg_compare_versions() {
    let mut rng = Rng(2);
    let mut pool = dpkg_pool(&mut rng, 250);
    pool.extend(DPKG_TRICKY.iter().map(|s| s.to_string()));
    let mut pairs: Vec<(String, String)> = (0..250)
        .map(|_| {
            (
                pool[rng.below(pool.len())].clone(),
                pool[rng.below(pool.len())].clone(),
            )
        })
        .collect();
    pairs.extend(
        DPKG_TRICKY
            .iter()
            .map(|s| (s.to_string(), "1.0".to_string())),
    );
    // One shell process drives dpkg for every pair; exit status 1 is "false", anything
    // else is dpkg refusing the syntax.
    let script = r#"while IFS="$(printf '\t')" read -r a b; do
      dpkg --compare-versions "$a" lt "$b" 2>/dev/null; rc=$?
      if [ $rc -eq 0 ]; then echo '<'
      elif [ $rc -ne 1 ]; then echo error
      elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '='
      else echo '>'; fi
    done"#;
    if Command::new("dpkg").arg("--version").output().is_err() {
        println!("note: skipping differential test against dpkg: not installed");
        return;
    }
    let Some(out) = run(
        Command::new("sh").args(["-c", script]),
        &tsv(&pairs),
        "dpkg",
    ) else {
        return;
    };
    check(VersionScheme::Dpkg, &pairs, &out, "dpkg --compare-versions");
}

// ---------------------------------------------------------------- rpm

const RPM_TRICKY: &[&str] = &[
    "1.0",
    "1.0-1",
    "1.0-1.el9",
    "1.0-1.el9_4",
    "1:1.0-1",
    "0:1.0-1",
    "01:1.0-1",
    "1.0~rc1-1",
    "1.0~rc1",
    "1.0^1",
    "1.0^",
    "1.0.1",
    "1.0^git1-1",
    "1.0~~",
    "1.0a",
    "1.0.a",
    "1a",
    "1.a",
    "a",
    "A",
    "1.0_1",
    "1..0",
    "1.0.",
    "5.14.0-427.13.1.el9_4",
    "5.14.0-427.20.1.el9_4",
    "5.14.0-70.13.1.el9_0",
    "4.18.0-513.5.1.el8_9",
    "1.0-",
    "-1",
    ":1",
    "1:",
    "10",
    "9",
    "1.00",
    "1.01",
    "2.0.0-0.rc1.el9",
    "1.0+1",
    "1.0~a^b",
    "1^~",
    "~",
    "^",
    "1.0-1~",
    "1.0-1^",
];

#[test]
fn rpm_matches_rpm_label_compare() {
    let mut rng = Rng(3);
    let ver = [
        "0", "1", "2", "10", "01", "9", ".", ".", "a", "b", "rc", "~", "^", "_", "+", "git", "A",
    ];
    let mut pool: Vec<String> = RPM_TRICKY.iter().map(|s| s.to_string()).collect();
    while pool.len() < 3000 {
        let mut s = String::new();
        if rng.chance(15) {
            s.push_str(rng.pick(&["0:", "1:", "2:", "01:", "10:"]));
        }
        s.push_str(&rng.join(&ver, 1, 6));
        if rng.chance(70) {
            s.push('-');
            s.push_str(&rng.join(
                &["1", "0", "2", ".", "el9", "el9_4", "~", "^", "rc", "a"],
                1,
                4,
            ));
        }
        pool.push(s);
    }
    let pairs = pairs(VersionScheme::Rpm, &pool, &mut rng, 20000);
    // The label is split with rpm's own parser (rpm.ver) and compared with labelCompare;
    // a missing epoch or release stays None, as labelCompare expects.
    let script = r#"
import sys, rpm
out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    if not a or not b:
        out.append("error"); continue
    def evr(s):
        v = rpm.ver(s)
        return (v.e, v.v, v.r)
    try:
        r = rpm.labelCompare(evr(a), evr(b))
    except ValueError:
        out.append("error"); continue
    out.append("<" if r < 0 else ">" if r > 0 else "=")
print("\n".join(out))
"#;
    let Some(out) = run(
        Command::new("/usr/bin/python3").args(["-c", script]),
        &tsv(&pairs),
        "rpm.labelCompare",
    ) else {
        return;
    };
    check(VersionScheme::Rpm, &pairs, &out, "rpm.labelCompare");
}

// ---------------------------------------------------------------- PEP 440

const PEP440_TRICKY: &[&str] = &[
    "1.0",
    "1.0.0",
    "1",
    "1.0RC1",
    "1.0rc1",
    "1.0c1",
    "1.0-rc.1",
    "1.0a1",
    "1.0alpha1",
    "1.0b2",
    "1.0beta2",
    "1.0pre1",
    "1.0preview1",
    "1.0.dev1",
    "1.0dev",
    "1.0a1.dev1",
    "1.0.post1",
    "1.0-1",
    "1.0post",
    "1.0.post1.dev1",
    "1.0rev1",
    "1.0r1",
    "1!0.1",
    "0!2.0",
    "1.0+local",
    "1.0+local.1",
    "1.0+1",
    "1.0+abc.5",
    "1.0+ABC",
    "1.0+abc-def_ghi",
    "v1.0",
    "V1.0",
    " 1.0 ",
    "1.0.0.0.0",
    "1.0a",
    "1.0-dev",
    "1.0_post1",
    "1.0.rc1",
    "1.0rc",
    "1.0rc-1",
    "2012.04",
    "1.0.*",
    "1.0+",
    "1.0+.x",
    "abc",
    "1..0",
    "1.0.",
    "",
    "1.0-",
    "01.02",
    "1.0.post-1",
    "1.0-post1",
    "1.0a.1",
    "1.0a1.post1.dev1+l",
    "1.0+2",
    "1.0+10",
    "1.0+a.b",
    "1.0+a",
];

#[test]
fn pep440_matches_packaging() {
    let mut rng = Rng(4);
    let pieces = [
        "0", "1", "2", "10", "01", ".", ".", "a", "b", "c", "rc", "RC", "alpha", "beta", "pre",
        "preview", "post", "rev", "r", "dev", "-", "_", "+", "local", "x", "!",
    ];
    let mut pool: Vec<String> = PEP440_TRICKY.iter().map(|s| s.to_string()).collect();
    while pool.len() < 4000 {
        let mut s = String::new();
        if rng.chance(5) {
            s.push_str(rng.pick(&["1!", "v", "0!"]));
        }
        s.push_str(rng.pick(&["0", "1", "2", "1.0", "1.2.3"]));
        s.push_str(&rng.join(&pieces, 0, 5));
        pool.push(s);
    }
    let pairs = pairs(VersionScheme::Pep440, &pool, &mut rng, 20000);
    let script = r#"
import sys
from packaging.version import Version, InvalidVersion
out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        out.append("error"); continue
    out.append("<" if va < vb else ">" if va > vb else "=")
print("\n".join(out))
"#;
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import packaging.version"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        println!("note: skipping differential test against packaging: not installed");
        return;
    };
    let Some(out) = run(
        Command::new(python).args(["-c", script]),
        &tsv(&pairs),
        "packaging",
    ) else {
        return;
    };
    check(VersionScheme::Pep440, &pairs, &out, "packaging.version");
}

// ---------------------------------------------------------------- SemVer

const SEMVER_TRICKY: &[&str] = &[
    "1.0.0",
    "v1.0.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0+build",
    "1.0.0+build.2",
    "1.0.0-0",
    "1.0.0-00",
    "01.0.0",
    "1.0",
    "1",
    "1.0.0-",
    "1.0.0-a..b",
    "1.0.0-x-y",
    "1.0.0--",
    "1.0.0-1a",
    "1.0.0+001",
    " 1.0.0 ",
    "=1.0.0",
    "v1.2.3+incompatible",
    "v0.0.0-20210101000000-abcdef123456",
    "v0.0.0-20220101000000-abcdef123456",
    "9007199254740991.0.0",
    "9007199254740992.0.0",
    "1.0.0-9007199254740991",
    "V1.0.0",
    "1.0.0-alpha.0",
    "1.0.0-alpha.00",
    "1.0.0-ALPHA",
    "1.0.0-Alpha",
];

#[test]
fn semver_matches_npm_semver() {
    let mut rng = Rng(5);
    let num = ["0", "1", "2", "10", "01", "999"];
    let pre = [
        "alpha", "beta", "rc", "0", "1", "11", "2", "x-y", "-", "01", "A", "a1", "1a",
    ];
    let mut pool: Vec<String> = SEMVER_TRICKY.iter().map(|s| s.to_string()).collect();
    while pool.len() < 3000 {
        let mut s = String::new();
        if rng.chance(20) {
            s.push('v');
        }
        s.push_str(&format!(
            "{}.{}.{}",
            rng.pick(&num),
            rng.pick(&num),
            rng.pick(&num)
        ));
        if rng.chance(60) {
            s.push('-');
            let n = 1 + rng.below(3);
            let ids: Vec<&str> = (0..n).map(|_| rng.pick(&pre)).collect();
            s.push_str(&ids.join("."));
        }
        if rng.chance(20) {
            s.push('+');
            s.push_str(rng.pick(&["build", "001", "a.b", "x-1"]));
        }
        pool.push(s);
    }
    let pairs = pairs(VersionScheme::Semver, &pool, &mut rng, 20000);
    let module =
        std::env::var("HOME").unwrap_or_default() + "/.cache/sentari-npm/node_modules/semver";
    if !std::path::Path::new(&module).exists() {
        println!("note: skipping differential test against npm semver: {module} not found");
        return;
    }
    let script = format!(
        r#"const semver = require({module:?});
const lines = require("fs").readFileSync(0, "utf8").split("\n");
const out = [];
for (const l of lines) {{ if (!l.length) continue; const [a, b] = l.split("\t");
  try {{ const r = semver.compare(a, b); out.push(r < 0 ? "<" : r > 0 ? ">" : "="); }}
  catch (e) {{ out.push("error"); }} }}
process.stdout.write(out.join("\n") + "\n");"#
    );
    let Some(out) = run(
        Command::new("node").args(["-e", &script]),
        &tsv(&pairs),
        "npm semver",
    ) else {
        return;
    };
    check(VersionScheme::Semver, &pairs, &out, "npm semver");
}

// ---------------------------------------------------------------- Maven

const MAVEN_TRICKY: &[&str] = &[
    "1",
    "1.0",
    "1.0.0",
    "1-0",
    "1.0-0",
    "1-SNAPSHOT",
    "1.0-SNAPSHOT",
    "1-alpha",
    "1-alpha1",
    "1-alpha-1",
    "1-a1",
    "1-a",
    "1a1",
    "1.a1",
    "1-beta",
    "1-b1",
    "1-milestone",
    "1-m1",
    "1-rc",
    "1-cr",
    "1-RC1",
    "1-CR1",
    "1-ga",
    "1-GA",
    "1-final",
    "1.0.Final",
    "1-release",
    "1-sp",
    "1-sp1",
    "1-foo",
    "1-foo1",
    "1.foo",
    "1-1",
    "1.1",
    "1-2",
    "2",
    "1.0.0.0.1",
    "1.0-alpha-1",
    "1.0.RC1",
    "1.0-RC1",
    "1.0.0-beta.2",
    "2.0.0.Final",
    "5.3.20.RELEASE",
    "1-xyz",
    "1-abc",
    "1.0.0.X1",
    "1.0.0-X2",
    "1..1",
    "1--1",
    "1.-1",
    "1-.1",
    ".1",
    "-1",
    "1.",
    "1-",
    "0",
    "00",
    "1.01",
    "1.001",
    "123456789012",
    "1234567890123456789012",
    "1.0.0-alpha.beta",
    "1.x",
    "1-jre",
    "31.1-jre",
    "31.1-android",
    "1.2.3-20230101.123456-1",
    "1ga",
    "1-ga-1",
    "1.ga.1",
];

#[test]
fn maven_matches_comparable_version() {
    let jars = [
        "/usr/share/maven/lib/maven-artifact-3.x.jar",
        "/usr/share/java/maven-artifact-3.x.jar",
        "/usr/share/java/maven3-artifact.jar",
    ];
    let Some(jar) = jars.iter().find(|p| std::path::Path::new(p).exists()) else {
        println!("note: skipping differential test against Maven: maven-artifact jar not found");
        return;
    };
    let mut rng = Rng(6);
    let pieces = [
        "0",
        "1",
        "2",
        "10",
        "01",
        ".",
        ".",
        "-",
        "-",
        "alpha",
        "a",
        "b",
        "m",
        "beta",
        "milestone",
        "rc",
        "cr",
        "snapshot",
        "SNAPSHOT",
        "ga",
        "final",
        "release",
        "sp",
        "foo",
        "x",
        "RC",
        "Final",
    ];
    let mut seq: Vec<String> = MAVEN_TRICKY.iter().map(|s| s.to_string()).collect();
    while seq.len() < 4000 {
        let mut s = String::from(rng.pick(&["1", "1.0", "2", "0", "1.2.3", ""]));
        s.push_str(&rng.join(&pieces, 1, 5));
        if !s.is_empty() {
            seq.push(s);
        }
    }
    // Sorted neighbours too, as in the other tests.
    let neighbours = sorted(
        seq.iter()
            .filter_map(|s| VersionScheme::Maven.parse(s).ok()),
    );
    seq.extend(neighbours.iter().map(render));
    // ComparableVersion's main compares each argument with the one before it.
    let Some(out) = run(
        Command::new("java")
            .args([
                "-cp",
                jar,
                "org.apache.maven.artifact.versioning.ComparableVersion",
            ])
            .args(&seq),
        "",
        "Maven ComparableVersion",
    ) else {
        return;
    };
    let theirs: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("   "))
        .map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            match toks.get(1).copied() {
                Some("==") => "=",
                Some("<") => "<",
                Some(">") => ">",
                _ => "?",
            }
        })
        .collect();
    let pairs: Vec<(String, String)> = seq
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    check(
        VersionScheme::Maven,
        &pairs,
        &(theirs.join("\n") + "\n"),
        "Maven ComparableVersion",
    );
}
