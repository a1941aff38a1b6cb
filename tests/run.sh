#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and the end-to-end tests that
# start the real binaries. Installs what the tests need when it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The end-to-end tests run the binaries, so build them first.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast "$@"
