//! Tables of the tricky cases from each tool's documentation, and property tests that each
//! comparator is a total order and never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;

fn check_table(scheme: VersionScheme, table: &[(&str, &str, &str)]) {
    for (a, op, b) in table {
        let want = match *op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            _ => unreachable!(),
        };
        let got = scheme
            .compare(a, b)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(got, want, "{scheme}: {a} {op} {b}");
        assert_eq!(
            scheme.compare(b, a).unwrap(),
            want.reverse(),
            "{scheme}: {b} vs {a}"
        );
    }
}

#[test]
fn dpkg_table() {
    // From deb-version(7) and dpkg's own test suite.
    check_table(
        VersionScheme::Dpkg,
        &[
            ("1.0~rc1", "<", "1.0"),
            ("1.0~~", "<", "1.0~~a"),
            ("1.0~~a", "<", "1.0~"),
            ("1.0~", "<", "1.0"),
            ("1.0", "<", "1.0a"),
            ("1.0a", "<", "1.0+"),
            ("1.0", "=", "1.00"),
            ("1.0", "=", "0:1.0"),
            ("1.0", "=", "1.0-0"),
            ("1:0.1", ">", "9.9"),
            ("1.0-1", "<", "1.0-1+deb12u1"),
            ("3.0.11-1~deb12u2", "<", "3.0.15-1~deb12u1"),
            ("2.30-1", ">", "2.4-1"),
            ("1.2.3-4", "<", "1.2.3-10"),
            ("1.0-1~bpo1", "<", "1.0-1"),
            ("a", "<", "b"),
            ("1.0A", "<", "1.0a"),
            ("1.0.", "=", "1.0.0"),
            ("1:1.0-1-1", ">", "1:1.0-1"),
        ],
    );
    for bad in [
        "",
        " ",
        "1:",
        ":1",
        "a:1",
        "-1",
        "1.0-",
        "1 0",
        "-1:1",
        "99999999999:1",
    ] {
        assert!(VersionScheme::Dpkg.parse(bad).is_err(), "{bad:?}");
    }
    // dpkg only warns about these, and compares them.
    for warn in ["abc", "1.0_1", "+1:1.0", "-0:1"] {
        assert!(VersionScheme::Dpkg.parse(warn).is_ok(), "{warn:?}");
    }
}

