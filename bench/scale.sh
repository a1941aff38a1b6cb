#!/usr/bin/env bash
# Benchmark 4 of the README: ListContacts (first page, a page from the middle,
# a query) at 10 thousand, 100 thousand and 1 million contacts, on SQLite and
# on a private PostgreSQL cluster (started here, like the tests do).
#
#   bench/scale.sh [--sizes 10000,100000,1000000] [--calls 200]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

deploy/build-deps.sh
cargo build --release --bin contacts-svc --bin scale
release=$(release_dir)

scratch=$(mktemp -d)
chmod 755 "$scratch" # PostgreSQL runs as its own user
contacts_pid=""
cleanup() {
  [ -n "$contacts_pid" ] && kill -TERM "$contacts_pid" 2>/dev/null && wait "$contacts_pid" 2>/dev/null || true
  tests/postgres.sh --stop "$scratch/postgres" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
eval "$(tests/postgres.sh "$scratch/postgres")"

for database in "sqlite://$scratch/scale.db?mode=rwc" "$TEST_POSTGRES_URL"; do
  export DATABASE_URL="$database" CONTACTS_LISTEN=127.0.0.1:51081 METRICS_LISTEN=127.0.0.1:51082 RUST_LOG=warn
  "$release/contacts-svc" >"$scratch/contacts.log" 2>&1 & contacts_pid=$!
  wait_healthy "$release/contacts-svc" "$scratch/contacts.log"
  "$release/scale" --endpoint http://127.0.0.1:51081 "$@"
  kill -TERM "$contacts_pid" && wait "$contacts_pid" || true
  contacts_pid=""
done
