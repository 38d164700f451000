//! Deterministic device inventories drawn from a [`Catalog`], and their churn between scans.
//!
//! A device runs one OS profile and has, besides its OS packages, Python and Go packages spread
//! over a few environments (virtualenvs, service directories), as large hosts do. Every draw
//! takes a common base (the most popular names, which every device of that kind has) and a
//! long tail picked with a power-law bias towards popular names, and most devices get the
//! popular version of a name: so devices overlap heavily but are not identical, and the fleet
//! has far fewer distinct package versions than installed packages, as a real fleet does.
//! Everything is a function of `(seed, device index, round)`.

use std::collections::HashSet;

use sentari_proto::agent::Package;

use super::catalog::{Catalog, Entry, OsFormat, OsProfile, fnv};

/// Share of the common base in each draw (the rest is the Zipf-ish tail).
const BASE_SHARE: f64 = 0.5;
/// Chance a device gets a name's popular version rather than another one.
const POPULAR_VERSION: f64 = 0.7;
/// Share of packages that are OS packages, when the profile has enough of them.
const OS_SHARE: f64 = 0.4;

/// The SplitMix64 finaliser: a bijective scramble of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast, and the same on every platform, which is all a load generator needs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for the given stream.
    pub fn new(seed: u64, stream: u64, round: u64) -> Rng {
        // Each input goes through the finaliser: SplitMix states that differ by a multiple of
        // its increment are the same sequence shifted (device n+1 drew device n's numbers one
        // step later, making devices near-clones), so the stream must not be added linearly.
        Rng(mix(mix(mix(seed) ^ stream) ^ round))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    /// In `[lo, hi)`, biased towards `lo` (a power law: index ~ u²). A cube was tried first
    /// and made the tail nearly deterministic: every device took the same first names after
    /// the base, so devices of one OS were clones (the overlap test caught it).
    pub fn skewed(&mut self, lo: usize, hi: usize) -> usize {
        let u = self.unit();
        lo + ((hi - lo) as f64 * u * u) as usize
    }
}

/// One generated host: its identity, OS and packages.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInventory {
    /// Index of the device in the fleet.
    pub index: u64,
    /// Host name (`sim-00042`).
    pub hostname: String,
    /// Stable machine id derived from the seed and index.
    pub machine_id: String,
    /// os-release `ID`.
    pub os_id: String,
    /// os-release `VERSION_ID`.
    pub os_version_id: String,
    /// os-release `PRETTY_NAME`.
    pub os_pretty_name: String,
    /// Installed packages, sorted.
    pub packages: Vec<Package>,
}

/// Where a kind of package lives on a host, for environment `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Python,
    Go,
}

/// The fleet generator.
#[derive(Debug, Clone)]
pub struct Generator<'a> {
    catalog: &'a Catalog,
    seed: u64,
    prefix: String,
}

