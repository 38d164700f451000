#!/usr/bin/env python3
"""Generates the inputs of the matching benchmarks (docs/BENCHMARKS.md, "Matching engine").

Usage: matching_inputs.py OUT_DIR [SHARED_DATA_DIR]

Writes OUT_DIR/<scheme>.tsv (1,000,000 `A<TAB>B` lines of realistic versions per comparator)
and OUT_DIR/inventory.jsonl (10,000 `{"ecosystem","name","version"}` lines drawn from the
package names and versions in the shared PyPI, Go and AlmaLinux OSV bundles, a third of them
unknown packages). Deterministic (fixed seed), standard library only.
"""
import json
import os
import random
import sys
import zipfile

rng = random.Random(42)
out = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data")
os.makedirs(out, exist_ok=True)
N = 1_000_000


def num(hi=30):
    return str(rng.randint(0, hi))


GEN = {
    "dpkg": lambda: rng.choice(["", "1:", "2:"]) * (rng.random() < 0.1)
    + ".".join(num() for _ in range(rng.randint(1, 4)))
    + rng.choice(["", "~rc1", "+dfsg", "a"])
    + rng.choice(["", "-" + num(9), "-" + num(9) + "+deb12u" + num(9), "-" + num(9) + "ubuntu0.22.04." + num(9)]),
    "rpm": lambda: rng.choice(["", "1:"]) * (rng.random() < 0.1)
    + ".".join(num(600) for _ in range(rng.randint(2, 4)))
    + rng.choice(["", "~rc1", "^git1"])
    + "-" + ".".join(num(60) for _ in range(rng.randint(1, 3))) + rng.choice([".el9_4", ".el8_10", ".el9", ""]),
    "apk": lambda: ".".join(num() for _ in range(rng.randint(1, 4)))
    + rng.choice(["", "", "a", "_rc" + num(3), "_p" + num(3), "_git2024010" + num(9)])
    + "-r" + num(9),
    "pep440": lambda: ".".join(num() for _ in range(rng.randint(1, 4)))
    + rng.choice(["", "", "rc" + num(3), "a" + num(3), ".post" + num(3), ".dev" + num(3), "+local." + num(9)]),
    "semver": lambda: rng.choice(["", "v"]) + ".".join(num() for _ in range(3))
    + rng.choice(["", "", "-rc." + num(3), "-alpha", "-0.20240101000000-abcdef123456", "+build." + num(9)]),
    "maven": lambda: ".".join(num() for _ in range(rng.randint(1, 4)))
    + rng.choice(["", "", "-SNAPSHOT", ".RELEASE", "-rc" + num(3), "-beta-" + num(3), ".Final", "-jre"]),
}

for scheme, gen in GEN.items():
    pool = [gen() for _ in range(20_000)]
    with open(os.path.join(out, f"{scheme}.tsv"), "w") as f:
        for _ in range(N):
            f.write(f"{rng.choice(pool)}\t{rng.choice(pool)}\n")

packages = []
for eco in ["PyPI", "Go", "AlmaLinux"]:
    with zipfile.ZipFile(os.path.join(data, "osv", eco, "all.zip")) as z:
        for name in z.namelist():
            rec = json.loads(z.read(name))
            for a in rec.get("affected", []):
                p = a.get("package") or {}
                versions = list(a.get("versions") or [])
                for r in a.get("ranges", []):
                    if r.get("type") != "GIT":
                        versions += [v for e in r.get("events", []) for v in e.values() if v != "0"]
                if p and versions:
                    packages.append((p["ecosystem"], p["name"], versions))

with open(os.path.join(out, "inventory.jsonl"), "w") as f:
    for i in range(10_000):
        eco, name, versions = rng.choice(packages)
        version = rng.choice(versions)
        if eco == "Go":
            version = "v" + version
        if i % 3 == 0:
            name = name + "-not-in-osv"
        f.write(json.dumps({"ecosystem": eco, "name": name, "version": version}) + "\n")
