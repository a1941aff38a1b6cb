#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, storage tests against the
# embedded S3 server and a real Garage, and the end-to-end tests that start
# the real binaries. Installs what the tests need when it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

scratch=$(mktemp -d)
cleanup() {
  [ -f "$scratch/garage/garage.pid" ] && kill "$(cat "$scratch/garage/garage.pid")" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# A real external S3 server for the storage tests' second leg.
eval "$(tests/garage.sh "$scratch/garage")"

# The end-to-end tests run the binaries, so build them first.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast "$@"