impl<'a> Generator<'a> {
    /// A generator over `catalog`; `prefix` starts every host name (runs with different
    /// prefixes against one server make different devices).
    pub fn new(catalog: &'a Catalog, seed: u64, prefix: &str) -> Generator<'a> {
        Generator {
            catalog,
            seed,
            prefix: prefix.to_owned(),
        }
    }

    /// The inventory of device `index` with `count` packages (fewer only if the whole catalog
    /// is smaller).
    pub fn device(&self, index: u64, count: usize) -> DeviceInventory {
        let mut rng = Rng::new(self.seed, index, 0);
        let profile = self.pick_os(&mut rng);
        let mut packages = Vec::with_capacity(count);
        if let Some(p) = profile {
            let n_os = ((count as f64 * OS_SHARE) as usize).min(p.entries.len());
            for i in draw(&mut rng, p.entries.len(), n_os) {
                packages.push(os_package(p, &p.entries[i], &mut rng));
            }
        }
        // Language packages fill the rest, Python first, over as many environments as needed.
        let mut k = 0usize;
        while packages.len() < count && k < 10_000 {
            let left = count - packages.len();
            let (place, list) = if k % 3 == 2 && !self.catalog.go.is_empty() {
                (Place::Go, &self.catalog.go)
            } else if !self.catalog.python.is_empty() {
                (Place::Python, &self.catalog.python)
            } else if !self.catalog.go.is_empty() {
                (Place::Go, &self.catalog.go)
            } else {
                break;
            };
            // One environment holds at most half the names: environments overlap too.
            let cap = (list.len() / 2).max(1);
            for i in draw(&mut rng, list.len(), left.min(cap)) {
                packages.push(lang_package(place, k, &list[i], &mut rng));
            }
            k += 1;
        }
        packages.sort();
        packages.dedup_by(|a, b| same_slot(a, b));
        let (os_id, os_version_id, os_pretty_name) = match profile {
            Some(p) => (p.id.clone(), p.version_id.clone(), p.pretty_name.clone()),
            None => ("linux".into(), String::new(), "Linux".into()),
        };
        DeviceInventory {
            index,
            hostname: format!("{}-{index:05}", self.prefix),
            machine_id: format!(
                "{:016x}{:016x}",
                fnv(self.prefix.as_bytes()) ^ self.seed,
                index
            ),
            os_id,
            os_version_id,
            os_pretty_name,
            packages,
        }
    }

    /// The inventory after `round` re-scans' worth of churn: each package is, with chance
    /// `rate`, upgraded (or downgraded) to another version of its name (60 %), removed (20 %), or
    /// joined by a package the device did not have (20 %).
    pub fn churn(&self, inv: &DeviceInventory, round: u64, rate: f64) -> DeviceInventory {
        let mut rng = Rng::new(self.seed, inv.index, round);
        let mut out = inv.clone();
        let mut next = Vec::with_capacity(inv.packages.len());
        let mut added = Vec::new();
        for p in &inv.packages {
            if rng.unit() >= rate {
                next.push(p.clone());
                continue;
            }
            let roll = rng.unit();
            if roll < 0.6 {
                let mut q = p.clone();
                if let Some(v) = self.other_version(p, &mut rng) {
                    q.version = v;
                    if let Some(purl) = &mut q.purl
                        && let Some((base, _)) = purl.rsplit_once('@')
                    {
                        *purl = format!("{base}@{}", q.version);
                    }
                }
                next.push(q);
            } else if roll < 0.8 {
                // Removed.
            } else {
                next.push(p.clone());
                if let Some(n) = self.addition(p, &mut rng) {
                    added.push(n);
                }
            }
        }
        next.extend(added);
        next.sort();
        next.dedup_by(|a, b| same_slot(a, b));
        out.packages = next;
        out
    }

    fn pick_os(&self, rng: &mut Rng) -> Option<&'a OsProfile> {
        let os = &self.catalog.os;
        if os.is_empty() {
            return None;
        }
        // Half the fleet runs the first profile (this machine's OS), the rest spreads evenly.
        if os.len() == 1 || rng.unit() < 0.5 {
            return os.first();
        }
        os.get(1 + rng.below(os.len() - 1))
    }

    /// The catalog list a package was drawn from.
    fn list_of(&self, p: &Package) -> Option<&'a [Entry]> {
        match p.env_type.as_str() {
            "os" => self
                .catalog
                .os
                .iter()
                .find(|o| o.ecosystem == p.ecosystem)
                .map(|o| o.entries.as_slice()),
            _ if p.ecosystem == "PyPI" => Some(&self.catalog.python),
            _ if p.ecosystem == "Go" => Some(&self.catalog.go),
            _ => None,
        }
    }

    fn other_version(&self, p: &Package, rng: &mut Rng) -> Option<String> {
        let e = self.list_of(p)?.iter().find(|e| e.name == p.name)?;
        let others: Vec<&String> = e.versions.iter().filter(|v| **v != p.version).collect();
        (!others.is_empty()).then(|| others[rng.below(others.len())].clone())
    }

    fn addition(&self, p: &Package, rng: &mut Rng) -> Option<Package> {
        let list = self.list_of(p)?;
        let e = &list[rng.below(list.len())];
        if p.env_type == "os" {
            let profile = self
                .catalog
                .os
                .iter()
                .find(|o| o.ecosystem == p.ecosystem)?;
            return Some(os_package(profile, e, rng));
        }
        let mut n = p.clone();
        n.name = e.name.clone();
        n.version = pick_version(e, rng);
        n.purl = p
            .purl
            .as_ref()
            .map(|_| purl(&p.ecosystem, &n.name, &n.version));
        Some(n)
    }
}

/// Two packages in the same slot (same name and environment) cannot both be installed.
fn same_slot(a: &Package, b: &Package) -> bool {
    a.ecosystem == b.ecosystem && a.name == b.name && a.install_path == b.install_path
}

