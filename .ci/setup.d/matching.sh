#!/usr/bin/env bash
# Reference tools for the comparator differential tests (crates/sentari-core/tests/differential.rs)
# and hyperfine for the matching benchmarks. Run as root on Debian 12 after `apt-get update`.
# Idempotent: every step is a no-op when its tool is already there.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# dpkg --compare-versions and Dpkg::Version (libdpkg-perl comes with dpkg-dev);
# rpm.labelCompare (python3-rpm, for /usr/bin/python3); Python packaging (Debian's own build,
# because pip refuses to touch the system interpreter on Debian 12); Maven's ComparableVersion
# (the maven-artifact jar from libmaven3-core-java) and a JRE to run it; node and npm for the
# semver package; hyperfine for docs/BENCHMARKS.md.
pkgs=(dpkg-dev libdpkg-perl rpm python3-rpm python3 python3-packaging libmaven3-core-java hyperfine)
# A machine may already have Java or Node from elsewhere (e.g. NodeSource, whose nodejs
# bundles npm and conflicts with Debian's npm package): only add what is missing.
command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
apt-get install -y --no-install-recommends "${pkgs[@]}"

# The test prefers `python3` on PATH when it can import packaging (a pyenv or venv Python);
# give such an interpreter packaging too when it is not the system one.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import packaging.version' 2>/dev/null; then
  python3 -m pip install --quiet packaging 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages packaging 2>/dev/null \
    || true
fi

# npm's semver package, where the differential test looks for it.
SEMVER_PREFIX="${HOME:-/root}/.cache/sentari-npm"
if [ ! -f "$SEMVER_PREFIX/node_modules/semver/package.json" ]; then
  mkdir -p "$SEMVER_PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$SEMVER_PREFIX" semver
fi
