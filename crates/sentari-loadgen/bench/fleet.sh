#!/usr/bin/env bash
# The fleet benchmarks of issue 7, against the release server on a fresh database.
#
#   crates/sentari-loadgen/bench/fleet.sh sqlite   [modes…]
#   crates/sentari-loadgen/bench/fleet.sh postgres [modes…]
#
# Modes (default: throughput import latency; `api` seeds its own fresh fleet):
#   throughput  1,000 devices x 2,000 packages, first scans, then one 3 % churn round (b)
#   import      `sentari feeds import --osv` of the whole shared OSV directory into that fleet (c)
#   latency     20 new devices x 20,000 packages until findings are queryable; unchanged
#               re-scans (a)
#   api         a fresh database with the OSV data, 10,000 devices x 1,000 packages, then the
#               REST list endpoints and dashboard pages (d)
#
# Build first: cargo build --release -p sentari-loadgen -p sentari-server
# PostgreSQL: 127.0.0.1:5432, user postgres, trust auth; the scratch database is dropped at exit.
set -euo pipefail

backend=${1:?usage: fleet.sh sqlite|postgres [throughput] [import] [latency] [api]}
shift
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(throughput import latency)

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
sentari=${SENTARI_BIN:-$target/release/sentari}
loadgen=${LOADGEN_BIN:-$target/release/sentari-loadgen}
osv=${OSV_DIR:-$root/../shared/data/osv}
[ -x "$sentari" ] && [ -x "$loadgen" ] || { echo "build the release binaries first" >&2; exit 1; }

work=$(mktemp -d /tmp/sentari-fleet-bench.XXXXXX)
db=${BENCH_DB:-sentari_fleet_bench}
# Two runs can share the machine with different PORT_BASE and BENCH_DB values.
pb=${PORT_BASE:-18}
pg="psql -h 127.0.0.1 -U postgres -q"
server_pid=

export SENTARI_DATA_DIR=$work/data
export SENTARI_SECRET_KEY=6b1f0c9e2d7a4f3b8c5e1d9a7f2b4c6e8d0a1f3b5c7e9d2a
export SENTARI_ENROLLMENT_TOKEN=fleet-bench-enrollment-token
export SENTARI_BOOTSTRAP_ADMIN_EMAIL=bench@example.com
export SENTARI_BOOTSTRAP_ADMIN_PASSWORD='Bench-Pass-2026!'
export SENTARI_HTTP_TLS=off
export SENTARI_HTTP_BIND=127.0.0.1:${pb}443
export SENTARI_AGENT_BIND=127.0.0.1:${pb}000
export SENTARI_METRICS_BIND=127.0.0.1:${pb}464
# Thousands of virtual agents register from one address: lift the per-address limit.
export SENTARI_AGENT_REGISTER_RATE_PER_MINUTE=10000000
export SENTARI_LOGIN_RATE_PER_MINUTE=1000
# An ECDSA CA starts in milliseconds; RSA-4096 generation takes seconds on this machine.
export SENTARI_CA_KEY_TYPE=ecdsa-p384
export SENTARI_LOG_LEVEL=${SENTARI_LOG_LEVEL:-warn}

common=(--agent-url https://127.0.0.1:${pb}000 --api-url http://127.0.0.1:${pb}443
        --metrics-url http://127.0.0.1:${pb}464 --ca "$work/data/ca/ca.pem")

fresh_db() {
    rm -rf "$work/data"
    mkdir -p "$work/data"
    if [ "$backend" = postgres ]; then
        $pg -c "DROP DATABASE IF EXISTS $db" postgres
        $pg -c "CREATE DATABASE $db" postgres
        export SENTARI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
    else
        unset SENTARI_DATABASE_URL
    fi
}

start() {
    "$sentari" serve >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        if curl -sf http://127.0.0.1:${pb}443/api/ready >/dev/null 2>&1; then
            echo "server pid $server_pid ready ($backend)"
            return
        fi
        sleep 0.1
    done
    cat "$work/server.log" >&2
    exit 1
}

stop() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}

cleanup() {
    stop
    # BENCH_KEEP=1 keeps the data directory (logs, performance.log) and the PostgreSQL
    # database for a look afterwards.
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "kept $work${SENTARI_DATABASE_URL:+ and $SENTARI_DATABASE_URL}"
    else
        [ "$backend" = postgres ] && $pg -c "DROP DATABASE IF EXISTS $db" postgres || true
        rm -rf "$work"
    fi
}
trap cleanup EXIT

run() {
    echo "+ sentari-loadgen $*"
    "$loadgen" "$@"
}

import_osv() {
    echo "+ sentari feeds import --osv $osv"
    local t0 t1
    t0=$(date +%s.%N)
    "$sentari" feeds import --osv "$osv"
    t1=$(date +%s.%N)
    echo "feeds import wall time: $(echo "$t1 - $t0" | bc) s"
}

needs_fleet=0
for m in "${modes[@]}"; do
    case $m in throughput|import|latency) needs_fleet=1 ;; esac
done

if [ $needs_fleet = 1 ]; then
    fresh_db
    start
    for m in "${modes[@]}"; do
        case $m in
            throughput)
                run fleet scan "${common[@]}" --server-pid "$server_pid" --osv "$osv" \
                    --devices "${FLEET_DEVICES:-1000}" --packages 2000 --concurrency 8 --rescans 1 --churn 0.03 ;;
            import)
                import_osv
                grep VmHWM "/proc/$server_pid/status" ;;
            latency)
                run fleet latency "${common[@]}" --server-pid "$server_pid" --osv "$osv" \
                    --repeat "${LAT_REPEAT:-20}" --packages 20000 --prefix lat ;;
        esac
    done
    stop
fi

for m in "${modes[@]}"; do
    if [ "$m" = api ]; then
        fresh_db
        start
        import_osv
        run fleet scan "${common[@]}" --server-pid "$server_pid" --osv "$osv" \
            --devices "${API_DEVICES:-10000}" --packages 1000 --concurrency 16 --prefix api
        run fleet api "${common[@]}" --server-pid "$server_pid" --requests 30
        stop
    fi
done
