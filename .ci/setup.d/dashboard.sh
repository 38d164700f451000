#!/usr/bin/env bash
# Tools for the dashboard's browser test (crates/sentari-server/tests/browser.rs): Debian's
# headless Chromium and the playwright-core library that drives it (tests/browser/, pinned by its
# package-lock.json). Playwright never downloads a browser of its own here: the script launches
# /usr/bin/chromium. Idempotent; Debian 12; run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
pkgs=()
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
# Fonts so screenshots show text (Chromium pulls in a minimal set; DejaVu covers Latin text).
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || pkgs+=(fonts-dejavu-core)
if [ "${#pkgs[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi

# playwright-core exactly as locked; it has no install script and downloads nothing.
if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi
chromium --version 2>/dev/null | head -1 || true
