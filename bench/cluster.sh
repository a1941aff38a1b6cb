#!/usr/bin/env bash
# Target 5 of issue 19: a multi-node deployment on this machine, release
# builds. A 3-node Garage cluster (replication factor 3), PostgreSQL, and
# two replicas each of media-svc and contacts-svc on their own ports; each
# contacts-svc is given both media-svc (MEDIA_ENDPOINT, comma-separated) and
# balances its calls over them per request.
#
# The load generator (bench/src/bin/cluster.rs) creates contacts with
# pictures (the benchmark corpus) and merges pairs of them, retrying
# UNAVAILABLE and RESOURCE_EXHAUSTED with the same request id:
#   1. one replica of each service, SECONDS seconds: throughput;
#   2. two replicas of each, SECONDS seconds: throughput, and each
#      replica's share of the work from its /metrics;
#   3. two replicas of each, CHAOS_SECONDS seconds, while one Garage node,
#      one media-svc and one contacts-svc are killed (SIGKILL) and restarted.
# Then every acknowledged contact of all three phases must be readable
# (a merged-away one resolving to its survivor) with a picture whose signed
# URL answers 200; `contacts-svc reconcile` must find no claim missing; and
# the clients may have seen no error but UNAVAILABLE or RESOURCE_EXHAUSTED.
#
#   bench/cluster.sh        # PHASE_SECONDS=30 CHAOS_SECONDS=60 CONCURRENCY=2xcores
# Prints JSON lines, then a summary; exits non-zero when a check fails.
# KEEP=1 keeps the scratch folder (logs) for a look afterwards.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

SECONDS_PER_PHASE=${PHASE_SECONDS:-30}
CHAOS_SECONDS=${CHAOS_SECONDS:-60}
CONCURRENCY=${CONCURRENCY:-$((2 * $(nproc)))}

deploy/build-deps.sh
cargo build --release --bin media-svc --bin contacts-svc --bin cluster --bin corpus
release=$(release_dir)
corpus=$(ensure_corpus "$release")

tools="${ACCOMMADOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/accommador/tools}"
garage=$(command -v garage || echo "$tools/bin/garage")
if ! "$garage" --version >/dev/null 2>&1; then
  echo "installing Garage into $tools (first run only)" >&2
  cargo install garage --locked --no-default-features --features bundled-libs,sqlite --root "$tools" >&2
  garage="$tools/bin/garage"
fi

work=$(mktemp -d /tmp/accommador-cluster.XXXXXX)
chmod 755 "$work"
declare -A pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  tests/postgres.sh --stop "$work/pg" || true
  if [ "${KEEP:-0}" = 1 ]; then echo "scratch kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }

# --- PostgreSQL
eval "$(tests/postgres.sh "$work/pg")"
database_url=$TEST_POSTGRES_URL

# --- Garage: three nodes, replication factor 3, one zone each.
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
g() { local n=$1; shift; "$garage" -c "$work/garage$n/garage.toml" "$@"; }
start_garage() {
  local n=$1
  # Not through g: $! must be garage itself, not a subshell, for kill -9.
  "$garage" -c "$work/garage$n/garage.toml" server >>"$work/garage$n/garage.log" 2>&1 &
  pids[garage$n]=$!
}
for n in 1 2 3; do
  mkdir -p "$work/garage$n"
  cat >"$work/garage$n/garage.toml" <<TOML
metadata_dir = "$work/garage$n/meta"
data_dir = "$work/garage$n/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:5290$n"
rpc_public_addr = "127.0.0.1:5290$n"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:5291$n"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:5292$n"
TOML
  start_garage "$n"