/// `n` distinct indices of `0..len`: the first `n · BASE_SHARE` (the common base), then a
/// power-law tail over the rest.
fn draw(rng: &mut Rng, len: usize, n: usize) -> Vec<usize> {
    let n = n.min(len);
    let base = ((n as f64 * BASE_SHARE) as usize).min(n);
    let mut out: Vec<usize> = (0..base).collect();
    let mut seen: HashSet<usize> = out.iter().copied().collect();
    let mut misses = 0;
    while out.len() < n {
        let i = rng.skewed(base, len);
        if seen.insert(i) {
            out.push(i);
            misses = 0;
            continue;
        }
        misses += 1;
        if misses > 32 {
            // The popular end is exhausted: take the next free index from a random start.
            let start = base + rng.below(len - base);
            if let Some(j) = (start..len).chain(base..start).find(|j| !seen.contains(j)) {
                seen.insert(j);
                out.push(j);
            }
            misses = 0;
        }
    }
    out
}

fn pick_version(e: &Entry, rng: &mut Rng) -> String {
    if e.versions.len() == 1 || rng.unit() < POPULAR_VERSION {
        return e.versions[0].clone();
    }
    e.versions[1 + rng.skewed(0, e.versions.len() - 1)].clone()
}

fn purl(ecosystem: &str, name: &str, version: &str) -> String {
    let kind = match ecosystem {
        "PyPI" => "pypi",
        "Go" => "golang",
        _ => "generic",
    };
    format!("pkg:{kind}/{name}@{version}")
}

fn os_package(p: &OsProfile, e: &Entry, rng: &mut Rng) -> Package {
    let (path, arch) = match p.format {
        OsFormat::Dpkg => ("/var/lib/dpkg/status", "amd64"),
        OsFormat::Rpm => ("/var/lib/rpm/rpmdb.sqlite", "x86_64"),
    };
    Package {
        ecosystem: p.ecosystem.clone(),
        name: e.name.clone(),
        version: pick_version(e, rng),
        source_name: e.source_name.clone(),
        source_version: None,
        arch: Some(arch.into()),
        install_path: path.into(),
        env_type: "os".into(),
        environment: None,
        interpreter_version: None,
        purl: None,
        origin: None,
    }
}

