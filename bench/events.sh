#!/usr/bin/env bash
# Benchmark of issue 17: the delay from a committed merge to its event on a
# WatchContactEvents stream and on a JetStream consumer (median and p99 over
# MERGES merges, one at a time), through the real binaries, SQLite (or
# PostgreSQL when DATABASE_URL is set), and a local nats-server with JetStream.
#
#   bench/events.sh            # prints one JSON line per follower
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

deploy/build-deps.sh
eval "$(tests/nats.sh)"
cargo build --release --bin media-svc --bin contacts-svc --bin eventlag
release=$(release_dir)
"$TEST_NATS_SERVER" -js -a 127.0.0.1 -p 53222 -sd "$(mktemp -d)" >/dev/null 2>&1 & nats_pid=$!
export EVENTS_NATS_URL=nats://127.0.0.1:53222
start_services "$release" 53
trap 'kill "$nats_pid" 2>/dev/null || true; for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$scratch"' EXIT
"$release/eventlag" --endpoint http://127.0.0.1:53051 --nats-url "$EVENTS_NATS_URL" --merges "${MERGES:-300}"
