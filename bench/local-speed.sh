#!/usr/bin/env bash
# Benchmark 7 of the README: the local stack's build against a release build.
# deploy/local-stack.sh runs the dev profile (`cargo build --workspace
# --bins`); this times both builds on the same work:
#   - `media-svc process` over the JPEG corpus (the pipeline alone), CPU time;
#   - CreateContact with a picture through both services and the embedded
#     S3 server at concurrency 1 (the whole create path), throughput.
#
#   bench/local-speed.sh [--rounds 3]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

rounds=3
[ "${1:-}" = "--rounds" ] && rounds=$2

deploy/build-deps.sh
cargo build --bin media-svc --bin contacts-svc
cargo build --release --bin media-svc --bin contacts-svc --bin loadgen --bin corpus
release=$(release_dir)
dev=$(dirname "$release")/debug
corpus=$(ensure_corpus "$release")
pictures=$(ls "$corpus/jpeg" | wc -l)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Median of the CPU seconds (user + system) of `media-svc process` over the corpus.
process_cpu() {
  local binary=$1 times=()
  for _ in $(seq "$rounds"); do
    rm -rf "$out/renditions"
    TIMEFORMAT='%U %S'
    times+=("$({ time "$binary" process "$corpus"/jpeg/* --out "$out/renditions" >/dev/null; } 2>&1 | awk '{print $1 + $2}')")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'
}

# CreateContact with a picture, concurrency 1, one pass over the corpus after
# a warm-up pass: contacts per second.
create_rate() {
  local binaries=$1 prefix=$2
  (
    start_services "$binaries" "$prefix"
    "$release/loadgen" --endpoint "http://127.0.0.1:${prefix}051" --operation create --tenant-per-pass --tenant warmup \
      --pictures "$corpus/jpeg" --concurrency 1 --requests "$pictures" >/dev/null
    "$release/loadgen" --endpoint "http://127.0.0.1:${prefix}051" --json --operation create --tenant-per-pass \
      --tenant timed --pictures "$corpus/jpeg" --concurrency 1 --requests $((2 * pictures)) |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_per_second"])'
  )
}

dev_cpu=$(process_cpu "$dev/media-svc")
release_cpu=$(process_cpu "$release/media-svc")
dev_rate=$(create_rate "$dev" 52)
release_rate=$(create_rate "$release" 53)
python3 - "$dev_cpu" "$release_cpu" "$dev_rate" "$release_rate" "$pictures" <<'PY'
import sys
dev_cpu, release_cpu, dev_rate, release_rate, pictures = map(float, sys.argv[1:])
print("| measure | local stack (dev profile) | release | local / release |")
print("|---|---|---|---|")
print(f"| media-svc process, {pictures:.0f} JPEGs, CPU s | {dev_cpu:.2f} | {release_cpu:.2f} | {dev_cpu / release_cpu:.2f}x |")
print(f"| CreateContact with picture, concurrency 1, time per contact ms | {1000 / dev_rate:.1f} | {1000 / release_rate:.1f} | {release_rate / dev_rate:.2f}x |")
PY
