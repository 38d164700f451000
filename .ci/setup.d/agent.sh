#!/usr/bin/env bash
# Tools the sentari-agent tests need on a fresh Debian 12 machine (run as root after
# `apt-get update`; safe to run again):
#   rpm        rpmbuild and rpm build real rpmdb.sqlite fixtures (tests/rpm_tools.rs)
#   python3    the importlib.metadata accuracy check (tests/accuracy.rs)
#   hyperfine, time
#              the inventory benchmark in docs/BENCHMARKS.md
# dpkg-query ships with every Debian system. Jar fixtures are built in Rust at test time.
set -euo pipefail

packages=(rpm python3 hyperfine time)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
