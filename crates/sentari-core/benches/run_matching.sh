#!/usr/bin/env bash
# Matching-engine benchmarks for docs/BENCHMARKS.md ("Matching engine (issue 3)").
# Usage: run_matching.sh SENTARI_BIN INPUT_DIR [SHARED_DATA_DIR]
#   SENTARI_BIN: a release build (cargo build --release -p sentari-server --bin sentari)
#   INPUT_DIR:   made by matching_inputs.py (1,000,000 pairs per comparator, 10,000-line inventory)
# Needs hyperfine and GNU time (/usr/bin/time).
set -euo pipefail
BIN=$1
IN=$2
DATA=${3:-$(dirname "$0")/../../../../shared/data}

echo "## vercmp: 1,000,000 pairs on stdin per comparator"
for s in dpkg rpm apk pep440 semver maven; do
  hyperfine --style basic --warmup 1 --runs 5 -n "$s" "$BIN vercmp $s < $IN/$s.tsv > /dev/null" \
    | grep -E "Time \(mean"
done

echo "## bundle load: wall time and peak RSS (empty stdin)"
for e in PyPI Go AlmaLinux; do
  /usr/bin/time -v "$BIN" osv query -q --bundle "$DATA/osv/$e/all.zip" < /dev/null 2> /tmp/sentari-time.txt
  echo "$e: $(grep -E 'Elapsed' /tmp/sentari-time.txt | awk '{print $NF}') wall, $(grep -E 'Maximum resident' /tmp/sentari-time.txt | awk '{print $NF}') KiB peak RSS"
done
ALL=(--bundle "$DATA/osv/PyPI/all.zip" --bundle "$DATA/osv/Go/all.zip" --bundle "$DATA/osv/AlmaLinux/all.zip")
/usr/bin/time -v "$BIN" osv query -q "${ALL[@]}" < /dev/null 2> /tmp/sentari-time.txt
echo "all three: $(grep -E 'Elapsed' /tmp/sentari-time.txt | awk '{print $NF}') wall, $(grep -E 'Maximum resident' /tmp/sentari-time.txt | awk '{print $NF}') KiB peak RSS"

echo "## osv query lookups: all three bundles, empty vs 10,000 vs 100,000 lines"
for _ in $(seq 10); do cat "$IN/inventory.jsonl"; done > "$IN/inventory100k.jsonl"
hyperfine --style basic --warmup 1 --runs 5 \
  -n empty "$BIN osv query -q ${ALL[*]} < /dev/null > /dev/null" \
  -n 10k "$BIN osv query -q ${ALL[*]} < $IN/inventory.jsonl > /dev/null" \
  -n 100k "$BIN osv query -q ${ALL[*]} < $IN/inventory100k.jsonl > /dev/null" \
  | grep -E "Time \(mean|^Benchmark"