fn lang_package(place: Place, k: usize, e: &Entry, rng: &mut Rng) -> Package {
    let version = pick_version(e, rng);
    let (ecosystem, install_path, env_type, environment, interpreter) = match (place, k) {
        (Place::Python, 0) => (
            "PyPI",
            "/usr/lib/python3/dist-packages".to_owned(),
            "system",
            None,
            Some("3.11.2".to_owned()),
        ),
        (Place::Python, k) => (
            "PyPI",
            format!("/srv/app{k}/venv/lib/python3.11/site-packages"),
            "venv",
            Some(format!("/srv/app{k}/venv")),
            Some("3.11.9".to_owned()),
        ),
        (Place::Go, k) => (
            "Go",
            format!("/srv/svc{k}/bin/service"),
            "go-binary",
            Some(format!("/srv/svc{k}")),
            None,
        ),
    };
    Package {
        ecosystem: ecosystem.into(),
        name: e.name.clone(),
        purl: Some(purl(ecosystem, &e.name, &version)),
        version,
        source_name: None,
        source_version: None,
        arch: None,
        install_path,
        env_type: env_type.into(),
        environment,
        interpreter_version: interpreter,
        origin: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn entries(prefix: &str, n: usize, versions: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                name: format!("{prefix}{i}"),
                source_name: None,
                versions: (0..versions).map(|v| format!("1.{v}")).collect(),
            })
            .collect()
    }

    fn catalog() -> Catalog {
        Catalog {
            os: vec![
                OsProfile {
                    id: "debian".into(),
                    version_id: "12".into(),
                    pretty_name: "Debian 12".into(),
                    ecosystem: "Debian:12".into(),
                    format: OsFormat::Dpkg,
                    entries: entries("deb", 800, 1),
                },
                OsProfile {
                    id: "almalinux".into(),
                    version_id: "9".into(),
                    pretty_name: "AlmaLinux 9".into(),
                    ecosystem: "AlmaLinux:9".into(),
                    format: OsFormat::Rpm,
                    entries: entries("rpm", 3000, 4),
                },
            ],
            python: entries("py", 3000, 6),
            go: entries("go", 2000, 5),
        }
    }

    fn keys(inv: &DeviceInventory) -> HashSet<(String, String, String, String)> {
        inv.packages
            .iter()
            .map(|p| {
                (
                    p.ecosystem.clone(),
                    p.name.clone(),
                    p.version.clone(),
                    p.install_path.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet_and_another_seed_another() {
        let cat = catalog();
        let a = Generator::new(&cat, 7, "sim");
        let b = Generator::new(&cat, 7, "sim");
        let c = Generator::new(&cat, 8, "sim");
        for i in 0..5 {
            assert_eq!(a.device(i, 2000), b.device(i, 2000));
            assert_eq!(
                a.churn(&a.device(i, 2000), 1, 0.03),
                b.churn(&b.device(i, 2000), 1, 0.03)
            );
        }
        let differs = (0..5).any(|i| a.device(i, 2000).packages != c.device(i, 2000).packages);
        assert!(differs, "a different seed must give different devices");
    }

    #[test]
    fn devices_have_the_requested_size_and_no_duplicate_slots() {
        let cat = catalog();
        let g = Generator::new(&cat, 1, "sim");
        for (i, n) in [(0, 100), (1, 2000), (2, 20_000)] {
            let d = g.device(i, n);
            assert_eq!(d.packages.len(), n, "device {i}");
            let slots: HashSet<_> = d
                .packages
                .iter()
                .map(|p| (&p.ecosystem, &p.name, &p.install_path))
                .collect();
            assert_eq!(slots.len(), n);
            assert!(d.packages.windows(2).all(|w| w[0] <= w[1]), "sorted");
        }
    }

    #[test]
    fn devices_overlap_like_a_fleet_but_are_not_clones() {
        let cat = catalog();
        let g = Generator::new(&cat, 42, "sim");
        let devices: Vec<_> = (0..40).map(|i| g.device(i, 1000)).collect();
        let mut distinct = HashSet::new();
        let mut total = 0;
        for d in &devices {
            total += d.packages.len();
            for p in &d.packages {
                distinct.insert((p.ecosystem.clone(), p.name.clone(), p.version.clone()));
            }
        }
        // Many installs per distinct version: the property correlation's cost depends on.
        assert!(
            distinct.len() * 3 < total,
            "{} distinct versions for {total} packages",
            distinct.len()
        );
        // Two devices of the same OS share a large part of their packages, but not all.
        let same_os: Vec<_> = devices
            .iter()
            .filter(|d| d.os_id == devices[0].os_id)
            .collect();
        assert!(same_os.len() >= 2);
        let (a, b) = (keys(same_os[0]), keys(same_os[1]));
        let shared = a.intersection(&b).count() as f64 / a.len() as f64;
        assert!(
            shared > 0.3 && shared < 0.95,
            "shared {shared}: {} {} / {} {} ({} and {} packages)",
            same_os[0].hostname,
            same_os[0].os_pretty_name,
            same_os[1].hostname,
            same_os[1].os_pretty_name,
            a.len(),
            b.len()
        );
        // Both OS profiles occur.
        assert!(devices.iter().any(|d| d.os_id == "almalinux"));
        assert!(devices.iter().any(|d| d.os_id == "debian"));
    }

    #[test]
    fn churn_changes_about_the_requested_share() {
        let cat = catalog();
        let g = Generator::new(&cat, 3, "sim");
        let mut changed = 0usize;
        let mut total = 0usize;
        for i in 0..20 {
            let d = g.device(i, 2000);
            let next = g.churn(&d, 1, 0.03);
            let (a, b) = (keys(&d), keys(&next));
            // Symmetric difference counts an upgrade twice (old and new version).
            changed += a.symmetric_difference(&b).count();
            total += a.len();
            assert_eq!(next, g.churn(&d, 1, 0.03), "churn is deterministic");
            assert_ne!(next, g.churn(&d, 2, 0.03), "each round churns differently");
        }
        // Expected: 3 % of packages touched; upgrades count 2, removals 1, additions 1, and
        // upgrades of single-version names count 0: between 2 % and 6 % of the total.
        let share = changed as f64 / total as f64;
        assert!(share > 0.02 && share < 0.06, "changed share {share}");
        let unchanged = g.churn(&g.device(0, 500), 1, 0.0);
        assert_eq!(unchanged, g.device(0, 500), "rate 0 changes nothing");
    }

    #[test]
    fn skewed_draws_prefer_popular_names() {
        let mut rng = Rng::new(9, 0, 0);
        let picks: Vec<usize> = (0..10_000).map(|_| rng.skewed(0, 1000)).collect();
        let low = picks.iter().filter(|&&i| i < 100).count();
        let high = picks.iter().filter(|&&i| i >= 900).count();
        assert!(low > 4 * high, "low {low}, high {high}");
        assert!(picks.iter().all(|&i| i < 1000));
    }
}
