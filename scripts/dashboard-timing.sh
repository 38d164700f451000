#!/usr/bin/env bash
# Server render time of every dashboard page that exists today, read from access.log (the
# server's own measurement, without the client). Seeds a realistic admin load first: 200 users,
# about 2,000 audit entries, 5 API keys, 50 enrollment tokens, 500 dead jobs and 200 retrying ones.
# Usage: scripts/dashboard-timing.sh [path/to/sentari] [database URL]
# The database defaults to SQLite in a temporary directory; pass a PostgreSQL URL of an empty
# database to measure that backend. Figures go to docs/BENCHMARKS.md.
set -euo pipefail
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/sentari}"
DIR="$(mktemp -d)"
DB="${2:-sqlite://$DIR/data/sentari.db}"
PORT="${PORT:-18443}"
OWNER=owner@example.com
PW='Owner-Pass-123!'
BASE="http://127.0.0.1:$PORT"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT

env -i PATH="$PATH" SENTARI_DATA_DIR="$DIR/data" SENTARI_DATABASE_URL="$DB" \
  SENTARI_HTTP_BIND="127.0.0.1:$PORT" SENTARI_AGENT_BIND=127.0.0.1:0 SENTARI_METRICS_BIND=127.0.0.1:0 \
  SENTARI_HTTP_TLS=off SENTARI_CA_KEY_TYPE=ecdsa-p384 SENTARI_LOGIN_RATE_PER_MINUTE=100000 \
  SENTARI_BOOTSTRAP_ADMIN_EMAIL="$OWNER" SENTARI_BOOTSTRAP_ADMIN_PASSWORD="$PW" \
  SENTARI_SECRET_KEY=timing-secret-key-0123456789abcdef SENTARI_ARGON2_MEMORY_KIB=1024 \
  SENTARI_JOB_BACKOFF_S=86400 \
  "$BIN" serve >"$DIR/out.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/api/ready" >/dev/null && break; sleep 0.2; done

TOKEN=$(curl -sf -H 'content-type: application/json' -d "{\"email\":\"$OWNER\",\"password\":\"$PW\"}" \
  "$BASE/api/v1/auth/login" | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
api() { curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
echo "seeding…"
for i in $(seq 1 200); do
  api -d "{\"email\":\"user$i@example.com\",\"role\":\"viewer\",\"password\":\"User-Pass-456?\"}" "$BASE/api/v1/users"
done
IDS=$(curl -sf -H "authorization: Bearer $TOKEN" "$BASE/api/v1/users" | grep -o '"id":"[0-9a-f-]*"' | cut -d'"' -f4)
for round in $(seq 1 9); do
  for id in $IDS; do api -X PATCH -d "{\"display_name\":\"User $round\"}" "$BASE/api/v1/users/$id"; done
done
for i in $(seq 1 5); do api -d "{\"name\":\"key$i\"}" "$BASE/api/v1/auth/api-keys"; done
for i in $(seq 1 50); do
  env -i PATH="$PATH" SENTARI_DATA_DIR="$DIR/data" SENTARI_DATABASE_URL="$DB" \
    SENTARI_SECRET_KEY=timing-secret-key-0123456789abcdef "$BIN" enroll-token create --ttl 7d >/dev/null 2>&1
done
NOW_US=$(($(date +%s) * 1000000))
JOBS_SQL="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
INSERT INTO jobs (id, kind, payload, state, run_at, attempts, max_attempts, last_error, created_at, updated_at, finished_at)
SELECT randomblob(16), CASE i % 3 WHEN 0 THEN 'diagnostic' WHEN 1 THEN 'ingest_scan' ELSE 'osv_sync' END, '{}',
       CASE WHEN i <= 500 THEN 'dead' ELSE 'pending' END, $NOW_US + 86400000000, 3, CASE WHEN i <= 500 THEN 3 ELSE 9 END,
       'simulated failure number ' || i, $NOW_US, $NOW_US, NULL FROM n;"
if [[ "$DB" == sqlite* ]]; then
  sqlite3 "${DB#sqlite://}" "$JOBS_SQL"
else
  psql -q "$DB" -c "INSERT INTO jobs (id, kind, payload, state, run_at, attempts, max_attempts, last_error, created_at, updated_at)
    SELECT gen_random_uuid(), (ARRAY['diagnostic','ingest_scan','osv_sync'])[1 + i % 3], '{}',
           CASE WHEN i <= 500 THEN 'dead' ELSE 'pending' END, now() + interval '1 day', 3, CASE WHEN i <= 500 THEN 3 ELSE 9 END,
           'simulated failure number ' || i, now(), now() FROM generate_series(1, 700) AS i"
fi

COOKIE=$(curl -s -o /dev/null -D - -H 'sec-fetch-site: same-origin' --data-urlencode "email=$OWNER" \
  --data-urlencode "password=$PW" "$BASE/login" | sed -n 's/^set-cookie: \(sentari_session=[0-9a-f]*\).*/\1/ip')
LOG="$DIR/data/logs/access.log"
PAGES="/ /fleet/overview /fleet/devices /security/cve /admin/settings /admin/tasks /admin/audit /admin/audit?page=20 /profile /login"
for p in $PAGES; do for _ in $(seq 1 3); do curl -s -o /dev/null -H "cookie: $COOKIE" "$BASE$p"; done; done
: >"$LOG.mark"; START=$(wc -l <"$LOG")
for _ in $(seq 1 20); do for p in $PAGES; do curl -s -o /dev/null -H "cookie: $COOKIE" "$BASE$p"; done; done
sleep 0.5
printf '%-22s %8s %8s %8s\n' route p50_ms p95_ms max_ms
tail -n +"$((START + 1))" "$LOG" | grep -o 'GET [^ ]* [0-9]* [0-9.]*ms' | awk '{gsub("ms","",$4); print $2, $4}' |
  sort -k1,1 -k2,2n | awk '{v[$1]=v[$1]" "$2; n[$1]++} END {for (r in v) {split(substr(v[r],2), a, " "); c=n[r];
    printf "%-22s %8.1f %8.1f %8.1f\n", r, a[int((c+1)/2)], a[int(c*0.95+0.5)], a[c]}}' | sort
