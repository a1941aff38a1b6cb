#!/usr/bin/env bash
# Benchmark 3 of the README: CreateContact with a picture through both
# services and storage (the embedded S3 server, or with --garage a Garage
# node in its own process as in production; SQLite, or PostgreSQL when
# DATABASE_URL is set) at concurrency 1 and 2 x cores, against the pipeline
# alone; and ListContacts pages of 50 with pictures against the same pages
# without.
#
#   bench/e2e.sh [--garage]     # prints JSON lines, then a summary table
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

deploy/build-deps.sh
cargo build --release --bin media-svc --bin contacts-svc --bin loadgen --bin corpus --bin pipeline
release=$(release_dir)
corpus=$(ensure_corpus "$release")

garage_dir=""
if [ "${1:-}" = "--garage" ]; then
  garage_dir=$(mktemp -d)
  bench_dirs+=("$garage_dir")
  eval "$(tests/garage.sh "$garage_dir/node")"
  # media-svc creates its bucket only on the embedded server; an operator
  # creates it on real storage, as here.
  garage="${ACCOMMADOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/accommador/tools}/bin/garage"
  "$garage" -c "$garage_dir/node/garage.toml" bucket create bench-media >/dev/null
  "$garage" -c "$garage_dir/node/garage.toml" bucket allow --read --write --owner bench-media \
    --key "$TEST_GARAGE_ACCESS_KEY_ID" >/dev/null
  export S3_ENDPOINT=$TEST_GARAGE_ENDPOINT S3_REGION=garage S3_BUCKET=bench-media \
    S3_ACCESS_KEY_ID=$TEST_GARAGE_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY=$TEST_GARAGE_SECRET_ACCESS_KEY
  echo "storage: Garage at $S3_ENDPOINT" >&2
fi

cores=$(nproc)
concurrency=$((2 * cores))
start_services "$release" 51
if [ -n "$garage_dir" ]; then
  # garage.pid holds the shell that started the server; its CPU is the child's.
  bench_pids+=("$(pgrep -P "$(cat "$garage_dir/node/garage.pid")" | head -n 1)")
fi

results="$scratch/results.jsonl"
loadgen() { "$release/loadgen" --endpoint http://127.0.0.1:51051 --json "$@" | tee -a "$results"; }
pictures=$(ls "$corpus/jpeg" | wc -l)

echo "pipeline alone (JPEG corpus, in-process):" >&2
for threads in 1 "$concurrency"; do
  "$release/pipeline" --corpus "$corpus/jpeg" --threads "$threads" --passes 2 | sed 's/^{/{"operation":"pipeline",/' | tee -a "$results"
done
echo "CreateContact with a picture (every upload new to media-svc):" >&2
loadgen --operation create --tenant-per-pass --tenant warmup --pictures "$corpus/jpeg" --concurrency "$concurrency" --requests "$pictures" >/dev/null
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v tick="$(getconf CLK_TCK)" '{print ($14 + $15) / tick}' "/proc/$1/stat"; }
names=(media-svc contacts-svc garage)
for c in 1 "$concurrency"; do
  before=(); for pid in "${bench_pids[@]}"; do before+=("$(cpu_seconds "$pid")"); done
  loadgen --operation create --tenant-per-pass --tenant "create-c$c" --pictures "$corpus/jpeg" --concurrency "$c" --requests $((2 * pictures))
  # Where the CPU of a create goes, process by process (the load generator
  # itself is left out: it only sends bytes it has read once).
  for i in "${!bench_pids[@]}"; do
    used=$(python3 -c "print($(cpu_seconds "${bench_pids[$i]}") - ${before[$i]})")
    echo "{\"operation\":\"cpu\",\"concurrency\":$c,\"process\":\"${names[$i]}\",\"cpu_seconds_per_create\":$(python3 -c "print($used / (2 * $pictures))")}" | tee -a "$results"
  done
done
echo "ListContacts, pages of 50, with and without pictures:" >&2
"$release/loadgen" --endpoint http://127.0.0.1:51051 --operation create --tenant with-pictures --pictures "$corpus/jpeg" --concurrency "$concurrency" --requests 50 >/dev/null
"$release/loadgen" --endpoint http://127.0.0.1:51051 --operation create --tenant without-pictures --without-pictures --concurrency "$concurrency" --requests 50 >/dev/null
for c in 1 "$concurrency"; do
  for tenant in without-pictures with-pictures; do
    "$release/loadgen" --endpoint http://127.0.0.1:51051 --json --operation list --tenant "$tenant" --concurrency "$c" --requests 2000 |
      sed "s/^{/{\"tenant\":\"$tenant\",/" | tee -a "$results"
  done
done

python3 - "$results" "$concurrency" "$cores" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
concurrency, cores = int(sys.argv[2]), int(sys.argv[3])
pipeline = {r["threads"]: r["avatars_per_second"] for r in rows if r.get("operation") == "pipeline"}
create = {r["concurrency"]: r for r in rows if r.get("operation") == "create"}
print("\n| measure | concurrency | value | vs |")
print("|---|---|---|---|")
for c in (1, concurrency):
    e2e = create[c]["throughput_per_second"]
    print(f"| CreateContact with picture | {c} | {e2e:.1f}/s, p50 {create[c]['p50_ms']:.1f} ms | {e2e / pipeline[c]:.0%} of pipeline alone ({pipeline[c]:.1f}/s) |")
cpu = [r for r in rows if r.get("operation") == "cpu" and r["concurrency"] == concurrency]
for r in cpu:
    print(f"| CPU per create, {r['process']} | {concurrency} | {r['cpu_seconds_per_create'] * 1000:.1f} ms | |")
pipeline_cpu = min(concurrency, cores) / pipeline[concurrency]
print(f"| CPU per avatar, pipeline alone | {concurrency} | {pipeline_cpu * 1000:.1f} ms | (threads busy / avatars per second) |")
lists = {(r["tenant"], r["concurrency"]): r for r in rows if r.get("operation") == "list"}
for c in (1, concurrency):
    plain, pictured = lists[("without-pictures", c)], lists[("with-pictures", c)]
    print(f"| ListContacts 50, no pictures | {c} | p50 {plain['p50_ms']:.2f} ms, {plain['throughput_per_second']:.0f}/s | |")
    print(f"| ListContacts 50, with pictures | {c} | p50 {pictured['p50_ms']:.2f} ms, {pictured['throughput_per_second']:.0f}/s | "
          f"{pictured['p50_ms'] / plain['p50_ms']:.2f}x the p50 without |")
PY