done
declare -A node_ids=()
for n in 1 2 3; do
  for _ in $(seq 100); do
    id=$(g "$n" node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$id" ] && break
    sleep 0.2
  done
  [ -n "${id:-}" ] || { cat "$work/garage$n/garage.log" >&2; exit 1; }
  node_ids[$n]=$id
done
for n in 2 3; do # a node may not listen yet: try for 20 s
  for attempt in $(seq 100); do
    g 1 node connect "${node_ids[$n]}@127.0.0.1:5290$n" >/dev/null 2>&1 && break
    [ "$attempt" = 100 ] && { cat "$work/garage$n/garage.log" >&2; exit 1; }
    sleep 0.2
  done
done
for n in 1 2 3; do g 1 layout assign -z "zone$n" -c 1G "${node_ids[$n]}" >/dev/null; done
g 1 layout apply --version 1 >/dev/null
key=$(g 1 key create accommador-cluster)
key_id=$(awk -F': *' '/^Key ID/{print $2}' <<<"$key")
key_secret=$(awk -F': *' '/^Secret key/{print $2}' <<<"$key")
g 1 bucket create accommador-media >/dev/null
g 1 bucket allow --read --write --owner accommador-media --key "$key_id" >/dev/null
log "Garage: 3 nodes, replication factor 3 ($(g 1 status 2>/dev/null | grep -c '127.0.0.1') up)"

# --- the services. Replica i of media-svc talks to Garage node i (in a
# cluster: to a Service over all nodes); node 3 is the one killed.
export LOG_FORMAT=json RUST_LOG=warn
start_media() {
  local i=$1
  mkdir -p "$work/media$i"
  MEDIA_LISTEN=127.0.0.1:520${i}2 METRICS_LISTEN=127.0.0.1:520${i}5 DATA_DIR="$work/media$i" \
    S3_ENDPOINT=http://127.0.0.1:5291$i S3_REGION=garage S3_BUCKET=accommador-media \
    S3_ACCESS_KEY_ID="$key_id" S3_SECRET_ACCESS_KEY="$key_secret" \
    "$release/media-svc" >>"$work/media$i.log" 2>&1 &
  pids[media$i]=$!
  MEDIA_LISTEN=127.0.0.1:520${i}2 wait_healthy "$release/media-svc" "$work/media$i.log"
}
start_contacts() {
  local i=$1 media=$2
  mkdir -p "$work/contacts$i"
  CONTACTS_LISTEN=127.0.0.1:520${i}1 METRICS_LISTEN=127.0.0.1:520${i}4 DATA_DIR="$work/contacts$i" \
    DATABASE_URL="$database_url" MEDIA_ENDPOINT="$media" MEDIA_RESOLVE_INTERVAL=1s \
    "$release/contacts-svc" >>"$work/contacts$i.log" 2>&1 &
  pids[contacts$i]=$!
  CONTACTS_LISTEN=127.0.0.1:520${i}1 wait_healthy "$release/contacts-svc" "$work/contacts$i.log"
}
both_media=http://127.0.0.1:52012,http://127.0.0.1:52022
both_contacts=http://127.0.0.1:52011,http://127.0.0.1:52021

# Successful calls of METHOD in the metrics at PORT.
handled() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '
    /^grpc_server_handled_total\{/ && index($0, m) && index($0, "code=\"0\"") { s += $NF }
    END { printf "%d\n", s }'
}
snapshot() { # prints media1 media2 contacts1 contacts2 counts
  echo "$(handled 52015 UploadImage) $(handled 52025 UploadImage) $(handled 52014 CreateContact) $(handled 52024 CreateContact)"
}

results="$work/results.jsonl"
ledger="$work/ledger.jsonl"
load() { # phase endpoints seconds
  "$release/cluster" --endpoints "$2" load --tenant "$1" --pictures "$corpus/jpeg" \
    --concurrency "$CONCURRENCY" --seconds "$3" --ledger "$ledger" | sed "s/^{/{\"phase\":\"$1\",/" | tee -a "$results"
}

# --- 1. one replica of each
start_media 1
start_contacts 1 http://127.0.0.1:52012
log "phase 1: one replica of each service, ${SECONDS_PER_PHASE}s at concurrency $CONCURRENCY"
load one-replica http://127.0.0.1:52011 "$SECONDS_PER_PHASE"

# --- 2. two replicas of each
kill -TERM "${pids[contacts1]}"; wait "${pids[contacts1]}" 2>/dev/null || true
start_media 2
start_contacts 1 "$both_media"
start_contacts 2 "$both_media"
before=$(snapshot)
log "phase 2: two replicas of each service, ${SECONDS_PER_PHASE}s"
load two-replicas "$both_contacts" "$SECONDS_PER_PHASE"
after=$(snapshot)
python3 - "$before" "$after" <<'PY' | tee -a "$results"
import json, sys
b, a = ([int(x) for x in s.split()] for s in sys.argv[1:3])
d = [y - x for x, y in zip(b, a)]
print(json.dumps({"phase": "two-replicas", "work": {"media1_uploads": d[0], "media2_uploads": d[1],
      "contacts1_creates": d[2], "contacts2_creates": d[3]}}))
PY

# --- 3. the same, with one of each killed and restarted
log "phase 3: ${CHAOS_SECONDS}s with Garage node 3, media-svc 2 and contacts-svc 2 killed and restarted"
load chaos "$both_contacts" "$CHAOS_SECONDS" &
loader=$!
step=$((CHAOS_SECONDS / 8))
sleep "$step"; log "kill -9 Garage node 3"; kill -KILL "${pids[garage3]}"
sleep "$step"; log "kill -9 media-svc 2"; kill -KILL "${pids[media2]}"
sleep "$step"; log "restart media-svc 2"; start_media 2
sleep "$step"; log "kill -9 contacts-svc 2"; kill -KILL "${pids[contacts2]}"
sleep "$step"; log "restart contacts-svc 2"; start_contacts 2 "$both_media"
sleep "$step"; log "restart Garage node 3"; start_garage 3
wait "$loader"
chaos_work=$(snapshot)

# --- checks
sleep 3 # claims still in the outbox are delivered
log "verify every acknowledged contact and its picture"
status=0
"$release/cluster" --endpoints "$both_contacts" verify --ledger "$ledger" | tee -a "$results" || status=1
log "reconcile: no claim may be missing"
DATABASE_URL="$database_url" MEDIA_ENDPOINT="$both_media" DATA_DIR="$work/contacts1" \
  "$release/contacts-svc" reconcile 2>>"$work/reconcile.log" >"$work/reconcile.json" || status=1
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["operation"]="reconcile"; print(json.dumps(r))' \
  "$work/reconcile.json" | tee -a "$results" || status=1

python3 - "$results" "$chaos_work" <<'PY' || status=1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
load = {r["phase"]: r for r in rows if r.get("operation") == "load"}
work = next(r["work"] for r in rows if "work" in r)
verify = next(r for r in rows if r.get("operation") == "verify")
reconcile = next((r for r in rows if r.get("operation") == "reconcile"), {})
one, two = load["one-replica"]["creates_per_second"], load["two-replicas"]["creates_per_second"]
print("\n| measure | value |\n|---|---|")
print(f"| creates with picture/s, 1 replica of each | {one:.1f} |")
print(f"| creates with picture/s, 2 replicas of each | {two:.1f} ({two / one:.2f}x) |")
print(f"| uploads per media-svc replica (phase 2) | {work['media1_uploads']} / {work['media2_uploads']} |")
print(f"| creates per contacts-svc replica (phase 2) | {work['contacts1_creates']} / {work['contacts2_creates']} |")
chaos = load["chaos"]
print(f"| under kills: creates/s, merges | {chaos['creates_per_second']:.1f}, {chaos['merges']} |")
retried = {}
for r in load.values():
    for code, n in r["retried"].items():
        retried[code] = retried.get(code, 0) + n
unexpected = {}
for r in list(load.values()) + [verify]:
    for code, n in r["unexpected_errors"].items():
        unexpected[code] = unexpected.get(code, 0) + n
gave_up = sum(r["gave_up"] for r in load.values())
print(f"| client errors retried | {retried or 'none'} |")
print(f"| other client errors, retries given up | {unexpected or 'none'}, {gave_up} |")
print(f"| acknowledged contacts readable with picture fetched | {verify['pictures_fetched']} of {verify['acknowledged']} ({verify['merged_away']} merged away), problems {verify['problems']} |")
print(f"| reconcile: checked, repaired (missing claims), unrepairable | {reconcile.get('checked')}, {reconcile.get('repaired')}, {reconcile.get('unrepairable')} |")
ok = (not unexpected and gave_up == 0 and verify["problems"] == 0 and reconcile.get("repaired") == 0
      and reconcile.get("unrepairable") == 0 and reconcile.get("unchecked") == 0
      and work["media1_uploads"] > 0 and work["media2_uploads"] > 0)
print("\nresult:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
exit "$status"
