#!/usr/bin/env bash
# Benchmark 4 of the README: ListContacts (first page, the 500th page, a
# selective and an unselective query) as a tenant grows, on SQLite and on a
# private PostgreSQL cluster (started here, like the tests do), with the plan
# of every statement at every size written to the plans folder.
#
#   bench/scale.sh [--sqlite-sizes 10000,1000000] [--postgres-sizes 10000,1000000,10000000]
#                  [--calls 200] [--plans DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

sqlite_sizes=10000,1000000
postgres_sizes=10000,1000000,10000000
calls=200
plans=$repo/target/scale-plans
while [ $# -gt 0 ]; do
  case "$1" in
    --sqlite-sizes) sqlite_sizes=$2; shift 2 ;;
    --postgres-sizes) postgres_sizes=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --plans) plans=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

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

for leg in "sqlite://$scratch/scale.db?mode=rwc $sqlite_sizes" "$TEST_POSTGRES_URL $postgres_sizes"; do
  read -r database sizes <<<"$leg"
  [ -n "$sizes" ] || continue
  export DATABASE_URL="$database" CONTACTS_LISTEN=127.0.0.1:51081 METRICS_LISTEN=127.0.0.1:51082 RUST_LOG=warn
  "$release/contacts-svc" >"$scratch/contacts.log" 2>&1 & contacts_pid=$!
  wait_healthy "$release/contacts-svc" "$scratch/contacts.log"
  "$release/scale" --endpoint http://127.0.0.1:51081 --sizes "$sizes" --calls "$calls" --explain-dir "$plans"
  kill -TERM "$contacts_pid" && wait "$contacts_pid" || true
  contacts_pid=""
done
echo "plans: $plans" >&2
