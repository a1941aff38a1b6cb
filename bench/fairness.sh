#!/usr/bin/env bash
# Benchmark 4 of the README: admission by deadline, fair between tenants.
# 1. A burst of 24 picture uploads (distinct 12 MP JPEGs) at concurrency 12,
#    each with a 60 s deadline: how many succeed (all should: the burst is a
#    few seconds of work and every caller can wait).
# 2. A quiet tenant sending one upload at a time, first on an idle stack,
#    then while another tenant floods at concurrency 16: the quiet tenant's
#    median latency in both, and the ratio.
#
#   bench/fairness.sh       # prints JSON lines, then a summary table
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

deploy/build-deps.sh
cargo build --release --bin media-svc --bin contacts-svc --bin loadgen --bin corpus
release=$(release_dir)
corpus=$(ensure_corpus "$release")

# The deadlines of this benchmark, not MEDIA_TIMEOUT, bound the calls.
export MEDIA_TIMEOUT=60s
start_services "$release" 52

results="$scratch/results.jsonl"
loadgen() { "$release/loadgen" --endpoint http://127.0.0.1:52051 --json --operation create --pictures "$corpus/jpeg" --tenant-per-pass "$@"; }
pictures=$(ls "$corpus/jpeg" | wc -l)

echo "burst: 24 uploads at concurrency 12, 60 s deadlines" >&2
loadgen --tenant burst --concurrency 12 --requests 24 --deadline 60s | sed 's/^{/{"run":"burst",/' | tee -a "$results"

echo "quiet tenant alone, one upload at a time" >&2
loadgen --tenant quiet-idle --concurrency 1 --requests "$pictures" --deadline 60s | sed 's/^{/{"run":"quiet-idle",/' | tee -a "$results"

echo "quiet tenant while another floods at concurrency 16" >&2
"$release/loadgen" --endpoint http://127.0.0.1:52051 --json --operation create --pictures "$corpus/jpeg" --tenant-per-pass \
  --tenant flood --concurrency 16 --requests $((12 * pictures)) --deadline 60s >"$scratch/flood.json" & flood=$!
sleep 2
loadgen --tenant quiet-flooded --concurrency 1 --requests "$pictures" --deadline 60s | sed 's/^{/{"run":"quiet-flooded",/' | tee -a "$results"
kill -TERM "$flood" 2>/dev/null || true
wait "$flood" 2>/dev/null || true

python3 - "$results" <<'PY'
import json, sys
rows = {r["run"]: r for r in (json.loads(line) for line in open(sys.argv[1]) if line.strip())}
burst, idle, flooded = rows["burst"], rows["quiet-idle"], rows["quiet-flooded"]
print("\n| measure | value |")
print("|---|---|")
print(f"| burst of 24 at concurrency 12, 60 s deadlines | {burst['ok']}/24 succeeded, errors {burst['errors']}, p50 {burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms |")
print(f"| quiet tenant, idle stack | p50 {idle['p50_ms']:.0f} ms ({idle['ok']} ok) |")
print(f"| quiet tenant, another flooding at 16 | p50 {flooded['p50_ms']:.0f} ms ({flooded['ok']} ok, errors {flooded['errors']}) |")
print(f"| ratio | {flooded['p50_ms'] / idle['p50_ms']:.2f}x (target <= 3x) |")
PY
