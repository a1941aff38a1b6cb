#!/usr/bin/env bash
# Runs every test of the workspace: unit tests; storage tests against the
# embedded S3 server and a real Garage; contacts tests on SQLite and a real
# PostgreSQL; end-to-end tests that start the real binaries; checks of the
# compose file, Dockerfile and Kubernetes manifests. Installs what
# the tests need when it is missing, and stops the servers it started.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

deploy/build-deps.sh
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

scratch=$(mktemp -d)
# PostgreSQL runs as its own user and must reach its folder.
chmod 755 "$scratch"
cleanup() {
  [ -f "$scratch/garage/garage.pid" ] && kill "$(cat "$scratch/garage/garage.pid")" 2>/dev/null || true
  tests/postgres.sh --stop "$scratch/postgres" || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# Real servers for the second legs: an external S3 (Garage) and PostgreSQL;
# NATS for the event relay; Chromium and the built console for the browser tests.
eval "$(tests/garage.sh "$scratch/garage")"
eval "$(tests/nats.sh)"
eval "$(tests/browser.sh)"
eval "$(tests/postgres.sh "$scratch/postgres")"

# The end-to-end tests run the binaries, so build them first.
cargo build --workspace --bins
bin_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug

# The deployment files must agree with the binaries (no Docker engine needed).
deploy/check.sh "$bin_dir"

cargo nextest run --workspace --no-fail-fast "$@"
