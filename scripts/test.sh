#!/usr/bin/env bash
# The whole test suite: every test on the embedded SQLite default, then the server's tests again
# with PostgreSQL as the database (the store's own conformance tests run both backends in the
# first pass already, so they are not repeated).
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth (override with SENTARI_TEST_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sentari-target}"
PG_URL="${SENTARI_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if command -v cargo-nextest >/dev/null 2>&1; then
  run() { cargo nextest run --no-fail-fast "$@"; }
else
  run() { cargo test --no-fail-fast "$@"; }
fi

# Build every binary first: end-to-end tests run the real `sentari-agent`, and building it here
# avoids a nested cargo build inside a running test.
cargo build --workspace --bins

echo "--- tests on SQLite ---"
env -u SENTARI_TEST_DATABASE_URL SENTARI_TEST_BACKEND=sqlite bash -c "$(declare -f run); run --workspace"
echo "--- tests on PostgreSQL ---"
SENTARI_TEST_BACKEND=postgres SENTARI_TEST_DATABASE_URL="$PG_URL" run -p sentari-server