#[test]
fn rpm_table() {
    // From rpm's rpmvercmp tests and the Fedora versioning guidelines.
    check_table(
        VersionScheme::Rpm,
        &[
            ("1.0", "<", "1.0.1"),
            ("1.0", "=", "1.0"),
            ("2.0.1", ">", "2.0"),
            ("5.5p1", "<", "5.5p2"),
            ("5.5p10", ">", "5.5p1"),
            ("10xyz", "<", "10.1xyz"),
            ("xyz10", "<", "xyz10.1"),
            ("1.0a", "<", "1.0b"),
            ("a", "<", "1"),
            ("1.0~rc1", "<", "1.0"),
            ("1.0~rc1", "<", "1.0~rc2"),
            ("1.0~rc1~git123", "<", "1.0~rc1"),
            ("1.0^", ">", "1.0"),
            ("1.0^git1", ">", "1.0"),
            ("1.0^git1", "<", "1.01"),
            ("1.0^git1", "<", "1.0.1"),
            ("1.0^20160101", "<", "1.0.1"),
            ("1.0~rc1^git1", ">", "1.0~rc1"),
            ("1.0", "=", "1..0"),
            ("1.0", "=", "1_0"),
            ("1.01", "=", "1.1"),
            ("1:1.0-1", ">", "2.0-1"),
            ("0:1.0-1", "=", "1.0-1"),
            ("1.0", "<", "1.0-1"),
            ("5.14.0-427.13.1.el9_4", "<", "5.14.0-427.20.1.el9_4"),
            ("5.14.0-70.13.1.el9_0", "<", "5.14.0-427.13.1.el9_4"),
        ],
    );
    for bad in ["", "-1", "1:", "1:-1"] {
        assert!(VersionScheme::Rpm.parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn apk_table() {
    // From apk-tools' version test data and Alpine's APKBUILD reference.
    check_table(
        VersionScheme::Apk,
        &[
            ("1.0_alpha1", "<", "1.0_beta1"),
            ("1.0_beta1", "<", "1.0_pre1"),
            ("1.0_pre1", "<", "1.0_rc1"),
            ("1.0_rc1", "<", "1.0"),
            ("1.0", "<", "1.0_cvs1"),
            ("1.0_cvs1", "<", "1.0_svn1"),
            ("1.0_svn1", "<", "1.0_git1"),
            ("1.0_git1", "<", "1.0_hg1"),
            ("1.0_hg1", "<", "1.0_p1"),
            ("1.0-r1", "<", "1.0_p1"),
            ("1.0-r1", "<", "1.0-r2"),
            ("1.0-r9", "<", "1.0-r10"),
            ("1.0", "<", "1.0-r0"),
            ("1.0", "<", "1.0.1"),
            ("1.0", "<", "1.0a"),
            ("1.0a", "<", "1.0b"),
            ("1.0a", "<", "1.0.1"),
            ("1.01", "<", "1.1"),
            ("1.001", "<", "1.01"),
            ("1.0", "<", "1.00"),
            ("1.05", "<", "1.5"),
            ("1.0~abc123", "<", "1.0~abd"),
            ("1.0-r0", "<", "1.0~abc123"),
            ("1.0_git20240101~abc123-r1", ">", "1.0_git20240101-r1"),
            ("1.2", "<", "1.10"),
            ("3.0.15-r0", "<", "3.0.15-r1"),
            ("3.3.2-r0", ">", "3.1.4-r5"),
            ("1.0_rc1-r1", "<", "1.0-r0"),
            ("2", "=", "2"),
            ("1.0", "=", "1.0"),
        ],
    );
    for bad in [
        "",
        "a",
        "1.0-1",
        "1.0_foo",
        "1.0-r",
        "1.a.2",
        "1..0",
        "1.0_",
        "1.0A",
        "v1.0",
        "1a2",
        "1.0~",
        "1.0-r1-r2",
        "1.",
        ".1",
    ] {
        assert!(VersionScheme::Apk.parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn pep440_table() {
    // From PEP 440's ordering examples and normalisation rules.
    check_table(
        VersionScheme::Pep440,
        &[
            ("1.0.dev456", "<", "1.0a1"),
            ("1.0a1", "<", "1.0a2.dev456"),
            ("1.0a2.dev456", "<", "1.0a12.dev456"),
            ("1.0a12", "<", "1.0b1.dev456"),
            ("1.0b2", "<", "1.0b2.post345.dev456"),
            ("1.0b2.post345.dev456", "<", "1.0b2.post345"),
            ("1.0b2.post345", "<", "1.0rc1.dev456"),
            ("1.0rc1", "<", "1.0"),
            ("1.0", "<", "1.0+abc.5"),
            ("1.0+abc.5", "<", "1.0+abc.7"),
            ("1.0+abc.7", "<", "1.0+5"),
            ("1.0+5", "<", "1.0.post456.dev34"),
            ("1.0.post456.dev34", "<", "1.0.post456"),
            ("1.0.post456", "<", "1.1.dev1"),
            ("1.0RC1", "=", "1.0rc1"),
            ("1.0c1", "=", "1.0rc1"),
            ("1.0-1", "=", "1.0.post1"),
            ("1.0", "=", "1.0.0"),
            ("v1.0", "=", "1.0"),
            ("1!0.1", ">", "2.0"),
            ("1.0alpha1", "=", "1.0a1"),
        ],
    );
    for bad in ["", "abc", "1.0.*", "1..0", "1.0+"] {
        assert!(VersionScheme::Pep440.parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn semver_table() {
    // From semver.org §11.
    check_table(
        VersionScheme::Semver,
        &[
            ("1.0.0", "<", "2.0.0"),
            ("2.0.0", "<", "2.1.0"),
            ("2.1.0", "<", "2.1.1"),
            ("1.0.0-alpha", "<", "1.0.0-alpha.1"),
            ("1.0.0-alpha.1", "<", "1.0.0-alpha.beta"),
            ("1.0.0-alpha.beta", "<", "1.0.0-beta"),
            ("1.0.0-beta", "<", "1.0.0-beta.2"),
            ("1.0.0-beta.2", "<", "1.0.0-beta.11"),
            ("1.0.0-beta.11", "<", "1.0.0-rc.1"),
            ("1.0.0-rc.1", "<", "1.0.0"),
            ("1.0.0+build.1", "=", "1.0.0+build.2"),
            ("v1.2.3", "=", "1.2.3"),
            ("v1.2.3+incompatible", "=", "v1.2.3"),
            (
                "v0.0.0-20210101000000-abcdef123456",
                "<",
                "v0.0.0-20220101000000-abcdef123456",
            ),
            ("v0.0.0-20210101000000-abcdef123456", "<", "v0.0.1"),
        ],
    );
    for bad in [
        "",
        "1.0",
        "01.0.0",
        "1.0.0-01",
        "1.0.0-",
        "9007199254740992.0.0",
        "=1.0.0",
    ] {
        assert!(VersionScheme::Semver.parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn maven_table() {
    // From the ComparableVersion javadoc and Maven's ComparableVersionTest.
    check_table(
        VersionScheme::Maven,
        &[
            ("1-alpha", "<", "1-beta"),
            ("1-a1", "<", "1-b1"),
            ("1-beta", "<", "1-milestone"),
            ("1-m1", "<", "1-rc"),
            ("1-rc", "=", "1-cr"),
            ("1-rc", "<", "1-snapshot"),
            ("1-SNAPSHOT", "<", "1"),
            ("1", "=", "1-ga"),
            ("1", "=", "1-final"),
            ("1", "=", "1.0.0"),
            ("1", "=", "1-release"),
            ("1", "<", "1-sp"),
            ("1-sp", "<", "1-foo"),
            ("1-abc", "<", "1-xyz"),
            ("1.0.RC1", "=", "1.0-rc-1"),
            ("1-1", "<", "1.1"),
            ("1.1", "<", "1.2"),
            ("1.0-alpha-1", "<", "1.0"),
            ("1.0.0.X1", "<", "1.0.0-X2"),
            ("2.0", ">", "1.999"),
            ("1.10", ">", "1.9"),
            ("1234567890123456789012", ">", "123456789012"),
            ("5.3.20.RELEASE", "=", "5.3.20"),
        ],
    );
    let v = MavenVersion::parse("1.0-ALPHA1").unwrap();
    assert_eq!(v.canonical(), "1-alpha-1");
    assert_eq!(MavenVersion::parse("1.0.0").unwrap().canonical(), "1");
    assert!(VersionScheme::Maven.parse("").is_err());
}

#[test]
fn maven_cycle_is_mavens() {
    // ComparableVersion itself is not transitive: Maven 3.8 says 1 < 1-a < 1-0-alpha < 1.
    // Sentari reproduces it rather than disagreeing with Maven on any pair.
    let p = |s| VersionScheme::Maven.parse(s).unwrap();
    assert!(p("1") < p("1-a"));
    assert!(p("1-a") < p("1-0-alpha"));
    assert!(p("1-0-alpha") < p("1"));
}

#[test]
fn scheme_names_round_trip() {
    for s in VersionScheme::ALL {
        assert_eq!(s.name().parse::<VersionScheme>().unwrap(), s);
    }
    assert!("nope".parse::<VersionScheme>().is_err());
}

/// Strings built from the characters that matter to each format.
fn arb(scheme: VersionScheme) -> BoxedStrategy<String> {
    let re = match scheme {
        VersionScheme::Dpkg => "([0-9]:)?[0-9][0-9a-zA-Z.+~]{0,8}(-[0-9a-z.+~]{1,5})?",
        VersionScheme::Rpm => "([0-9]:)?[0-9a-zA-Z._+~^]{1,8}(-[0-9a-z._~^]{1,5})?",
        VersionScheme::Apk => {
            "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]?){0,2}(-r[0-9]{1,2})?"
        }
        VersionScheme::Pep440 => {
            "(v|[0-9]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}((a|b|rc|c|alpha)[0-9]?)?(\\.post[0-9]?)?(\\.dev[0-9]?)?(\\+[a-z0-9]{1,3}(\\.[a-z0-9]{1,3})?)?"
        }
        VersionScheme::Semver => {
            "v?(0|[1-9][0-9]?)\\.(0|[1-9])\\.(0|[1-9])(-(alpha|beta|rc|0|[1-9][0-9]?|x-y)(\\.(alpha|0|[1-9]|b1)){0,2})?(\\+[a-z0-9]{1,3})?"
        }
        // Maven's own order has cycles around empty-looking lists (`1-0-alpha`), so the
        // total-order properties are checked on the versions real artifacts use: dotted
        // numbers with optional qualifier suffixes.
        VersionScheme::Maven => {
            "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}([.-](alpha|beta|rc|cr|m|a|b|snapshot|SNAPSHOT|ga|final|sp|jre|android|Final|RELEASE)([-.]?[1-9][0-9]?)?)?"
        }
    };
    proptest::string::string_regex(re).unwrap().boxed()
}

fn total_order(scheme: VersionScheme, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    let (Ok(x), Ok(y), Ok(z)) = (scheme.parse(a), scheme.parse(b), scheme.parse(c)) else {
        return Ok(());
    };
    prop_assert_eq!(x.cmp(&x), Ordering::Equal);
    prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
    prop_assert_eq!(x == y, x.cmp(&y) == Ordering::Equal);
    if x <= y && y <= z {
        prop_assert!(x <= z, "{a} <= {b} <= {c} but not {a} <= {c}");
    }
    if x == y {
        prop_assert_eq!(x.cmp(&z), y.cmp(&z));
    }
    // The borrowed fast path agrees with the parsed values.
    prop_assert_eq!(scheme.compare(a, b).unwrap(), x.cmp(&y));
    Ok(())
}

macro_rules! order_props {
    ($name:ident, $scheme:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn $name(a in arb($scheme), b in arb($scheme), c in arb($scheme)) {
                total_order($scheme, &a, &b, &c)?;
            }
        }
    };
}

order_props!(dpkg_is_a_total_order, VersionScheme::Dpkg);
order_props!(rpm_is_a_total_order, VersionScheme::Rpm);
order_props!(apk_is_a_total_order, VersionScheme::Apk);
order_props!(pep440_is_a_total_order, VersionScheme::Pep440);
order_props!(semver_is_a_total_order, VersionScheme::Semver);
order_props!(maven_is_a_total_order, VersionScheme::Maven);

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,40}") {
        for scheme in VersionScheme::ALL {
            let _ = scheme.parse(&s);
            let _ = scheme.compare(&s, "1.0");
        }
    }

    #[test]
    fn parsers_never_panic_on_bytes_like_input(s in "[0-9a-zA-Z.:~^+_\\- !*]{0,30}") {
        for scheme in VersionScheme::ALL {
            if let Ok(v) = scheme.parse(&s) {
                prop_assert_eq!(v.cmp(&v), Ordering::Equal);
            }
        }
    }
}
